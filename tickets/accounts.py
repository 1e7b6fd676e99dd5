"""Accounts, sessions, API keys and the audit log of personal-data views."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tickets.model import Role
from tickets.privacy import Viewer, display_phone
from tickets.service import Clock, InvalidField, TicketService, system_clock
from tickets.store import Store

STAFF_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.DEPARTMENT, Role.POLICE, Role.ADMIN)
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    """A signed-in person."""

    id: int
    username: str
    display_name: str
    role: Role
    department: str | None
    locale: str
    extension: str | None = None


@dataclass(frozen=True)
class Session:
    """A browser session: who, and the CSRF token its forms must carry."""

    token: str
    csrf_token: str
    user: User
    expires_at: datetime


class AuthError(Exception):
    """Wrong credentials, or a session/key that is not (or no longer) valid."""

    code = "unauthorized"


def _user(row: dict[str, Any]) -> User:
    return User(
        row["id"],
        row["username"],
        row["display_name"] or row["username"],
        Role(row["role"]),
        row["department"],
        row["locale"],
        row.get("extension"),
    )


class AccountService:
    """Users (argon2 hashes), sessions (hashed tokens), API keys and the audit log."""

    def __init__(
        self,
        store: Store,
        tickets: TicketService,
        session_hours: float = 12,
        clock: Clock = system_clock,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.store = store
        self.tickets = tickets
        self.session_hours = session_hours
        self.clock = clock
        self.hasher = hasher or PasswordHasher()

    async def add_user(
        self,
        username: str,
        password: str,
        role: Role,
        *,
        department: str | None = None,
        display_name: str = "",
        locale: str = "zh",
        extension: str | None = None,
    ) -> User:
        """Create an account; department handlers and police must belong to a unit."""
        if not _USERNAME.match(username):
            raise InvalidField("username: 2-64 letters, digits, . _ -", field="username")
        if extension is not None and not extension.isdigit():
            raise InvalidField("extension: the digits of the agent's phone", field="extension")
        if len(password) < 8:
            raise InvalidField("password: at least 8 characters", field="password")
        if role in (Role.DEPARTMENT, Role.POLICE):
            if not department or department not in self.tickets.tree:
                raise InvalidField(
                    "a department handler needs a known department", field="department"
                )
        elif department is not None:
            raise InvalidField(
                "only department and police users belong to a department", field="department"
            )
        password_hash = await self._hash(password)
        async with self.store.write() as tx:
            if await tx.user(username=username):
                raise InvalidField(f"user {username} exists", field="username")
            uid = await tx.insert_user(
                {
                    "username": username,
                    "display_name": display_name,
                    "password_hash": password_hash,
                    "role": role.value,
                    "department": department,
                    "locale": locale,
                    "extension": extension,
                    "active": True,
                    "created_at": self.clock(),
                }
            )
        return User(uid, username, display_name or username, role, department, locale, extension)

    async def _hash(self, password: str) -> str:
        # Argon2 spends ~0.2 s of CPU by design: in a worker thread, so that no sign-in
        # holds up the event loop (screen pops, call events, WeChat's answers) or, for a
        # new account, the write lock.
        return await asyncio.to_thread(self.hasher.hash, password)

    async def set_password(self, username: str, password: str) -> None:
        """Change a password (operators: ``hotline user passwd``)."""
        if len(password) < 8:
            raise InvalidField("password: at least 8 characters", field="password")
        password_hash = await self._hash(password)
        async with self.store.write() as tx:
            row = await tx.user(username=username)
            if row is None:
                raise InvalidField(f"no user {username}", field="username")
            await tx.update_user(row["id"], {"password_hash": password_hash})

    async def has_users(self) -> bool:
        """True once anybody can sign in."""
        async with self.store.read() as tx:
            return bool(await tx.list_users())

    async def users(self) -> list[User]:
        """Every account."""
        async with self.store.read() as tx:
            return [_user(r) for r in await tx.list_users()]

    async def login(self, username: str, password: str) -> Session:
        """Check the password and open a session."""
        async with self.store.read() as tx:
            row = await tx.user(username=username)
        if row is None or not row["active"]:
            # Hash anyway so that unknown names cost as much time as wrong passwords.
            await self._hash(password)
            raise AuthError("wrong username or password")
        try:
            await asyncio.to_thread(self.hasher.verify, row["password_hash"], password)
        except (VerificationError, InvalidHashError):
            raise AuthError("wrong username or password") from None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = self.clock()
        expires = now + timedelta(hours=self.session_hours)
        async with self.store.write() as tx:
            await tx.insert_session(
                {
                    "token_hash": _digest(token),
                    "user_id": row["id"],
                    "csrf_token": csrf,
                    "created_at": now,
                    "expires_at": expires,
                }
            )
        return Session(token, csrf, _user(row), expires)

    async def session(self, token: str) -> Session:
        """The live session of a cookie token."""
        async with self.store.read() as tx:
            s = await tx.session(_digest(token))
            row = await tx.user(user_id=s["user_id"]) if s else None
        if s is None or row is None or not row["active"] or s["expires_at"] <= self.clock():
            raise AuthError("session expired; sign in again")
        return Session(token, s["csrf_token"], _user(row), s["expires_at"])

    async def logout(self, token: str) -> None:
        """End a session."""
        async with self.store.write() as tx:
            await tx.delete_session(_digest(token))

    async def add_api_key(self, name: str) -> str:
        """Make a key for another system; only its hash is kept, so show it once."""
        if not _USERNAME.match(name):
            raise InvalidField("name: 2-64 letters, digits, . _ -", field="name")
        key = "hk_" + secrets.token_urlsafe(32)
        async with self.store.write() as tx:
            await tx.insert_api_key(
                {"name": name, "key_hash": _digest(key), "created_at": self.clock()}
            )
        return key

    async def api_client(self, key: str) -> str:
        """The name of the system a bearer key belongs to."""
        async with self.store.read() as tx:
            row = await tx.api_key(_digest(key))
        if row is None:
            raise AuthError("unknown or revoked API key")
        return str(row["name"])

    def viewer(self, user: User) -> Viewer:
        """The user as the ticket service sees them (with their department scope)."""
        return Viewer(
            user.username, user.role, user.department, self.tickets.scope_of(user.department)
        )

    async def audit(
        self,
        viewer: Viewer,
        action: str,
        *,
        ticket_id: int | None = None,
        reason: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write one line of the audit log (committed before the data is shown)."""
        async with self.store.write() as tx:
            await tx.add_audit(
                {
                    "at": self.clock(),
                    "username": viewer.username,
                    "role": viewer.role.value,
                    "action": action,
                    "ticket_id": ticket_id,
                    "reason": reason,
                    "detail": detail or {},
                }
            )

    async def unmask(self, number: str, viewer: Viewer, reason: str) -> dict[str, Any]:
        """A department needs the citizen's contact data: audited, with a reason."""
        if len(reason.strip()) < 4:
            raise InvalidField("say why you need the citizen's contact data", field="reason")
        async with self.store.read() as tx:
            row = await tx.ticket(number=number)
            citizen = await tx.get_citizen(row["citizen_id"]) if row and row["citizen_id"] else None
        await self.tickets.view(number, viewer)  # raises if the viewer may not see the ticket
        assert row is not None
        await self.audit(viewer, "unmask", ticket_id=row["id"], reason=reason.strip())
        if citizen is None:
            return {}
        return {
            "name": citizen["name"],
            "phone": display_phone(citizen["phone"]),
            "email": citizen["email"],
            "wechat_openid": citizen["wechat_openid"],
            "telegram_id": citizen["telegram_id"],
        }
