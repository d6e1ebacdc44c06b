"""The audit chain an auditor can check: one chain under concurrent decisions, a signed head per append (in the
database, in the export and sent to a witness), exports that verify with a public key (openssl included), and
every forgery a database writer can try (on the chain, its heads, or a row it covers) named by its seq or the
missing head, live and in an export."""

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
from approvals.core.digest import canonical_json, sha256_hex
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
    assert [json.loads(line)["type"] for line in lines] == ["decision", "delivery"] * 3 + ["head"] * 6
    assert cli("audit", "verify", str(export))[0] == 0

    forged = json.loads(lines[2])  # the second decision: claim bob approved it
    assert forged["type"] == "decision"
    forged["decided_by"] = "bob"
    tampered = tmp_path / "forged.jsonl"
    tampered.write_text("\n".join([*lines[:2], json.dumps(forged), *lines[3:]]) + "\n")
    code, _, err = cli("audit", "verify", str(tampered))
    assert code == 1 and f"seq {forged['seq']}:" in err

    rehashed = {**forged, "hash": entry_hash(forged)}  # a forger who recomputes the hash: its signed head differs
    tampered.write_text("\n".join([*lines[:2], json.dumps(rehashed), *lines[3:]]) + "\n")
    code, _, err = cli("audit", "verify", str(tampered))
    assert code == 1 and f"seq {forged['seq']}:" in err


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
    assert code == 1 and "seq 4: the head at the tip is not signed by a trusted key" in err
    assert cli("audit", "verify")[0] == 0

    monkeypatch.setenv("APPROVAL_AUDIT_KEY", str(tmp_path / "third" / "audit-key.pem"))  # rotated, nothing new yet
    signing.signing_key()
    code, _, err = cli("audit", "verify")
    assert code == 1 and "seq 4: the head at the tip is not signed by a trusted key" in err
    (tmp_path / "second-public.pem").write_text(json.loads(new_export.read_text().splitlines()[-1])["public_key"])
    assert cli("audit", "verify", "--public-key", str(tmp_path / "second-public.pem"))[0] == 0


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
    assert head["seq"] == 2
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


def upgrade_with(path: str, *revisions: str) -> None:
    """Run these revisions' upgrades on the SQLite file, as Alembic runs them (later revisions build on them, so
    the version table cannot be wound back to before them)."""
    import importlib.util

    import sqlalchemy
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from approvals.store.migrations import SCRIPT_LOCATION

    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
            for name in revisions:
                spec = importlib.util.spec_from_file_location(name, SCRIPT_LOCATION / "versions" / name)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                module.upgrade()
    finally:
        engine.dispose()


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
    upgrade_with(path, "0021_audit.py", "0025_audit_signed_tip.py")
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


def four_eyes_approved(store: Store, tmp_path: Path) -> None:
    """A $5000 refund under a two-approver rule: approved by alice, then by bob (seq 1, 2), then delivered."""
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


def test_each_approval_of_a_four_eyes_item_gets_its_own_entry(store, tmp_path):
    four_eyes_approved(store, tmp_path)
    entries = chain(store)
    assert [(e["type"], e["decided_by"]) for e in entries[:2]] == [("approval", "alice"), ("decision", "bob")]
    assert (entries[0]["approved_by"], entries[0]["approvers_required"]) == (["alice"], 2)
    assert entries[2]["type"] == "delivery"
    assert (entries[0]["approval_row"]["approver"], entries[1]["approval_row"]["approver"]) == ("alice", "bob")
    assert evidence.verify_live(store.db) is None


def test_each_approval_row_of_a_four_eyes_item_is_held_to_its_entry(store, cli, tmp_path):
    four_eyes_approved(store, tmp_path)
    approval = chain(store)[0]
    assert cli("audit", "verify")[0] == 0
    store.db.execute("UPDATE approvals SET approved_at = '2020-01-01T00:00:00+00:00' WHERE approver = 'alice'")
    code, _, err = cli("audit", "verify")
    assert code == 1 and "FAILED at seq 1: the approvals row of alice differs from its entry in approved_at" in err
    store.db.execute("UPDATE approvals SET approved_at = ? WHERE approver = 'alice'",
                     (approval["approval_row"]["approved_at"],))
    store.db.execute("DELETE FROM approvals WHERE approver = 'bob'")
    code, _, err = cli("audit", "verify")
    assert code == 1 and "FAILED at seq 2: the approval by bob is chained but its approvals row is gone" in err
    store.db.execute("INSERT INTO approvals (thread_id, interrupt_id, approver, generation, decision, response,"
                     " edit_diff, approved_at, rule, policy_version) SELECT thread_id, interrupt_id, 'bob',"
                     " generation, decision, response, edit_diff, approved_at, rule, 'v0' FROM approvals")
    code, _, err = cli("audit", "verify")
    assert code == 1 and "FAILED at seq 2: the approvals row of bob differs from its entry in" in err


