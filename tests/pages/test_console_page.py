"""The /console page in AppTest: sign-in, the queue and its filters, the detail view's decisions, claims, bulk
decisions, history, SLA and TTL, each against its own SQLite file."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ALICE, BOB, BROWSER, CAROL, GUEST, as_read, click_after_reading
from streamlit.testing.v1 import AppTest

from approvals.core.actors import Actor
from approvals.core.records import QueueItem
from approvals.identity import sessions, throttle
from approvals.service import claims
from approvals.service.facade import ApprovalService
from approvals.service.runner import BackgroundRunner
from approvals.service.scheduler import Scheduler, escalation_job
from approvals.store.schema import Store

PAGE = "../../pages/console.py"
APPROVE = {"decisions": [{"type": "approve"}]}


@pytest.fixture
def seeder(page_store: Store, monkeypatch: pytest.MonkeyPatch) -> ApprovalService:
    """A second service on the page's database: it plays the requesters and the other reviewers."""
    for name in ("APPROVAL_SLA_MINUTES", "APPROVAL_TTL_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    return ApprovalService(page_store)


def ask(service: ApprovalService, text: str, actor: Actor = CAROL) -> QueueItem:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, text, actor)
    return next(item for item in service.list_pending(limit=1000, viewer=ALICE) if item.thread_id == thread_id)


def wait_applied(service: ApprovalService, item: QueueItem) -> None:
    """The page resumes the graph in the background; wait until that is done."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (record := service.decision(item.thread_id, item.interrupt_id, viewer=ALICE)) and record.applied_at:
            return
        time.sleep(0.05)
    raise AssertionError("the decision was never applied")


def console(actor: Actor | None = ALICE, *, filters_open: bool = False, **params: str) -> AppTest:
    """The console in this test's browser: signed in as `actor`, or a guest's browser for None; with `filters_open`,
    Filters and sort is open (its widgets run only then)."""
    at = AppTest.from_file(PAGE)
    BROWSER.become(actor or GUEST)
    if filters_open:
        at.session_state["console_filters"] = True
    for name, value in params.items():
        at.query_params[name] = value
    return at.run(timeout=30)


def opened(item: QueueItem, actor: Actor = ALICE) -> AppTest:
    return console(actor, thread=item.thread_id)


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def shown(markdown: str) -> str:
    """What the user reads: the page backslash-escapes data it renders as markdown, and sets addresses and URLs
    as code spans (text, not links)."""
    return re.sub(r"`+ ?(.*?) ?`+", r"\1", markdown.replace("\\", ""))


def table(at: AppTest, column: str):
    """The first table on the page that has `column` (read-only tables carry no key in AppTest)."""
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def rows(at: AppTest):
    """The queue as the reviewer sees it."""
    return table(at, "Claimed by")


def click_row(at: AppTest, row: int, column: str = "Requester") -> AppTest:
    """AppTest cannot click a dataframe cell; set the table's selection the way a click does."""
    at.session_state["console_queue"] = {
        "selection": {"rows": drawn_ticks(at), "columns": [], "cells": [(row, column)]}
    }
    return at.run(timeout=30)


def drawn_ticks(at: AppTest) -> list[int]:
    return list(at.session_state["console_queue"]["selection"]["rows"])


def labelled(at: AppTest, label: str):
    [button] = [b for b in at.button if b.label == label]
    return button


def labels(at: AppTest) -> list[str]:
    return [button.label for button in at.button]


# -- sign-in -----------------------------------------------------------------------------------------------


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="console_username").input(username)
    at.text_input(key="console_password").input(password)
    at = at.button[0].click().run(timeout=30)
    return at if at.error else at.run(timeout=30)  # the browser reloads after the sign-in redirect (BROWSER.follow)


def test_wrong_password_is_refused(seeder):
    at = sign_in(console(None), "alice", "not-her-password")
    assert not at.exception
    assert texts(at.error) == ["Wrong username or password."]
    assert "Sign out" not in labels(at)
    assert sessions.actor_for(seeder.db, BROWSER.token) == GUEST  # still this browser's guest


