"""`python -m approvals user ...` and `policy replay` as a person runs them, on a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from approvals.core.actors import Actor
from approvals.identity import accounts
from approvals.service.facade import ApprovalService
from approvals.service.policy import PolicySource
from approvals.store.schema import open_store

ROOT = Path(__file__).resolve().parents[2]


def cli(db: Path, *args: str, stdin: str = "", policy: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": str(db)}
    if policy is not None:
        env["APPROVALS_CONFIG"] = str(policy)
    return subprocess.run([sys.executable, "-m", "approvals", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=120, env=env)


def test_user_add_list_set_remove_with_the_password_from_stdin(tmp_path):
    db = tmp_path / "app.db"
    added = cli(db, "user", "add", "erin", "--role", "reviewer", "--groups", "legal,finance", stdin="erin-secret-1\n")
    assert added.returncode == 0, added.stderr
    assert "erin-secret-1" not in added.stdout + added.stderr
    assert cli(db, "user", "list").stdout.splitlines() == ["erin  reviewer  groups: finance, legal"]
    store = open_store(str(db))
    try:
        erin = accounts.check_password(store.db, "erin", "erin-secret-1")
        assert erin == Actor("erin", "reviewer") and erin.groups == {"finance", "legal"}
    finally:
        store.close()
    assert cli(db, "user", "set", "erin", "--groups", "legal", "--password", stdin="erin-secret-2\n").returncode == 0
    assert cli(db, "user", "list").stdout.splitlines() == ["erin  reviewer  groups: legal"]
    assert cli(db, "user", "set", "erin", "--email", "erin@example.com", "--slack-id", "U024BE7LH").returncode == 0
    assert cli(db, "user", "list").stdout.splitlines() == [
        "erin  reviewer  groups: legal  email: erin@example.com  slack: U024BE7LH"]
    assert cli(db, "user", "set", "erin", "--email", "").returncode == 0
    assert cli(db, "user", "list").stdout.splitlines() == ["erin  reviewer  groups: legal  slack: U024BE7LH"]
    wrong = cli(db, "user", "set", "erin", "--email", "erin at example", "--slack-id", "")
    assert wrong.returncode == 1 and "not an email address" in wrong.stderr
    assert cli(db, "user", "list").stdout.splitlines() == ["erin  reviewer  groups: legal  slack: U024BE7LH"]
    with_addresses = cli(db, "user", "add", "gina", "--role", "reviewer", "--email", "gina@example.com",
                         "--slack-id", "W0GINA", stdin="gina-secret-1\n")
    assert with_addresses.returncode == 0, with_addresses.stderr
    assert "gina  reviewer  groups: -  email: gina@example.com  slack: W0GINA" in cli(db, "user", "list").stdout
    assert cli(db, "user", "remove", "gina").returncode == 0
    short = cli(db, "user", "add", "frank", stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    twice = cli(db, "user", "add", "erin", stdin="another-pass\n")
    assert twice.returncode == 1 and "already" in twice.stderr
    assert cli(db, "user", "remove", "erin").returncode == 0
    assert cli(db, "user", "list").stdout == ""
    assert cli(db, "user", "remove", "erin").returncode == 1


def test_replay_counts_the_outcomes_a_candidate_policy_would_change(tmp_path):
    db = tmp_path / "app.db"
    store = open_store(str(db))
    try:
        service = ApprovalService(store, policy=PolicySource(ROOT / "approvals.toml"))
        for text in ("Refund order 1 for $25", "Refund order 2 for $80", "Refund order 3 for $500",
                     "Email jo@example.com about the delay"):
            service.send_message(service.new_thread_id(), text, Actor("carol", "requester"))
    finally:
        store.close()
    candidate = tmp_path / "candidate.toml"
    candidate.write_text('[[rules]]\nname = "tiny-refunds"\ntool = "issue_refund"\nwhen = "args.amount <= 50.0"\n'
                         'decide = "self"\n\n[[rules]]\nname = "emails"\ntool = "send_email"\napprovers = 2\n')
    replayed = cli(db, "policy", "replay", str(candidate))
    assert replayed.returncode == 0, replayed.stderr
    lines = replayed.stdout.splitlines()
    assert lines[0].startswith("4 recorded requests replayed under") and lines[0].endswith("2 outcomes change.")
    assert any('issue_refund {"amount": 80.0, "order_id": "2"} by carol: self x1' in line
               and "reviewer x1 (rule 'default')" in line for line in lines[1:])
    assert any("send_email" in line and "reviewer x2 (rule 'emails')" in line for line in lines[1:])
    unchanged = cli(db, "policy", "replay", str(ROOT / "approvals.toml"))
    assert unchanged.stdout.splitlines()[0].endswith("0 outcomes change.")
