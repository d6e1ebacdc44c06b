"""The conversation page (/) with AppTest: the URL picks the thread, the card decides, runs happen in the runner.

Graph runs go to the process-wide background runner, so after an action each test waits for the runner and
runs the script again (AppTest never fires `run_every` by itself), just as the page's poller would.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ALICE, BOB, BROWSER, CAROL, GUEST, BrowserCookie
from openai_compatible import serve
from streamlit.testing.v1 import AppTest

import resources
from approvals.core.actors import Actor
from approvals.core.hitl import HITLRequest, InvalidDecision
from approvals.service.facade import ApprovalService
from ui.approval_widgets import (
    approve_value,
    edit_value,
    escape_markdown,
    field_kind,
    parse_field,
    reject_value,
    validated,
)
from ui.chat import chat_entries
from ui.human import proposal

PAGE = "../../pages/conversation.py"
REFUND = "Refund order 1234 for $25"


@pytest.fixture
def page_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite unless a test asks for PostgreSQL (the service tests cover both backends in depth)."""
    if getattr(request, "param", "sqlite") == "postgres":
        return request.getfixturevalue("postgres_url")
    return str(tmp_path / "app.db")


@pytest.fixture(autouse=True)
def fresh_app(monkeypatch: pytest.MonkeyPatch, page_db_url: str, browser_cookie: BrowserCookie) -> Iterator[None]:
    """Each test gets its own database behind the page's cached service, and a browser that is a guest."""
    monkeypatch.setenv("DATABASE_URL", page_db_url)
    resources.approval_service.clear()
    browser_cookie.become(GUEST)
    yield
    resources.approval_service.clear()


@pytest.fixture
def app_service() -> ApprovalService:
    """The very service object the page uses (st.cache_resource is process-wide)."""
    return resources.approval_service()


def open_page(thread_id: str | None = None, actor: Actor | None = None) -> AppTest:
    """The page as this test's browser sees it; `actor` signs the browser in as someone else first."""
    at = AppTest.from_file(PAGE)
    if thread_id is not None:
        at.query_params["thread"] = thread_id
    if actor is not None:
        BROWSER.become(actor)
    return at.run(timeout=30)


def thread_of(at: AppTest) -> str:
    return at.query_params["thread"]


def settle(at: AppTest) -> AppTest:
    """Let the background run finish, then rerun the script as the page's poller does."""
    resources.background_runner().wait(thread_of(at), timeout=60)
    return at.run(timeout=30)


def send(at: AppTest, text: str) -> AppTest:
    at.chat_input(key="conversation_input").set_value(text).run(timeout=30)
    assert not at.exception
    return settle(at)


def card_args(at: AppTest) -> dict[str, str]:
    """The proposed call's args as the card draws them, one text per argument: "Label: value" (or the value on the
    lines after "Label:" when it spans lines)."""
    lines = [text.value for text in at.text if text.value.split(":")[0] in ARG_LABELS]
    return {label: value.lstrip(" ").removeprefix("\n") for label, value in (line.split(":", 1) for line in lines)}


ARG_LABELS = {"Order Id", "Amount", "To", "Subject", "Body", "Customer Id"}


def test_an_email_body_keeps_its_line_breaks_as_text():
    at = send(open_page(), "Email jo@example.com about the delay")
    assert card_args(at)["Body"] == "Hello,\n\nWe are writing about the delay.\n\nBest regards,\nSupport"
    assert card_args(at)["To"] == "jo@example.com"


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def click(at: AppTest, label: str) -> AppTest:
    button = next(b for b in at.button if b.label == label)
    return button.click().run(timeout=30)


def plain(markdown: str) -> str:
    """What the user reads: data goes into markdown backslash-escaped."""
    return re.sub(r"\\(.)", r"\1", markdown)


def messages(at: AppTest) -> str:
    return plain("\n".join(e.value for e in [*at.error, *at.warning, *at.info]))


