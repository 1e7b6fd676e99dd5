"""SQL of the admin console: staff search, reference-data edits, transfer lines, settings.

Plain functions over a `Tx` (one unit of work), SQLAlchemy Core only, SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select

from tickets.store import Row, Tx
from tickets.tables import (
    admin_settings,
    audit_log,
    calendar_overrides,
    categories,
    channel_bindings,
    department_classes,
    departments,
    dispatch_rules,
    dispatches,
    sessions,
    ticket_departments,
    tickets,
    transfer_lines,
    users,
)

# -- staff ------------------------------------------------------------------------------


async def search_users(tx: Tx, query: str = "", role: str | None = None) -> list[Row]:
    """Accounts whose name, display name, extension or department contains `query`."""
    q = select(users).order_by(users.c.role, users.c.username)
    if query:
        like = f"%{query.lower()}%"
        q = q.where(
            or_(
                func.lower(users.c.username).like(like),
                func.lower(users.c.display_name).like(like),
                users.c.extension.like(like),
                func.lower(users.c.department).like(like),
            )
        )
    if role:
        q = q.where(users.c.role == role)
    return await tx.rows(q)


async def user_holding(tx: Tx, column: str, value: str, except_id: int | None) -> bool:
    """Whether another account already has this extension or Telegram id (both unique)."""
    col = users.c[column]
    q = select(func.count()).select_from(users).where(col == value)
    if except_id is not None:
        q = q.where(users.c.id != except_id)
    return int((await tx.conn.execute(q)).scalar_one()) > 0


async def active_admins(tx: Tx) -> int:
    """How many enabled admin accounts there are."""
    q = (
        select(func.count())
        .select_from(users)
        .where(users.c.role == "admin", users.c.active.is_(True))
    )
    return int((await tx.conn.execute(q)).scalar_one())


async def end_sessions(tx: Tx, user_id: int) -> int:
    """Sign a user out everywhere; returns how many sessions ended."""
    result = await tx.conn.execute(sessions.delete().where(sessions.c.user_id == user_id))
    return int(result.rowcount or 0)


# -- departments and categories ---------------------------------------------------------


async def insert_department(tx: Tx, values: Mapping[str, Any]) -> None:
    """A new unit."""
    await tx.conn.execute(departments.insert().values(**values))


async def update_department(tx: Tx, code: str, values: Mapping[str, Any]) -> None:
    """Rename, move, (de)activate one unit."""
    await tx.conn.execute(departments.update().where(departments.c.code == code).values(**values))


async def department_references(tx: Tx, code: str) -> dict[str, int]:
    """What still points at a unit: orders, hops, staff, rules, sub-units, chat groups."""
    checks = {
        "tickets": select(func.count())
        .select_from(tickets)
        .where(or_(tickets.c.lead_department == code, tickets.c.district == code)),
        "dispatches": select(func.count())
        .select_from(dispatches)
        .where(dispatches.c.department == code),
        "ticket_departments": select(func.count())
        .select_from(ticket_departments)
        .where(ticket_departments.c.department == code),
        "users": select(func.count()).select_from(users).where(users.c.department == code),
        "rules": select(func.count())
        .select_from(dispatch_rules)
        .where(or_(dispatch_rules.c.lead_department == code, dispatch_rules.c.district == code)),
        "children": select(func.count())
        .select_from(departments)
        .where(departments.c.parent_code == code),
        "bindings": select(func.count())
        .select_from(channel_bindings)
        .where(channel_bindings.c.department == code),
    }
    out = {}
    for name, q in checks.items():
        n = int((await tx.conn.execute(q)).scalar_one())
        if n:
            out[name] = n
    return out


async def delete_department(tx: Tx, code: str) -> None:
    """Remove a unit nothing refers to (the caller checked `department_references`)."""
    await tx.conn.execute(departments.delete().where(departments.c.code == code))


async def insert_category(tx: Tx, values: Mapping[str, Any]) -> None:
    """A new category."""
    await tx.conn.execute(categories.insert().values(**values))


async def update_category(tx: Tx, code: str, values: Mapping[str, Any]) -> None:
    """Limits, urgency, the review flag or names of one category."""
    await tx.conn.execute(categories.update().where(categories.c.code == code).values(**values))


# -- working calendar -------------------------------------------------------------------


async def delete_calendar_override(tx: Tx, day: date) -> bool:
    """Remove one override row; False if there was none."""
    q = calendar_overrides.delete().where(calendar_overrides.c.day == day)
    return bool((await tx.conn.execute(q)).rowcount)


# -- transfer lines ---------------------------------------------------------------------


async def list_transfer_lines(tx: Tx) -> list[Row]:
    """Every transfer line, in the order the workspace shows them."""
    q = select(transfer_lines).order_by(transfer_lines.c.sort, transfer_lines.c.code)
    return await tx.rows(q)


async def upsert_transfer_line(tx: Tx, values: Mapping[str, Any]) -> None:
    """Add or change one line."""
    stmt = tx._insert(transfer_lines).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["code"], set_={k: v for k, v in values.items() if k != "code"}
    )
    await tx.conn.execute(stmt)


async def delete_transfer_line(tx: Tx, code: str) -> bool:
    """Remove one line; False if there was none."""
    q = transfer_lines.delete().where(transfer_lines.c.code == code)
    return bool((await tx.conn.execute(q)).rowcount)


# -- settings ---------------------------------------------------------------------------


async def settings_values(tx: Tx, prefix: str = "") -> dict[str, Any]:
    """Stored settings by key (those starting with `prefix`)."""
    q = select(admin_settings.c.key, admin_settings.c.value)
    if prefix:
        q = q.where(admin_settings.c.key.like(prefix + "%"))
    return {r["key"]: r["value"] for r in (await tx.conn.execute(q)).mappings()}


async def put_setting(tx: Tx, key: str, value: Any, by: str, at: datetime) -> None:
    """Store one setting."""
    values = {"key": key, "value": value, "updated_by": by, "updated_at": at}
    stmt = tx._insert(admin_settings).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"], set_={"value": value, "updated_by": by, "updated_at": at}
    )
    await tx.conn.execute(stmt)


# -- dispatch rules ---------------------------------------------------------------------


async def all_dispatch_rules(tx: Tx) -> list[Row]:
    """The whole rule table, switched-off rules included (what the editor shows)."""
    q = select(dispatch_rules).order_by(dispatch_rules.c.id)
    return await tx.rows(q)


async def class_names(tx: Tx) -> dict[str, tuple[str, str]]:
    """Department class code → (Chinese, English) name, for the department tree."""
    q = select(
        department_classes.c.code, department_classes.c.name_zh, department_classes.c.name_en
    )
    return {r["code"]: (r["name_zh"], r["name_en"]) for r in (await tx.conn.execute(q)).mappings()}


async def admin_audit(tx: Tx, limit: int = 12) -> list[Row]:
    """The latest changes made in the admin console (newest first)."""
    q = (
        select(audit_log)
        .where(audit_log.c.action.like("admin.%"))
        .order_by(audit_log.c.id.desc())
        .limit(limit)
    )
    return await tx.rows(q)
