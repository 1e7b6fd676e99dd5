"""The migrations build exactly the schema `tickets.tables` declares, on both stores, and a
new database built in one step is at the same revision as one built migration by migration."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from tickets import migrate
from tickets.store import Store
from tickets.tables import metadata


def _diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": False})
    return list(compare_metadata(ctx, metadata))


def _empty(conn: Connection) -> None:
    metadata.drop_all(conn)
    conn.execute(text("DROP TABLE alembic_version"))


async def test_replayed_migrations_build_the_declared_tables(store: Store) -> None:
    async with store.engine.begin() as conn:
        built_at = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        await conn.run_sync(_empty)
    await migrate.upgrade(store.engine, replay=True)
    async with store.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
        replayed_to = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    assert built_at == replayed_to == migrate.head()


async def test_a_new_database_built_in_one_step_has_the_declared_tables(store: Store) -> None:
    async with store.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
    await store.migrate()  # again: nothing to do, nothing breaks