def test_sign_in_shows_who_and_the_queue(seeder):
    ask(seeder, "Email jo@example.com about the delay")
    at = sign_in(console(None), "alice", "alice-demo")
    assert not at.exception
    assert sessions.actor_for(seeder.db, BROWSER.token) == Actor("alice", "reviewer")
    assert "Signed in as alice" in at.caption[0].value
    assert "**1 pending**" in texts(at.markdown)
    at.button(key="console_sign_out").click().run(timeout=30)
    assert sessions.actor_for(seeder.db, BROWSER.token) is None  # revoked: every tab of this browser is signed out
    assert "Signed in as" not in " ".join(texts(at.caption)) and at.text_input(key="console_username")


def test_demo_passwords_are_shown_only_in_demo_mode(seeder, monkeypatch):
    assert "alice / alice-demo" in console(None).caption[0].value
    monkeypatch.setenv("APPROVAL_DEMO", "0")
    assert [c.value for c in console(None).caption] == ["Sign in to review."]


def test_reviewers_see_a_note_when_an_account_is_under_attack(seeder):
    start = datetime.now(UTC) - throttle.WINDOW + timedelta(minutes=5)
    for n in range(throttle.UNDER_ATTACK_AT):  # each after the wait the previous ones earned
        throttle.reserve(seeder.db, "bob", "client:203.0.113.9", False, start + n * throttle.MAX_DELAY)
    assert any("failed sign-ins for bob" in w.value.replace("\\", "") for w in console(ALICE).warning)
    assert not any("failed sign-ins" in w.value for w in console(CAROL).warning)


# -- queue -------------------------------------------------------------------------------------------------


def test_queue_lists_every_pending_item_oldest_first_with_a_count(seeder):
    email = ask(seeder, "Email jo@example.com about the delay")
    ask(seeder, "Refund order 1234 for $250", ALICE)
    ask(seeder, "Delete customer 77")
    at = console()
    assert not at.exception
    assert "**3 pending**" in texts(at.markdown)
    table = rows(at)
    assert list(table["Tool"]) == ["send_email", "issue_refund", "⚠️ delete_customer"]  # destructive, flagged
    assert list(table.columns[:6]) == ["Tool", "Claimed by", "Amount", "Recipient", "Customer", "Order"]
    assert list(table["Amount"]) == ["", "$250.00", ""] and list(table["Recipient"]) == ["jo@example.com", "", ""]
    assert list(table["Customer"]) == ["", "", "77"]
    assert list(table["Requester"]) == ["carol", "alice", "carol"]
    assert list(table["Policy"]) == ["reviewer"] * 3
    assert table["Arguments"][0] == email.args_summary and table["Age"][0].endswith(" s")  # not "0 min"


def test_filter_narrows_the_queue_and_lives_in_the_url(seeder):
    ask(seeder, "Email jo@example.com about the delay")
    ask(seeder, "Delete customer 77")
    at = console(filters_open=True)
    at.multiselect(key="console_tool").set_value(["delete_customer"]).run(timeout=30)
    assert "**1 of 2 pending match these filters**" in texts(at.markdown)
    assert list(rows(at)["Tool"]) == ["⚠️ delete_customer"]
    assert at.query_params["tool"] == "delete_customer"

    closed = console(tool="delete_customer", requester="carol")  # a reload: Filters and sort starts closed
    assert "**1 of 2 pending match these filters**" in texts(closed.markdown)
    assert [shown(b.label) for b in closed.button if b.key.startswith("console_chip_")] == [
        "tool: delete_customer", "requester: carol"]  # the chips say what hides items
    reloaded = console(tool="delete_customer", requester="carol", filters_open=True)
    assert reloaded.multiselect(key="console_tool").value == ["delete_customer"]
    assert reloaded.text_input(key="console_requester").value == "carol"
    assert "**1 of 2 pending match these filters**" in texts(reloaded.markdown)
    empty = console(requester="nobody")
    assert "**0 of 2 pending match these filters**" in texts(empty.markdown)  # not "nothing is waiting"
    assert [i.value for i in empty.info] == ["None of the 2 pending items match these filters."]
    empty.button(key="console_clear_empty").click().run(timeout=30)
    assert "**2 pending**" in texts(empty.markdown) and "requester" not in empty.query_params


