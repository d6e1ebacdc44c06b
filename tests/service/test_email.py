"""Email against a real SMTP server on loopback (aiosmtpd), on SQLite and PostgreSQL: who gets the mail, what it
says, and that its links keep every promise of the console (a GET decides nothing; someone else's, expired,
changed or used links change nothing; every rule of the decision command holds).

The link pages are served by the app's own routes (approvals/http/email_links.py) in Starlette's test client;
tests/e2e/test_email_browser.py opens them in a real browser on a served app.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ALICE, CAROL, FINANCE_POLICY
from smtp_server import PASSWORD, USER, Mail, MailServer, self_signed
from starlette.applications import Starlette
from starlette.testclient import TestClient

from approvals.core.actors import Actor
from approvals.core.errors import AwaitingApprovals
from approvals.http.email_links import email_routes
from approvals.identity import accounts, housekeeping, sessions
from approvals.notify.outbox import Delivery
from approvals.service import claims, notifications, oversight
from approvals.service.facade import ApprovalService
from approvals.service.policy import PolicySource
from approvals.store.schema import Store

BASE = "https://approvals.example.com"
FINANCE = frozenset({"finance"})
FAST = Delivery(poll_s=0.02, first_retry_s=0.01, max_retry_s=0.02, timeout_s=10)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[MailServer]:
    server = MailServer()
    monkeypatch.setenv("APPROVAL_SMTP_URL", f"smtp://127.0.0.1:{server.port}")
    monkeypatch.setenv("APPROVAL_MAIL_FROM", "approvals@example.com")
    monkeypatch.setenv("APPROVAL_BASE_URL", BASE)
    yield server
    server.close()


@pytest.fixture
def app(store: Store, tmp_path: Path, smtp: MailServer, monkeypatch: pytest.MonkeyPatch) -> ApprovalService:
    monkeypatch.setenv("APPROVAL_LINK_KEY", str(tmp_path / "link-key"))
    (tmp_path / "approvals.toml").write_text(FINANCE_POLICY)
    accounts.set_account(store.db, "alice", email="alice@example.com", groups=["finance"])
    accounts.set_account(store.db, "bob", email="bob@example.com", groups=["support"])
    accounts.add_account(store.db, "erin", "reviewer", "erin-secret", ["finance"], email="erin@example.com")
    accounts.set_account(store.db, "carol", email="carol@example.com")
    return ApprovalService(store, policy=PolicySource(tmp_path / "approvals.toml"))


@pytest.fixture
def web(app: ApprovalService) -> TestClient:
    return TestClient(Starlette(routes=email_routes(lambda: app)), base_url=BASE)


def ask(service: ApprovalService, text: str = "Refund order 3 for $500") -> tuple[str, str]:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, text, CAROL)
    return thread_id, service.pending_approval(thread_id, viewer=ALICE).interrupt_id


def send_mail(service: ApprovalService) -> int:
    return sum(sender.deliver_due() for sender in notifications.senders(service, FAST))


def links_in(mail: Mail) -> dict[str, str]:
    """Anchor text → URL, from the HTML part (what a reader clicks)."""
    return {text: url.replace("&amp;", "&")
            for url, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', mail.part("html"))}


def path(url: str) -> str:
    return url.removeprefix(BASE)


def form_token(page: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', page)[1]  # type: ignore[index]


def confirm(web: TestClient, url: str, reason: str = "", headers: dict[str, str] | None = None) -> tuple[int, str]:
    """Open the link, then press its button: what a reviewer does."""
    page = web.get(path(url))
    assert page.status_code == 200, page.text
    answer = web.post(path(url), data={"form_token": form_token(page.text), "reason": reason},
                      headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin", **(headers or {})})
    return answer.status_code, answer.text


def mail_for(smtp: MailServer, service: ApprovalService, who: str) -> Mail:
    send_mail(service)
    [mail] = smtp.to(f"{who}@example.com")
    return mail


def test_the_reviewers_who_may_decide_get_the_mail_in_the_consoles_words_and_the_requester_does_not(app, smtp):
    thread_id, interrupt_id = ask(app)
    assert send_mail(app) == 2
    assert sorted(to for mail in smtp.mails for to in mail.to) == ["alice@example.com", "erin@example.com"]
    [mail] = smtp.to("alice@example.com")
    assert mail.message["Subject"] == "Approval needed: issue_refund requested by carol"
    assert mail.message["From"] == "approvals@example.com"
    text = mail.part("plain")
    assert "issue_refund\n" in text and "  Order Id: 3\n  Amount: $500.00\n" in text
    assert "Requested by: carol\nRule: finance-refunds\nWaiting: " in text
    assert set(links_in(mail)) == {"Approve", "Reject", "Open in console"}
    assert links_in(mail)["Open in console"] == f"{BASE}/console?thread={thread_id}&interrupt={interrupt_id}"
    assert links_in(mail)["Approve"].startswith(f"{BASE}/email/") and links_in(mail)["Approve"] in text
    assert send_mail(app) == 0 and len(smtp.mails) == 2, "each notification is sent once"


def test_markup_and_hidden_characters_in_arguments_stay_text_in_both_parts(app, smtp):
    ask(app, "Email jo@\u202emoc.elpmaxe.ni about <script>alert(1)</script> & <b>the delay</b>")
    mail = mail_for(smtp, app, "erin")
    html = mail.part("html")
    assert "<script>" not in html and "<b>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "jo@\\u202emoc.elpmaxe.ni" in mail.part("plain") and "\u202e" not in mail.part("plain") + html
    assert "Hidden characters in to" in mail.part("plain")


def test_a_get_or_head_of_every_link_decides_nothing(app, smtp, web):
    item = ask(app)
    mail = mail_for(smtp, app, "alice")
    for text, url in links_in(mail).items():
        if text == "Open in console":
            continue
        for _ in range(2):
            assert web.head(path(url)).status_code == 200
            page = web.get(path(url))
            assert page.status_code == 200 and "issue_refund" in page.text and "$500.00" in page.text
            assert f"<button type=\"submit\">{text}</button>" in page.text
            assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "same-origin"
    assert app.decision(*item, viewer=ALICE) is None
    assert app.store.ledger.entries(item[0]) == []
    assert [i.thread_id for i in app.list_pending(viewer=ALICE)] == [item[0]]


def test_approve_confirmed_runs_the_tool_once_and_the_link_then_says_who_decided(app, smtp, web):
    item = ask(app)
    approve = links_in(mail_for(smtp, app, "alice"))["Approve"]
    status, page = confirm(web, approve)
    assert status == 200 and "Approved by alice at " in page
    assert len(app.store.ledger.entries(item[0])) == 1
    again = web.get(path(approve))
    assert again.status_code == 409 and "Approved by alice at " in again.text
    assert web.post(path(approve), data={"form_token": "x"}, headers={"Origin": BASE}).status_code == 409
    erin_reject = links_in(smtp.to("erin@example.com")[0])["Reject"]
    assert "Approved by alice" in web.get(path(erin_reject)).text
    assert len(app.store.ledger.entries(item[0])) == 1


def test_reject_asks_for_a_reason_and_the_agent_is_told_it(app, smtp, web):
    item = ask(app)
    reject = links_in(mail_for(smtp, app, "erin"))["Reject"]
    page = web.get(path(reject))
    assert "<textarea" in page.text and '<button type="submit">Reject</button>' in page.text
    status, _ = confirm(web, reject, reason="")
    assert status == 400 and app.decision(*item, viewer=ALICE) is None
    status, text = confirm(web, reject, reason="Order 3 was refunded last week")
    assert status == 200 and "Rejected by erin" in text
    record = app.decision(*item, viewer=ALICE)
    assert (record.decision, record.decided_by, record.message) == ("reject", "erin", "Order 3 was refunded last week")
    assert app.store.ledger.entries(item[0]) == []


def test_someone_elses_use_of_the_link_is_refused(app, smtp, web):
    item = ask(app)
    approve = links_in(mail_for(smtp, app, "alice"))["Approve"]
    page = web.get(path(approve))
    token = sessions.start_guest(app.db)
    code = sessions.begin_sign_in(app.db, token, "erin", "erin-secret", client="test")
    erin_cookie = sessions.finish_sign_in(app.db, token, code, None)[0]  # type: ignore[index]
    web.cookies.set(sessions.COOKIE, erin_cookie)
    refused = web.get(path(approve))
    assert refused.status_code == 403 and "sent to alice" in refused.text and "signed in as erin" in refused.text
    posted = web.post(path(approve), data={"form_token": form_token(page.text)}, headers={"Origin": BASE})
    assert posted.status_code == 403 and app.decision(*item, viewer=ALICE) is None


def test_a_forged_or_cut_link_does_not_work(app, smtp, web):
    item = ask(app)
    approve = path(links_in(mail_for(smtp, app, "alice"))["Approve"])
    for wrong in (approve[:-3], approve[:-1] + ("0" if approve[-1] != "0" else "1"), "/email/nothing"):
        assert web.get(wrong).status_code == 404
    assert app.decision(*item, viewer=ALICE) is None


def test_an_expired_link_is_refused(app, smtp, web, monkeypatch):
    monkeypatch.setenv("APPROVAL_LINK_HOURS", "0.0003")  # about a second
    item = ask(app)
    approve = links_in(mail_for(smtp, app, "alice"))["Approve"]
    deadline = time.monotonic() + 30
    while (page := web.get(path(approve))).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert page.status_code == 410 and "expired" in page.text
    posted = web.post(path(approve), data={"form_token": "x"}, headers={"Origin": BASE})
    assert posted.status_code == 410 and app.decision(*item, viewer=ALICE) is None


def test_a_changed_request_is_refused(app, smtp, web):
    from tests.pages.test_request_digest import change_request

    item = ask(app, "Email jo@example.com about the delay")
    approve = links_in(mail_for(smtp, app, "alice"))["Approve"]
    page = web.get(path(approve))
    change_request(app, *item)
    assert "request changed" in web.get(path(approve)).text
    posted = web.post(path(approve), data={"form_token": form_token(page.text)}, headers={"Origin": BASE})
    assert posted.status_code == 409 and app.decision(*item, viewer=ALICE) is None


def test_links_expired_a_week_ago_are_purged_by_housekeeping(app, smtp, web):
    ask(app)
    approve = path(links_in(mail_for(smtp, app, "alice"))["Approve"])
    later = datetime.now(UTC) + timedelta(hours=24) + housekeeping.GRACE + timedelta(minutes=1)
    assert housekeeping.purge(app.db, later)["action_links"] == 4  # two links for each of alice and erin
    assert web.get(approve).status_code == 404


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}])
def test_a_post_from_another_site_or_without_the_pages_token_is_refused(app, smtp, web, headers):
    item = ask(app)
    approve = path(links_in(mail_for(smtp, app, "alice"))["Approve"])
    token = form_token(web.get(approve).text)
    assert web.post(approve, data={"form_token": token}, headers=headers).status_code == 403
    assert web.post(approve, data={"form_token": "0" * 64}, headers={"Origin": BASE}).status_code == 403
    assert app.decision(*item, viewer=ALICE) is None


def test_a_two_approver_rule_met_by_two_emailed_approvals_resumes_once(app, smtp, web):
    item = ask(app, "Refund order 9 for $5000")
    send_mail(app)
    alice, erin = (links_in(smtp.to(f"{who}@example.com")[0])["Approve"] for who in ("alice", "erin"))
    status, text = confirm(web, alice)
    assert status == 202 and "1 of 2 approvals (alice)" in text
    assert app.store.ledger.entries(item[0]) == []
    used = web.get(path(alice))
    assert used.status_code == 409 and "alice used it" in used.text
    status, text = confirm(web, erin)
    assert status == 200 and "Approved by erin" in text
    assert len(app.store.ledger.entries(item[0])) == 1


# -- every rule of the decision command holds from email ---------------------------------------------------


def test_groups_a_reviewer_no_longer_in_the_rules_group_is_refused_and_the_link_still_works_after(app, smtp, web):
    item = ask(app)
    approve = links_in(mail_for(smtp, app, "erin"))["Approve"]
    page = web.get(path(approve))
    accounts.set_account(app.db, "erin", groups=["support"])
    posted = web.post(path(approve), data={"form_token": form_token(page.text)}, headers={"Origin": BASE})
    assert posted.status_code == 403 and "finance" in posted.text and app.decision(*item, viewer=ALICE) is None
    accounts.set_account(app.db, "erin", groups=["finance"])
    assert confirm(web, approve)[0] == 200


def test_claims_an_item_claimed_by_someone_else_is_refused(app, smtp, web):
    item = ask(app)
    approve = links_in(mail_for(smtp, app, "erin"))["Approve"]
    claims.claim(app.db, *item, Actor("alice", "reviewer", groups=FINANCE))
    status, text = confirm(web, approve)
    assert status == 409 and "alice" in text and app.decision(*item, viewer=ALICE) is None


def test_digest_the_link_decides_the_request_the_email_showed_only(app, smtp, web):
    test_a_changed_request_is_refused(app, smtp, web)


def test_n_of_m_a_reviewer_who_approved_in_the_console_is_not_counted_twice_from_email(app, smtp, web):
    item = ask(app, "Refund order 9 for $5000")
    approve = links_in(mail_for(smtp, app, "alice"))["Approve"]
    with pytest.raises(AwaitingApprovals):
        app.decide(*item, {"decisions": [{"type": "approve"}]}, Actor("alice", "reviewer", groups=FINANCE))
    status, text = confirm(web, approve)
    assert status == 409 and "You approved this at" in text
    assert app.store.ledger.entries(item[0]) == [] and app.decision(*item, viewer=ALICE) is None


def test_the_stop_switch_a_paused_tool_is_refused_from_email(app, smtp, web):
    item = ask(app)
    approve = links_in(mail_for(smtp, app, "alice"))["Approve"]
    oversight.pause(app.db, "tool", "issue_refund", Actor("alice", "reviewer", groups=FINANCE))
    status, text = confirm(web, approve)
    assert status == 409 and "paused" in text.lower() and app.decision(*item, viewer=ALICE) is None


# -- the SMTP connection ---------------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the app trusts it as a system CA would
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def test_starttls_then_auth(app, certificate, monkeypatch):
    server = MailServer(tls_context=certificate, require_starttls=True, auth=True)
    try:
        monkeypatch.setenv("APPROVAL_SMTP_URL", f"smtp://{USER}:{PASSWORD}@localhost:{server.port}")
        ask(app)
        assert send_mail(app) == 2
        assert len(server.mails) == 2 and server.tls == [True, True] and server.logins == [USER, USER]
    finally:
        server.close()


def test_a_wrong_password_is_retried_and_the_channel_is_named_to_reviewers(app, certificate, monkeypatch):
    server = MailServer(tls_context=certificate, require_starttls=True, auth=True)
    try:
        monkeypatch.setenv("APPROVAL_SMTP_URL", f"smtp://{USER}:wrong@localhost:{server.port}")
        ask(app)
        for _ in range(notifications.FAILING_AFTER):
            app.db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01'")
            send_mail(app)
        assert server.mails == []
        [trouble] = app.failing_channels(viewer=ALICE)
        assert trouble.channel == "email" and trouble.waiting == 2 and "535" in trouble.last_error
        monkeypatch.setenv("APPROVAL_SMTP_URL", f"smtp://{USER}:{PASSWORD}@localhost:{server.port}")
        app.db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01'")
        assert send_mail(app) == 2 and len(server.mails) == 2 and app.failing_channels(viewer=ALICE) == []
    finally:
        server.close()


def test_smtps_is_tls_from_the_first_byte(app, certificate, monkeypatch):
    server = MailServer(ssl_context=certificate)
    try:
        monkeypatch.setenv("APPROVAL_SMTP_URL", f"smtps://localhost:{server.port}")
        ask(app)
        assert send_mail(app) == 2 and len(server.mails) == 2
    finally:
        server.close()


def test_a_password_is_never_sent_to_a_server_without_tls(app, smtp, monkeypatch):
    monkeypatch.setenv("APPROVAL_SMTP_URL", f"smtp://{USER}:{PASSWORD}@127.0.0.1:{smtp.port}")
    ask(app)
    send_mail(app)
    assert smtp.mails == []
    rows = app.db.query("SELECT attempts, last_error FROM outbox WHERE channel = 'email'")
    assert [row["attempts"] for row in rows] == [1, 1] and "STARTTLS" in rows[0]["last_error"]
