"""The composition root: the one place that names concrete classes and wires them."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web
from argon2 import PasswordHasher
from telegram import Bot
from telegram.request import HTTPXRequest

from agent_console import admin_pages
from agent_console.app import make_app
from agent_console.briefing_pages import BRIEFINGS, render_messages
from agent_console.mailbox_guard import MailboxDesk
from agent_console.push import hub_of
from agent_console.review_pages import DESK, ReviewDesk
from agent_console.web import SERVICES, ConsoleServices
from connectors.asterisk.intake import AsteriskConnector
from connectors.asterisk.session import AmiConfig
from connectors.base import Connector
from connectors.mailbox.imap import ImapConfig, ImapIntake
from connectors.mailbox.smtp import SmtpConfig, SmtpSender
from connectors.media import CHAT_RULES, MediaDownloads
from connectors.telegram.bot import TelegramBot
from connectors.telegram.files import file_fetch
from connectors.telegram.sender import TelegramSender
from connectors.telegram.updates import FILE_REF_PREFIX
from connectors.wechat.callback import WechatCallback, media_fetch
from connectors.wechat.client import WechatApi
from connectors.wechat.connector import WechatConnector
from connectors.wechat.crypto import CallbackCrypto
from connectors.wechat.messages import MEDIA_REF_PREFIX
from connectors.wechat.sender import WechatSender
from hotline.settings import Settings
from reports.briefing import BriefingService
from reports.figures import Rules
from reports.ledger import Consequences
from reports.service import FigureService
from router.briefings import BriefingScheduler, Schedule
from router.channel_actions import ChannelActions
from router.deadlines import DeadlineWatcher
from router.department_notices import DepartmentNotices
from router.dispatching import DispatchDesk
from router.notices import CitizenNotices
from router.online_desk import OnlineDesk
from router.presence import PresenceBoard, QueueMirror
from router.progress import CitizenProgress
from router.rating_replies import RatingReplies
from router.telephony import TelephonyDesk
from tickets.accounts import AccountService
from tickets.admin_service import SlaSettings
from tickets.attachments import AttachmentRules, FileStore
from tickets.bus import EventBus, Handler, InProcessBus, Wanted
from tickets.calls import CallLog
from tickets.events import (
    CallAnswered,
    CallFinished,
    ContactAccepted,
    DomainEvent,
    TicketChanged,
)
from tickets.mailbox_records import MailboxEntry, MailboxRecords
from tickets.model import RatingLevel
from tickets.online_contacts import OnlineRecords
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
    online: OnlineDesk | None = None
    briefings: BriefingScheduler | None = None
    connectors: list[Connector] = field(default_factory=list)
    senders: dict[str, Sender] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Schema to head, reference data loaded."""
        await self.store.migrate()
        await self.tickets.load_reference()
        # Transfer lines and service levels: the admins' stored values (config seeds them).
        await admin_pages.start(
            self.app,
            self.settings.asterisk.lines,
            SlaSettings(service_level_seconds=self.settings.asterisk.service_level_seconds),
        )
        if self.online is not None:
            await self.online.start()  # the waiting queue, as the store kept it

    async def count_rollups(self, announce: Callable[[], None] = lambda: None) -> int | None:
        """Build the figure roll-ups if they are not built under today's limits (the first
        start after the migration that made them, or the limits changed): from then on every
        ticket change keeps them in step. `announce` is called before counting (minutes at
        millions of tickets). The rows written, or None if they were ready."""
        figures = self.app[SERVICES].figures
        if figures is None or await figures.rollups_built():
            return None
        announce()
        return await figures.rebuild_rollups(self.tickets.clock())

    async def start_background(self) -> None:
        """Connectors on, outbox worker running (what `hotline serve` adds to start)."""
        for connector in self.connectors:
            await connector.start()
        worker = OutboxWorker(self.outbox, self.senders, paused=self.tickets.intake_paused)
        self._tasks.append(asyncio.create_task(worker.run(), name="outbox"))
        watcher = DeadlineWatcher(self.tickets, self.tickets.clock)
        self._tasks.append(asyncio.create_task(watcher.run(), name="deadlines"))
        # Bad reviews: cases a crash left unopened, warnings before each 3-5-15 step.
        self._tasks.append(asyncio.create_task(self.app[DESK].run(), name="reviews"))
        if self.briefings is not None:
            self._tasks.append(asyncio.create_task(self.briefings.run(), name="briefings"))
        if self.online is not None:
            self._tasks.append(asyncio.create_task(self.online.run(), name="online"))

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