def test_tool_choices_are_what_is_pending_and_a_url_tool_is_kept(seeder):
    ask(seeder, "Email jo@example.com about the delay")
    at = console(tool="ship_order", filters_open=True)
    assert at.multiselect(key="console_tool").options == ["send_email", "ship_order"]  # no lookup_order
    assert at.multiselect(key="console_tool").value == ["ship_order"] and at.query_params["tool"] == "ship_order"
    assert "**0 of 1 pending match these filters**" in texts(at.markdown)


def test_search_sort_and_a_partial_requester_live_in_the_url(seeder):
    ask(seeder, "Email jo@example.com about the delay")
    ask(seeder, "Refund order 1234 for $250", ALICE)
    ask(seeder, "Refund order 99 for $999")
    at = console(q="refund", sort="amount", requester="CAR", filters_open=True)
    assert list(rows(at)["Amount"]) == ["$999.00"]
    at.text_input(key="console_requester").set_value("").run(timeout=30)
    assert list(rows(at)["Amount"]) == ["$999.00", "$250.00"]
    assert at.query_params["q"] == "refund" and at.query_params["sort"] == "amount"
    assert "sorted: Largest amount" in [shown(b.label) for b in at.button]  # a sort that is not the default: a chip
    at.button(key="console_clear_filters").click().run(timeout=30)
    assert len(rows(at)) == 3 and "q" not in at.query_params and at.query_params["sort"] == "amount"


def test_queue_pages_by_200_and_the_page_is_in_the_url(seeder):
    for n in range(201):
        ask(seeder, f"Email jo{n}@example.com about the delay")
    at = console()
    assert len(rows(at)) == 200 and "Items 1–200 of 201" in texts(at.caption)
    at.button(key="console_next").click().run(timeout=30)
    assert len(rows(at)) == 1 and "Items 201–201 of 201" in texts(at.caption)
    assert at.query_params["offset"] == "200"
    assert len(rows(console(offset="200"))) == 1


@pytest.mark.parametrize("name, value, upper", [
    ("min_age", "99999999999", "5270400"), ("min_age", "²", "5270400"), ("offset", "1" + "0" * 30, "1000000"),
])
def test_a_crafted_link_is_refused_with_a_note_and_the_queue_still_works(seeder, name, value, upper):
    """Issue 27, finding 5: `/console?min_age=99999999999` raised OverflowError into the page."""
    ask(seeder, "Refund order 55 for $250")
    at = console(**{name: value})
    assert not at.exception
    assert f"Ignored {name}={value[:20]!r} from the link: a whole number from 0 to {upper} was expected." in [
        shown(w.value) for w in at.warning]
    assert len(rows(at)) == 1 and name not in at.query_params


def test_tracebacks_never_reach_the_page_outside_development():
    from streamlit import config

    assert config.get_option("client.showErrorDetails") == "none"  # .streamlit/config.toml, read by streamlit run
    at = AppTest.from_string("raise OverflowError('date value out of range in /srv/app/ui/queue.py')").run()
    assert at.exception and "queue.py" not in at.exception[0].message  # AppTest still sees that it failed


def test_items_past_the_sla_are_flagged(seeder, monkeypatch):
    ask(seeder, "Email jo@example.com about the delay")
    monkeypatch.setenv("APPROVAL_SLA_MINUTES", "0")
    at = console()
    assert list(rows(at)["SLA"]) == ["⚠️ overdue"]
    assert "**1 pending** · 1 past the 0-minute SLA on this page" in texts(at.markdown)


