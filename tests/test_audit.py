"""The audit chain an auditor can check: one chain under concurrent decisions, exports that verify with a public
key (openssl included), and forgeries (an edited entry, a decisions row changed by SQL) named by their seq."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import ALICE, BOB, GUEST

from approvals.__main__ import main
from approvals.audit import evidence, signing
from approvals.audit.chain import GENESIS, entries_of, entry_hash, stored_entries
from approvals.service.facade import ApprovalService
from approvals.store.schema import Store, open_store

APPROVE = {"decisions": [{"type": "approve"}]}


@pytest.fixture(autouse=True)
def audit_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "keys" / "audit-key.pem"
    monkeypatch.setenv("APPROVAL_AUDIT_KEY", str(path))
    return path


@pytest.fixture
def cli(db_url: str, store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run `python -m approvals ...` in-process on the test's database: (exit code, stdout, stderr)."""
    monkeypatch.setenv("DATABASE_URL", db_url)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def pending_refunds(service: ApprovalService, count: int) -> list[tuple[str, str]]:
    items = []
    for n in range(count):
        thread_id = service.new_thread_id()
        service.send_message(thread_id, f"Refund order {1000 + n} for $25", GUEST)
        items.append((thread_id, service.pending_approval(thread_id, viewer=ALICE).interrupt_id))
    return items


def chain(store: Store) -> list[dict]:
    return list(entries_of(stored_entries(store.db)))


def test_eight_threads_deciding_at_once_on_two_replicas_make_one_chain(store, db_url):
    service = ApprovalService(store)
    other = open_store(db_url)  # a second replica: its own connections, the same database
    try:
        replicas = [service, ApprovalService(other)]
        items = pending_refunds(service, 8)
        start, errors = threading.Barrier(8), []

        def decide(n: int) -> None:
            try:
                start.wait(30)
                replicas[n % 2].decide(*items[n], APPROVE, (ALICE, BOB)[n % 2])
            except Exception as error:  # reported below
                errors.append(error)

        workers = [threading.Thread(target=decide, args=(n,)) for n in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert not errors
    finally:
        other.close()
    entries = chain(store)
    assert [e["seq"] for e in entries] == list(range(1, 17))  # 8 decisions + 8 deliveries, no gap
    assert [e["prev_hash"] for e in entries] == [GENESIS] + [e["hash"] for e in entries[:-1]]  # no fork
    assert sorted(e["type"] for e in entries) == ["decision"] * 8 + ["delivery"] * 8
    assert evidence.verify_live(store.db) is None


def test_an_entry_keeps_the_digest_the_proposed_and_approved_args_and_what_ran(service, store):
    [(thread_id, interrupt_id)] = pending_refunds(service, 1)
    shown = service.approval(thread_id, interrupt_id, viewer=ALICE)
    edit = {"decisions": [{"type": "edit", "edited_action": {"name": "issue_refund",
                                                             "args": {"order_id": "1000", "amount": 20.0}}}]}
    service.decide(thread_id, interrupt_id, edit, ALICE, request_digest=shown.request_digest)
    decision, delivery = chain(store)
    assert decision["request_digest"] == shown.request_digest
    assert decision["proposed"] == [{"name": "issue_refund", "args": {"order_id": "1000", "amount": 25.0}}]
    assert decision["approved"] == [{"name": "issue_refund", "args": {"order_id": "1000", "amount": 20.0}}]
    assert (decision["decided_by"], decision["decision"]) == ("alice", "edit")
    assert delivery["type"] == "delivery" and delivery["decision_id"] == decision["decision_id"]
    [ran] = delivery["executed"]
    assert (ran["tool"], ran["args"]) == ("issue_refund", {"order_id": "1000", "amount": 20.0})


def test_an_untouched_export_verifies_and_a_forged_entry_is_named(service, store, cli, tmp_path):
    for item in pending_refunds(service, 3):
        service.decide(*item, APPROVE, ALICE)
    export = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "--out", str(export))[0] == 0
    lines = export.read_text().splitlines()
    assert len(lines) == 7 and json.loads(lines[-1])["type"] == "head"
    assert cli("audit", "verify", str(export))[0] == 0

    forged = json.loads(lines[2])  # the second decision: claim bob approved it
    assert forged["type"] == "decision"
    forged["decided_by"] = "bob"
    tampered = tmp_path / "forged.jsonl"
    tampered.write_text("\n".join([*lines[:2], json.dumps(forged), *lines[3:]]) + "\n")
    code, _, err = cli("audit", "verify", str(tampered))
    assert code == 1 and f"seq {forged['seq']}:" in err

    rehashed = {**forged, "hash": entry_hash(forged)}  # a forger who recomputes the hash breaks the link
    tampered.write_text("\n".join([*lines[:2], json.dumps(rehashed), *lines[3:]]) + "\n")
    code, _, err = cli("audit", "verify", str(tampered))
    assert code == 1 and f"seq {forged['seq'] + 1}:" in err


