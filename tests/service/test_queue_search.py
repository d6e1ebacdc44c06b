"""The queue for many items, on SQLite and PostgreSQL: search over tool, arguments, requester and conversation title;
sorting by age, amount and tool; a partial requester; "mine" (claimed by me); the tools that are pending; and a
typed wildcard that stays a character. A requester's search never reaches another person's items."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import ALICE, BOB, CAROL, GUEST

from approvals.core.visibility import QueueFilter
from approvals.service import claims
from approvals.service.facade import ApprovalService
from approvals.store.database import iso

# On both backends: the queue index's search, sorting and wildcard SQL differ between them.
pytestmark = pytest.mark.usefixtures("db_url")

ASKED = [
    ("Refund order 55 for $250", CAROL),
    ("Email jo@example.com about the delay", CAROL),
    ("Refund order 56 for $999", GUEST),
    ("Delete customer 77", CAROL),
]


def queue(service: ApprovalService) -> dict[str, str]:
    """Each request of ASKED made in its own conversation; returns text → thread id."""
    threads = {}
    for text, actor in ASKED:
        threads[text] = service.new_thread_id()
        service.send_message(threads[text], text, actor)
    return threads


def tools(service: ApprovalService, viewer=ALICE, **filters) -> list[str]:
    return [item.tool for item in service.list_pending(QueueFilter(**filters), viewer=viewer)]


def test_search_covers_tool_arguments_requester_and_title(service: ApprovalService):
    queue(service)
    assert tools(service, search="refund") == ["issue_refund", "issue_refund"]
    assert tools(service, search="jo@example") == ["send_email"]  # an argument
    assert tools(service, search="DELAY email") == ["send_email"]  # every word, any case
    assert tools(service, search="guest-test") == ["issue_refund"]  # the requester
    assert tools(service, search="customer 77") == ["delete_customer"]  # the conversation's title
    assert tools(service, search="nothing like this") == []
    assert tools(service, search="%") == [] and tools(service, search="9_9") == []  # literal, not wildcards
    assert service.count_pending(QueueFilter(search="refund"), viewer=ALICE) == 2


def test_sorting_by_age_amount_and_tool(service: ApprovalService):
    queue(service)
    assert tools(service) == ["issue_refund", "send_email", "issue_refund", "delete_customer"]  # oldest first
    assert tools(service, sort="newest") == ["delete_customer", "issue_refund", "send_email", "issue_refund"]
    amounts = [item.arguments.get("amount") for item in service.list_pending(QueueFilter(sort="amount"), viewer=ALICE)]
    assert amounts == [999.0, 250.0, None, None]  # largest first, items without an amount last
    assert tools(service, sort="tool") == ["delete_customer", "issue_refund", "issue_refund", "send_email"]
    assert tools(service, sort="'; DROP TABLE pending; --") == tools(service)  # an unknown order is the default


def test_partial_requester_mine_and_pending_tools(service: ApprovalService):
    threads = queue(service)
    assert len(tools(service, requester_like="CAR")) == 3
    email = service.pending_approval(threads["Email jo@example.com about the delay"], viewer=ALICE)
    claims.claim(service.db, email.thread_id, email.interrupt_id, ALICE)
    now = iso(datetime.now(UTC))
    assert tools(service, claimed_by="alice", now=now) == ["send_email"]
    assert tools(service, claimed_by="bob", now=now) == []
    assert tools(service, viewer=BOB, claimed_by="bob", now=now) == []
    assert service.pending_tools(viewer=ALICE) == ["delete_customer", "issue_refund", "send_email"]


def test_a_requesters_search_finds_only_their_own(service: ApprovalService):
    queue(service)
    assert tools(service, viewer=CAROL, search="999") == []  # the guest's $999 refund is not carol's
    assert tools(service, viewer=GUEST, search="refund") == ["issue_refund"]
    assert tools(service, viewer=GUEST, requester_like="carol") == []
    assert service.pending_tools(viewer=GUEST) == ["issue_refund"]
