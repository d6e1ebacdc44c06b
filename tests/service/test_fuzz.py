"""Fuzzing what users and other clients send: thread ids, decision payloads and edited args.

Every bad input must end in a readable ApprovalError or InvalidDecision, and leave no trace: no decision row,
the approval still pending at the same checkpoint, nothing in the ledger.
"""

from __future__ import annotations

import pytest
from conftest import ALICE
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from approvals.core.errors import ApprovalError
from approvals.core.hitl import InvalidDecision, parse_response
from approvals.service.facade import ApprovalService
from graphs.tools import ARGS_MODELS, RefundArgs

# One pending approval serves every example: that nothing about it changes is the property under test.
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
decision_types = st.sampled_from(["approve", "edit", "reject", "accept", "", "APPROVE", "respond"]) | json_values
decisions = st.fixed_dictionaries(
    {"type": decision_types},
    optional={
        "message": st.text(max_size=30) | st.just("x" * 4001) | json_values,
        "edited_action": st.fixed_dictionaries(
            {"name": st.sampled_from(["issue_refund", "send_email", "lookup_order"]) | json_values},
            optional={"args": json_values},
        ),
        "extra": json_values,
    },
)
payloads = json_values | st.fixed_dictionaries(
    {"decisions": st.lists(decisions, max_size=3) | json_values}, optional={"extra": json_values}
)
refund_args = st.fixed_dictionaries(
    {},
    optional={
        "order_id": st.text(max_size=40) | st.from_regex(r"[A-Za-z0-9-]{1,32}", fullmatch=True) | json_values,
        "amount": st.floats() | st.integers(-10, 20_000) | st.text(max_size=8) | json_values,
        "note": json_values,
    },
) | st.dictionaries(st.text(max_size=10), json_values, max_size=3)
thread_ids = st.none() | st.text(max_size=80) | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,70}", fullmatch=True)


def trace(service: ApprovalService, thread_id: str) -> tuple:
    """Everything a refused decision must leave as it was."""
    pending = service.pending_approval(thread_id, viewer=ALICE)
    return (
        len(service.decisions(viewer=ALICE)),
        pending and (pending.interrupt_id, pending.checkpoint_id),
        [(item.thread_id, item.interrupt_id) for item in service.list_pending(viewer=ALICE)],
        len(service.store.ledger.entries()),
    )


def assert_refused_cleanly(service: ApprovalService, thread_id: str, interrupt_id: str, decide_with: tuple) -> None:
    before = trace(service, thread_id)
    with pytest.raises((ApprovalError, InvalidDecision)) as refused:
        service.decide(*decide_with)
    message = str(refused.value)
    assert message.strip() and "pydantic.dev" not in message and "Traceback" not in message
    assert trace(service, thread_id) == before
    assert before[1][0] == interrupt_id


@FUZZ
@given(raw=thread_ids)
def test_bad_or_unknown_thread_ids_are_refused(service, refund_pending, raw):
    thread_id, interrupt_id = refund_pending
    assume(raw != thread_id)
    assert_refused_cleanly(service, thread_id, interrupt_id,
                           (raw, interrupt_id, {"decisions": [{"type": "approve"}]}, ALICE))


@FUZZ
@given(payload=payloads)
def test_malformed_decisions_are_refused(service, refund_pending, payload):
    thread_id, interrupt_id = refund_pending
    request = service.pending_approval(thread_id, viewer=ALICE).request
    assume(not accepted(payload, request))
    assert_refused_cleanly(service, thread_id, interrupt_id, (thread_id, interrupt_id, payload, ALICE))


@FUZZ
@given(args=refund_args)
def test_edits_with_invalid_args_are_refused(service, refund_pending, args):
    thread_id, interrupt_id = refund_pending
    assume(not valid_refund(args))
    edit = {"decisions": [{"type": "edit", "edited_action": {"name": "issue_refund", "args": args}}]}
    assert_refused_cleanly(service, thread_id, interrupt_id, (thread_id, interrupt_id, edit, ALICE))


def accepted(payload: object, request) -> bool:
    try:
        parse_response(payload, request, ARGS_MODELS)
    except InvalidDecision:
        return False
    return True


def valid_refund(args: dict) -> bool:
    try:
        RefundArgs.model_validate(args)
    except ValidationError:
        return False
    return True
