"""Alembic environment: uses the engine handed over by bridge.store.migrate."""

from __future__ import annotations

from alembic import context

from bridge.store.schema import metadata

config = context.config
engine = config.attributes["engine"]

with engine.connect().execution_options(calbridge_write=True) as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