# -- a signed head per append, published to a witness ----------------------------------------------------------


def forge(store: Store, seq: int, change, rechain: bool = True) -> None:
    """What a database writer can do without the key: rewrite entry `seq` with `change` and recompute its hash,
    and (`rechain`) every later entry's prev_hash and hash, so the chain itself holds together again."""
    prev = None
    for row in store.db.query("SELECT seq, entry FROM audit_log WHERE seq >= ? ORDER BY seq", (seq,)):
        entry = json.loads(row["entry"])
        if row["seq"] == seq:
            change(entry)
        elif not rechain:
            return
        if prev is not None:
            entry["prev_hash"] = prev
        text = canonical_json(entry)
        prev = sha256_hex(text)
        store.db.execute("UPDATE audit_log SET entry = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                         (text, entry["prev_hash"], prev, row["seq"]))


def claim_bob(entry: dict) -> None:
    entry["decided_by"] = "bob"


def verified(cli, tmp_path: Path, *options: str) -> tuple[tuple[int, str], tuple[int, str]]:
    """`audit verify` on the live database, and `audit export` then `audit verify FILE`: (exit code, stderr)."""
    live_code, _, live_err = cli("audit", "verify", *options)
    export = tmp_path / "export.jsonl"
    cli("audit", "export", "--out", str(export))
    file_code, _, file_err = cli("audit", "verify", str(export), *options)
    return (live_code, live_err), (file_code, file_err)


def outbox_heads(store: Store) -> list[dict]:
    rows = store.db.query("SELECT body FROM outbox WHERE event = 'audit.head' ORDER BY created_at")
    return sorted((json.loads(row["body"]) for row in rows), key=lambda body: body["seq"])


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    """A webhook is configured (its events stay in the outbox: no sender runs in these tests)."""
    monkeypatch.setenv("APPROVAL_WEBHOOK_URL", "http://127.0.0.1:9/hooks")


def test_every_append_signs_its_head_and_sends_it_to_the_webhook(service, store, cli, tmp_path, webhook):
    for item in pending_refunds(service, 2):
        service.decide(*item, APPROVE, ALICE)
    entries = chain(store)
    heads = signing.signed_heads(store.db)
    assert [(h.seq, h.hash) for h in heads] == [(e["seq"], e["hash"]) for e in entries]
    assert all(signing.signature_valid(h.hash, h.signature, h.public_key) for h in heads)
    assert {h.public_key for h in heads} == {signing.current_public_key()}
    events = outbox_heads(store)
    assert [(e["seq"], e["hash"], e["signature"]) for e in events] == [(h.seq, h.hash, h.signature) for h in heads]

    export = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "--out", str(export))[0] == 0
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert [(line["seq"], line["hash"]) for line in lines if line["type"] == "head"] == [(h.seq, h.hash) for h in heads]
    witness = tmp_path / "witness.jsonl"
    witness.write_text("".join(json.dumps(event) + "\n" for event in events))
    for code, err in verified(cli, tmp_path, "--heads", str(witness)):
        assert code == 0 and "the witness" in err


def delete_last_entry(store: Store) -> None:
    store.db.execute("DELETE FROM audit_log WHERE seq = 6")


def delete_last_decision_with_its_entries(store: Store) -> None:
    [last] = store.db.query("SELECT decision_id FROM audit_log WHERE seq = 5")
    store.db.execute("DELETE FROM decisions WHERE decision_id = ?", (last["decision_id"],))
    store.db.execute("DELETE FROM audit_log WHERE decision_id = ?", (last["decision_id"],))


def rewrite_the_last_entry(store: Store) -> None:
    forge(store, 6, lambda entry: entry["executed"][0]["args"].update(amount=2500.0))


def rewrite_after_the_last_signed_head(store: Store) -> None:
    store.db.execute("DELETE FROM audit_heads WHERE seq = 6")
    rewrite_the_last_entry(store)


def rewrite_before_a_signed_head(store: Store) -> None:
    forge(store, 3, claim_bob)
    store.db.execute("UPDATE decisions SET decided_by = 'bob' WHERE decided_at = (SELECT MIN(decided_at) FROM"
                     " decisions WHERE decided_at > (SELECT MIN(decided_at) FROM decisions))")


def rewrite_and_re_aim_the_heads(store: Store) -> None:
    """The heads' hashes follow the rewrite; their signatures cannot."""
    rewrite_before_a_signed_head(store)
    for entry in chain(store):
        store.db.execute("UPDATE audit_heads SET hash = ? WHERE seq = ?", (entry["hash"], entry["seq"]))


