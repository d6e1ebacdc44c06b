"""A database made by the previous release upgrades in place the first time this release opens it.

Release 772aa6b created its tables with `CREATE TABLE IF NOT EXISTS` and had no `alembic_version`. The fixture
(tests/fixtures/release-15.sql and its checkpoints, dumped from a database that release's own code made) is
loaded into an empty database on each backend; then `open_store` runs as a deployment of this release would,
and everything the old release wrote must still be there and still work: the pending refund is listed and can
be decided, the old decision is in the history, the old accounts sign in.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path

import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from conftest import ALICE, CAROL
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from approvals.identity import accounts, api_tokens
from approvals.service.facade import ApprovalService
from approvals.store.migrations import SCRIPT_LOCATION
from approvals.store.schema import open_store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OLD_TABLES = ("threads", "pending", "decisions", "claims", "accounts", "sessions", "sign_in_failures",
              "api_tokens", "outbox", "ledger", "thread_changes")
PENDING_THREAD, DECIDED_THREAD = "a" * 32, "b" * 32


def fixture_statements(dialect: str) -> Iterator[str]:
    """The release's statements in order: shared ones, plus the `-- <dialect>: ` lines meant for this backend."""
    current: list[str] = []
    for line in (FIXTURES / "release-15.sql").read_text().splitlines():
        marker, _, statement = line.partition(": ")
        if marker in ("-- sqlite", "-- postgres"):
            if marker == f"-- {dialect}":
                yield statement.removesuffix(";")
            continue
        if line.startswith("--") or not line.strip():
            continue
        current.append(line)
        if line.endswith(";"):
            yield "\n".join(current).removesuffix(";")
            current = []
    assert not current, "the fixture ends inside a statement"


def replay_checkpoints(saver: BaseCheckpointSaver) -> None:
    """Store the release's checkpoints again, in order, through the saver's own API (ids and writes kept)."""
    history = json.loads((FIXTURES / "release-15-checkpoints.json").read_text())["checkpoints"]
    parents: dict[str, RunnableConfig] = {}

    def value(typed: dict) -> object:
        return saver.serde.loads_typed((typed["type"], base64.b64decode(typed["data"])))

    for saved in history:
        thread_id = saved["thread_id"]
        parent = parents.get(thread_id) or {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        checkpoint = value(saved["checkpoint"])
        config = saver.put(parent, checkpoint, value(saved["metadata"]), checkpoint["channel_versions"])
        by_task: dict[str, list[tuple[str, object]]] = {}
        for write in saved["writes"]:
            by_task.setdefault(write["task_id"], []).append((write["channel"], value(write["value"])))
        for task_id, writes in by_task.items():
            saver.put_writes(config, writes, task_id)
        parents[thread_id] = config


@contextmanager
def sqlite_release(path: str) -> Iterator[Callable[[str], list[tuple]]]:
    with closing(sqlite3.connect(path, check_same_thread=False, isolation_level=None)) as conn:
        saver = SqliteSaver(conn)
        saver.setup()
        for statement in fixture_statements("sqlite"):
            conn.execute(statement)
        replay_checkpoints(saver)
        yield lambda sql: conn.execute(sql).fetchall()


@contextmanager
def postgres_release(url: str) -> Iterator[Callable[[str], list[tuple]]]:
    with PostgresSaver.from_conn_string(url) as saver, psycopg.connect(url, autocommit=True) as conn:
        saver.setup()
        for statement in fixture_statements("postgres"):
            conn.execute(statement)
        replay_checkpoints(saver)
        yield lambda sql: conn.execute(sql).fetchall()


@pytest.fixture(params=["sqlite", "postgres"])
def release_15(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Callable[[str], list[tuple]]]]:
    """(url, query) of a database exactly as release 772aa6b left it; `query` reads it with a raw connection."""
    if request.param == "sqlite":
        url = str(tmp_path / "app.db")
        release: Callable[[str], AbstractContextManager[Callable[[str], list[tuple]]]] = sqlite_release
    else:
        url = request.getfixturevalue("blank_postgres")
        release = postgres_release
    with release(url) as query:
        yield url, query


@pytest.fixture
def blank_postgres(postgres_databases) -> Iterator[str]:
    """An empty database, not a copy of the migrated template: the release made its tables itself."""
    blank = type(postgres_databases)(postgres_databases.server_url)
    url = blank.create("release15")
    yield url
    blank.drop(url)


def rows(query: Callable[[str], list[tuple]], table: str) -> list[tuple]:
    return sorted(query(f"SELECT * FROM {table}"), key=repr)


def test_the_fixture_has_rows_in_every_table_and_no_alembic_version(release_15):
    _, query = release_15
    assert all(rows(query, table) for table in OLD_TABLES)
    assert query("SELECT COUNT(*) FROM checkpoints")[0][0] == 11
    with pytest.raises((sqlite3.OperationalError, psycopg.errors.UndefinedTable)):
        query("SELECT * FROM alembic_version")


def test_open_store_upgrades_it_in_place_keeping_every_row(release_15):
    url, query = release_15
    before = {table: rows(query, table) for table in OLD_TABLES}
    before_checkpoints = query("SELECT COUNT(*) FROM checkpoints")[0][0]

    open_store(url).close()

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    assert {version for (version,) in query("SELECT version_num FROM alembic_version")} == heads
    for table in OLD_TABLES:
        kept = [row[: len(before[table][0])] for row in rows(query, table)]  # new columns may follow the old
        if table == "thread_changes":  # the log only grows (the upgrade may note threads again); its ids are its own
            assert {r[1:] for r in before[table]} <= {r[1:] for r in kept}
        else:
            assert kept == before[table], table
    assert query("SELECT COUNT(*) FROM checkpoints")[0][0] == before_checkpoints


def test_the_app_works_on_the_upgraded_database(release_15):
    url, query = release_15
    store = open_store(url)
    try:
        service = ApprovalService(store)
        [item] = service.list_pending(viewer=ALICE)
        assert (item.thread_id, item.tool, item.requester) == (PENDING_THREAD, "issue_refund", "carol")
        [old] = service.decisions(viewer=ALICE)
        assert (old.thread_id, old.decision, old.decided_by) == (DECIDED_THREAD, "approve", "alice")
        assert accounts.check_password(store.db, "alice", "alice-demo") is not None
        assert [t.label for t in api_tokens.list_tokens(store.db, "alice")] == ["ci"]

        record = service.decide(item.thread_id, item.interrupt_id, {"decisions": [{"type": "approve"}]}, ALICE)

        assert record.decided_by == "alice" and service.count_pending(viewer=ALICE) == 0
        assert [d.thread_id for d in service.decisions(viewer=CAROL)] == [PENDING_THREAD, DECIDED_THREAD]
        refunds = query("SELECT thread_id FROM ledger WHERE tool = 'issue_refund' ORDER BY thread_id")
        assert [thread_id for (thread_id,) in refunds] == [PENDING_THREAD, DECIDED_THREAD]
        assert "refund" in service.messages(PENDING_THREAD, viewer=CAROL)[-1].text.lower()
    finally:
        store.close()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config
