"""Slack against a loopback stand-in for its Web API (tests/slack_api.py), with the app served as users run it
(`streamlit run app.py`, one per module): who gets a message and what it says, that only requests signed the way
Slack signs them, fresh and never seen before, decide, and that every rule of the decision command holds from Slack.

The test process plays the agent's requester and the console (it writes items and decides some directly); the served
app sends the messages, answers POST /slack/actions and updates the messages once their item is decided.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import ALICE, CAROL, FINANCE_POLICY
from harness import start_streamlit, stop
from slack_api import SHARED_CHANNEL_ID, Call, SlackApi
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from approvals.core.actors import Actor
from approvals.identity import accounts
from approvals.notify.channels import Recipient
from approvals.notify.slack import SlackChannel
from approvals.service import claims, oversight
from approvals.service.facade import ApprovalService
from approvals.service.policy import PolicySource
from approvals.store.schema import Store, open_store

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BASE = "https://approvals.example.com"
FINANCE = frozenset({"finance"})
ALICE_ID, BOB_ID, ERIN_ID, STRANGER_ID = "U0ALICE", "U0BOB", "U0ERIN", "U0STRANGER"
clicks = count(1)


@dataclass
class Served:
    base: str
    api: SlackApi
    service: ApprovalService
    store: Store


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app served on a fresh SQLite file, then on a fresh PostgreSQL database (every test twice)."""
    tmp = tmp_path_factory.mktemp("slack")
    if request.param == "sqlite":
        database = str(tmp / "app.db")
    else:
        postgres = request.getfixturevalue("postgres_databases")
        database = postgres.create()
    (tmp / "approvals.toml").write_text(FINANCE_POLICY)
    api = SlackApi(users={"erin@example.com": ERIN_ID})
    env = {"DATABASE_URL": database, "APPROVALS_CONFIG": str(tmp / "approvals.toml"),
           "APPROVAL_SLACK_BOT_TOKEN": "xoxb-test-token", "APPROVAL_SLACK_SIGNING_SECRET": SECRET,
           "APPROVAL_SLACK_API_URL": api.url, "APPROVAL_SLACK_CHANNEL": "#approvals", "APPROVAL_BASE_URL": BASE}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)  # this process writes items (and the console's decisions) too
        store = open_store(env["DATABASE_URL"])
        accounts.seed_demo_accounts(store.db)
        accounts.set_account(store.db, "alice", slack_id=ALICE_ID, groups=["finance"])
        accounts.set_account(store.db, "bob", slack_id=BOB_ID, groups=["support"])
        accounts.add_account(store.db, "erin", "reviewer", "erin-secret", ["finance"], email="erin@example.com")
        accounts.set_account(store.db, "carol", slack_id="U0CAROL")
        app, base = start_streamlit(env, tmp / "app.log")
        try:
            yield Served(base, api, ApprovalService(store, policy=PolicySource(tmp / "approvals.toml")), store)
        finally:
            stop(app)
            store.close()
            api.close()
            if request.param == "postgres":
                postgres.drop(database)


# -- helpers: an item, its messages, and a click signed as Slack signs it ---------------------------------------


def ask(served: Served, text: str = "Refund order 3 for $500") -> tuple[str, str]:
    thread_id = served.service.new_thread_id()
    served.service.send_message(thread_id, text, CAROL)
    return thread_id, served.service.pending_approval(thread_id, viewer=ALICE).interrupt_id


def posts(served: Served, item: tuple[str, str], how_many: int) -> list[Call]:
    """The messages posted about the item, once there are `how_many`."""
    return served.api.wait_for("chat.postMessage", lambda call: item[0] in json.dumps(call.args), how_many)


def button(call: Call, action_id: str) -> dict[str, Any]:
    [actions] = [block for block in blocks_of(call) if block["type"] == "actions"]
    return next(element for element in actions["elements"] if element["action_id"] == action_id)


