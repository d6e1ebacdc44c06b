"""Shared fixtures: a real database file per test (never a mocked checkpointer), and the service on top."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from approvals.auth import GUEST, Actor, seed_demo_accounts  # noqa: E402
from approvals.service import ApprovalService  # noqa: E402
from approvals.storage import Store, open_store  # noqa: E402

ALICE = Actor("alice", "reviewer")
BOB = Actor("bob", "reviewer")
CAROL = Actor("carol", "requester")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Where the test's database lives: a fresh SQLite file."""
    return str(tmp_path / "app.db")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = open_store(db_url)
    seed_demo_accounts(store.db)
    yield store
    store.close()


@pytest.fixture
def service(store: Store) -> ApprovalService:
    return ApprovalService(store)


@pytest.fixture
def refund_pending(service: ApprovalService) -> tuple[str, str]:
    """A guest's $25 refund waiting for approval: (thread_id, interrupt_id)."""
    thread_id = service.new_thread_id()
    service.send_message(thread_id, "Refund order 1234 for $25", GUEST)
    return thread_id, service.pending_approval(thread_id).interrupt_id
