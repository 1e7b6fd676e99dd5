"""Holds the one AMI connection: login, events into the call tracker, keep-alive, reconnect, resync.

Built directly on asyncio streams and our own `frames.py` parser, not on panoramisk's `Manager`:
panoramisk 1.4 drops the connection on the `Atxfer successfully queued` reply (`KeyError:
'async'` in `Action.multi`), never resolves `QueueAdd` ("Added interface to queue" is taken for
the start of a list), re-sends unanswered actions after a reconnect (a transfer or a callback
would run late, or twice), reconnects after a fixed delay, and sends Pings without checking that
Asterisk answers them. With our parser the live session and `hotline ami replay` read the same
frames the same way, so a trace gives the same call records through either runner.

Contract: `start()` keeps a connection up until `stop()`, retrying with exponential backoff and
jitter. Each login is followed by a resync (`CoreShowChannels`, `QueueStatus`) that brings the
tracker in line with what Asterisk still has: channels that appeared while we were away are
added to their call (keyed by Linkedid, so nothing is counted twice), channels that vanished
are hung up, and updates that come from resync are flagged `reconstructed`. Actions are
correlated by ActionID and time-limited; on a lost connection pending actions fail with
`AmiConnectionError` and are never re-sent. Malformed frames and unknown events are logged and
skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from connectors.asterisk.errors import (
    AmiActionFailed,
    AmiConnectionError,
    AmiError,
    AmiLoginFailed,
    AmiTimeout,
)
from connectors.asterisk.events import CHANNEL_SNAPSHOT, UnknownEvent, decode, device_of
from connectors.asterisk.frames import Banner, Frame, FrameError, FrameParser, Message
from connectors.asterisk.tracker import (
    CallEnded,
    CallMerged,
    CallRecord,
    Mark,
    TrackerState,
    Update,
    apply,
)

__all__ = [
    "AmiConfig",
    "AmiHealth",
    "AmiResponse",
    "AmiSession",
    "CallUpdate",
    "Headers",
    "QueueMember",
    "backoff_delay",
]

log = logging.getLogger(__name__)

READ_CHUNK: Final = 64 * 1024
# Snapshot headers a CoreShowChannel item shares with Newchannel (same names, same meaning).
_SNAPSHOT: Final = CHANNEL_SNAPSHOT


class _SecretLike(Protocol):
    def get_secret_value(self) -> str: ...


class _AsteriskSettingsLike(Protocol):
    @property
    def host(self) -> str | None: ...
    @property
    def port(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def secret(self) -> _SecretLike: ...


@dataclass(frozen=True, slots=True)
class AmiConfig:
    """Where and how to reach Asterisk's AMI; the secret never appears in repr or logs."""

    host: str
    port: int = 5038
    username: str = "hotline"
    secret: str = field(default="", repr=False)
    connect_timeout: float = 5.0
    action_timeout: float = 5.0
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0

    @classmethod
    def from_settings(cls, asterisk: _AsteriskSettingsLike, **tuning: float) -> AmiConfig | None:
        """From the `asterisk` section of the settings; None when no host is set (connector off)."""
        if not asterisk.host:
            return None
        return cls(
            host=asterisk.host,
            port=asterisk.port,
            username=asterisk.username,
            secret=asterisk.secret.get_secret_value(),
            **tuning,
        )


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Seconds to wait before reconnect attempt `attempt` (0-based): doubling, capped, jittered.

    "Equal jitter": half the capped delay is fixed, the other half random, so a center's
    processes restarted together do not all hit a recovering Asterisk in the same instant.
    """
    capped = min(maximum, initial * 2.0 ** min(attempt, 30))
    return capped / 2 + rng.uniform(0.0, capped / 2)


@dataclass(frozen=True, slots=True)
class AmiResponse:
    """Asterisk's answer to one action: the response block and, for lists, the items."""

    action: str
    action_id: str
    frame: Frame
    items: tuple[Frame, ...] = ()

    @property
    def message(self) -> str:
        """Asterisk's `Message:` text (`Transfer succeeded`, `Channels will follow`...)."""
        return self.frame.get("Message", "")