def pending_refund(at: AppTest | None = None) -> AppTest:
    at = send(at or open_page(), REFUND)
    assert "Approve" in labels(at)
    return at


# -- thread selection -------------------------------------------------------------------------------------


def test_a_new_conversation_gets_a_fresh_id_in_the_url_with_its_first_message(app_service: ApprovalService):
    at = open_page()
    assert not at.exception and not at.error
    assert "thread" not in at.query_params  # nothing to reload yet, and nothing created
    assert not at.chat_input(key="conversation_input").disabled
    assert app_service.recent_threads(viewer=GUEST) == []

    at = send(at, "Where is order 1234?")
    thread_id = thread_of(at)
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", thread_id)
    assert [t.thread_id for t in app_service.recent_threads(viewer=GUEST)] == [thread_id]

    at.button(key="conversation_new").click().run(timeout=30)
    assert "thread" not in at.query_params and not at.error and not at.chat_message


@pytest.mark.parametrize(
    ("raw", "says"),
    [("../etc/<b>passwd</b>", "is not a valid conversation id"), ("abc123", "There is no conversation")],
)
def test_malformed_or_unknown_id_is_explained_and_nothing_is_created(raw: str, says: str, app_service: ApprovalService):
    at = open_page(raw)
    assert not at.exception
    assert says in messages(at)
    assert not at.chat_input  # no way to write into a conversation that does not exist
    assert app_service.db.query("SELECT thread_id FROM threads") == []

    at.button(key="conversation_new_instead").click().run(timeout=30)
    assert "thread" not in at.query_params and not at.error and at.chat_input(key="conversation_input")


def test_sidebar_lists_recent_threads_with_a_badge_and_opens_them():
    first = send(open_page(), "Where is order 1234?")
    first_id = thread_of(first)
    at = pending_refund()
    recent = [b for b in at.sidebar.button if b.key.startswith("conversation_open_")]
    assert [b.label for b in recent] == [
        ":orange-badge[awaiting approval] Refund order 1234 for \\$25",
        "Where is order 1234?",
    ]
    recent[1].click().run(timeout=30)
    assert thread_of(at) == first_id
    assert "Order 1234: shipped, arriving in 2 days." in "\n".join(texts(at))


# -- the approval card ------------------------------------------------------------------------------------


def test_refund_request_shows_a_card_with_its_args_and_blocks_the_chat():
    at = pending_refund()
    assert not at.exception
    assert texts(at)[:2] == [REFUND, "Proposed a refund of $25.00 for order 1234"]
    assert "Approval needed" in [h.value for h in at.subheader]
    assert card_args(at) == {"Order Id": "1234", "Amount": "$25.00"}  # money as money
    assert labels(at)[:3] == ["Approve", "Edit", "Reject"]
    assert not at.chat_input  # nothing to write in until the card is decided
    assert "Decide the pending action above before writing more." in [c.value for c in at.caption]


@pytest.mark.parametrize("page_db_url", ["sqlite", "postgres"], indirect=True)
def test_approve_runs_the_refund_once(app_service: ApprovalService, monkeypatch: pytest.MonkeyPatch):
    resumed, apply = threading.Event(), app_service.deliver_decision
    monkeypatch.setattr(app_service, "deliver_decision", lambda decision_id: resumed.wait(30) and apply(decision_id))
    at = click(pending_refund(), "Approve")
    assert [s.label for s in at.status] == ["The agent is working…"]  # shown until the poller sees the run end
    resumed.set()
    at = settle(at)
    assert not at.exception and not at.error
    assert any(t.startswith("issue_refund: Refunded $25.00 on order 1234") for t in texts(at))
    assert "Approve" not in labels(at)
    assert not at.chat_input(key="conversation_input").disabled
    assert len(app_service.store.ledger.entries(thread_of(at))) == 1