def delete_every_head(store: Store) -> None:
    store.db.execute("DELETE FROM audit_heads")


def edit_without_rehashing(store: Store) -> None:
    store.db.execute("UPDATE audit_log SET entry = REPLACE(entry, '\"amount\":25.0', '\"amount\":2500.0') WHERE"
                     " seq = 3")


def delete_a_middle_entry(store: Store) -> None:
    store.db.execute("DELETE FROM audit_log WHERE seq = 3")


def reorder_entries(store: Store) -> None:
    [third, fourth] = store.db.query("SELECT * FROM audit_log WHERE seq IN (3, 4) ORDER BY seq")
    for row, seq in ((third, 4), (fourth, 3)):
        store.db.execute("UPDATE audit_log SET prev_hash = ?, hash = ?, type = ?, decision_id = ?, entry = ? WHERE"
                         " seq = ?", (row["prev_hash"], row["hash"], row["type"], row["decision_id"], row["entry"],
                                      seq))


@pytest.mark.parametrize(("tamper", "named"), [
    (delete_last_entry, "seq 6: seq 6 is missing"),
    (delete_last_decision_with_its_entries, "seq 5: seq 5 is missing"),
    (rewrite_the_last_entry, "seq 6: the chain does not have the hash the signed head names"),
    (rewrite_after_the_last_signed_head, "seq 6: no signed head from here on"),
    (rewrite_before_a_signed_head, "seq 3: the chain does not have the hash the signed head names"),
    (rewrite_and_re_aim_the_heads, "seq 3: the signed head's signature does not verify"),
    (delete_every_head, "seq 6: no signed head at all"),
    (edit_without_rehashing, "seq 3: its hash does not match its content"),
    (delete_a_middle_entry, "seq 3: seq 3 is missing"),
    (reorder_entries, "seq 3: seq 3 is missing"),
], ids=lambda case: getattr(case, "__name__", ""))
def test_a_tampered_chain_is_named_live_and_in_its_export(service, store, cli, tmp_path, tamper, named):
    for item in pending_refunds(service, 3):  # seq 1-6: decision and delivery of each
        service.decide(*item, APPROVE, ALICE)
    assert [result[0] for result in verified(cli, tmp_path)] == [0, 0]
    tamper(store)
    for code, err in verified(cli, tmp_path):
        assert code == 1 and f"FAILED at {named}" in err


def test_a_rewrite_whose_heads_were_all_deleted_is_caught_by_the_witness(service, store, cli, tmp_path, webhook):
    for item in pending_refunds(service, 8):  # seq 1-16
        service.decide(*item, APPROVE, ALICE)
    witness = tmp_path / "witness.jsonl"  # what the webhook's receiver kept
    witness.write_text("".join(json.dumps(event) + "\n" for event in outbox_heads(store)))
    whole, truncated = tmp_path / "whole.jsonl", tmp_path / "truncated.jsonl"
    cli("audit", "export", "--out", str(whole))
    lines = whole.read_text().splitlines()  # a forger cuts the last two decisions off, heads and all
    truncated.write_text("".join(line + "\n" for line in lines[:12] + lines[16:28]))
    assert cli("audit", "verify", str(truncated))[0] == 0
    code, _, err = cli("audit", "verify", str(truncated), "--heads", str(witness))
    assert code == 1 and "seq 13: seq 13 is missing: the witness holds heads up to seq 16" in err

    forge(store, 15, claim_bob)  # the eighth decision
    store.db.execute("DELETE FROM audit_heads")
    store.db.execute("DELETE FROM outbox")
    export = tmp_path / "forged.jsonl"
    code, _, err = cli("audit", "export", "--out", str(export))
    assert code == 1 and "tip (seq 16) has no signed head" in err  # export signs nothing
    assert signing.signed_heads(store.db) == []
    code, _, err = cli("audit", "verify", str(export))
    assert code == 1 and "seq 16: no signed head at all" in err
    for options in ((str(export), "--heads", str(witness)), ("--heads", str(witness))):
        code, _, err = cli("audit", "verify", *options)
        assert code == 1 and "seq 15: the chain differs from the head the witness holds" in err


