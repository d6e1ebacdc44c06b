"""Versioned migrations of the app's own tables (Alembic); the checkpointer keeps its own.

`upgrade` runs on a connection the caller holds inside its schema lock, so replicas starting together apply each
revision once. Revisions live in `versions/`; several heads are upgraded together, so two features that each
add a table need no merge revision. A new one: `alembic revision -m "what changes"` at the project root (the
script location is in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

SCRIPT_LOCATION = Path(__file__).resolve().parent


def upgrade(connection: Connection) -> None:
    """Bring our tables to the newest revision, inside the caller's transaction."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")