def test_reject_asks_for_a_message_and_the_agent_is_told(app_service: ApprovalService):
    at = click(pending_refund(), "Reject")
    at.button(key=f"FormSubmitter:{at.text_area[0].key.removesuffix('_message')}-Reject").click().run(timeout=30)
    assert "Write a message for the agent" in messages(at)
    assert app_service.pending_approval(thread_of(at), viewer=ALICE) is not None

    at.text_area[0].input("Customer already got store credit")
    form = at.text_area[0].key.removesuffix("_message")
    at = settle(at.button(key=f"FormSubmitter:{form}-Reject").click().run(timeout=30))
    assert not at.error
    assert "⛔ issue_refund: Customer already got store credit" in texts(at)
    assert "Not done: the reviewer rejected issue_refund: Customer already got store credit" in texts(at)
    assert app_service.store.ledger.entries(thread_of(at)) == []


def test_edit_with_an_invalid_amount_shows_an_error_and_stays_pending(app_service: ApprovalService):
    at = click(pending_refund(), "Edit")
    assert at.number_input[0].value == 25.0 and at.text_input[0].value == "1234"
    at.number_input[0].set_value(-5)
    at = click(at, "Approve with edits")
    assert "amount: Input should be greater than 0" in messages(at)
    thread_id = thread_of(at)
    assert app_service.pending_approval(thread_id, viewer=ALICE) is not None
    assert app_service.decisions(thread_id=thread_id, viewer=ALICE) == []

    at.number_input[0].set_value(30)
    at = settle(click(at, "Approve with edits"))
    assert any(t.startswith("issue_refund: Refunded $30.00 on order 1234") for t in texts(at))
    assert app_service.decisions(thread_id=thread_id, viewer=ALICE)[0].edit_diff == [
        {"tool": "issue_refund", "changes": {"amount": [25.0, 30.0]}}
    ]


def test_a_guest_cannot_approve_its_refund_edited_to_9999(app_service: ApprovalService):
    """The policy judges what will run: $9999 needs a reviewer, whoever asked for $25."""
    at = click(pending_refund(), "Edit")
    at.number_input[0].set_value(9999)
    at = click(at, "Approve with edits")
    assert "Only a reviewer can decide this request as edited." in messages(at)
    assert app_service.decisions(thread_id=thread_of(at), viewer=ALICE) == []
    assert app_service.store.ledger.entries(thread_of(at)) == []


def test_bidi_characters_in_args_are_shown_escaped_with_a_warning():
    """jo@<U+202E>moc.elpmaxe.ni would display as jo@in.example.com: the card shows what will really be used."""
    thread_id = thread_of(send(open_page(), "Email jo@\u202emoc.elpmaxe.ni about the delay"))
    at = open_page(thread_id, ALICE)  # an email waits for a reviewer
    assert any("jo@\\u202emoc.elpmaxe.ni" in text for text in texts(at))
    assert not any("\u202e" in text for text in texts(at))
    assert "Hidden characters in to" in messages(at)


def test_reviewer_only_request_waits_for_a_reviewer():
    at = send(open_page(), "Refund order 1234 for $250")
    assert "Waiting for a reviewer" in at.info[0].value and "Reviewer console" in at.info[0].value
    assert not {"Approve", "Edit", "Reject"} & set(labels(at))
    captions = [c.value for c in at.caption]
    assert not at.chat_input and "You can write again once it is decided." in captions
    assert "Decide the pending action above before writing more." not in captions  # a requester cannot


def test_html_and_markdown_in_args_show_literally():
    at = send(open_page(), "Email jo@example.com about <b>late</b> **order** [here](http://x.test)")
    assert card_args(at)["Subject"] == "About <b>late</b> **order** [here](http://x.test)"
    proposed = "Proposed an email to jo@example.com, subject “About <b>late</b> **order** [here](http://x.test)”"
    assert proposed in texts(at)[1]
    assert not any("<b>" in m.value for m in at.markdown)  # data never reaches markdown unescaped


