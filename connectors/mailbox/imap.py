"""IMAP intake: new letters in one folder become contacts; flagged only once they are committed.

Order per message: fetch → parse → hand to the sink (returns once durable) → flag
``$Hotline`` (and optionally move) → advance the cursor. A crash anywhere in between makes
the message come round again, and the sink's dedupe on Message-ID answers "duplicate":
nothing is lost, nothing is doubled. The cursor (UIDVALIDITY, last UID) is durable; a new
UIDVALIDITY re-reads the folder from the start, which dedupe makes safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aioimaplib  # type: ignore[import-untyped,unused-ignore]

from connectors.base import ConnectorHealth, ContactSink
from connectors.mailbox.intake import SaveAttachments, letter_contact, mailbox_of
from connectors.mailbox.parse import MailKind, parse_message

log = logging.getLogger(__name__)

LoadCursor = Callable[[str], Awaitable[dict[str, Any] | None]]
SaveCursor = Callable[[str, dict[str, Any]], Awaitable[None]]

_KIND_KEYWORD = {
    MailKind.BOUNCE: "$HotlineBounce",
    MailKind.AUTO_REPLY: "$HotlineAutoReply",
    MailKind.LIST: "$HotlineList",
    MailKind.SPAM: "$HotlineSpam",
}


class ImapError(Exception):
    """The IMAP server refused something we need (login, select, store)."""


@dataclass(frozen=True)
class ImapConfig:
    """Where the mailbox is and how to watch it."""

    host: str
    user: str
    password: str
    port: int = 143
    folder: str = "INBOX"
    ssl: bool = False
    use_idle: bool = True
    poll_seconds: float = 30.0
    idle_seconds: float = 300.0  # re-issue IDLE this often (RFC 9051: before 30 min)
    timeout: float = 20.0
    max_message_bytes: int = 30 * 1024 * 1024
    batch: int = 50
    reconnect_max_seconds: float = 30.0
    move_to: str | None = None  # a folder for processed letters, if the city wants one
    addresses: Mapping[str, str] = field(default_factory=dict)  # address → mailbox key
    default_mailbox: str = "mayor"
    processed_keyword: str = "$Hotline"


@dataclass
class ImapStats:
    """What the intake did since it started."""

    letters: int = 0
    duplicates: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    sessions: int = 0
    errors: int = 0


def _ok(resp: aioimaplib.Response, what: str) -> aioimaplib.Response:
    # aioimaplib answers NO/BAD as a response, not an exception.
    if resp.result != "OK":
        detail = b" ".join(bytes(x) for x in resp.lines).decode(errors="replace")
        raise ImapError(f"{what}: {resp.result} {detail}")
    return resp


def _uidvalidity(resp: aioimaplib.Response) -> int:
    for line in resp.lines:
        m = re.search(rb"\[UIDVALIDITY (\d+)\]", bytes(line))
        if m:
            return int(m.group(1))
    raise ImapError("SELECT answered without UIDVALIDITY")


def _literal(resp: aioimaplib.Response) -> bytes | None:
    for line in resp.lines:
        if isinstance(line, bytearray):
            return bytes(line)
    return None


class ImapIntake:
    """The mailbox connector's intake half (a `Connector`)."""

    name = "mailbox"

    def __init__(
        self,
        config: ImapConfig,
        sink: ContactSink,
        load_cursor: LoadCursor,
        save_cursor: SaveCursor,
        save_attachments: SaveAttachments,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.sink = sink
        self.load_cursor = load_cursor
        self.save_cursor = save_cursor
        self.save_attachments = save_attachments
        self.clock = clock
        self.stats = ImapStats()
        self.cursor_name = f"imap:{config.user}:{config.folder}"
        self._task: asyncio.Task[None] | None = None
        self._session_task: asyncio.Task[None] | None = None
        self._client: aioimaplib.IMAP4 | None = None
        self._connected = False
        self._detail = ""
        self._since: datetime | None = None
        self.idle_ready = asyncio.Event()  # set whenever the session sits in IDLE/poll wait

    # -- Connector ----------------------------------------------------------------------

    async def start(self) -> None:
        """Begin watching the folder (in a task; returns at once)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="imap-intake")

    async def stop(self) -> None:
        """Stop watching and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._connected = False

    def health(self) -> ConnectorHealth:
        """Connected or not, and the last problem."""
        return ConnectorHealth(self.name, True, self._connected, self._detail, self._since)

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.2
        while True:
            self._session_task = asyncio.create_task(self._session(), name="imap-session")
            try:
                await asyncio.wait({self._session_task})
            except asyncio.CancelledError:
                self._session_task.cancel()
                with contextlib.suppress(BaseException):
                    await self._session_task
                raise
            task = self._session_task
            exc = None if task.cancelled() else task.exception()
            was_up = self._connected
            self._connected = False
            self.idle_ready.clear()
            self._since = self.clock()
            self.stats.errors += 1
            self._detail = "connection lost" if exc is None else f"{type(exc).__name__}: {exc}"
            log.warning("imap %s: %s; reconnecting", self.cursor_name, self._detail)
            delay = 0.2 if was_up else min(self.config.reconnect_max_seconds, delay * 2)
            await asyncio.sleep(delay)

    def _lost(self, exc: Exception | None) -> None:
        # The server went away (restart, kill): end this session; _run makes a new one.
        if self._session_task is not None and not self._session_task.done():
            self._session_task.cancel()

    async def _session(self) -> None:
        cfg = self.config
        ssl_context = None
        if cfg.ssl:
            import ssl

            ssl_context = ssl.create_default_context()
        client = aioimaplib.IMAP4(
            host=cfg.host,
            port=cfg.port,
            timeout=cfg.timeout,
            conn_lost_cb=self._lost,
            ssl_context=ssl_context,
        )
        self._client = client
        try:
            await client.wait_hello_from_server()
            _ok(await client.login(cfg.user, cfg.password), "LOGIN")
            uidvalidity = _uidvalidity(_ok(await client.select(cfg.folder), "SELECT"))
            cursor = await self.load_cursor(self.cursor_name) or {}
            last = int(cursor.get("last_uid", 0))
            if cursor and cursor.get("uidvalidity") != uidvalidity:
                log.warning(
                    "imap %s: UIDVALIDITY %s → %s; re-reading the folder (dedupe keeps it safe)",
                    self.cursor_name,
                    cursor.get("uidvalidity"),
                    uidvalidity,
                )
                last = 0
            self._connected = True
            self._detail = ""
            self._since = self.clock()
            self.stats.sessions += 1
            idle = cfg.use_idle and client.has_capability("IDLE")
            while True:
                last = await self._drain(client, uidvalidity, last)
                if idle:
                    await self._idle(client)
                else:
                    self.idle_ready.set()
                    await asyncio.sleep(cfg.poll_seconds)
                    self.idle_ready.clear()
                    _ok(await client.noop(), "NOOP")
        finally:
            self._client = None
            await self._close(client)

    async def _close(self, client: aioimaplib.IMAP4) -> None:
        with contextlib.suppress(BaseException):
            if client.has_pending_idle():
                client.idle_done()
            if client.get_state() in ("AUTH", "SELECTED"):
                await asyncio.wait_for(client.logout(), 1)
        transport = getattr(client.protocol, "transport", None)
        if transport is not None:
            transport.close()
        for t in list(client.tasks):
            t.cancel()

    async def _idle(self, client: aioimaplib.IMAP4) -> None:
        idle = await client.idle_start(timeout=self.config.idle_seconds)
        self.idle_ready.set()
        try:
            while client.has_pending_idle():
                push = await client.wait_server_push(timeout=self.config.idle_seconds + 30)
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH or any(
                    b"EXISTS" in bytes(line) for line in push
                ):
                    client.idle_done()
                    break
        finally:
            self.idle_ready.clear()
        await asyncio.wait_for(idle, self.config.timeout)

    async def _drain(self, client: aioimaplib.IMAP4, uidvalidity: int, last: int) -> int:
        """Process every message after `last` not yet marked; returns the new last UID."""
        kw = self.config.processed_keyword
        while True:
            criteria = f"UID {last + 1}:* NOT KEYWORD {kw} NOT KEYWORD $HotlineIgnored"
            resp = _ok(await client.uid_search(criteria, charset=None), "SEARCH")
            words = bytes(resp.lines[0]).split() if resp.lines else []
            # "UID n:*" always matches the highest UID, even below n: filter.
            uids = sorted(int(w) for w in words if w.isdigit() and int(w) > last)
            if not uids:
                return last
            for uid in uids[: self.config.batch]:
                await self._one(client, uid)
                last = uid
            await self.save_cursor(self.cursor_name, {"uidvalidity": uidvalidity, "last_uid": last})

    async def _one(self, client: aioimaplib.IMAP4, uid: int) -> None:
        cfg = self.config
        resp = _ok(await client.uid("fetch", str(uid), "(UID RFC822.SIZE)"), "FETCH")
        m = re.search(rb"RFC822\.SIZE (\d+)", b" ".join(bytes(x) for x in resp.lines))
        if m is None:  # expunged meanwhile
            return
        size = int(m.group(1))
        too_large = size > cfg.max_message_bytes
        part = "BODY.PEEK[HEADER]" if too_large else "BODY.PEEK[]"
        raw = _literal(_ok(await client.uid("fetch", str(uid), f"(UID {part})"), "FETCH"))
        if raw is None:
            return
        mail = parse_message(raw)
        if mail.kind is not MailKind.LETTER:
            self.stats.ignored[mail.kind.value] = self.stats.ignored.get(mail.kind.value, 0) + 1
            log.info("imap uid %d: %s, kept out of tickets (%s)", uid, mail.kind, mail.subject)
            flags = f"$HotlineIgnored {_KIND_KEYWORD[mail.kind]}"
            _ok(await client.uid("store", str(uid), f"+FLAGS ({flags})"), "STORE")
            return
        contact = await letter_contact(
            mail,
            received_at=self.clock(),
            mailbox=mailbox_of(mail.to_addrs, cfg.addresses, cfg.default_mailbox),
            save=self.save_attachments,
            size=size,
            too_large=too_large,
        )
        result = await self.sink(contact)  # durable from here on
        if result.duplicate:
            self.stats.duplicates += 1
        else:
            self.stats.letters += 1
        _ok(
            await client.uid("store", str(uid), f"+FLAGS (\\Seen {cfg.processed_keyword})"), "STORE"
        )
        if cfg.move_to:
            _ok(await client.uid("move", str(uid), cfg.move_to), "MOVE")