@dataclass(frozen=True, slots=True)
class CallUpdate:
    """What the tracker emitted, for subscribers; `reconstructed` if resync filled part of it."""

    update: Update
    call_id: str
    reconstructed: bool = False


@dataclass(frozen=True, slots=True)
class QueueMember:
    """A queue member as Asterisk last described it (QueueStatus or QueueMember* events)."""

    queue: str
    interface: str
    name: str
    paused: bool
    paused_reason: str
    status: int
    in_call: bool


@dataclass(frozen=True, slots=True)
class AmiHealth:
    """For the console's status line: are we connected, since when, and what went wrong last."""

    connected: bool
    last_error: str | None
    connected_since: datetime | None
    reconnects: int
    skipped_frames: int
    asterisk_version: str | None
    resyncs: int


UpdateCallback = Callable[[CallUpdate], Awaitable[None]]
Clock = Callable[[Frame], datetime]


def wall_clock(_frame: Frame) -> datetime:
    """Receive time; events with `Timestamp:` (timestampevents = yes) use their own instead."""
    return datetime.now(UTC)


def _render(action: str, action_id: str, headers: Iterable[tuple[str, str]]) -> bytes:
    lines = [("Action", action), ("ActionID", action_id), *headers]
    for key, value in lines:
        # A CR or LF in a value would let text from a citizen or an agent inject AMI headers.
        if any(c in key or c in value for c in "\r\n"):
            raise ValueError(f"AMI header {key!r} contains a line break")
    return "".join(f"{key}: {value}\r\n" for key, value in lines).encode() + b"\r\n"


def _pairs(
    headers: Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]],
) -> list[tuple[str, str]]:
    if not isinstance(headers, Mapping):
        return list(headers)
    out: list[tuple[str, str]] = []
    for key, value in headers.items():
        if isinstance(value, str):
            out.append((key, value))
        else:
            out.extend((key, item) for item in value)  # e.g. several `Variable:` lines
    return out


def _seconds(duration: str) -> int:
    """`HH:MM:SS` (CoreShowChannel Duration) in seconds; 0 if unreadable."""
    try:
        hours, minutes, seconds = (int(part) for part in duration.split(":"))
    except ValueError:
        return 0
    return hours * 3600 + minutes * 60 + seconds


@dataclass(slots=True)
class _Pending:
    action: str
    future: asyncio.Future[AmiResponse]
    response: Frame | None = None
    listing: bool = False
    items: list[Frame] = field(default_factory=list)


@dataclass(slots=True)
class _Link:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    parser: FrameParser
    leftover: list[Message]


Headers = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]


def _noise(block: bytes) -> bool:
    """Dialplan chatter nobody here reads: VarSets of other variables, Newexten steps.

    Dropped before parsing (most of a call's events are these), unless one of our variables.
    """
    if block.startswith(b"Event: VarSet\r\n"):
        return b"HOTLINE_" not in block
    return block.startswith(b"Event: Newexten\r\n")