def test_ttl_rejects_expired_items_on_the_servers_clock_and_the_queue_shows_it(seeder, monkeypatch):
    item = ask(seeder, "Email jo@example.com about the delay")
    monkeypatch.setenv("APPROVAL_TTL_MINUTES", "0")
    at = console()
    assert not at.exception
    assert seeder.decision(item.thread_id, item.interrupt_id, viewer=ALICE) is None, "a page decides nothing"
    runner = BackgroundRunner(runs=seeder)
    try:
        assert Scheduler(seeder.db, [escalation_job(seeder)], seeder.replica).run_due() == ["escalation"]
        wait_applied(seeder, item)
    finally:
        runner.shutdown()
    assert seeder.decision(item.thread_id, item.interrupt_id, viewer=ALICE).decided_by == "system (expired)"
    assert "**0 pending**" in texts(at.run(timeout=30).markdown)


# -- the open item -----------------------------------------------------------------------------------------


def test_clicking_a_row_opens_it_with_context_and_payloads(seeder):
    ask(seeder, "Delete customer 77")
    item = ask(seeder, "Email jo@example.com about the delay")
    at = click_row(console(), 1)
    assert not at.exception
    assert (at.query_params["thread"], at.query_params["interrupt"]) == (item.thread_id, item.interrupt_id)
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert at.chat_message[0].text[0].value == "Email jo@example.com about the delay"
    assert "Claimed by you until" in " ".join(texts(at.caption))
    assert not at.error  # the AIMessage payload matches the interrupt value
    assert {"Approve", "Edit", "Reject", "Close", "Next", "Previous"} <= set(labels(at))
    assert at.session_state["console_queue"]["selection"]["cells"] == [(1, "Tool")]  # the open row stays marked


def test_approving_opens_the_next_item_in_queue_order_and_claims_it(seeder):
    first, second, third = (ask(seeder, text) for text in (
        "Email jo@example.com about the delay", "Delete customer 77", "Refund order 1234 for $250"))
    claims.claim(seeder.db, second.thread_id, second.interrupt_id, BOB)  # bob is on the second one
    at = opened(first)
    click_after_reading(at, "console_approve")
    assert not at.exception
    assert (at.query_params["thread"], at.query_params["interrupt"]) == (third.thread_id, third.interrupt_id)
    assert shown(texts(at.toast)[0]) == "Approved: an email to jo@example.com, subject “About the delay” (carol)."
    assert claims.holder(seeder.db, third.thread_id, third.interrupt_id).claimed_by == "alice"
    assert claims.holder(seeder.db, first.thread_id, first.interrupt_id) is None
    assert seeder.decision(first.thread_id, first.interrupt_id, viewer=ALICE).decided_by == "alice"
    assert list(rows(at)["Tool"]) == ["⚠️ delete_customer", "issue_refund"]
    wait_applied(seeder, first)


def test_the_edit_form_warns_of_hidden_characters_in_the_args(seeder):
    at = opened(ask(seeder, "Email jo@\u202emoc.elpmaxe.ni about the delay"))
    at = at.button(key="console_edit").click().run(timeout=30)
    assert any("Hidden characters in to" in w.value.replace("\\", "") for w in at.warning)


