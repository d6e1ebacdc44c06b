"""Alembic's entry point: migrate on the connection `approvals.store.migrations.upgrade` hands over.

Offline (SQL script) mode is not offered: the app always migrates a live database under its schema lock.
"""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("Run migrations through the app (approvals.store.schema.open_store), which holds the schema lock.")
context.configure(connection=connection)
with context.begin_transaction():
    context.run_migrations()
