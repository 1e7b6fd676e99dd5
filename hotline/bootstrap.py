"""The composition root: the one place that names concrete classes and wires them."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from argon2 import PasswordHasher

from agent_console.app import make_app
from agent_console.web import ConsoleServices
from connectors.asterisk.intake import AsteriskConnector
from connectors.asterisk.session import AmiConfig
from connectors.base import Connector
from hotline.settings import Settings
from router.notices import CitizenNotices
from router.telephony import TelephonyDesk
from tickets.accounts import AccountService
from tickets.bus import EventBus, InProcessBus
from tickets.calls import CallLog
from tickets.outbox import Outbox, OutboxWorker, Sender
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
    outbox: Outbox
    app: web.Application
    calls: CallLog | None = None
    desk: TelephonyDesk | None = None
    connectors: list[Connector] = field(default_factory=list)
    senders: dict[str, Sender] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Schema to head, reference data loaded."""
        await self.store.migrate()
        await self.tickets.load_reference()

    async def start_background(self) -> None:
        """Connectors on, outbox worker running (what `hotline serve` adds to start)."""
        for connector in self.connectors:
            await connector.start()
        worker = OutboxWorker(self.outbox, self.senders)
        self._tasks.append(asyncio.create_task(worker.run(), name="outbox"))

    async def stop(self) -> None:
        """Stop background work and connectors, let deliveries finish, close the database."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for connector in reversed(self.connectors):
            await connector.stop()
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
    outbox = Outbox(store, clock)
    calls = CallLog(store, tickets, clock)
    desk = TelephonyDesk(
        tickets,
        calls,
        bus,
        service_level_seconds=settings.asterisk.service_level_seconds,
        missed_callback_hours=settings.asterisk.missed_callback_hours,
    )
    app = make_app(
        ConsoleServices(store=store, tickets=tickets, accounts=accounts, desk=desk, calls=calls),
        max_body_bytes=settings.max_body_bytes,
    )
    center = Center(settings, store, bus, tickets, accounts, outbox, app, calls, desk)
    ami = AmiConfig.from_settings(settings.asterisk)
    if ami is not None:
        asterisk = AsteriskConnector(ami, desk.on_signal, lines=settings.asterisk.lines)
        desk.telephony = asterisk
        center.connectors.append(asterisk)
    # Who reacts to which committed event: one visible table.
    for subscriber in (CitizenNotices(tickets, outbox),):
        bus.subscribe(subscriber)

    async def lifetime(_: web.Application) -> AsyncIterator[None]:
        await center.start()
        await center.start_background()
        yield
        await center.stop()

    app.cleanup_ctx.append(lifetime)
    return center