def blocks_of(call: Call) -> list[dict[str, Any]]:
    blocks = call.args["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def slack_signature(body: str, timestamp: int, secret: str = SECRET) -> str:
    """As Slack's "Verifying requests from Slack" computes it: HMAC-SHA256 of `v0:timestamp:body`, hex, `v0=`."""
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()


def send(served: Served, body: str, timestamp: int | None = None, secret: str = SECRET,
         signature: str | None = None) -> tuple[int, bytes]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = signature or slack_signature(body, timestamp, secret)
    request = urllib.request.Request(f"{served.base}/slack/actions", data=body.encode(), method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def press(message: Call, action_id: str, user_id: str) -> tuple[str, str]:
    """The block_actions body Slack sends when `user_id` presses the button; and the response_url's name."""
    name = f"click-{next(clicks)}"
    payload = {
        "type": "block_actions", "user": {"id": user_id, "username": user_id.lower()}, "trigger_id": f"trigger-{name}",
        "channel": {"id": message.args["channel"]}, "container": {"type": "message", "channel_id":
                                                                   message.args["channel"]},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "decide",
                     "value": button(message, action_id).get("value", ""), "action_ts": str(time.time())}],
        "response_url": "RESPONSE_URL/" + name,
    }
    return urlencode({"payload": json.dumps(payload)}), name


def click(served: Served, message: Call, action_id: str, user_id: str) -> str:
    """Press the button as Slack would send it; returns what the clicker was told."""
    body, name = press(message, action_id, user_id)
    body = body.replace("RESPONSE_URL", urllib.request.quote(served.api.base + "/response", safe=""))
    assert send(served, body)[0] == 200
    [reply] = served.api.wait_for("response", lambda call: call.path == f"/response/{name}")
    assert reply.args["response_type"] == "ephemeral" and reply.args["replace_original"] is False
    return reply.args["text"]


def ledger(served: Served, item: tuple[str, str]) -> list:
    return served.store.ledger.entries(item[0])


def dm(posted: list[Call], user_id: str) -> Call:
    return next(call for call in posted if call.args["channel"] == "D" + user_id.removeprefix("U"))


def shared(posted: list[Call]) -> Call:
    return next(call for call in posted if call.args["channel"] == "#approvals")


def updates(served: Served, message: Call) -> list[Call]:
    """The chat.update calls of this message (the channel and ts Slack answered its post with)."""
    return served.api.wait_for("chat.update", lambda call: (call.args["channel"], call.args["ts"]) == (
        message.reply["channel"], message.reply["ts"]))


# -- what is sent, and to whom ---------------------------------------------------------------------------------


def test_the_reviewers_who_may_decide_get_block_kit_in_their_dm_or_the_channel_and_the_requester_gets_none(served):
    item = ask(served, "Refund order 3 for $500 <!channel> *now*")
    posted = posts(served, item, 2)
    time.sleep(1.5)  # a sender's next round: nothing more comes for this item
    assert len([call for call in served.api.of("chat.postMessage") if item[0] in json.dumps(call.args)]) == 2
    assert {call.args["channel"] for call in posted} == {"D0ALICE", "#approvals"}  # alice's DM; erin has no id
    assert any(call.args == {"users": ALICE_ID} for call in served.api.of("conversations.open"))
    message = dm(posted, ALICE_ID)
    blocks = blocks_of(message)
    assert blocks[0]["text"]["text"] == "Approval needed: issue_refund requested by carol"
    texts = [block["text"] for block in blocks if "text" in block]
    assert all(text["type"] == "plain_text" for text in texts), "agent text is never markup or a mention"
    assert "Order Id: 3\nAmount: $500.00" in texts[1]["text"]
    context = blocks[-2]["elements"][0]["text"]
    assert context.startswith("Requested by: carol · Rule: finance-refunds · Waiting: ")
    assert [element["action_id"] for element in blocks[-1]["elements"]] == ["approve", "reject", "open"]
    value = json.loads(button(message, "approve")["value"])
    digest = served.service.pending_approval(item[0], viewer=ALICE).request_digest
    assert value == {"thread_id": item[0], "interrupt_id": item[1], "digest": digest}
    assert button(message, "open")["url"] == f"{BASE}/console?thread={item[0]}&interrupt={item[1]}"


def test_a_signed_approve_decides_once_and_every_message_then_says_who(served):
    item = ask(served)
    posted = posts(served, item, 2)
    signature = slack_signature("x=1", 1_700_000_000)
    assert SignatureVerifier(SECRET).generate_signature(timestamp="1700000000", body="x=1") == signature
    assert click(served, dm(posted, ALICE_ID), "approve", ALICE_ID) == "Approved as alice: the agent has it."
    assert len(ledger(served, item)) == 1
    assert served.service.decision(*item, viewer=ALICE).decided_by == "alice"
    for message in posted:
        [update] = updates(served, message)
        assert update.args["text"].startswith("Approved by alice at ") and update.args["text"].endswith(" UTC")
        assert "actions" not in [block["type"] for block in blocks_of(update)], "its buttons are gone"
    again = click(served, shared(posted), "approve", ERIN_ID)
    assert again.startswith("Nothing was changed:") and "alice" in again
    assert len(ledger(served, item)) == 1