def test_a_witness_file_that_is_not_heads_is_refused_with_a_message(service, store, cli, tmp_path):
    witness = tmp_path / "witness.jsonl"
    witness.write_text("not json\n")
    code, _, err = cli("audit", "verify", "--heads", str(witness))
    assert code == 2 and "line 1 of the witness's heads is not JSON" in err
    code, _, err = cli("audit", "verify", "--heads", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "missing.jsonl" in err


# -- the rows the chain covers ------------------------------------------------------------------------------


def decided_refund(service: ApprovalService, store: Store) -> dict[str, dict]:
    """One refund decided and delivered: its chained decision and delivery entries, by type."""
    [item] = pending_refunds(service, 1)
    service.decide(*item, APPROVE, ALICE)
    return {entry["type"]: entry for entry in chain(store)}


@pytest.mark.parametrize(("sql", "named", "entry_type"), [
    ("UPDATE decisions SET rule = 'always-approve'", "differs from its entry in rule", "decision"),
    ("UPDATE decisions SET policy_version = 'v0'", "differs from its entry in policy_version", "decision"),
    ("UPDATE decisions SET decided_by = 'mallory'", "differs from its entry in decided_by", "decision"),
    ("UPDATE decisions SET decision = 'reject'", "differs from its entry in decision", "decision"),
    ("UPDATE decisions SET response = '{\"type\": \"reject\"}'", "differs from its entry in response", "decision"),
    ("UPDATE decisions SET applied_at = '2020-01-01T00:00:00+00:00'", "applied_at differs from its delivery entry",
     "delivery"),
    ("UPDATE decisions SET applied_at = NULL", "applied_at differs from its delivery entry", "delivery"),
    ("UPDATE ledger SET args = '{\"amount\": 2.5, \"order_id\": \"1000\"}'", "differs from its entry in args",
     "delivery"),
    ("UPDATE ledger SET result = 'Refunded $2.50'", "differs from its entry in result_sha256", "delivery"),
    ("UPDATE ledger SET executed_at = '2020-01-01T00:00:00+00:00'", "differs from its entry in executed_at",
     "delivery"),
    ("DELETE FROM ledger", "is chained but gone", "delivery"),
    ("UPDATE pending SET args = '{\"amount\": 2.5, \"order_id\": \"1000\"}'", "pending.args (the arguments History"
     " shows) differs", "decision"),
    ("DELETE FROM pending", "pending.args (the arguments History shows) differs", "decision"),
    ("DELETE FROM decisions", "is chained but its row is gone", "decision"),
])
def test_a_row_changed_behind_the_apps_back_is_named_by_its_entry(service, store, cli, sql, named, entry_type):
    entries = decided_refund(service, store)
    assert cli("audit", "verify")[0] == 0
    store.db.execute(sql)
    code, _, err = cli("audit", "verify")
    assert code == 1 and f"FAILED at seq {entries[entry_type]['seq']}: " in err and named in err


def test_a_decision_row_inserted_behind_the_apps_back_is_named(service, store, cli):
    decided_refund(service, store)
    store.db.execute("INSERT INTO decisions (decision_id, thread_id, interrupt_id, decision, response, tool,"
                     " requested_by, requested_at, decided_by, decided_at, edit_diff, message) SELECT 'forged',"
                     " thread_id, 'other', decision, response, tool, requested_by, requested_at, decided_by,"
                     " decided_at, edit_diff, message FROM decisions")
    code, _, err = cli("audit", "verify")
    assert code == 1 and "decision forged is not in the chain" in err


# -- the key, and an upgrade -------------------------------------------------------------------------------


def test_the_default_key_lives_outside_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("APPROVAL_AUDIT_KEY")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert signing.key_path() == tmp_path / "config" / "agent-approvals" / "audit-key.pem"
    (tmp_path / "data").mkdir()
    signing.signing_key(tmp_path / "data" / "audit-key.pem")  # an installation from before keeps its key there
    assert signing.key_path() == Path("data/audit-key.pem")
    signing.signing_key(tmp_path / "config" / "agent-approvals" / "audit-key.pem")  # until it is moved
    assert signing.key_path() == tmp_path / "config" / "agent-approvals" / "audit-key.pem"


def test_a_chain_from_the_release_before_keeps_verifying_after_the_upgrade(tmp_path, webhook):
    """Entries without the fields this release chains, heads only where exports signed them: the upgrade signs the
    tip, and everything verifies as it did."""
    import sqlite3

    path = str(tmp_path / "earlier.db")
    store = open_store(path)
    service = ApprovalService(store)
    for item in pending_refunds(service, 2):
        service.decide(*item, APPROVE, ALICE)
    old_fields = ("policy_version", "shown_args", "approval_row", "request_policy")
    for entry in chain(store):  # as the release before wrote them
        def as_before(stored: dict) -> None:
            for name in old_fields:
                stored.pop(name, None)
            for ran in stored.get("executed", []):
                ran["result"] = store.ledger.result(ran["tool_call_id"])
                del ran["result_sha256"]
        forge(store, entry["seq"], as_before, rechain=False)
    forge(store, 1, lambda stored: None)  # and chain them again
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM audit_heads")
    upgrade_with(path, "0025_audit_signed_tip.py")
    store = open_store(path)
    try:
        assert [h.seq for h in signing.signed_heads(store.db)] == [4]
        assert evidence.verify_live(store.db) is None
    finally:
        store.close()