class AmiSession:
    """The AMI session; feed for the call tracker and carrier of call-control actions."""

    def __init__(
        self,
        config: AmiConfig,
        *,
        on_update: UpdateCallback | None = None,
        clock: Clock = wall_clock,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._rng = rng or random.Random()
        self._subscribers: list[UpdateCallback] = [on_update] if on_update else []
        self._state = TrackerState()
        self._members: dict[tuple[str, str], QueueMember] = {}
        self._reconstructed: set[str] = set()
        self._pending: dict[str, _Pending] = {}
        self._waiters: list[tuple[Callable[[Frame], bool], asyncio.Future[Frame]]] = []
        self._ids = itertools.count(1)
        self._id_prefix = f"hotline-{secrets.token_hex(3)}"
        self._writer: asyncio.StreamWriter | None = None
        self._connected = asyncio.Event()
        self._connected_since: datetime | None = None
        self._last_error: BaseException | None = None
        self._logins = 0
        self._skipped = 0
        self._resyncs = 0
        self._version: str | None = None
        self._hung_up_during_resync: set[str] | None = None
        self._outbox: asyncio.Queue[CallUpdate] = asyncio.Queue()
        self._run_task: asyncio.Task[None] | None = None
        self._dispatch_task: asyncio.Task[None] | None = None
        self._stopping = False

    # ------------------------------------------------------------------ public surface

    def subscribe(self, callback: UpdateCallback) -> Callable[[], None]:
        """Receive every call update, in order; returns the function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    @property
    def connected(self) -> bool:
        """Logged in and reading events right now."""
        return self._connected.is_set()

    @property
    def state(self) -> TrackerState:
        """The tracker's current state (calls in progress)."""
        return self._state

    def live_calls(self) -> list[CallRecord]:
        """Calls in progress, as far as they are known."""
        return [call.record for call in self._state.calls.values()]

    def is_reconstructed(self, call_id: str) -> bool:
        """Whether resync filled in part of this (live) call."""
        return call_id in self._reconstructed

    @property
    def queue_members(self) -> Mapping[tuple[str, str], QueueMember]:
        """Queue members by (queue, interface), as Asterisk last reported them."""
        return dict(self._members)

    def health(self) -> AmiHealth:
        """Connection status for the console."""
        return AmiHealth(
            connected=self.connected,
            last_error=str(self._last_error) if self._last_error else None,
            connected_since=self._connected_since,
            reconnects=max(0, self._logins - 1),
            skipped_frames=self._skipped,
            asterisk_version=self._version,
            resyncs=self._resyncs,
        )

    async def start(self) -> None:
        """Begin connecting in the background; returns at once (see `wait_connected`)."""
        if self._run_task is not None:
            return
        self._stopping = False
        self._dispatch_task = asyncio.create_task(self._dispatch(), name="ami-dispatch")
        self._run_task = asyncio.create_task(self._run(), name="ami-session")

    async def wait_connected(self, time_limit: float) -> None:
        """Wait for a logged-in connection; `AmiTimeout` (from the last error) if none came."""
        try:
            async with asyncio.timeout(time_limit):
                await self._connected.wait()
        except TimeoutError as exc:
            raise AmiTimeout("Login", time_limit) from (self._last_error or exc)

    async def stop(self) -> None:
        """Log off, close the connection and stop reconnecting; deliver queued updates first."""
        self._stopping = True
        if self.connected:
            with contextlib.suppress(AmiError):
                await self.send_action("Logoff", time_limit=1.0)
        if self._run_task is not None:
            self._run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_task
            self._run_task = None
        if self._dispatch_task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._outbox.join()
            self._dispatch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatch_task
            self._dispatch_task = None
        for _, waiter in self._waiters:
            waiter.cancel()
        self._waiters.clear()

    async def idle(self) -> None:
        """Wait until every update emitted so far has been delivered to the subscribers."""
        await self._outbox.join()

    def new_action_id(self) -> str:
        """A fresh ActionID (unique across reconnects and processes)."""
        return f"{self._id_prefix}-{next(self._ids)}"

    def expect_event(self, match: Callable[[Frame], bool]) -> asyncio.Future[Frame]:
        """A future for the next event frame that matches; register it before sending."""
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiters.append((match, future))
        return future

    async def send_action(
        self,
        action: str,
        headers: Headers = (),
        *,
        time_limit: float | None = None,
        action_id: str | None = None,
    ) -> AmiResponse:
        """Send one action and wait for its answer (the whole list for list actions).

        Raises `AmiActionFailed` with Asterisk's message on `Response: Error`, `AmiTimeout` when
        no answer comes in time, `AmiConnectionError` when not connected or the link drops.
        """
        writer = self._writer
        if writer is None or not self.connected:
            raise AmiConnectionError(f"{action}: AMI is not connected") from self._last_error
        limit = self.config.action_timeout if time_limit is None else time_limit
        action_id = action_id or self.new_action_id()
        data = _render(action, action_id, _pairs(headers))
        pending = _Pending(action, asyncio.get_running_loop().create_future())
        self._pending[action_id] = pending
        try:
            writer.write(data)
            async with asyncio.timeout(limit):
                return await pending.future
        except TimeoutError as exc:
            raise AmiTimeout(action, limit) from exc
        finally:
            self._pending.pop(action_id, None)

    async def resync(self) -> None:
        """Bring the tracker in line with Asterisk (`CoreShowChannels`, then `QueueStatus`)."""
        known = dict(self._state.channels)
        self._hung_up_during_resync = set()
        try:
            channels = await self.send_action("CoreShowChannels")
            now = self._clock(channels.frame)
            listed = {
                item["Uniqueid"]: item
                for item in channels.items
                if item.name == "CoreShowChannel" and "Uniqueid" in item
            }
            gone = self._hung_up_during_resync
            self._add_unknown_channels(listed, gone, now)
            self._hang_up_vanished(known, listed, gone, now)
            self._complete_queue_calls(listed, now)
            status = await self.send_action("QueueStatus")
            self._apply_queue_status(status.items, listed, now)
            self._resyncs += 1
        finally:
            self._hung_up_during_resync = None

    # ------------------------------------------------------------------ connection loop

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                link = await self._connect()
            except AmiError as exc:
                self._note_error(exc)
            else:
                attempt = 0
                await self._serve(link)
            if self._stopping:
                break
            delay = backoff_delay(
                attempt, self.config.backoff_initial, self.config.backoff_max, self._rng
            )
            attempt += 1
            log.info("AMI reconnect in %.2f s", delay)
            await asyncio.sleep(delay)

    def _note_error(self, exc: BaseException) -> None:
        self._last_error = exc
        log.warning("AMI %s:%s: %s", self.config.host, self.config.port, exc)

    async def _connect(self) -> _Link:
        cfg = self.config
        try:
            async with asyncio.timeout(cfg.connect_timeout):
                reader, writer = await asyncio.open_connection(cfg.host, cfg.port)
        except (OSError, TimeoutError) as exc:
            raise AmiConnectionError(f"cannot reach AMI at {cfg.host}:{cfg.port}") from exc
        link = _Link(reader, writer, FrameParser(skip=_noise), [])
        try:
            await self._login(link)
        except BaseException:
            await self._close(writer)
            raise
        return link

    async def _read_until(self, link: _Link, match: Callable[[Message], bool]) -> Message:
        while True:
            for index, message in enumerate(link.leftover):
                if match(message):
                    del link.leftover[: index + 1]
                    return message
            data = await link.reader.read(READ_CHUNK)
            if not data:
                raise AmiConnectionError("AMI closed the connection during login")
            link.leftover.extend(link.parser.feed(data))

    async def _login(self, link: _Link) -> None:
        cfg = self.config
        action_id = self.new_action_id()
        try:
            async with asyncio.timeout(cfg.connect_timeout):
                banner = await self._read_until(link, lambda m: isinstance(m, Banner))
                assert isinstance(banner, Banner)
                self._version = banner.version
                # Asterisk sends nothing but the banner before it has answered Login.
                link.writer.write(
                    _render(
                        "Login",
                        action_id,
                        [("Username", cfg.username), ("Secret", cfg.secret), ("Events", "on")],
                    )
                )
                answer = await self._read_until(
                    link, lambda m: isinstance(m, Frame) and m.get("ActionID") == action_id
                )
        except TimeoutError as exc:
            raise AmiTimeout("Login", cfg.connect_timeout) from exc
        except OSError as exc:
            raise AmiConnectionError("AMI connection failed during login") from exc
        assert isinstance(answer, Frame)
        if answer.get("Response") != "Success":
            raise AmiLoginFailed(answer.get("Message", answer.get("Response", "")))

    async def _serve(self, link: _Link) -> None:
        self._writer = link.writer
        self._logins += 1
        self._connected_since = datetime.now(UTC)
        self._connected.set()
        log.info("AMI logged in to %s:%s", self.config.host, self.config.port)
        reader = asyncio.create_task(self._read_loop(link), name="ami-read")
        pinger = asyncio.create_task(self._ping_loop(link.writer), name="ami-ping")
        resync = asyncio.create_task(self._resync_after_login(), name="ami-resync")
        try:
            lost = await reader
            if not self._stopping:
                self._note_error(lost)
        finally:
            self._connected.clear()
            self._connected_since = None
            self._writer = None
            for task in (reader, pinger, resync):
                task.cancel()
            await asyncio.gather(reader, pinger, resync, return_exceptions=True)
            self._fail_pending(AmiConnectionError("AMI connection lost"))
            await self._close(link.writer)

    async def _resync_after_login(self) -> None:
        try:
            await self.resync()
        except AmiError as exc:
            log.warning("AMI resync failed: %s", exc)

    @staticmethod
    async def _close(writer: asyncio.StreamWriter) -> None:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    def _fail_pending(self, error: AmiConnectionError) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(error)
        self._pending.clear()

    async def _ping_loop(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await asyncio.sleep(self.config.ping_interval)
            try:
                await self.send_action("Ping", time_limit=self.config.ping_timeout)
            except AmiTimeout as exc:
                # A silent Asterisk (hung, or a half-open TCP link): start over.
                self._note_error(exc)
                writer.transport.abort()
                return
            except AmiError:
                return

    async def _read_loop(self, link: _Link) -> AmiConnectionError:
        messages, link.leftover = link.leftover, []
        self._handle_all(messages)
        while True:
            try:
                data = await link.reader.read(READ_CHUNK)
            except OSError as exc:
                error = AmiConnectionError("AMI connection lost")
                error.__cause__ = exc
                return error
            if not data:
                self._handle_all(link.parser.close())
                return AmiConnectionError("AMI closed the connection")
            self._handle_all(link.parser.feed(data))

    # ------------------------------------------------------------------ incoming frames

    def _handle_all(self, messages: Iterable[Message]) -> None:
        for message in messages:
            try:
                self._handle(message)
            except Exception:
                # Whatever one frame does, the session goes on with the next.
                self._skipped += 1
                log.exception("AMI frame skipped after an error: %r", message)

    def _handle(self, message: Message) -> None:
        if isinstance(message, FrameError):
            self._skipped += 1
            log.warning("AMI input skipped: %s: %s", message.reason, message.excerpt)
            return
        if isinstance(message, Banner):
            return
        if message.kind == "response":
            self._on_response(message)
            return
        if message.kind != "event":
            self._skipped += 1
            log.warning("AMI block without Event or Response skipped: %r", message)
            return
        pending = self._pending.get(message.get("ActionID", ""))
        if pending is not None and pending.listing:
            pending.items.append(message)
            if message.get("EventList", "").lower() == "complete":
                self._resolve(pending, message.get("ActionID", ""))
            return
        for match, waiter in list(self._waiters):
            if waiter.done():
                self._waiters.remove((match, waiter))
            elif match(message):
                waiter.set_result(message)
                self._waiters.remove((match, waiter))
        self._on_event(message, synthetic=False)

    def _on_response(self, frame: Frame) -> None:
        action_id = frame.get("ActionID", "")
        pending = self._pending.get(action_id)
        if pending is None:
            log.debug("AMI response for nobody (late or foreign): %r", frame)
            return
        if frame.get("Response") == "Error":
            del self._pending[action_id]
            message = frame.get("Message", "error")
            if not pending.future.done():
                pending.future.set_exception(AmiActionFailed(pending.action, message, frame))
            return
        pending.response = frame
        # Only a list's items belong to the action; other events with its ActionID (such as
        # OriginateResponse) are events like any other, even in the same read.
        pending.listing = frame.get("EventList", "").lower() == "start"
        if not pending.listing:
            self._resolve(pending, action_id)

    def _resolve(self, pending: _Pending, action_id: str) -> None:
        assert pending.response is not None
        self._pending.pop(action_id, None)
        if not pending.future.done():
            pending.future.set_result(
                AmiResponse(pending.action, action_id, pending.response, tuple(pending.items))
            )

    def _on_event(self, frame: Frame, *, synthetic: bool) -> None:
        self._track_members(frame)
        event = decode(frame, self._clock(frame))
        if isinstance(event, UnknownEvent):
            if event.problem != "not modelled":
                log.warning("AMI event %s skipped: %s", event.name, event.problem)
            return
        if frame.name == "Hangup" and self._hung_up_during_resync is not None:
            self._hung_up_during_resync.add(frame.get("Uniqueid", ""))
        self._state, updates = apply(self._state, event)
        for update in updates:
            self._publish(update, synthetic)

    def _publish(self, update: Update, synthetic: bool) -> None:
        if isinstance(update, Mark):
            call_id = update.call_id
        elif isinstance(update, CallEnded):
            call_id = update.record.call_id
        elif isinstance(update, CallMerged):
            call_id = update.into
            if update.merged in self._reconstructed:
                self._reconstructed.add(update.into)
        else:
            call_id = ""
        if synthetic and call_id:
            self._reconstructed.add(call_id)
        reconstructed = call_id in self._reconstructed
        if isinstance(update, CallEnded):
            self._reconstructed.discard(call_id)
        self._outbox.put_nowait(CallUpdate(update, call_id, reconstructed))

    async def _dispatch(self) -> None:
        while True:
            item = await self._outbox.get()
            try:
                for callback in list(self._subscribers):
                    try:
                        await callback(item)
                    except Exception:
                        log.exception("call update subscriber failed on %r", item)
            finally:
                self._outbox.task_done()

    def _track_members(self, frame: Frame) -> None:
        name = frame.name
        if name not in ("QueueMember", "QueueMemberAdded", "QueueMemberPause", "QueueMemberStatus"):
            if name == "QueueMemberRemoved":
                self._members.pop((frame.get("Queue", ""), frame.get("Interface", "")), None)
            return
        # QueueStatus calls the interface Location and the name Name; the events do not.
        interface = frame.get("Interface") or frame.get("Location", "")
        queue = frame.get("Queue", "")
        self._members[(queue, interface)] = QueueMember(
            queue=queue,
            interface=interface,
            name=frame.get("MemberName") or frame.get("Name", interface),
            paused=frame.get("Paused") == "1",
            paused_reason=frame.get("PausedReason", ""),
            status=int(frame.get("Status", "0") or 0),
            in_call=frame.get("InCall") == "1",
        )

    # ------------------------------------------------------------------ resync

    def _synthesize(self, pairs: Iterable[tuple[str, str]], at: datetime) -> None:
        frame = Frame((*pairs, ("Timestamp", f"{at.timestamp():.6f}")))
        self._on_event(frame, synthetic=True)

    def _add_unknown_channels(
        self, listed: Mapping[str, Frame], gone: set[str], now: datetime
    ) -> None:
        # Each call's first channel (Uniqueid == Linkedid) first, so a call starts where it did.
        ordered = sorted(listed.values(), key=lambda i: i.get("Uniqueid") != i.get("Linkedid"))
        for item in ordered:
            uniqueid = item["Uniqueid"]
            if uniqueid in self._state.channels or uniqueid in gone:
                continue
            started = now - timedelta(seconds=_seconds(item.get("Duration", "")))
            pairs = [("Event", "Newchannel"), *((k, item[k]) for k in _SNAPSHOT if k in item)]
            log.info("AMI resync: channel %s appeared while disconnected", item.get("Channel"))
            self._synthesize(pairs, started)

    def _hang_up_vanished(
        self, known: Mapping[str, str], listed: Mapping[str, Frame], gone: set[str], now: datetime
    ) -> None:
        names = {uniqueid: name for name, uniqueid in self._state.names.items()}
        for uniqueid, call_id in known.items():
            if uniqueid in listed or uniqueid in gone or uniqueid not in self._state.channels:
                continue
            log.info("AMI resync: channel %s hung up while disconnected", names.get(uniqueid))
            self._synthesize(
                [
                    ("Event", "Hangup"),
                    ("Channel", names.get(uniqueid, "")),
                    ("Uniqueid", uniqueid),
                    ("Linkedid", call_id),
                    ("Cause", "0"),
                    ("Cause-txt", "Unknown"),
                ],
                now,
            )

    def _complete_queue_calls(self, listed: Mapping[str, Frame], now: datetime) -> None:
        """A caller bridged to a queue member while we were away: the queue call was answered."""
        for item in listed.values():
            if item.get("Application") != "Queue":
                continue
            call_id = self._state.channels.get(item["Uniqueid"])
            call = self._state.calls.get(call_id) if call_id else None
            if call is None:
                continue
            queue = item.get("ApplicationData", "").split(",")[0]
            snapshot = [(k, item[k]) for k in _SNAPSHOT if k in item]
            waited = _seconds(item.get("Duration", ""))
            if call.record.queue is None:
                self._synthesize(
                    [("Event", "QueueCallerJoin"), *snapshot, ("Queue", queue), ("Position", "1")],
                    now - timedelta(seconds=waited),
                )
            bridge = item.get("BridgeId", "")
            agent = next(
                (
                    other
                    for other in listed.values()
                    if bridge and other is not item and other.get("BridgeId") == bridge
                ),
                None,
            )
            if agent is None or call.record.answered:
                continue
            talked = _seconds(agent.get("Duration", ""))
            member = agent.get("CallerIDName") or item.get("ConnectedLineName", "")
            self._synthesize(
                [
                    ("Event", "AgentConnect"),
                    *snapshot,
                    *((f"Dest{k}", agent[k]) for k in _SNAPSHOT if k in agent),
                    ("Queue", queue),
                    ("Interface", device_of(agent.get("Channel", ""))),
                    ("MemberName", member),
                    # Estimates: the caller's age minus the agent leg's age; ring time unknown.
                    ("HoldTime", str(max(0, waited - talked))),
                    ("RingTime", "0"),
                ],
                now - timedelta(seconds=talked),
            )

    def _apply_queue_status(
        self, items: Iterable[Frame], listed: Mapping[str, Frame], now: datetime
    ) -> None:
        for item in items:
            if item.name == "QueueMember":
                self._track_members(item)
                continue
            if item.name != "QueueEntry":
                continue
            call_id = self._state.channels.get(item.get("Uniqueid", ""))
            call = self._state.calls.get(call_id) if call_id else None
            if call is None or call.record.queue is not None:
                continue
            base = listed.get(item["Uniqueid"])
            snapshot = [(k, base[k]) for k in _SNAPSHOT if base is not None and k in base]
            if base is None:
                snapshot = [
                    ("Channel", item.get("Channel", "")),
                    ("Uniqueid", item["Uniqueid"]),
                    ("Linkedid", call.record.call_id),
                ]
            waited = int(item.get("Wait", "0") or 0)
            self._synthesize(
                [
                    ("Event", "QueueCallerJoin"),
                    *snapshot,
                    ("Queue", item.get("Queue", "")),
                    ("Position", item.get("Position", "0")),
                ],
                now - timedelta(seconds=waited),
            )
