"""Output safety (issue 19, findings 9 and 10): nothing a requester or reviewer typed opens as a spreadsheet
formula, and invisible or direction-changing characters in tool args are shown, never silently rendered."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import ALICE, BOB

from approvals.core.actors import Actor
from approvals.service import history
from approvals.service.facade import ApprovalService


@pytest.mark.parametrize("message", ["=HYPERLINK(\"http://x.example\",\"ok\")", "+1+1", "-2+3", "@SUM(A1)",
                                     "\t=1", "\r=1"])
def test_formula_like_cells_are_neutralised_in_the_csv(service: ApprovalService, message: str):
    requester = Actor("=cmd|' /C calc'!A0", "requester")
    thread_id = service.new_thread_id()
    service.send_message(thread_id, "Refund order 55 for $250", requester)
    item = service.pending_approval(thread_id, viewer=ALICE)
    service.decide(thread_id, item.interrupt_id, {"decisions": [{"type": "reject", "message": message}]}, BOB)
    row = next(csv.DictReader(io.StringIO(history.to_csv(history.history(service, ALICE)))))
    assert row["message"] == "'" + message
    assert row["requested by"] == "'=cmd|' /C calc'!A0"
    assert row["decided by"] == "bob" and float(row["waited (min)"]) >= 0


def test_the_history_and_its_csv_carry_hidden_characters_escaped(service: ApprovalService):
    """A spreadsheet would render U+202E: the CSV (and the History table it shares its rows with) has the escape;
    the JSON columns still read back to the exact arguments."""
    thread_id = service.new_thread_id()
    service.send_message(thread_id, "Email jo@\u202emoc.elpmaxe.ni about the delay", Actor("carol", "requester"))
    item = service.pending_approval(thread_id, viewer=ALICE)
    service.decide(thread_id, item.interrupt_id, {"decisions": [{"type": "approve"}]}, BOB)
    records = history.history(service, ALICE)
    exported = history.to_csv(records, history.proposed_arguments(service, records))
    assert "\u202e" not in exported and "jo@\\u202emoc.elpmaxe.ni" in exported
    row = next(csv.DictReader(io.StringIO(exported)))
    assert json.loads(row["arguments"])["to"] == json.loads(row["ran with"])["to"] == "jo@\u202emoc.elpmaxe.ni"