def test_the_queue_and_a_bulk_of_one_show_hidden_characters_escaped_and_flagged(seeder):
    """jo@<U+202E>moc.elpmaxe.ni would display as jo@in.example.com in a cell: the cell and the confirmation (asked
    for a bulk approval of any size) show the escape, and the row says why."""
    item = ask(seeder, "Email jo@\u202emoc.elpmaxe.ni about the delay")
    at = console()
    [row] = rows(at).to_dict("records")
    assert row["Recipient"] == "jo@\\u202emoc.elpmaxe.ni" and row["Tool"] == "send_email · ⚠️ hidden characters"
    assert "jo@\\u202emoc.elpmaxe.ni" in row["Arguments"]
    assert not any("\u202e" in str(value) for value in row.values())

    at = select_rows(at, 0)
    at.button(key="console_bulk_approve").click().run(timeout=30)
    assert texts(at.warning) == ["Approve 1 request? This runs:"]
    [line] = at.text[-1].value.splitlines()  # one call, one line (its body's line breaks shown as \n)
    assert line.startswith("send_email(to=jo@\\u202emoc.elpmaxe.ni, ") and line.endswith("⚠️ hidden characters")
    assert seeder.decisions(viewer=ALICE) == []  # nothing runs before the confirmation
    at.button(key="console_bulk_confirm_button").click().run(timeout=30)
    assert texts(at.success) == ["1 approved."]
    wait_applied(seeder, item)


def test_lookalike_letters_are_flagged_in_the_queue_and_on_the_card(seeder):
    ask(seeder, "Email jo@p\u0430ypal.com about the delay")  # a Cyrillic a
    at = console()
    assert list(rows(at)["Tool"]) == ["send_email · ⚠️ lookalike letters"]
    at = click_row(at, 0)
    assert any(shown(w.value).startswith("Lookalike letters in to: \u0430 (Cyrillic, U+0430)") for w in at.warning)


def test_next_and_previous_walk_the_queue_from_the_first_item(seeder):
    items = [ask(seeder, f"Email jo{n}@example.com about the delay") for n in range(3)]
    at = console()
    walk = []
    for key in ("console_next_item", "console_next_item", "console_next_item", "console_next_item",
                "console_previous_item"):
        at.button(key=key).click().run(timeout=30)
        walk.append(items.index(next(i for i in items if i.thread_id == at.query_params["thread"])))
    assert walk == [0, 1, 2, 2, 1]  # J opens the first item; nothing happens past the end
    assert claims.holder(seeder.db, items[2].thread_id, items[2].interrupt_id) is None  # left behind, let go
    assert claims.holder(seeder.db, items[1].thread_id, items[1].interrupt_id).claimed_by == "alice"


def test_deciding_the_last_item_shows_the_outcome_there(seeder):
    item = ask(seeder, "Email jo@example.com about the delay")
    at = opened(item)
    click_after_reading(at, "console_approve")
    assert not at.exception
    assert texts(at.success)[0].startswith("You decided this: approve at ")
    captions = [shown(t) for t in texts(at.caption)]
    assert any(t.startswith("Timeline: requested by carol at ") and "approve by alice at " in t for t in captions)
    wait_applied(seeder, item)
    assert [entry["tool"] for entry in seeder.store.ledger.entries()] == ["send_email"]
    assert seeder.decision(item.thread_id, item.interrupt_id, viewer=ALICE).decided_by == "alice"


def test_timeline_lists_who_opened_and_claimed_and_the_conversation_who_decided(seeder):
    item = ask(seeder, "Email jo@example.com about the delay")
    at = opened(item)
    timeline = next(t for t in map(shown, texts(at.caption)) if t.startswith("Timeline: "))
    assert timeline.startswith("Timeline: requested by carol at ")
    assert " → opened by alice at " in timeline and " → claimed by alice at " in timeline

    click_after_reading(at, "console_approve")
    assert not at.exception
    timeline = next(t for t in map(shown, texts(at.caption)) if t.startswith("Timeline: "))
    assert "opened by alice at " in timeline and "claimed by alice at " in timeline
    assert "approve by alice at " in timeline
    reviews = [m.text[0].value for m in at.chat_message if m.name == "review"]
    assert len(reviews) == 1 and reviews[0].startswith("✅ Approved by alice at ")