def test_a_decision_row_changed_by_sql_is_caught_with_its_seq(service, store, cli):
    items = pending_refunds(service, 2)
    for item in items:
        service.decide(*item, APPROVE, ALICE)
    assert cli("audit", "verify")[0] == 0
    second = next(e for e in chain(store) if e["type"] == "decision" and e["thread_id"] == items[1][0])
    store.db.execute("UPDATE decisions SET decided_by = 'mallory' WHERE thread_id = ?", (items[1][0],))
    code, _, err = cli("audit", "verify")
    assert code == 1 and f"seq {second['seq']}:" in err and "decided_by" in err

    store.db.execute("UPDATE decisions SET decided_by = 'alice'")
    store.db.execute("UPDATE audit_log SET entry = REPLACE(entry, '\"alice\"', '\"bob\"') WHERE seq = 1")
    code, _, err = cli("audit", "verify")
    assert code == 1 and "seq 1:" in err


def test_old_exports_still_verify_after_the_key_is_rotated(service, store, cli, tmp_path, audit_key, monkeypatch):
    [first, second] = pending_refunds(service, 2)
    service.decide(*first, APPROVE, ALICE)
    old_export = tmp_path / "old.jsonl"
    cli("audit", "export", "--out", str(old_export))
    old_key = tmp_path / "old-public.pem"
    old_key.write_text(cli("audit", "public-key")[1])

    monkeypatch.setenv("APPROVAL_AUDIT_KEY", str(tmp_path / "rotated" / "audit-key.pem"))  # a new key
    service.decide(*second, APPROVE, ALICE)
    new_export = tmp_path / "new.jsonl"
    cli("audit", "export", "--out", str(new_export))
    assert cli("audit", "public-key")[1] != old_key.read_text()

    assert cli("audit", "verify", str(old_export))[0] == 0
    assert cli("audit", "verify", str(new_export))[0] == 0
    assert cli("audit", "verify", str(old_export), "--public-key", str(old_key))[0] == 0
    code, _, err = cli("audit", "verify", str(new_export), "--public-key", str(old_key))
    assert code == 1 and "never used" in err
    assert cli("audit", "verify")[0] == 0


def test_a_range_export_verifies_from_its_first_entry(service, store, cli, tmp_path):
    [first, second] = pending_refunds(service, 2)
    service.decide(*first, APPROVE, ALICE)
    since = chain(store)[-1]["recorded_at"]
    service.decide(*second, APPROVE, ALICE)
    export = tmp_path / "range.jsonl"
    cli("audit", "export", "--out", str(export), "--since", since)
    entries = [json.loads(line) for line in export.read_text().splitlines()]
    assert entries[0]["seq"] > 1 and entries[0]["prev_hash"] != GENESIS
    assert cli("audit", "verify", str(export))[0] == 0
    export.write_text("\n".join(json.dumps(e) for e in [entries[0], *entries[2:]]) + "\n")  # a gap inside
    code, _, err = cli("audit", "verify", str(export))
    assert code == 1 and f"seq {entries[1]['seq']}" in err


