"""PostgreSQL specifics: replicas creating the schema together, and one database for checkpoints and our tables."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import psycopg
import pytest
from conftest import ALICE, GUEST

from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store

SPAWN = multiprocessing.get_context("spawn")
REPLICAS = 3


@pytest.fixture
def blank_postgres(postgres_databases) -> Iterator[str]:
    """An empty database (not a copy of the migrated template): what replicas meet on their first start."""
    blank = type(postgres_databases)(postgres_databases.server_url)
    url = blank.create("blank")
    yield url
    blank.drop(url)


def open_and_request(url: str, start, number: int) -> None:
    start.wait(60)
    store = open_store(url)
    ApprovalService(store).send_message(f"replica-{number}", "Refund order 1234 for $25", GUEST)
    store.close()


def test_replicas_starting_together_on_an_empty_database_all_come_up(blank_postgres):
    """Without the schema lock, concurrent CREATE TABLE IF NOT EXISTS and migrations collide (UniqueViolation)."""
    start = SPAWN.Barrier(REPLICAS)
    replicas = [SPAWN.Process(target=open_and_request, args=(blank_postgres, start, n)) for n in range(REPLICAS)]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join(120)
    assert [replica.exitcode for replica in replicas] == [0] * REPLICAS

    store = open_store(blank_postgres)
    try:
        assert ApprovalService(store).count_pending(viewer=ALICE) == REPLICAS
    finally:
        store.close()
    with psycopg.connect(blank_postgres) as conn:
        versions = conn.execute("SELECT v FROM checkpoint_migrations ORDER BY v").fetchall()
    assert [v for (v,) in versions] == list(range(len(versions)))  # each migration ran exactly once


def test_checkpoints_and_app_tables_share_one_database(postgres_url):
    store = open_store(postgres_url)
    try:
        ApprovalService(store).send_message("shared", "Refund order 1234 for $25", GUEST)
    finally:
        store.close()
    with psycopg.connect(postgres_url) as conn:
        tables = {name for (name,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        count = conn.execute("SELECT COUNT(*) FROM checkpoints WHERE thread_id = 'shared'").fetchone()[0]
    assert {"checkpoints", "checkpoint_writes", "threads", "pending", "decisions", "claims", "accounts",
            "ledger"} <= tables
    assert count > 0


def test_a_literal_percent_sign_reaches_postgresql_intact(postgres_url):
    store = open_store(postgres_url)
    try:
        store.db.execute("INSERT INTO accounts (username, role, password_hash) VALUES ('100%', 'requester', 'x')")
        assert store.db.query("SELECT username FROM accounts WHERE username LIKE '%\\%' ESCAPE '\\'") == [
            {"username": "100%"}
        ]
    finally:
        store.close()