def test_timeline_is_not_shown_to_another_requester(seeder):
    item = ask(seeder, "Email jo@example.com about the delay", GUEST)
    opened(item)  # alice opens and claims it
    at = opened(item, CAROL)  # carol is signed in, but it is not her request
    assert not at.exception
    assert texts(at.error)  # the page says it cannot show this conversation
    assert not [t for t in map(shown, texts(at.caption)) if "Timeline" in t or "opened by" in t]
    assert not at.chat_message


def test_stale_approve_says_who_decided_first(seeder):
    item = ask(seeder, "Email jo@example.com about the delay")
    at = opened(item)
    seeder.claim(item.thread_id, item.interrupt_id, BOB, take_over=True)  # alice holds it: bob takes it over first
    seeder.record_decision(item.thread_id, item.interrupt_id, APPROVE, BOB)
    click_after_reading(at, "console_approve")
    assert not at.exception
    assert "Approved by bob at " in texts(at.warning)[0]  # in the reader's time
    assert "Approve" not in labels(at)
    assert seeder.decision(item.thread_id, item.interrupt_id, viewer=ALICE).decided_by == "bob"


def test_requester_cannot_approve_a_reviewer_only_request_nor_claim_it(seeder):
    item = ask(seeder, "Email jo@example.com about the delay")
    at = opened(item, CAROL)
    assert "Approve" not in labels(at)
    assert "Only a reviewer can decide this request." in [shown(c.value) for c in at.caption]
    assert seeder.claim_holder(item.thread_id, item.interrupt_id) is None  # reviewers are not held off
    assert seeder.decision(item.thread_id, item.interrupt_id, viewer=ALICE) is None


def test_edit_shows_the_diff_before_it_is_confirmed(seeder):
    item = ask(seeder, "Refund order 1234 for $250")
    at = opened(item)
    at.button(key="console_edit").click().run(timeout=30)
    at.number_input(key=f"console_edit_form_{item.interrupt_id}_0_amount").set_value(200.0)
    labelled(at, "Approve with edits").click().run(timeout=30)
    assert not at.exception
    diff = table(at, "argument")
    assert (diff["argument"][0], diff["before"][0], diff["after"][0]) == ("amount", "$250.00", "$200.00")
    assert seeder.decision(item.thread_id, item.interrupt_id, viewer=ALICE) is None

    click_after_reading(at, "console_confirm_edit")
    record = seeder.decision(item.thread_id, item.interrupt_id, viewer=ALICE)
    assert (record.decision, record.edit_diff) == (
        "edit", [{"tool": "issue_refund", "changes": {"amount": [250.0, 200.0]}}]
    )
    wait_applied(seeder, item)


def test_carol_cannot_approve_her_own_refund_edited_to_10000(seeder):
    """The policy judges what will run (issue 19): hers to approve at $25, a reviewer's at $10000."""
    item = ask(seeder, "Refund order 12 for $25")
    at = opened(item, CAROL)
    at.button(key="console_edit").click().run(timeout=30)
    at.number_input(key=f"console_edit_form_{item.interrupt_id}_0_amount").set_value(10000.0)
    labelled(at, "Approve with edits").click().run(timeout=30)
    click_after_reading(at, "console_confirm_edit")
    assert not at.exception
    assert any("Only a reviewer can decide this request as edited." in e.value.replace("\\", "") for e in at.error)
    assert seeder.decision(item.thread_id, item.interrupt_id, viewer=ALICE) is None
    assert seeder.store.ledger.entries(item.thread_id) == []


def test_reject_sends_the_message(seeder):
    item = ask(seeder, "Delete customer 77")
    at = opened(item)
    at.button(key="console_reject").click().run(timeout=30)
    at.text_area(key=f"console_reject_form_{item.interrupt_id}_message").input("Customer 77 has open orders.")
    [*_, form_reject] = [b for b in as_read(at).button if b.label == "Reject"]  # the form's, after the one that
    form_reject.click().run(timeout=30)  # opened it
    assert not at.exception
    assert seeder.decision(item.thread_id, item.interrupt_id, viewer=ALICE).message == "Customer 77 has open orders."
    wait_applied(seeder, item)