def _mailbox(settings: Settings, center: Center) -> MailboxRecords:
    """The mayor's mailbox: records always; IMAP intake and SMTP replies when configured."""
    cfg = settings.mailbox
    entries = [MailboxEntry(**m.model_dump()) for m in cfg.mailboxes]
    domain = cfg.smtp_from.rpartition("@")[2] or "hotline.local"
    records = MailboxRecords(
        center.store, center.tickets, center.outbox, entries, mail_domain=domain
    )
    files = FileStore(
        settings.data_dir / "attachments",
        AttachmentRules(
            max_bytes=cfg.attachment_max_bytes,
            max_total_bytes=cfg.attachment_max_total_bytes,
            max_count=cfg.attachment_max_count,
        ),
    )
    # The public letter form takes as much as its attachment rules allow, plus the text.
    center.app[SERVICES].mailbox = MailboxDesk(
        records, files, secret_key(settings),
        per_ip_per_hour=cfg.form_per_ip_per_hour, per_phone_per_day=cfg.form_per_phone_per_day,
        max_body_bytes=max(settings.max_body_bytes, cfg.attachment_max_total_bytes + 1024 * 1024),
    )  # fmt: skip
    if cfg.imap_host:
        imap = ImapConfig(
            host=cfg.imap_host,
            port=cfg.imap_port,
            ssl=cfg.imap_ssl,
            user=cfg.imap_user,
            password=cfg.imap_password.get_secret_value(),
            folder=cfg.imap_folder,
            poll_seconds=cfg.imap_poll_seconds,
            move_to=cfg.imap_move_to,
            max_message_bytes=cfg.max_message_bytes,
            addresses={m.address.lower(): m.key for m in entries if m.address},
            default_mailbox=entries[0].key if entries else "mayor",
        )
        center.connectors.append(
            ImapIntake(
                imap,
                records.accept,
                records.load_cursor,
                records.save_cursor,
                files.save_all,
                clock=center.tickets.clock,
            )
        )
    if cfg.smtp_host:
        smtp = SmtpConfig(
            host=cfg.smtp_host,
            port=cfg.smtp_port,
            user=cfg.smtp_user,
            password=cfg.smtp_password.get_secret_value(),
            use_tls=cfg.smtp_tls,
            from_addr=cfg.smtp_from,
            from_name=cfg.smtp_from_name,
            site_url=cfg.site_url,
        )
        center.senders["mailbox"] = records.sender(SmtpSender(smtp))
    return records


def _chats(settings: Settings, center: Center) -> DepartmentNotices:
    """WeChat and Telegram, each on when its token is set; the department group notices."""
    actions = ChannelActions(center.tickets, center.store, center.tickets.clock)
    replies = RatingReplies(center.tickets, center.tickets.accept)
    wx = settings.wechat
    if wx.token.get_secret_value():
        api = WechatApi(wx.app_id, wx.app_secret.get_secret_value(), base_url=wx.api_base_url)
        # Pictures, voice and video are fetched after the reply (needs the API's secret).
        media = (
            MediaDownloads(
                "wechat", MEDIA_REF_PREFIX, media_fetch(api),
                FileStore(settings.data_dir / "attachments", CHAT_RULES),
                center.tickets.attach_file,
            )
            if wx.app_id and wx.app_secret.get_secret_value()
            else None
        )  # fmt: skip
        crypto = CallbackCrypto(
            wx.token.get_secret_value(), wx.encoding_aes_key.get_secret_value(), wx.app_id
        )
        wechat = WechatConnector(
            WechatCallback(crypto, replies, media, progress=CitizenProgress(center.tickets)),
            api,
            media,
            center.tickets.files_to_fetch,
        )
        center.app.add_routes(wechat.routes())
        center.connectors.append(wechat)
        if wx.app_id and wx.app_secret.get_secret_value():

            async def last_seen(openid: str) -> datetime | None:
                return await actions.last_seen("wechat", openid)

            center.senders["wechat"] = WechatSender(
                api, wx.templates, last_seen=last_seen, now=center.tickets.clock,
                rating_url=wx.rating_url, timezone=settings.timezone,
            )  # fmt: skip
    tg = settings.telegram
    if tg.bot_token.get_secret_value():
        bot = Bot(
            tg.bot_token.get_secret_value(),
            base_url=tg.api_base_url,
            # files come from the same host: https://api.telegram.org/file/bot<token>/…
            base_file_url=tg.api_base_url.removesuffix("/bot") + "/file/bot",
            request=HTTPXRequest(connection_pool_size=8),
            get_updates_request=HTTPXRequest(read_timeout=40),
        )
        files = MediaDownloads(
            "telegram", FILE_REF_PREFIX, file_fetch(bot),
            FileStore(settings.data_dir / "attachments", CHAT_RULES), center.tickets.attach_file,
        )  # fmt: skip
        telegram = TelegramBot(
            bot, replies, actions,
            webhook_secret=tg.webhook_secret.get_secret_value(),
            webhook_url=tg.webhook_url, polling=tg.polling,
            media=files, pending=center.tickets.files_to_fetch,
        )  # fmt: skip
        center.app.add_routes(telegram.routes())
        center.connectors.append(telegram)
        center.senders["telegram"] = TelegramSender(bot, settings.timezone)
    return DepartmentNotices(center.tickets, center.store, center.outbox)


