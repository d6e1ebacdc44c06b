"""Reviewer notification latency: from the pause to the SMTP server accepting the mail and to Slack receiving the
post, against the outbox's own delivery of the "approval.pending" webhook, same run, same database.

Every sender runs as the app runs it (the scheduler's outbox jobs, default pacing, each channel's due rows taken
once per tick) against real servers on loopback: aiosmtpd (tests/smtp_server.py), the Slack Web API
stand-in (tests/slack_api.py) and a webhook receiver (tests/webhook_receiver.py). `--items` refunds pause one after
another, a random fraction of a second apart; each is timed from the moment `send_message` returns (the item is
paused, indexed and its outbox rows committed) to the moment each server has it. Target: p95 <= 5 s.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)
sys.path.insert(1, str(ROOT / "tests"))

from slack_api import SlackApi
from smtp_server import MailServer
from webhook_receiver import Receiver

from approvals.identity import accounts
from approvals.service.scheduler import Scheduler, outbox_jobs
from bench.common import REFUND, REQUESTER, app_service, arguments, backend_name, fresh_database

TARGET_P95_S = 5.0
WAIT_S = 120.0


def percentile(samples: list[float], share: float) -> float:
    """The `share` quantile (0.5, 0.95), interpolated between the nearest samples."""
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(share * 100) - 1]


def main() -> None:
    args = arguments(__doc__, items=50)
    mail, slack, hooks = MailServer(), SlackApi(), Receiver()
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as scratch:
        (Path(scratch) / "approvals.toml").write_text("")  # no rules: every reviewer may decide, none is automatic
        os.environ.update({
            "APPROVALS_CONFIG": str(Path(scratch) / "approvals.toml"),
            "APPROVAL_LINK_KEY": str(Path(scratch) / "link-key"),
            "APPROVAL_SMTP_URL": f"smtp://127.0.0.1:{mail.port}", "APPROVAL_MAIL_FROM": "approvals@example.com",
            "APPROVAL_SLACK_BOT_TOKEN": "xoxb-bench", "APPROVAL_SLACK_API_URL": slack.url,
            "APPROVAL_WEBHOOK_URL": hooks.url,
        })
        with fresh_database(args.database_url) as url, app_service(url) as service:
            accounts.set_account(service.db, "alice", email="alice@example.com", slack_id="U0ALICE")
            clock = Scheduler(service.db, outbox_jobs(service), service.replica).start()  # as the app sends them
            try:
                paused: dict[str, float] = {}
                for _ in range(args.items):
                    thread_id = service.new_thread_id()
                    service.send_message(thread_id, REFUND, REQUESTER)
                    paused[thread_id] = time.monotonic()
                    time.sleep(random.uniform(0.0, 0.3))
                arrived = wait_for_all(paused, mail, slack, hooks)
            finally:
                clock.stop()
        backend = backend_name(url)
    mail.close()
    slack.close()
    hooks.close()
    print(f"Notification latency from the pause, {args.items} items [{backend}]")
    for name, times in arrived.items():
        waits = [times[thread_id] - at for thread_id, at in paused.items()]
        label = "baseline" if name == "webhook" else "ours    "
        p50, p95 = percentile(waits, 0.5), percentile(waits, 0.95)
        print(f"  {label}  {name}: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, worst {max(waits) * 1000:.0f} ms")
    worst_p95 = max(percentile([arrived[n][t] - at for t, at in paused.items()], 0.95) for n in ("email", "slack"))
    webhook_p95 = percentile([arrived["webhook"][t] - at for t, at in paused.items()], 0.95)
    print(f"  ratio     p95 {worst_p95 / webhook_p95:.2f}x the webhook's (target: p95 <= {TARGET_P95_S:g} s:"
          f" {'met' if worst_p95 <= TARGET_P95_S else 'MISSED'})")


def wait_for_all(paused: dict[str, float], mail: MailServer, slack: SlackApi,
                 hooks: Receiver) -> dict[str, dict[str, float]]:
    """When each channel's server first had each item (by thread id)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        webhooks = zip(list(hooks.requests), list(hooks.received_at), strict=False)
        arrived = {"email": _first([(m.part("plain"), m.received_at) for m in list(mail.mails)], paused),
                   "slack": _first([(json.dumps(c.args), c.at) for c in slack.of("chat.postMessage")], paused),
                   "webhook": _first([(body.decode(), at) for (_, body), at in webhooks
                                      if b"approval.pending" in body], paused)}
        if all(len(times) == len(paused) for times in arrived.values()):
            return arrived
        if time.monotonic() > deadline:
            raise SystemExit(f"not every item arrived within {WAIT_S:g} s: "
                             + ", ".join(f"{name} {len(times)}/{len(paused)}" for name, times in arrived.items()))
        time.sleep(0.05)


def _first(received: list[tuple[str, float]], paused: dict[str, float]) -> dict[str, float]:
    """Thread id → when the first message naming it arrived."""
    times: dict[str, float] = {}
    for text, at in received:
        for thread_id in paused:
            if thread_id in text and thread_id not in times:
                times[thread_id] = at
    return times


if __name__ == "__main__":
    main()