def test_a_wrong_signature_an_old_timestamp_and_a_replay_get_401_and_change_nothing(served):
    item = ask(served)
    message = dm(posts(served, item, 2), ALICE_ID)
    body, name = press(message, "approve", ALICE_ID)
    body = body.replace("RESPONSE_URL", urllib.request.quote(served.api.base + "/response", safe=""))
    seen = served.store.db.query("SELECT COUNT(*) AS n FROM slack_requests_seen")[0]["n"]
    assert send(served, body, secret="not-the-signing-secret")[0] == 401
    assert send(served, body, signature="v0=" + "0" * 64)[0] == 401
    assert send(served, body, timestamp=int(time.time()) - 6 * 60)[0] == 401
    assert send(served, body + "&extra=1", signature=slack_signature(body, int(time.time())))[0] == 401
    unsigned = urllib.request.Request(f"{served.base}/slack/actions", data=body.encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=30)
    assert refused.value.code == 401
    assert served.store.db.query("SELECT COUNT(*) AS n FROM slack_requests_seen")[0]["n"] == seen, "nothing saved"
    assert served.service.decision(*item, viewer=ALICE) is None and ledger(served, item) == []
    assert not [call for call in served.api.calls if call.path == f"/response/{name}"]

    assert send(served, "payload=%7Bnot+json")[0] == 400, "signed, but not a payload: refused, not a 500"
    timestamp = int(time.time())
    assert send(served, body, timestamp)[0] == 200
    served.api.wait_for("response", lambda call: call.path == f"/response/{name}")
    assert send(served, body, timestamp)[0] == 401, "the same signed request again is a replay"
    time.sleep(1)
    assert len([call for call in served.api.calls if call.path == f"/response/{name}"]) == 1
    assert len(ledger(served, item)) == 1


def test_a_slack_user_with_no_account_is_told_so_and_nothing_changes(served):
    item = ask(served)
    message = shared(posts(served, item, 2))
    told = click(served, message, "approve", STRANGER_ID)
    assert told.startswith("No account of this app is linked to your Slack user (U0STRANGER)")
    assert any(call.args.get("email") == "erin@example.com" for call in served.api.of("users.lookupByEmail"))
    assert served.service.decision(*item, viewer=ALICE) is None and ledger(served, item) == []


def test_reject_asks_for_a_reason_in_a_modal_and_the_user_found_by_email_rejects_with_it(served):
    item = ask(served)
    message = shared(posts(served, item, 2))
    body, name = press(message, "reject", ERIN_ID)
    assert send(served, body)[0] == 200
    [opened] = served.api.wait_for("views.open", lambda call: call.args["trigger_id"] == f"trigger-{name}")
    view = opened.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "modal" and view["blocks"][0]["element"]["type"] == "plain_text_input"
    assert served.service.decision(*item, viewer=ALICE) is None, "pressing Reject decides nothing by itself"

    def submit(reason: str) -> tuple[int, bytes]:
        values = {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}
        payload = {"type": "view_submission", "user": {"id": ERIN_ID}, "view": {
            "id": "V0MODAL", "callback_id": view["callback_id"], "private_metadata": view["private_metadata"],
            "state": {"values": values}}}
        return send(served, urlencode({"payload": json.dumps(payload)}))

    status, answer = submit("   ")
    assert status == 200 and json.loads(answer)["response_action"] == "errors"
    assert submit("Not this <customer> & not today")[0] == 200
    [told] = served.api.wait_for("chat.postEphemeral", lambda call: call.args["user"] == ERIN_ID
                                 and call.args["channel"] == "#approvals" and "Rejected as erin" in call.args["text"])
    decided = served.service.decision(*item, viewer=ALICE)
    assert (decided.decision, decided.decided_by) == ("reject", "erin") and ledger(served, item) == []
    [update] = updates(served, message)
    assert update.args["text"].startswith("Rejected by erin at ")
    assert update.args["text"].endswith(" UTC: Not this &lt;customer&gt; &amp; not today")
    shown = blocks_of(update)[-1]["text"]
    assert shown["type"] == "plain_text" and shown["text"].endswith(" UTC: Not this <customer> & not today")