def test_stale_tab_gets_already_decided_and_no_second_refund(app_service: ApprovalService):
    first = pending_refund()
    second = open_page(thread_of(first))
    assert "Approve" in labels(second)

    settle(click(first, "Approve"))
    second = settle(click(second, "Approve"))
    assert "Already decided by guest-test at" in messages(second)
    assert "Approve" not in labels(second)
    assert any(t.startswith("issue_refund: Refunded $25.00") for t in texts(second))
    assert len(app_service.store.ledger.entries(thread_of(first))) == 1


def test_a_reviewer_cannot_approve_here_what_another_reviewer_holds_in_the_console(app_service: ApprovalService):
    thread_id = app_service.new_thread_id()
    app_service.send_message(thread_id, REFUND, CAROL)  # carol may approve it herself; any reviewer may too
    interrupt_id = app_service.pending_approval(thread_id, viewer=ALICE).interrupt_id
    app_service.claim(thread_id, interrupt_id, BOB)  # bob has it open in the console

    at = click(open_page(thread_id, actor=ALICE), "Approve")
    assert "Claimed by bob until" in messages(at) and "only bob can decide it" in messages(at)
    assert app_service.decision(thread_id, interrupt_id, viewer=ALICE) is None
    assert app_service.store.ledger.entries(thread_id) == []


def test_the_cards_decisions_carry_the_digest_of_the_request_on_screen(app_service: ApprovalService, monkeypatch):
    at = pending_refund()
    shown = app_service.pending_approval(thread_of(at), viewer=ALICE).request_digest
    sent, record = [], app_service.record_decision
    monkeypatch.setattr(app_service, "record_decision",
                        lambda *args: sent.append(args[-1]) or record(*args))  # what the page hands the command
    settle(click(at, "Approve"))
    assert sent == [shown] and len(shown) == 64
    assert len(app_service.store.ledger.entries(thread_of(at))) == 1


def test_stale_edit_form_says_who_decided_instead_of_vanishing(app_service: ApprovalService):
    first = pending_refund()
    second = click(open_page(thread_of(first)), "Edit")
    settle(click(first, "Approve"))

    second = click(second, "Approve with edits")
    assert "Already decided by guest-test at" in messages(second)
    assert app_service.decisions(thread_id=thread_of(first), viewer=ALICE)[0].decision == "approve"
    assert len(app_service.store.ledger.entries(thread_of(first))) == 1


def test_reload_during_a_run_shows_it_is_working_then_the_reason_and_retry_gets_the_card(monkeypatch):
    with serve(delay=1.0) as model:
        for name, value in model.env().items():
            monkeypatch.setenv(name, value)
        resources.approval_service.clear()  # the page's agent now calls the slow model server
        model.failing = True
        at = open_page()
        at.chat_input(key="conversation_input").set_value(REFUND).run(timeout=30)
        thread_id = thread_of(at)

        reloaded = open_page(thread_id)  # a refresh: a new session, read from the run's row
        assert [s.label for s in reloaded.status] == ["The agent is working…"]
        assert reloaded.chat_input(key="conversation_input").disabled
        reloaded.run(timeout=30)  # a rerun neither ends nor repeats the run
        assert [s.label for s in reloaded.status] == ["The agent is working…"]

        reloaded = settle(reloaded)
        assert "The agent's run failed: OpenAIAPIError: Error code: 503" in messages(reloaded)
        assert "overloaded" in messages(reloaded) and not reloaded.status
        model.failing = False
        reloaded = settle(click(reloaded, "Retry the run"))
        assert "Approve" in labels(reloaded) and not reloaded.error
        assert [t for t in texts(reloaded) if t == REFUND] == [REFUND]


def test_signed_in_user_chats_under_their_name(app_service: ApprovalService):
    at = send(open_page(actor=CAROL), REFUND)
    assert "Chatting as carol" in at.caption[0].value
    assert app_service.pending_approval(thread_of(at), viewer=ALICE).request.requested_by == "carol"


