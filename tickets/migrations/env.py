"""Alembic environment: runs on the connection the store hands over (sync side of async)."""

from __future__ import annotations

from alembic import context

from tickets.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # offline / autogenerate from the command line
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url") or "sqlite://"
    engine = create_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
