"""Administration use cases: staff accounts, departments, categories, the working calendar,
transfer lines and service-level settings. Every change is checked, written in one unit of
work, audited, and the service's reference data is reloaded afterwards."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import chinese_calendar
from pydantic import BaseModel, Field, ValidationError

from tickets import admin_store as sql
from tickets.accounts import STAFF_ROLES, AccountService
from tickets.model import Role
from tickets.privacy import Viewer
from tickets.service import Clock, InvalidField, TicketError, TicketService

DEPARTMENT_KINDS = ("city", "district", "street", "police", "hotline")
LINE_KINDS = ("blind", "three_way")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_LINE_CODE = re.compile(r"^[0-9]{2,10}$")
_DIAL = re.compile(r"^[A-Za-z]+/[A-Za-z0-9_.@+-]{1,190}$")
_DIGITS = re.compile(r"^[0-9]{2,16}$")

# Names for the lines a deployment's configuration lists, when they are first stored.
KNOWN_LINES: Mapping[str, tuple[str, str]] = {
    "110": ("公安 110", "Police 110"),
    "119": ("消防 119", "Fire 119"),
    "120": ("急救 120", "Ambulance 120"),
    "122": ("交通事故 122", "Traffic accidents 122"),
    "12315": ("市场监管 12315", "Market regulation 12315"),
    "12369": ("环保 12369", "Environment 12369"),
    "12317": ("扶贫监督 12317", "Poverty relief 12317"),
}


class AdminOnly(TicketError):
    """Only admins change the center's set-up."""

    code = "forbidden"
    status = 403


class LastAdmin(TicketError):
    """The change would leave the center without an enabled admin."""

    code = "last_admin"
    status = 409


class InUse(TicketError):
    """Orders, staff or rules still refer to what was to be deleted."""

    code = "in_use"
    status = 409


class SlaSettings(BaseModel):
    """Service-level settings admins can change while the center runs."""

    service_level_seconds: float = Field(15, gt=0, le=120)  # answered within → in service level
    after_call_seconds: float = Field(30, ge=0, le=600)  # after-call work before ready again
    max_concurrent_chats: int = Field(3, ge=1, le=10)
    # The reply limits per channel are counting rules of the figures (the [figures] section
    # of the configuration), not set here: a figure must not change with a click.


SLA_PREFIX = "sla."


@dataclass(frozen=True)
class TransferLine:
    """A number agents can transfer a caller to (110, 119, 120, 122, 12315, …)."""

    code: str
    name_zh: str
    name_en: str
    target: str  # how Asterisk dials it
    kind: str  # blind (caller handed over) or three_way (agent stays on)
    enabled: bool = True
    sort: int = 0

    def name(self, locale: str) -> str:
        """The line's name in the console's language."""
        return self.name_en if locale == "en" and self.name_en else self.name_zh


@dataclass(frozen=True)
class CalendarDay:
    """One day of the month view: working or not, and why."""

    day: date
    workday: bool
    holiday: str  # the official holiday's name (chinesecalendar), if any
    adjusted: bool  # a 调休 weekend that is worked
    override: str | None  # the admins' override reason, if one is set
    official: bool


