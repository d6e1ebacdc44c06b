"""The app's database as an example tool sees it: DATABASE_URL (PostgreSQL) or the SQLite file data/app.db."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DEFAULT_DATABASE = "data/app.db"


@contextmanager
def app_database(create_table: str) -> Iterator[tuple[Any, str]]:
    """A connection (autocommit) and its placeholder ("?" or "%s"), with the tool's table created if missing."""
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg

        conn: Any = psycopg.connect(url, autocommit=True)
        placeholder = "%s"
    else:
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30, isolation_level=None)
        placeholder = "?"
    try:
        conn.execute(create_table)
        yield conn, placeholder
    finally:
        conn.close()