def _briefings(settings: Settings, center: Center) -> BriefingScheduler:
    """The leaders' briefing: its pages' service, and the schedule that mails and posts it."""
    cfg = settings.briefing
    figures = center.app[SERVICES].figures or FigureService(center.store)
    briefings = BriefingService(center.tickets, figures, min_follow_ups=cfg.min_follow_ups)
    center.app[BRIEFINGS] = briefings
    schedule = Schedule.parse(
        cfg.time,
        weekly_weekday=cfg.weekly_weekday,
        monthly_day=cfg.monthly_day,
        catch_up=timedelta(hours=cfg.catch_up_hours),
        timezone=settings.timezone,
    )
    site_url = settings.mailbox.site_url
    return BriefingScheduler(
        briefings,
        center.outbox,
        lambda b: render_messages(b, settings.timezone, site_url),
        schedule,
        center.tickets.clock,
        emails=cfg.leader_emails,
        telegram_departments=cfg.telegram_departments,
    )


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
    presence = PresenceBoard()
    dispatching = DispatchDesk(tickets)
    desk = TelephonyDesk(
        tickets,
        calls,
        bus,
        service_level_seconds=settings.asterisk.service_level_seconds,
        missed_callback_hours=settings.asterisk.missed_callback_hours,
        presence=presence,
    )
    QueueMirror(presence, lambda: desk.telephony)  # after-call work pauses the queue member
    online = OnlineDesk(
        tickets, OnlineRecords(store, outbox), bus, presence,
        offer_seconds=settings.online.offer_seconds,
    )  # fmt: skip
    app = make_app(
        ConsoleServices(
            store=store,
            tickets=tickets,
            accounts=accounts,
            desk=desk,
            calls=calls,
            dispatching=dispatching,
            figures=FigureService(
                store,
                rules=Rules(
                    response_seconds=settings.figures.response_seconds,
                    default_response_seconds=settings.figures.default_response_seconds,
                    feedback_hours=settings.figures.feedback_hours,
                    satisfied=frozenset(RatingLevel(v) for v in settings.figures.satisfied),
                    weights=settings.figures.weights,
                ),
                service_level_seconds=settings.asterisk.service_level_seconds,
            ),
            presence=presence,
            online=online,
            files=FileStore(settings.data_dir / "attachments"),
            recordings_dir=settings.recordings_dir or settings.data_dir / "recordings",
        ),
        max_body_bytes=settings.max_body_bytes,
    )
    center = Center(settings, store, bus, tickets, accounts, outbox, app, calls, desk, online)
    online.reachable = hub_of(app).agents_online  # offers only to an open workspace
    ami = AmiConfig.from_settings(settings.asterisk)
    if ami is not None:
        asterisk = AsteriskConnector(ami, desk.on_signal, lines=settings.asterisk.lines)
        desk.telephony = asterisk
        center.connectors.append(asterisk)
    mailbox = _mailbox(settings, center)
    department_notices = _chats(settings, center)
    for channel, sender in list(center.senders.items()):
        center.senders[channel] = online.watch(sender)  # replies' outcomes shown live
    reviews = ReviewDesk(  # bad ratings open 3-5-15 cases; the staff ledger's table
        store, tickets, Consequences(settings.reviews.consequences), settings.reviews.warn_share
    )
    app[DESK] = reviews
    center.briefings = _briefings(settings, center)
    # Who reacts to which committed event: one visible table.
    subscribers: tuple[tuple[Handler, tuple[type[DomainEvent], ...], Wanted | None], ...] = (
        (CitizenNotices(tickets, outbox), (TicketChanged,), None),
        (dispatching, (ContactAccepted,), dispatching.wants),  # urgent new tickets only
        (presence, (CallAnswered, CallFinished), None),
        (mailbox, (TicketChanged,), None),
        (department_notices, (TicketChanged,), None),
        (reviews, (TicketChanged,), None),
        (online, (ContactAccepted,), online.wants),  # online channels only
    )
    for subscriber, kinds, when in subscribers:
        bus.subscribe(subscriber, *kinds, when=when)
    # The browsers' sockets: inline, so a pop is enqueued inside publish (the hub never waits).
    bus.subscribe_inline(hub_of(app).on_event)

    async def lifetime(_: web.Application) -> AsyncIterator[None]:
        await center.start()
        await center.start_background()
        yield
        await center.stop()

    app.cleanup_ctx.append(lifetime)
    return center