def _text(data: Mapping[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise InvalidField(f"{key}: text of at most {limit} characters", field=key)
    if required and not value.strip():
        raise InvalidField(f"{key} is required", field=key)
    return value.strip()


def _bool(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise InvalidField(f"{key} must be true or false", field=key)
    return value


def _number(
    data: Mapping[str, Any], key: str, lo: float, hi: float, *, whole: bool = False
) -> float | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidField(f"{key} must be a number", field=key)
    if whole and int(value) != value:
        raise InvalidField(f"{key} must be a whole number", field=key)
    if not lo <= value <= hi:
        raise InvalidField(f"{key} must be from {lo:g} to {hi:g}", field=key)
    return value


def new_password() -> str:
    """A password shown once to the admin who hands it over."""
    return secrets.token_urlsafe(9)


class AdminService:
    """What the admin console does; the web layer only parses and renders."""

    def __init__(self, tickets: TicketService, accounts: AccountService, clock: Clock) -> None:
        self.tickets = tickets
        self.accounts = accounts
        self.store = tickets.store
        self.clock = clock

    @staticmethod
    def _admin(viewer: Viewer) -> None:
        if viewer.role is not Role.ADMIN:
            raise AdminOnly("only admins change the center's set-up")

    # -- staff ----------------------------------------------------------------------

    async def users(self, query: str = "", role: str | None = None) -> list[dict[str, Any]]:
        """Accounts for the list (never the password hash)."""
        async with self.store.read() as tx:
            rows = await sql.search_users(tx, query.strip(), role or None)
        return [{k: v for k, v in r.items() if k != "password_hash"} for r in rows]

    def _role(self, data: Mapping[str, Any]) -> Role:
        try:
            role = Role(str(data.get("role")))
        except ValueError:
            role = Role.CITIZEN
        if role not in STAFF_ROLES:
            raise InvalidField("role: agent, supervisor, department, police or admin", field="role")
        return role

    def _unit(self, role: Role, data: Mapping[str, Any]) -> str | None:
        department = data.get("department") or None
        if role in (Role.DEPARTMENT, Role.POLICE):
            if not isinstance(department, str) or department not in self.tickets.tree:
                raise InvalidField(
                    "a known department is required for this role", field="department"
                )
            return department
        if department is not None:
            raise InvalidField(
                "only department and police users belong to a department", field="department"
            )
        return None

    async def _unique(self, column: str, value: str | None, except_id: int | None) -> None:
        if value is None:
            return
        async with self.store.read() as tx:
            if await sql.user_holding(tx, column, value, except_id):
                raise InvalidField(f"{column} {value} is already someone's", field=column)

    async def add_user(self, viewer: Viewer, data: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        """A new account with a generated password (returned once, never stored in clear)."""
        self._admin(viewer)
        username = _text(data, "username", 64, required=True)
        role = self._role(data)
        department = self._unit(role, data)
        display_name = _text(data, "display_name", 100)
        extension = _text(data, "extension", 32) or None
        if extension is not None and not _DIGITS.match(extension):
            raise InvalidField("extension: the digits of the phone", field="extension")
        telegram_id = _text(data, "telegram_id", 64) or None
        if telegram_id is not None and not re.match(r"^-?[0-9]{1,20}$", telegram_id):
            raise InvalidField("telegram_id: the numeric Telegram user id", field="telegram_id")
        await self._unique("extension", extension, None)
        await self._unique("telegram_id", telegram_id, None)
        password = new_password()
        user = await self.accounts.add_user(
            username,
            password,
            role,
            department=department,
            display_name=display_name,
            extension=extension,
        )
        async with self.store.write() as tx:
            if telegram_id is not None:
                await tx.update_user(user.id, {"telegram_id": telegram_id})
        await self.accounts.audit(
            viewer,
            "admin.user_add",
            detail={"username": username, "role": role.value, "department": department},
        )
        return await self._user(username), password

    async def recent_changes(self, limit: int = 12) -> list[dict[str, Any]]:
        """Who changed what in the set-up lately (from the audit log)."""
        async with self.store.read() as tx:
            return await sql.admin_audit(tx, limit)

    async def _user(self, username: str) -> dict[str, Any]:
        async with self.store.read() as tx:
            row = await tx.user(username=username)
        if row is None:
            raise InvalidField(f"no user {username}", field="username")
        return {k: v for k, v in row.items() if k != "password_hash"}

    async def update_user(
        self, viewer: Viewer, username: str, data: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change role, department, display name, extension or Telegram id."""
        self._admin(viewer)
        row = await self._user(username)
        changes: dict[str, Any] = {}
        role = self._role(data) if "role" in data else Role(row["role"])
        if "role" in data or "department" in data:
            merged = {"department": data.get("department", row["department"])}
            unitless = role not in (Role.DEPARTMENT, Role.POLICE)
            if "role" in data and "department" not in data and unitless:
                merged["department"] = None
            changes["role"] = role.value
            changes["department"] = self._unit(role, merged)
        if "display_name" in data:
            changes["display_name"] = _text(data, "display_name", 100)
        if "extension" in data:
            ext = _text(data, "extension", 32) or None
            if ext is not None and not _DIGITS.match(ext):
                raise InvalidField("extension: the digits of the phone", field="extension")
            await self._unique("extension", ext, row["id"])
            changes["extension"] = ext
        if "telegram_id" in data:
            tg = _text(data, "telegram_id", 64) or None
            if tg is not None and not re.match(r"^-?[0-9]{1,20}$", tg):
                raise InvalidField("telegram_id: the numeric Telegram user id", field="telegram_id")
            await self._unique("telegram_id", tg, row["id"])
            changes["telegram_id"] = tg
        changes = {k: v for k, v in changes.items() if row.get(k) != v}
        if not changes:
            return row
        async with self.store.write() as tx:
            demoted = row["role"] == "admin" and changes.get("role", "admin") != "admin"
            if demoted and row["active"] and await sql.active_admins(tx) <= 1:
                raise LastAdmin("the center needs at least one enabled admin")
            await tx.update_user(row["id"], changes)
            if "role" in changes or "department" in changes:
                # What the person may see changed: they sign in again under the new role.
                await sql.end_sessions(tx, row["id"])
        await self.accounts.audit(
            viewer,
            "admin.user_change",
            detail={"username": username, **{k: changes[k] for k in sorted(changes)}},
        )
        return await self._user(username)

    async def set_active(self, viewer: Viewer, username: str, active: bool) -> dict[str, Any]:
        """Disable (every session ends at once) or enable an account."""
        self._admin(viewer)
        row = await self._user(username)
        ended = 0
        async with self.store.write() as tx:
            last = row["role"] == "admin" and row["active"] and await sql.active_admins(tx) <= 1
            if not active and last:
                raise LastAdmin("the center needs at least one enabled admin")
            await tx.update_user(row["id"], {"active": active})
            if not active:
                ended = await sql.end_sessions(tx, row["id"])
        await self.accounts.audit(
            viewer,
            "admin.user_enable" if active else "admin.user_disable",
            detail={"username": username, "sessions_ended": ended},
        )
        return await self._user(username)

    async def reset_password(self, viewer: Viewer, username: str) -> str:
        """A new password, shown once; the user's sessions end."""
        self._admin(viewer)
        row = await self._user(username)
        password = new_password()
        await self.accounts.set_password(username, password)
        async with self.store.write() as tx:
            await sql.end_sessions(tx, row["id"])
        await self.accounts.audit(viewer, "admin.password_reset", detail={"username": username})
        return password

    # -- departments ----------------------------------------------------------------

    def _parent(self, data: Mapping[str, Any], code: str | None) -> str | None:
        parent = data.get("parent_code") or None
        if parent is None:
            return None
        if not isinstance(parent, str) or parent not in self.tickets.tree:
            raise InvalidField("parent_code: a known department", field="parent_code")
        if code is not None and parent in self.tickets.tree.descendants(code):
            raise InvalidField(
                "parent_code: a unit cannot move under itself or its sub-units",
                field="parent_code",
            )
        return parent

    def _kind(self, data: Mapping[str, Any]) -> str:
        kind = data.get("kind")
        if kind not in DEPARTMENT_KINDS:
            raise InvalidField("kind: " + ", ".join(DEPARTMENT_KINDS), field="kind")
        return str(kind)

    async def add_department(self, viewer: Viewer, data: Mapping[str, Any]) -> str:
        """A new unit under an existing one (or at the top)."""
        self._admin(viewer)
        code = _text(data, "code", 64, required=True)
        if not _CODE.match(code):
            raise InvalidField("code: lower-case letters, digits, . _ -", field="code")
        if code in self.tickets.tree:
            raise InvalidField(f"department {code} exists", field="code")
        values = {
            "code": code,
            "name_zh": _text(data, "name_zh", 200, required=True),
            "name_en": _text(data, "name_en", 200),
            "parent_code": self._parent(data, None),
            "kind": self._kind(data),
            "phone": _text(data, "phone", 32) or None,
            "active": True,
        }
        async with self.store.write() as tx:
            await sql.insert_department(tx, values)
        await self.tickets.load_reference()
        await self.accounts.audit(viewer, "admin.department_add", detail={"code": code})
        return code

    async def update_department(self, viewer: Viewer, code: str, data: Mapping[str, Any]) -> None:
        """Rename, move under another unit, change the phone, deactivate or reactivate."""
        self._admin(viewer)
        if code not in self.tickets.tree:
            raise InvalidField(f"no department {code}", field="code")
        changes: dict[str, Any] = {}
        if "name_zh" in data:
            changes["name_zh"] = _text(data, "name_zh", 200, required=True)
        if "name_en" in data:
            changes["name_en"] = _text(data, "name_en", 200)
        if "parent_code" in data:
            changes["parent_code"] = self._parent(data, code)
        if "kind" in data:
            changes["kind"] = self._kind(data)
        if "phone" in data:
            changes["phone"] = _text(data, "phone", 32) or None
        if "active" in data:
            changes["active"] = _bool(data, "active")
        if not changes:
            raise InvalidField("nothing to change", field="name_zh")
        async with self.store.write() as tx:
            await sql.update_department(tx, code, changes)
        await self.tickets.load_reference()
        await self.accounts.audit(
            viewer, "admin.department_change", detail={"code": code, **changes}
        )

    async def delete_department(self, viewer: Viewer, code: str) -> None:
        """Delete a unit nothing refers to; one with orders can only be deactivated."""
        self._admin(viewer)
        if code not in self.tickets.tree:
            raise InvalidField(f"no department {code}", field="code")
        async with self.store.write() as tx:
            refs = await sql.department_references(tx, code)
            if refs:
                raise InUse(
                    "still referred to; deactivate it instead",
                    refs=", ".join(f"{k} {v}" for k, v in refs.items()),
                )
            await sql.delete_department(tx, code)
        await self.tickets.load_reference()
        await self.accounts.audit(viewer, "admin.department_delete", detail={"code": code})

    async def departments(self) -> list[dict[str, Any]]:
        """Every unit with its stored fields (active or not), as a tree in display order,
        with the name of its scoring class."""
        async with self.store.read() as tx:
            rows = await tx.departments()
            classes = await sql.class_names(tx)
        for r in rows:
            r["class_name"] = classes.get(r.get("class_code") or "", ("", ""))
        children: dict[str | None, list[dict[str, Any]]] = {}
        for r in rows:
            children.setdefault(r["parent_code"], []).append(r)
        out: list[dict[str, Any]] = []

        def walk(parent: str | None, depth: int) -> None:
            for r in children.get(parent, []):
                out.append({**r, "depth": depth})
                walk(r["code"], depth + 1)

        walk(None, 0)
        return out

    # -- categories -----------------------------------------------------------------

    def _category_fields(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "name_zh" in data:
            out["name_zh"] = _text(data, "name_zh", 200, required=True)
        if "name_en" in data:
            out["name_en"] = _text(data, "name_en", 200)
        for flag in ("urgent", "review_required"):
            if flag in data:
                out[flag] = _bool(data, flag)
        if "complexity" in data:
            if data["complexity"] not in ("simple", "complex"):
                raise InvalidField("complexity must be simple or complex", field="complexity")
            out["complexity"] = data["complexity"]
        if "limit_days" in data:
            days = _number(data, "limit_days", 1, 120, whole=True)
            out["limit_days"] = None if days is None else int(days)
        if "limit_hours" in data:
            out["limit_hours"] = _number(data, "limit_hours", 0.5, 720)
        if "sort" in data:
            sort = _number(data, "sort", 0, 10000, whole=True)
            out["sort"] = int(sort or 0)
        return out

    async def add_category(self, viewer: Viewer, data: Mapping[str, Any]) -> str:
        """A new category, top-level or under another."""
        self._admin(viewer)
        code = _text(data, "code", 64, required=True)
        if not _CODE.match(code):
            raise InvalidField("code: lower-case letters, digits, . _ -", field="code")
        if code in self.tickets.category_rows:
            raise InvalidField(f"category {code} exists", field="code")
        parent = data.get("parent_code") or None
        if parent is not None and parent not in self.tickets.category_rows:
            raise InvalidField("parent_code: a known category", field="parent_code")
        if "name_zh" not in data:
            raise InvalidField("name_zh is required", field="name_zh")
        values = {"code": code, "parent_code": parent, **self._category_fields(data)}
        self._one_limit(values)
        async with self.store.write() as tx:
            await sql.insert_category(tx, values)
        await self.tickets.load_reference()
        await self.accounts.audit(viewer, "admin.category_add", detail={"code": code})
        return code

    @staticmethod
    def _one_limit(values: Mapping[str, Any]) -> None:
        if values.get("limit_days") is not None and values.get("limit_hours") is not None:
            raise InvalidField("a limit in working days or in hours, not both", field="limit_hours")

    async def update_category(self, viewer: Viewer, code: str, data: Mapping[str, Any]) -> None:
        """Limits, urgency, the review-before-dispatch flag, names or order."""
        self._admin(viewer)
        row = self.tickets.category_rows.get(code)
        if row is None:
            raise InvalidField(f"no category {code}", field="code")
        changes = self._category_fields(data)
        if not changes:
            raise InvalidField("nothing to change", field="name_zh")
        self._one_limit({**row, **changes})
        async with self.store.write() as tx:
            await sql.update_category(tx, code, changes)
        await self.tickets.load_reference()
        await self.accounts.audit(viewer, "admin.category_change", detail={"code": code, **changes})

    def category_limit(self, row: Mapping[str, Any]) -> tuple[str, float]:
        """The handling limit a category's orders get: ("hours", n) or ("days", n)."""
        rules = self.tickets.rules
        if row.get("limit_hours"):
            return "hours", float(row["limit_hours"])
        if row.get("limit_days"):
            return "days", float(row["limit_days"])
        if row.get("urgent"):
            return "hours", float(rules.urgent_hours)
        if row.get("complexity") == "complex":
            return "days", float(rules.complex_working_days)
        return "days", float(rules.simple_working_days)

    # -- working calendar -----------------------------------------------------------

    def month(self, year: int, month: int) -> list[CalendarDay]:
        """Every day of a month as the deadline clock sees it."""
        cal = self.tickets.calendar
        day = date(year, month, 1)
        out = []
        while day.month == month:
            override = cal._overrides.get(day)
            holiday = ""
            on_holiday = False
            try:
                on_holiday, name = chinese_calendar.get_holiday_detail(day)
                if on_holiday and name:
                    # The library names holidays in English; the catalog has both languages.
                    holiday = next(
                        (h.name for h in chinese_calendar.Holiday if h.value == name), str(name)
                    )
            except NotImplementedError:
                pass
            workday = cal.is_workday(day)
            out.append(
                CalendarDay(
                    day=day,
                    workday=workday,
                    holiday=holiday,
                    adjusted=workday and day.weekday() >= 5,
                    override=override.name if override is not None else None,
                    official=cal.is_official(day),
                )
            )
            day = date.fromordinal(day.toordinal() + 1)
        return out

    async def remove_override(self, viewer: Viewer, day: date) -> list[str]:
        """Take one override out again; deadlines running over that day are recomputed."""
        self._admin(viewer)
        async with self.store.write() as tx:
            if not await sql.delete_calendar_override(tx, day):
                raise InvalidField(f"no override for {day.isoformat()}", field="day")
        await self.tickets.load_reference()
        changed = await self.tickets.recompute_deadlines(viewer, day)
        await self.accounts.audit(
            viewer, "admin.calendar_remove", detail={"day": day.isoformat(), "recomputed": changed}
        )
        return changed

    async def set_override(
        self, viewer: Viewer, day: date, is_workday: bool, reason: str
    ) -> list[str]:
        """Add or change one override (a holiday or a worked day) with its reason."""
        self._admin(viewer)
        if not reason.strip():
            raise InvalidField("say why (e.g. the notice it comes from)", field="name")
        changed = await self.tickets.set_calendar_override(viewer, day, is_workday, reason.strip())
        await self.accounts.audit(
            viewer,
            "admin.calendar_set",
            detail={"day": day.isoformat(), "workday": is_workday, "recomputed": changed},
        )
        return changed

    # -- transfer lines -------------------------------------------------------------

    async def transfer_lines(self) -> list[TransferLine]:
        """Every stored line, enabled or not."""
        async with self.store.read() as tx:
            rows = await sql.list_transfer_lines(tx)
        return [
            TransferLine(
                r["code"],
                r["name_zh"],
                r["name_en"],
                r["target"],
                r["kind"],
                r["enabled"],
                r["sort"],
            )
            for r in rows
        ]

    async def seed_transfer_lines(self, configured: Mapping[str, str]) -> None:
        """Store the configured lines the first time; afterwards the stored table rules."""
        async with self.store.write() as tx:
            if await sql.list_transfer_lines(tx):
                return
            for i, (code, target) in enumerate(sorted(configured.items())):
                zh, en = KNOWN_LINES.get(code, (code, code))
                await sql.upsert_transfer_line(
                    tx,
                    {
                        "code": code,
                        "name_zh": zh,
                        "name_en": en,
                        "target": target,
                        "kind": "blind",
                        "enabled": True,
                        "sort": i * 10,
                        "updated_by": "config",
                        "updated_at": self.clock(),
                    },
                )

    async def save_transfer_line(self, viewer: Viewer, data: Mapping[str, Any]) -> TransferLine:
        """Add or change one line."""
        self._admin(viewer)
        code = _text(data, "code", 10, required=True)
        if not _LINE_CODE.match(code):
            raise InvalidField("code: the number dialled, 2-10 digits", field="code")
        target = _text(data, "target", 200, required=True)
        if not _DIAL.match(target):
            raise InvalidField(
                "target: an Asterisk dial string like PJSIP/110@police110", field="target"
            )
        kind = data.get("kind")
        if kind not in LINE_KINDS:
            raise InvalidField("kind: blind or three_way", field="kind")
        sort = _number(data, "sort", 0, 10000, whole=True)
        line = TransferLine(
            code=code,
            name_zh=_text(data, "name_zh", 100, required=True),
            name_en=_text(data, "name_en", 100),
            target=target,
            kind=str(kind),
            enabled=_bool(data, "enabled") if "enabled" in data else True,
            sort=int(sort or 0),
        )
        async with self.store.write() as tx:
            await sql.upsert_transfer_line(
                tx, {**vars(line), "updated_by": viewer.username, "updated_at": self.clock()}
            )
        await self.accounts.audit(viewer, "admin.line_save", detail=dict(vars(line)))
        return line

    async def delete_transfer_line(self, viewer: Viewer, code: str) -> None:
        """Remove a line from the table."""
        self._admin(viewer)
        async with self.store.write() as tx:
            if not await sql.delete_transfer_line(tx, code):
                raise InvalidField(f"no line {code}", field="code")
        await self.accounts.audit(viewer, "admin.line_delete", detail={"code": code})

    # -- service-level settings -----------------------------------------------------

    async def sla(self, defaults: SlaSettings | None = None) -> SlaSettings:
        """Stored values over `defaults` (the configuration's)."""
        base = (defaults or SlaSettings()).model_dump()
        async with self.store.read() as tx:
            stored = await sql.settings_values(tx, SLA_PREFIX)
        for key, value in stored.items():
            name = key.removeprefix(SLA_PREFIX)
            if name in base:
                base[name] = value
        return SlaSettings(**base)

    async def save_sla(
        self, viewer: Viewer, data: Mapping[str, Any], defaults: SlaSettings | None = None
    ) -> SlaSettings:
        """Check and store the settings that were sent; the others keep their value."""
        self._admin(viewer)
        current = (await self.sla(defaults)).model_dump()
        unknown = sorted(set(data) - set(current))
        if unknown:
            raise InvalidField(f"unknown setting {unknown[0]}", field=unknown[0])
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidField(f"{key} must be a number", field=key)
        try:
            new = SlaSettings(**{**current, **data})
        except ValidationError as e:
            err = e.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else "settings"
            raise InvalidField(f"{field}: {err['msg']}", field=field) from None
        now = self.clock()
        changed = {k: v for k, v in new.model_dump().items() if current[k] != v or k in data}
        async with self.store.write() as tx:
            for key, value in changed.items():
                await sql.put_setting(tx, SLA_PREFIX + key, value, viewer.username, now)
        await self.accounts.audit(viewer, "admin.sla_save", detail=changed)
        return new
