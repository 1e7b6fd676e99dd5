"""The composition root: the one place that names concrete classes and wires them."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from argon2 import PasswordHasher

from agent_console.app import make_app
from agent_console.web import ConsoleServices
from hotline.settings import Settings
from tickets.accounts import AccountService
from tickets.bus import EventBus, InProcessBus
from tickets.service import Clock, TicketService, system_clock
from tickets.store import Store, create_store


@dataclass
class Center:
    """Everything one `hotline serve` process runs."""

    settings: Settings
    store: Store
    bus: EventBus
    tickets: TicketService
    accounts: AccountService
    app: web.Application

    async def start(self) -> None:
        """Schema to head, reference data loaded."""
        await self.store.migrate()
        await self.tickets.load_reference()

    async def stop(self) -> None:
        """Let deliveries in flight finish, then close the database."""
        if isinstance(self.bus, InProcessBus):
            await self.bus.drain()
        await self.store.close()


def secret_key(settings: Settings) -> bytes:
    """The configured key, or one made once and kept (0600) in the data directory."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir / "secret.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def build(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    store: Store | None = None,
    bus: EventBus | None = None,
    hasher: PasswordHasher | None = None,
) -> Center:
    """Wire a center from settings; tests pass their own clock, store or bus."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    store = store or create_store(settings.effective_database_url)
    bus = bus or InProcessBus()
    tickets = TicketService(
        store=store,
        bus=bus,
        rules=settings.tickets,
        forgery_key=secret_key(settings),
        clock=clock,
        timezone=settings.timezone,
    )
    accounts = AccountService(store, tickets, settings.session_hours, clock, hasher)
    app = make_app(
        ConsoleServices(store=store, tickets=tickets, accounts=accounts),
        max_body_bytes=settings.max_body_bytes,
    )
    center = Center(settings, store, bus, tickets, accounts, app)

    async def lifetime(_: web.Application) -> AsyncIterator[None]:
        await center.start()
        yield
        await center.stop()

    app.cleanup_ctx.append(lifetime)
    return center