# -- pure helpers -----------------------------------------------------------------------------------------


def refund_request(**args: object) -> HITLRequest:
    return HITLRequest.model_validate({
        "action_requests": [{"name": "issue_refund", "args": args or {"order_id": "1234", "amount": 25.0},
                             "description": "Refund", "tool_call_id": "call_1"}],
        "review_configs": [{"action_name": "issue_refund", "args_schema": {}}],
        "requested_by": "guest", "created_at": "2026-01-05T10:54:11.537+00:00", "policy": "self",
    })


def test_decision_values_are_validated_against_the_tool_schema():
    request = refund_request()
    assert validated(approve_value(request), request) == {"decisions": [{"type": "approve"}]}
    assert reject_value(request, "  no  ") == {"decisions": [{"type": "reject", "message": "no"}]}
    edited = validated(edit_value(request, [{"order_id": "1234", "amount": "30"}]), request)
    assert edited["decisions"][0]["edited_action"]["args"] == {"order_id": "1234", "amount": 30.0}
    with pytest.raises(InvalidDecision, match="order_id"):
        validated(edit_value(request, [{"order_id": "12 34; DROP", "amount": 30}]), request)


def test_field_kinds_follow_the_schema_and_the_value():
    assert field_kind({"type": "number"}, 25.0) == "number"
    assert field_kind({"type": "number"}, "lots") == "json"
    assert field_kind({"type": "integer"}, 3) == "integer"
    assert field_kind({"type": "string", "maxLength": 5000}, "hi") == "text_area"
    assert field_kind({"type": "string"}, "two\nlines") == "text_area"
    assert field_kind({"type": "string"}, "1234") == "text"
    assert field_kind({}, True) == "boolean"
    assert parse_field("json", "tags", '["a"]') == ["a"]
    with pytest.raises(InvalidDecision, match="tags: not valid JSON"):
        parse_field("json", "tags", "[a")


def test_text_helpers_keep_data_literal():
    assert escape_markdown("**x** <b>y</b> :red[z] $1") == r"\*\*x\*\* \<b\>y\<\/b\> \:red\[z\] \$1"
    assert proposal("issue_refund", {"order_id": "1234", "amount": 25.0}) == "a refund of $25.00 for order 1234"
    assert proposal("send_email", {"to": "jo@example.com", "body": "Hello,\n\nBye", "subject": "x" * 90}) == (
        f"an email to jo@example.com, subject “{'x' * 59}…”"
    )
    assert proposal("ship_order", {"order_id": "7", "note": "a\nb"}) == "ship_order: order 7"
    assert proposal("ask", {"question": "Hello,\n\nBye"}) == "ask(question=Hello,…)"


def test_chat_entries_mark_proposed_called_and_rejected_calls(app_service: ApprovalService):
    service, thread_id = app_service, app_service.new_thread_id()
    service.send_message(thread_id, REFUND, GUEST)
    reject = {"decisions": [{"type": "reject", "message": "no"}]}
    service.decide(thread_id, service.pending_approval(thread_id, viewer=ALICE).interrupt_id, reject, GUEST)
    service.send_message(thread_id, "Where is order 1234?", GUEST)
    assert [(e.role, e.text) for e in chat_entries(service.messages(thread_id, viewer=ALICE))] == [
        ("user", REFUND),
        ("assistant", "Proposed a refund of $25.00 for order 1234"),
        ("tool", "⛔ issue_refund: no"),
        ("assistant", "Not done: the reviewer rejected issue_refund: no"),
        ("user", "Where is order 1234?"),
        ("assistant", "Called a look-up of order 1234"),
        ("tool", "lookup_order: Order 1234: shipped, arriving in 2 days."),
        ("assistant", "Done: Order 1234: shipped, arriving in 2 days."),
    ]
