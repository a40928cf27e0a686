"""Alembic environment: uses the engine handed over by bridge.store.migrate."""

from __future__ import annotations

from alembic import context

from bridge.store.engine import lock_schema
from bridge.store.schema import metadata

config = context.config
engine = config.attributes["engine"]

with engine.connect().execution_options(calbridge_write=True) as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",
        # One transaction for the whole run on SQLite too (its DDL is transactional): begun
        # as a write (BEGIN IMMEDIATE), it keeps a second process out until the run is done.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        lock_schema(connection)  # before alembic reads the current revision
        context.run_migrations()