def test_claimed_item_needs_a_confirmed_take_over(seeder):
    item = ask(seeder, "Email jo@example.com about the delay")
    claims.claim(seeder.db, item.thread_id, item.interrupt_id, BOB)
    at = opened(item)
    assert texts(at.warning)[0].startswith("Claimed by bob since")
    assert "Approve" not in labels(at)
    assert list(rows(at)["Claimed by"]) == ["bob"]

    at.button(key="console_take_over").click().run(timeout=30)
    assert claims.holder(seeder.db, item.thread_id, item.interrupt_id).claimed_by == "bob"
    at.button(key="console_cancel_take_over").click().run(timeout=30)
    at.button(key="console_take_over").click().run(timeout=30)
    at.button(key="console_confirm_take_over_button").click().run(timeout=30)
    assert not at.exception
    assert claims.holder(seeder.db, item.thread_id, item.interrupt_id).claimed_by == "alice"
    assert "Approve" in labels(at)


def test_close_releases_the_claim_and_clears_the_url(seeder):
    item = ask(seeder, "Email jo@example.com about the delay")
    at = opened(item)
    at.button(key="console_close").click().run(timeout=30)
    assert "thread" not in at.query_params
    assert claims.holder(seeder.db, item.thread_id, item.interrupt_id) is None


# -- bulk --------------------------------------------------------------------------------------------------


def select_rows(at: AppTest, *ticked: int) -> AppTest:
    """AppTest cannot tick a row's checkbox; set the table's selection the way ticking does."""
    at.session_state["console_queue"] = {"selection": {"rows": list(ticked), "columns": [], "cells": []}}
    return at.run(timeout=30)


def test_bulk_approve_unticks_what_was_decided_meanwhile_and_reports_what_failed(seeder):
    email, refund, deletion = (ask(seeder, text) for text in (
        "Email jo@example.com about the delay", "Refund order 1234 for $250", "Delete customer 77"))
    at = select_rows(console(), 0, 1, 2)
    assert at.button(key="console_bulk_approve").label == "Approve selected (3)"
    seeder.record_decision(deletion.thread_id, deletion.interrupt_id, APPROVE, BOB)  # while alice was selecting
    claims.claim(seeder.db, refund.thread_id, refund.interrupt_id, BOB)

    at.button(key="console_bulk_approve").click().run(timeout=30)
    assert [shown(text) for text in texts(at.warning)] == [
        "1 ticked item is no longer pending (decided, withdrawn or resolved elsewhere), so no longer ticked:"
        " delete_customer for carol (customer_id=77)", "Approve 2 requests? This runs:"]
    assert "delete_customer" not in at.text[-1].value
    at.button(key="console_bulk_confirm_button").click().run(timeout=30)
    assert not at.exception
    assert texts(at.success) == ["1 approved."]
    assert texts(at.warning) == ["1 not approved:"]
    assert table(at, "reason")["reason"][0].startswith("Claimed by bob until ")
    assert seeder.decision(email.thread_id, email.interrupt_id, viewer=ALICE).decided_by == "alice"
    assert seeder.decision(refund.thread_id, refund.interrupt_id, viewer=ALICE) is None
    assert not drawn_ticks(at) and "console_bulk_approve" not in [button.key for button in at.button]
    wait_applied(seeder, email)