def test_openssl_verifies_a_head_with_the_printed_public_key(service, store, cli, tmp_path):
    [item] = pending_refunds(service, 1)
    service.decide(*item, APPROVE, ALICE)
    export = tmp_path / "audit.jsonl"
    cli("audit", "export", "--out", str(export))
    head = json.loads(export.read_text().splitlines()[-1])
    (tmp_path / "public.pem").write_text(cli("audit", "public-key")[1])
    (tmp_path / "head.txt").write_text(head["hash"])
    (tmp_path / "head.sig").write_bytes(base64.b64decode(head["signature"]))
    command = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public.pem", "-rawin", "-in", "head.txt",
               "-sigfile", "head.sig"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "Signature Verified Successfully" in result.stdout
    (tmp_path / "head.txt").write_text(head["hash"][::-1])
    assert subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=30).returncode != 0

    # and the chain without our code: drop each line's last member (its hash), sha256sum the rest
    shell = "head -n 1 audit.jsonl | sed 's/,\"hash\":\"[0-9a-f]*\"}$/}/' | tr -d '\\n' | sha256sum"
    digest = subprocess.run(["sh", "-c", shell], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert digest.stdout.split()[0] == json.loads(export.read_text().splitlines()[0])["hash"]


def test_the_key_is_made_on_first_use_readable_by_its_owner_only(store, audit_key):
    assert not audit_key.exists()
    signing.signing_key()
    assert audit_key.stat().st_mode & 0o777 == 0o600


def test_decisions_made_before_the_chain_join_it_when_the_database_upgrades(tmp_path):
    import sqlite3

    path = str(tmp_path / "earlier.db")
    store = open_store(path)
    service = ApprovalService(store)
    for item in pending_refunds(service, 2):
        service.decide(*item, APPROVE, ALICE)
    store.close()
    with sqlite3.connect(path) as conn:  # the database as the release before the chain left it
        for table in ("audit_log", "audit_heads", "paused_targets", "item_opens"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("ALTER TABLE pending DROP COLUMN request_digest")
        conn.execute("DELETE FROM alembic_version WHERE version_num = '0021'")
    store = open_store(path)
    try:
        entries = chain(store)
        assert [(e["seq"], e["type"], e.get("imported")) for e in entries] == [(1, "decision", True),
                                                                               (2, "decision", True)]
        assert evidence.verify_live(store.db) is None
    finally:
        store.close()


def test_the_cli_pauses_and_resumes_for_a_named_reviewer_and_both_are_chained(store, cli):
    assert cli("pause", "tool", "issue_refund", "--by", "carol")[0] == 1  # a requester cannot
    assert cli("pause", "tool", "issue_refund", "--by", "nobody")[0] == 1
    assert cli("pause", "tool", "issue_refund", "--by", "alice")[0] == 0
    code, _, err = cli("resume", "tool", "issue_refund", "--by", "bob")
    assert code == 0 and "resumed" in err
    assert [(e["type"], e["target"], e["decided_by"]) for e in chain(store)] == [
        ("pause", "issue_refund", "alice"), ("resume", "issue_refund", "bob")]
    assert cli("audit", "verify")[0] == 0


def test_each_approval_of_a_four_eyes_item_gets_its_own_entry(store, tmp_path):
    from approvals.core.errors import AwaitingApprovals
    from approvals.service.policy import PolicySource

    (tmp_path / "approvals.toml").write_text('[[rules]]\nname = "big-refunds"\ntool = "issue_refund"\n'
                                             'when = "args.amount > 1000.0"\napprovers = 2\n')
    service = ApprovalService(store, policy=PolicySource(tmp_path / "approvals.toml"))
    thread_id = service.new_thread_id()
    service.send_message(thread_id, "Refund order 2 for $5000", GUEST)
    interrupt_id = service.pending_approval(thread_id, viewer=ALICE).interrupt_id
    with pytest.raises(AwaitingApprovals):
        service.decide(thread_id, interrupt_id, APPROVE, ALICE)
    service.decide(thread_id, interrupt_id, APPROVE, BOB)
    entries = chain(store)
    assert [(e["type"], e["decided_by"]) for e in entries[:2]] == [("approval", "alice"), ("decision", "bob")]
    assert (entries[0]["approved_by"], entries[0]["approvers_required"]) == (["alice"], 2)
    assert entries[2]["type"] == "delivery"
    assert evidence.verify_live(store.db) is None
