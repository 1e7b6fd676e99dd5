"""Brings a database to the newest schema with Alembic, on SQLite or PostgreSQL.

A new, empty database gets the declared tables in one step and is stamped at the newest
revision, which is what replaying every migration would build (the tests hold the two to
the same schema, `tests/tickets/test_migrations.py`) in a fraction of the time; a database
that has tables is upgraded migration by migration.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tickets.tables import metadata

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str = "sqlite://") -> Config:
    """An Alembic config pointing at our migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


@cache
def head() -> str:
    """The newest revision."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def _upgrade(connection: Connection, replay: bool) -> None:
    if connection.dialect.name == "postgresql":
        # Two servers starting on one new database: one builds it, the other then upgrades.
        connection.execute(text("SELECT pg_advisory_xact_lock(12345)"))
    if not replay and not inspect(connection).get_table_names():
        metadata.create_all(connection)
        connection.execute(
            text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
        connection.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head()})
        return
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def upgrade(engine: AsyncEngine, *, replay: bool = False) -> None:
    """Apply every pending migration (`replay`: one by one even on an empty database)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, replay)