def test_the_message_is_updated_when_the_item_is_decided_in_the_console(served):
    item = ask(served)
    posted = posts(served, item, 2)
    served.service.decide(*item, {"decisions": [{"type": "approve"}]}, Actor("alice", "reviewer", groups=FINANCE))
    assert {message.reply["channel"] for message in posted} == {"D0ALICE", SHARED_CHANNEL_ID}
    for message in posted:
        [update] = updates(served, message)
        assert update.args["text"].startswith("Approved by alice at ")
        assert [block["type"] for block in blocks_of(update)][-2:] == ["context", "section"]


# -- every rule of the decision command holds from Slack --------------------------------------------------


def test_groups_a_reviewer_outside_the_rules_groups_is_refused(served):
    item = ask(served)
    told = click(served, dm(posts(served, item, 2), ALICE_ID), "approve", BOB_ID)
    assert told.startswith("Nothing was changed:") and "finance" in told
    assert served.service.decision(*item, viewer=ALICE) is None and ledger(served, item) == []


def test_claims_an_item_someone_else_claimed_is_refused(served):
    item = ask(served)
    message = dm(posts(served, item, 2), ALICE_ID)
    claims.claim(served.store.db, *item, Actor("erin", "reviewer", groups=FINANCE))
    try:
        told = click(served, message, "approve", ALICE_ID)
        assert told.startswith("Nothing was changed: Claimed by erin until ")
        assert served.service.decision(*item, viewer=ALICE) is None
    finally:
        claims.release(served.store.db, *item, Actor("erin", "reviewer", groups=FINANCE))
    assert click(served, message, "approve", ALICE_ID).startswith("Approved as alice")


def test_digest_a_changed_request_is_refused(served):
    from tests.pages.test_request_digest import change_request

    item = ask(served, "Email jo@example.com about the delay")
    message = dm(posts(served, item, 3), ALICE_ID)
    change_request(served.service, *item)
    told = click(served, message, "approve", ALICE_ID)
    assert told.startswith("Nothing was changed: The request changed")
    assert served.service.decision(*item, viewer=ALICE) is None and ledger(served, item) == []


def test_n_of_m_two_approvals_from_slack_resume_once_and_nobody_counts_twice(served):
    item = ask(served, "Refund order 9 for $5000")
    posted = posts(served, item, 2)
    assert "1 of 2 approvals (alice)" in click(served, dm(posted, ALICE_ID), "approve", ALICE_ID)
    assert ledger(served, item) == []
    assert "You approved this at" in click(served, dm(posted, ALICE_ID), "approve", ALICE_ID)
    assert ledger(served, item) == []
    assert click(served, shared(posted), "approve", ERIN_ID).startswith("Approved as erin")
    assert len(ledger(served, item)) == 1


def test_the_stop_switch_a_paused_tool_is_refused_from_slack(served):
    item = ask(served)
    message = dm(posts(served, item, 2), ALICE_ID)
    admin = Actor("alice", "reviewer", groups=FINANCE)
    oversight.pause(served.store.db, "tool", "issue_refund", admin)
    try:
        told = click(served, message, "approve", ALICE_ID)
        assert told.startswith("Nothing was changed:") and "paused" in told.lower()
        assert served.service.decision(*item, viewer=ALICE) is None and ledger(served, item) == []
    finally:
        oversight.resume(served.store.db, "tool", "issue_refund", admin)
    assert click(served, message, "approve", ALICE_ID).startswith("Approved as alice"), "resumed: it goes through"


def test_a_message_that_arrives_after_the_decision_is_updated_at_once(served):
    """The race the outbox cannot see: the update ran while the message was still on its way."""
    item = ask(served)
    posted = posts(served, item, 2)
    notice = served.service.notice({"event": "pending", "thread_id": item[0], "interrupt_id": item[1]},
                                   Recipient("alice", slack_id=ALICE_ID))
    served.service.decide(*item, {"decisions": [{"type": "approve"}]}, Actor("alice", "reviewer", groups=FINANCE))
    assert notice is not None
    for message in posted:
        updates(served, message)  # the decision's update is done: it could not see the late message
    late = SlackChannel(served.store.db, WebClient(token="xoxb-test-token", base_url=served.api.url))
    late.send(notice, Recipient("alice", slack_id=ALICE_ID))
    message = posts(served, item, 3)[-1]
    assert updates(served, message)[0].args["text"].startswith("Approved by alice at ")