def test_bulk_over_the_threshold_names_what_will_run_and_runs_nothing_until_confirmed(seeder):
    items = [ask(seeder, text) for text in ("Refund order 56 for $999", "Email jo@example.com about the delay",
                                            "Email al@example.com about the refund")]
    at = select_rows(console(), 0, 1, 2)
    at.button(key="console_bulk_approve").click().run(timeout=30)
    assert texts(at.warning) == ["Approve 3 requests? This runs:"]
    lines = at.text[-1].value.splitlines()
    assert lines[0] == "issue_refund(order_id=56, amount=$999.00)" and lines[1].startswith("send_email(to=jo@")
    assert at.button(key="console_bulk_confirm_button").label == "Confirm: approve 3"
    assert seeder.count_pending(viewer=ALICE) == 3 and seeder.decisions(viewer=ALICE) == []
    at.button(key="console_bulk_cancel").click().run(timeout=30)
    assert "console_bulk_confirm_button" not in [button.key for button in at.button]
    assert seeder.decisions(viewer=ALICE) == []
    at.button(key="console_bulk_approve").click().run(timeout=30)
    at.button(key="console_bulk_confirm_button").click().run(timeout=30)
    assert texts(at.success) == ["3 approved."]
    for item in items:
        wait_applied(seeder, item)


def test_selection_survives_a_refresh_that_adds_rows(seeder):
    first = ask(seeder, "Email jo@example.com about the delay")
    ask(seeder, "Delete customer 77")
    at = select_rows(console(), 1)
    seeder.record_decision(first.thread_id, first.interrupt_id, APPROVE, BOB)
    ask(seeder, "Refund order 1234 for $250")
    at.run(timeout=30)  # what the live refresh does
    assert drawn_ticks(at) == [0]
    assert list(rows(at)["Tool"]) == ["⚠️ delete_customer", "issue_refund"]
    assert at.button(key="console_bulk_approve").label == "Approve selected (1)"


def test_bulk_reject_asks_for_one_message(seeder):
    items = [ask(seeder, "Email jo@example.com about the delay"), ask(seeder, "Delete customer 77")]
    at = select_rows(console(), 0, 1)
    at.button(key="console_bulk_reject").click().run(timeout=30)
    assert "Write a reject message first" in texts(at.error)[0]
    assert seeder.count_pending(viewer=ALICE) == 2

    at.text_input(key="console_bulk_message").input("Not during the freeze.")
    at.button(key="console_bulk_reject").click().run(timeout=30)
    assert texts(at.success) == ["2 rejected."]
    for item in items:
        assert seeder.decision(item.thread_id, item.interrupt_id, viewer=ALICE).message == "Not during the freeze."
        wait_applied(seeder, item)


# -- history -----------------------------------------------------------------------------------------------


def test_history_lists_decisions_filters_them_and_exports_csv(seeder):
    email, deletion = ask(seeder, "Email jo@example.com about the delay"), ask(seeder, "Delete customer 77")
    seeder.decide(email.thread_id, email.interrupt_id, APPROVE, ALICE)
    seeder.decide(deletion.thread_id, deletion.interrupt_id, {"decisions": [{"type": "reject", "message": "No."}]}, BOB)
    at = console(tab="History")
    decisions = table(at, "decided by")
    assert list(decisions["decided by"]) == ["bob", "alice"] and list(decisions["decision"]) == ["reject", "approve"]
    assert at.get("download_button")[0].proto.label == "Download CSV"
    assert at.metric[0].label == "Median time to decision"

    at.multiselect(key="console_audit_decider").set_value(["alice"]).run(timeout=30)
    assert list(table(at, "decided by")["tool"]) == ["send_email"]
    assert "1 of the latest 5000 decisions" in texts(at.caption)


def test_a_channel_that_keeps_failing_is_named_to_reviewers_above_the_queue(seeder):
    seeder.db.execute(
        "INSERT INTO outbox (event_id, event, body, created_at, attempts, next_attempt_at, last_error, channel,"
        " recipient) VALUES ('e1', 'email.pending', '{}', '2026-01-01', 3, '2099-01-01', ?, 'email', 'alice')",
        ("(535, b'5.7.8 Authentication credentials invalid')",))
    warnings = [shown(w.value) for w in console(ALICE).warning]
    assert any(w.startswith("Email notifications are failing: 1 not delivered yet") and "535" in w for w in warnings)
    assert not any("notifications are failing" in shown(w.value) for w in console(CAROL).warning)
