"""A protocol-faithful fake Asterisk AMI server on loopback that replays recorded traces.

What it says and when follows the recordings in `../shared/ami-traces/` (Asterisk 22.10.1 where we
have them): the banner and nothing else until Login is answered; `Response: Success` with
`Message: Authentication accepted` then `FullyBooted`, or `Response: Error` / `Message:
Authentication failed` and the connection closed; list actions as a `EventList: start` response,
items carrying the ActionID, and a `...Complete` event with `ListItems`; ActionID echoed; errors
with Asterisk's own messages. Replies that no recording shows (marked `# source:` below) use the
text of Asterisk's `manager.c` / `app_queue.c`.

A trace is replayed after the first successful login. When a `<trace>.sent.txt` exists beside it,
the replay is a script: it stops where the recorded client sent an action, waits until our client
sends an action of the same name, and goes on with the recorded answer (ActionID rewritten to
ours). Actions the script does not expect are answered at once from the fake's own state: a
channel table and queue tables kept up to date from every event it emits, so `CoreShowChannels`
and `QueueStatus` describe what the stream has said so far, as they would on a real Asterisk.

Back door: `received_actions`, `push_events()`, `drop_connection()`, `set_failure()`,
`set_silent()`, `push_raw()`, `wait_expecting()`, `wait_played()`, `wait_logins()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from connectors.asterisk.events import CHANNEL_SNAPSHOT
from connectors.asterisk.frames import Banner, Frame, FrameParser, parse_frames

__all__ = ["DEFAULT_MEMBERS", "AmiServer", "Script", "load_script", "render"]

EOL: Final = "\r\n"
DEFAULT_VERSION: Final = "11.0.0"  # Asterisk 22.10.1 announces AMI 11.0.0
WAIT: Final = 5.0  # the back door's waits fail a test after this many seconds

Pairs = Sequence[tuple[str, str]]
EventInput = Frame | Mapping[str, str] | Pairs

# The queue as recorded on the lab Asterisk (queues.conf: hotline, static members 8001 and 8002).
DEFAULT_MEMBERS: Final[tuple[dict[str, str], ...]] = (
    {"Queue": "hotline", "MemberName": "Agent Zhang", "Interface": "PJSIP/8001"},
    {"Queue": "hotline", "MemberName": "Agent Li", "Interface": "PJSIP/8002"},
)

# Headers of a channel snapshot (Asterisk 12+), in the order Asterisk writes them.
_SNAPSHOT: Final = CHANNEL_SNAPSHOT
# QueueMember* events (recorded) and QueueStatus's QueueMember items (recorded) differ slightly.
_MEMBER_EVENT_KEYS: Final = (
    "Queue",
    "MemberName",
    "Interface",
    "StateInterface",
    "Membership",
    "Penalty",
    "CallsTaken",
    "LastCall",
    "LastPause",
    "LoginTime",
    "InCall",
    "Status",
    "Paused",
    "PausedReason",
    "Ringinuse",
    "Wrapuptime",
)
_MEMBER_STATUS_KEYS: Final = tuple(k for k in _MEMBER_EVENT_KEYS[3:] if k not in ("Ringinuse",))
_MARKER = re.compile(rb"^#>> t=[\d.]+ rx_offset=(\d+)\r?$", re.MULTILINE)


def render(pairs: Iterable[tuple[str, str]]) -> bytes:
    """One AMI block on the wire: `Key: Value` lines and the blank line that ends it."""
    return ("".join(f"{key}: {value}{EOL}" for key, value in pairs) + EOL).encode()


def _frame(event: EventInput) -> Frame:
    if isinstance(event, Frame):
        return event
    if isinstance(event, Mapping):
        return Frame(tuple((str(k), str(v)) for k, v in event.items()))
    return Frame(tuple(event))


# ---------------------------------------------------------------------------------- scripts


@dataclass(frozen=True, slots=True)
class Send:
    """Send a recorded block to the logged-in clients."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class Expect:
    """Wait until the client sends this action (case-insensitive name); `recorded` is the block."""

    action: str
    recorded: Frame


@dataclass(frozen=True, slots=True)
class Script:
    """A recorded session as steps, plus the banner version it opened with."""

    version: str
    steps: tuple[Send | Expect, ...]

    @property
    def expected(self) -> tuple[Frame, ...]:
        """The actions the recorded client sent, in order."""
        return tuple(step.recorded for step in self.steps if isinstance(step, Expect))


def _sent_actions(sent: bytes) -> list[tuple[int, Frame]]:
    marks = list(_MARKER.finditer(sent))
    out: list[tuple[int, Frame]] = []
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(sent)
        (block,) = [m for m in parse_frames(sent[mark.end() : end]) if isinstance(m, Frame)]
        out.append((int(mark.group(1)), block))
    return out


def load_script(path: str | Path) -> Script:
    """Read a `.ami` capture (and its `.sent.txt`, if any) into a replay script.

    Without `.sent.txt` (third-party captures) only the events are kept: responses there answer
    somebody else's actions, and the fake answers ours itself.
    """
    path = Path(path)
    data = path.read_bytes()
    sent_path = path.with_name(path.name.removesuffix(".ami") + ".sent.txt")
    parser = FrameParser()
    steps: list[Send | Expect] = []
    version = DEFAULT_VERSION

    def take(chunk: bytes, final: bool = False) -> None:
        nonlocal version
        messages = parser.feed(chunk) + (parser.close() if final else [])
        for message in messages:
            if isinstance(message, Banner):
                version = message.version
            elif isinstance(message, Frame) and (
                message.kind == "event" or (message.kind == "response" and sent_path.exists())
            ):
                steps.append(Send(message))

    if not sent_path.exists():
        take(data, final=True)
        return Script(version, tuple(steps))
    position = 0
    for offset, action in _sent_actions(sent_path.read_bytes()):
        take(data[position:offset])
        steps.append(Expect(action.get("Action", ""), action))
        position = offset
    take(data[position:], final=True)
    return Script(version, tuple(steps))


# ---------------------------------------------------------------------------------- state


@dataclass(slots=True)
class _Channel:
    snapshot: dict[str, str]
    created: float
    application: str = ""
    data: str = ""
    bridge: str = ""


@dataclass(slots=True)
class _Entry:
    queue: str
    snapshot: dict[str, str]
    joined: float


@dataclass(eq=False, slots=True)
class _Conn:
    writer: asyncio.StreamWriter
    logged_in: bool = False
    events: bool = True

    def send(self, *blocks: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(b"".join(blocks))


@dataclass(slots=True)
class _Member:
    fields: dict[str, str] = field(default_factory=dict)

    def event_pairs(self) -> list[tuple[str, str]]:
        return [(k, self.fields.get(k, "")) for k in _MEMBER_EVENT_KEYS]

    def status_pairs(self) -> list[tuple[str, str]]:
        f = self.fields
        return [
            ("Queue", f["Queue"]),
            ("Name", f["MemberName"]),
            ("Location", f["Interface"]),
            *[(k, f.get(k, "")) for k in _MEMBER_STATUS_KEYS],
        ]


def _member(fields: Mapping[str, str], membership: str = "static") -> _Member:
    base = {
        "StateInterface": fields["Interface"],
        "Membership": membership,
        "Penalty": "0",
        "CallsTaken": "0",
        "LastCall": "0",
        "LastPause": "0",
        "LoginTime": str(int(time.time())),
        "InCall": "0",
        "Status": "1",
        "Paused": "0",
        "PausedReason": "",
        "Ringinuse": "0",
        "Wrapuptime": "0",
    }
    return _Member({**base, **fields})


def _duration(since: float) -> str:
    seconds = int(time.monotonic() - since)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# What an action handler answers: bytes go to the asking client, frames are emitted as events
# to every client afterwards (Asterisk writes the response before the events it causes).
Reply = list[bytes | Frame]


class AmiServer:
    """The fake: `async with AmiServer(...) as ami:` or `await start()` / `await stop()`."""

    def __init__(
        self,
        username: str = "hotline",
        secret: str = "hotline12345",
        *,
        trace: str | Path | None = None,
        members: Iterable[Mapping[str, str]] = DEFAULT_MEMBERS,
        check_channels: bool = True,
        login_failure_delay: float = 0.0,
    ) -> None:
        self.username = username
        self.secret = secret
        self.script = load_script(trace) if trace is not None else None
        self.version = self.script.version if self.script else DEFAULT_VERSION
        self.check_channels = check_channels
        # Asterisk sleeps 1 s before answering a failed login; tests keep it at 0.
        self.login_failure_delay = login_failure_delay
        self.host = "127.0.0.1"
        self.port = 0
        self.received_actions: list[dict[str, str]] = []
        self.received_frames: list[Frame] = []
        self.logins = 0
        self.failures: dict[str, str] = {}
        self.silent: set[str] = set()
        self.originate_reason = 4
        self.channels: dict[str, _Channel] = {}
        self.entries: dict[str, _Entry] = {}
        self.members: dict[tuple[str, str], _Member] = {
            (m["Queue"], m["Interface"]): _member(m) for m in members
        }
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._player: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        self._expecting: Expect | None = None
        self._upcoming: Expect | None = None
        self._handed: asyncio.Queue[tuple[_Conn, Frame]] = asyncio.Queue()
        self._action_ids: dict[str, str] = {}
        self._played = asyncio.Event()
        self._has_client = asyncio.Event()
        self._booted = time.monotonic()
        self._uniqueid = 0

    # ------------------------------------------------------------------ lifetime

    async def start(self) -> AmiServer:
        """Listen on 127.0.0.1 at a free port (see `port`)."""
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and close every accepted connection (Python 3.11 leaves them open)."""
        if self._player is not None:
            self._player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._player
            self._player = None
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            conn.writer.close()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> AmiServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ back door

    def push_events(self, events: str | bytes | Iterable[EventInput]) -> None:
        """Emit events now, to every logged-in client; with none logged in they are lost.

        Either way they update the fake's channel and queue tables, as on a real Asterisk where
        calls go on while no AMI client listens.
        """
        if isinstance(events, str | bytes):
            frames = [m for m in parse_frames(events) if isinstance(m, Frame) and m.kind == "event"]
        else:
            frames = [_frame(event) for event in events]
        for frame in frames:
            self._emit(frame)

    def push_raw(self, data: bytes) -> None:
        """Write bytes as they are to every logged-in client (junk, truncated frames...)."""
        for conn in list(self._conns):
            if conn.logged_in:
                conn.send(data)

    def drop_connection(self) -> int:
        """Cut every client connection at once (no Goodbye), as a crash or a network fault does."""
        conns = list(self._conns)
        for conn in conns:
            conn.writer.transport.abort()
        return len(conns)

    def set_failure(self, action: str, message: str | None) -> None:
        """Answer `action` with `Response: Error` and this message from now on (None: clear)."""
        if message is None:
            self.failures.pop(action.lower(), None)
        else:
            self.failures[action.lower()] = message

    def set_silent(self, action: str, silent: bool = True) -> None:
        """Never answer `action` (an Asterisk that stopped answering)."""
        (self.silent.add if silent else self.silent.discard)(action.lower())

    def actions_named(self, name: str) -> list[Frame]:
        """The blocks the clients sent for one action, in order."""
        return [f for f in self.received_frames if f.get("Action", "").lower() == name.lower()]

    async def wait_expecting(self, action: str) -> Frame:
        """Wait until the script stops for `action`; returns the recorded client block."""
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(
                lambda: (
                    self._expecting is not None and self._expecting.action.lower() == action.lower()
                )
            )
            assert self._expecting is not None
            return self._expecting.recorded

    async def wait_played(self) -> None:
        """Wait until the script has sent everything it can (it may wait for a final Logoff)."""
        async with asyncio.timeout(WAIT):
            await self._played.wait()

    async def wait_logins(self, count: int) -> None:
        """Wait until `count` successful logins happened in total."""
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: self.logins >= count)

    # ------------------------------------------------------------------ connections

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        conn = _Conn(writer)
        self._conns.add(conn)
        parser = FrameParser()
        try:
            conn.send(f"Asterisk Call Manager/{self.version}{EOL}".encode())
            while not writer.is_closing():
                data = await reader.read(65536)
                if not data:
                    break
                for message in parser.feed(data):
                    if isinstance(message, Frame) and not writer.is_closing():
                        await self._on_action(conn, message)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._conns.discard(conn)
            if not any(c.logged_in for c in self._conns):
                self._has_client.clear()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._handlers.discard(task)

    async def _on_action(self, conn: _Conn, frame: Frame) -> None:
        action = frame.get("Action", "")
        self.received_frames.append(frame)
        self.received_actions.append({k: frame[k] for k in frame})
        name = action.lower()
        if name in self.silent:
            return
        if not action:
            conn.send(self._error(frame, "Missing action in request"))
            return
        if name == "login":
            await self._login(conn, frame)
            return
        if not conn.logged_in and name not in ("logoff", "challenge"):
            conn.send(self._error(frame, "Permission denied"))
            return
        if name in self.failures:
            conn.send(self._error(frame, self.failures[name]))
            return
        if self._upcoming is not None and self._upcoming.action.lower() == name:
            # The script's next recorded action: held until the replay gets there, even if our
            # client sends it earlier than the recorded one did.
            self._upcoming = None
            self._handed.put_nowait((conn, frame))
            return
        handler = self._handlers_by_name.get(name)
        if handler is None:
            # Asterisk 22, recorded: unknown actions and the RequestBadFormat security event.
            conn.send(
                self._error(
                    frame,
                    f"Invalid/unknown command: {action}. "
                    "Use Action: ListCommands to show available commands.",
                )
            )
            return
        for item in handler(self, frame):
            if isinstance(item, Frame):
                self._emit(item)
            else:
                conn.send(item)
        if name == "logoff":
            conn.writer.close()

    async def _login(self, conn: _Conn, frame: Frame) -> None:
        if conn.logged_in:
            conn.send(self._ack(frame, "Already authenticated"))  # source: manager.c
            return
        if frame.get("Username", "").lower() != self.username.lower() or (
            frame.get("Secret") != self.secret
        ):
            if self.login_failure_delay:
                await asyncio.sleep(self.login_failure_delay)
            # Recorded (panoramisk__login_failed); Asterisk then ends the session.
            conn.send(self._error(frame, "Authentication failed"))
            conn.writer.close()
            return
        conn.logged_in = True
        conn.events = frame.get("Events", "on").lower() not in ("off", "no", "false")
        self._has_client.set()
        async with self._changed:
            self.logins += 1
            self._changed.notify_all()
        uptime = str(int(time.monotonic() - self._booted))
        conn.send(
            self._ack(frame, "Authentication accepted"),
            render(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", uptime),
                    ("LastReload", uptime),
                    ("Status", "Fully Booted"),
                ]
            ),
        )
        if self.script is not None and self._player is None:
            steps = self.script.steps
            login = next(
                (i for i, s in enumerate(steps) if isinstance(s, Expect) and s.action == "Login"),
                -1,
            )
            self._upcoming = self._next_expect(steps, login + 1)
            self._player = asyncio.create_task(self._play(self.script))

    # ------------------------------------------------------------------ replay

    async def _set_expecting(self, step: Expect | None) -> None:
        async with self._changed:
            self._expecting = step
            self._changed.notify_all()

    def _next_expect(self, steps: Sequence[Send | Expect], start: int) -> Expect | None:
        return next((s for s in steps[start:] if isinstance(s, Expect)), None)

    async def _play(self, script: Script) -> None:
        steps = script.steps
        for index, step in enumerate(steps):
            if isinstance(step, Expect):
                if step.action.lower() == "login":
                    continue  # the login that started the replay is this one (see `_login`)
                await self._set_expecting(step)
                conn, frame = await self._handed.get()
                await self._set_expecting(None)
                self._upcoming = self._next_expect(steps, index + 1)
                self._action_ids[step.recorded.get("ActionID", "")] = frame.get("ActionID", "")
                if step.action.lower() == "logoff":
                    self._played.set()
                continue
            message = step.frame
            recorded_id = message.get("ActionID")
            if recorded_id is not None:
                if recorded_id == "rec-1" and message.kind == "response":
                    continue  # the recorded login answer: `_login` sent ours already
                ours = self._action_ids.get(recorded_id, recorded_id)
                message = Frame(
                    tuple((k, ours if k.lower() == "actionid" else v) for k, v in message.pairs)
                )
            if message.kind == "response":
                for conn in list(self._conns):
                    if conn.logged_in:
                        conn.send(render(message.pairs))
                if message.get("Response") == "Goodbye":
                    for conn in list(self._conns):
                        conn.writer.close()
            else:
                await self._has_client.wait()
                if message.get("Event") == "FullyBooted":
                    continue  # `_login` sent one for this session already
                self._emit(message)
                if message.get("Event") == "Shutdown":
                    # Recorded (reload-and-shutdown): the last block, then Asterisk closes.
                    for conn in list(self._conns):
                        conn.writer.close()
            await asyncio.sleep(0)
        self._played.set()

    # ------------------------------------------------------------------ emitting

    def _emit(self, frame: Frame) -> None:
        self._observe(frame)
        data = render(frame.pairs)
        for conn in list(self._conns):
            if conn.logged_in and conn.events:
                conn.send(data)

    def _observe(self, frame: Frame) -> None:
        name = frame.get("Event", "")
        uniqueid = frame.get("Uniqueid", "")
        if name == "Newchannel" and uniqueid and "Linkedid" in frame:
            self.channels[uniqueid] = _Channel({}, time.monotonic())
        channel = self.channels.get(uniqueid)
        if channel is not None and frame.get("Channel"):
            channel.snapshot.update({k: frame[k] for k in _SNAPSHOT if k in frame})
            if name == "Newexten":
                channel.application = frame.get("Application", "")
                channel.data = frame.get("AppData", "")
            elif name == "BridgeEnter":
                channel.bridge = frame.get("BridgeUniqueid", "")
            elif name == "BridgeLeave":
                channel.bridge = ""
            elif name == "Hangup":
                del self.channels[uniqueid]
                self.entries.pop(uniqueid, None)
        if name == "QueueCallerJoin" and uniqueid:
            snapshot = {k: frame[k] for k in _SNAPSHOT if k in frame}
            self.entries[uniqueid] = _Entry(frame.get("Queue", ""), snapshot, time.monotonic())
        elif name in ("QueueCallerLeave", "QueueCallerAbandon"):
            self.entries.pop(uniqueid, None)
        elif name in ("QueueMemberAdded", "QueueMemberPause", "QueueMemberStatus"):
            key = (frame.get("Queue", ""), frame.get("Interface", ""))
            member = self.members.setdefault(key, _member(frame))
            member.fields.update({k: frame[k] for k in frame if k not in ("Event", "Privilege")})
        elif name == "QueueMemberRemoved":
            self.members.pop((frame.get("Queue", ""), frame.get("Interface", "")), None)

    # ------------------------------------------------------------------ answers

    @staticmethod
    def _id(frame: Frame) -> list[tuple[str, str]]:
        return [("ActionID", frame["ActionID"])] if "ActionID" in frame else []

    def _ack(self, frame: Frame, message: str) -> bytes:
        return render([("Response", "Success"), *self._id(frame), ("Message", message)])

    def _error(self, frame: Frame, message: str) -> bytes:
        return render([("Response", "Error"), *self._id(frame), ("Message", message)])

    def _list(self, frame: Frame, message: str, complete: str, items: list[Pairs]) -> Reply:
        ident = self._id(frame)
        return [
            render([("Response", "Success"), *ident, ("EventList", "start"), ("Message", message)]),
            *[render(item) for item in items],
            render(
                [
                    ("Event", complete),
                    *ident,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(items))),
                ]
            ),
        ]

    def _unknown_channel(self, name: str) -> bool:
        if not self.check_channels:
            return False
        return all(c.snapshot.get("Channel") != name for c in self.channels.values())

    def _a_ping(self, frame: Frame) -> Reply:
        return [
            render(
                [
                    ("Response", "Success"),
                    *self._id(frame),
                    ("Ping", "Pong"),
                    ("Timestamp", f"{time.time():.6f}"),
                ]
            )
        ]

    def _a_logoff(self, frame: Frame) -> Reply:
        return [
            render(
                [
                    ("Response", "Goodbye"),
                    *self._id(frame),
                    ("Message", "Thanks for all the fish."),
                ]
            )
        ]

    def _a_core_show_channels(self, frame: Frame) -> Reply:
        items: list[Pairs] = []
        for channel in self.channels.values():
            snap = channel.snapshot
            items.append(
                [
                    ("Event", "CoreShowChannel"),
                    *self._id(frame),
                    *[(k, snap.get(k, "")) for k in _SNAPSHOT],
                    ("Application", channel.application),
                    ("ApplicationData", channel.data),
                    ("Duration", _duration(channel.created)),
                    ("BridgeId", channel.bridge),
                ]
            )
        return self._list(frame, "Channels will follow", "CoreShowChannelsComplete", items)

    def _a_queue_status(self, frame: Frame) -> Reply:
        wanted = frame.get("Queue")
        queues = sorted({q for q, _ in self.members} | {e.queue for e in self.entries.values()})
        items: list[Pairs] = []
        ident = self._id(frame)
        for queue in queues:
            if wanted and wanted != queue:
                continue
            entries = [e for e in self.entries.values() if e.queue == queue]
            items.append(
                [
                    ("Event", "QueueParams"),
                    ("Queue", queue),
                    ("Max", "0"),
                    ("Strategy", "linear"),
                    ("Calls", str(len(entries))),
                    ("Holdtime", "0"),
                    ("TalkTime", "0"),
                    ("Completed", "0"),
                    ("Abandoned", "0"),
                    ("ServiceLevel", "20"),
                    ("ServicelevelPerf", "0.0"),
                    ("ServicelevelPerf2", "0.0"),
                    ("Weight", "0"),
                    *ident,
                ]
            )
            for (member_queue, _), member in self.members.items():
                if member_queue == queue:
                    items.append([("Event", "QueueMember"), *member.status_pairs(), *ident])
            for position, entry in enumerate(entries, 1):
                snap = entry.snapshot
                # source: app_queue.c manager_queues_status (no QueueEntry in the recordings)
                items.append(
                    [
                        ("Event", "QueueEntry"),
                        ("Queue", queue),
                        ("Position", str(position)),
                        ("Channel", snap.get("Channel", "")),
                        ("Uniqueid", snap.get("Uniqueid", "")),
                        ("CallerIDNum", snap.get("CallerIDNum", "")),
                        ("CallerIDName", snap.get("CallerIDName", "")),
                        ("ConnectedLineNum", snap.get("ConnectedLineNum", "")),
                        ("ConnectedLineName", snap.get("ConnectedLineName", "")),
                        ("Wait", str(int(time.monotonic() - entry.joined))),
                        ("Priority", "0"),
                        *ident,
                    ]
                )
        return self._list(frame, "Queue status will follow", "QueueStatusComplete", items)

    def _a_redirect(self, frame: Frame) -> Reply:
        name, extra = frame.get("Channel", ""), frame.get("ExtraChannel")
        if self._unknown_channel(name):
            return [self._error(frame, f"Channel does not exist: {name}")]  # recorded
        if extra:
            if self._unknown_channel(extra):
                # source: manager.c action_redirect
                return [self._error(frame, f"ExtraChannel does not exist: {extra}")]
            return [self._ack(frame, "Dual Redirect successful")]  # recorded
        return [self._ack(frame, "Redirect successful")]  # source: manager.c

    def _a_blind_transfer(self, frame: Frame) -> Reply:
        if self._unknown_channel(frame.get("Channel", "")):
            return [self._error(frame, "Channel specified does not exist")]  # source: manager.c
        return [self._ack(frame, "Transfer succeeded")]  # recorded

    def _a_atxfer(self, frame: Frame) -> Reply:
        if self._unknown_channel(frame.get("Channel", "")):
            return [self._error(frame, "Channel specified does not exist")]  # source: manager.c
        return [self._ack(frame, "Atxfer successfully queued")]  # recorded

    def _a_hangup(self, frame: Frame) -> Reply:
        if self._unknown_channel(frame.get("Channel", "")):
            return [self._error(frame, "No such channel")]  # recorded
        return [self._ack(frame, "Channel Hungup")]  # source: manager.c

    def _a_setvar(self, frame: Frame) -> Reply:
        channel = frame.get("Channel")
        if channel and self._unknown_channel(channel):
            return [self._error(frame, "No such channel")]  # source: manager.c
        return [self._ack(frame, "Variable Set")]  # source: manager.c

    def _a_originate(self, frame: Frame) -> Reply:
        if frame.get("Async", "").lower() not in ("true", "yes", "1"):
            return [self._ack(frame, "Originate successfully queued")]  # recorded (sync, Ast 11)
        self._uniqueid += 1
        success = self.originate_reason == 4
        caller = frame.get("CallerID", "")
        match = re.match(r'"?([^"<]*)"?\s*<([^>]*)>', caller)
        cid_name, cid_num = (match.group(1).strip(), match.group(2)) if match else ("", caller)
        # Recorded shape (originate-callback); a failure has no channel yet: Uniqueid <null>.
        response = [
            ("Event", "OriginateResponse"),
            ("Privilege", "call,all"),
            *self._id(frame),
            ("Response", "Success" if success else "Failure"),
            ("Channel", frame.get("Channel", "") + (f"-{self._uniqueid:08x}" if success else "")),
            ("Context", frame.get("Context", "")),
            ("Exten", frame.get("Exten", "")),
            ("Reason", str(self.originate_reason)),
            ("Uniqueid", f"{time.time():.0f}.{1000 + self._uniqueid}" if success else "<null>"),
            ("CallerIDNum", cid_num or "<unknown>"),
            ("CallerIDName", cid_name or "<unknown>"),
        ]
        return [self._ack(frame, "Originate successfully queued"), Frame(tuple(response))]

    def _find_members(self, frame: Frame) -> list[_Member]:
        queue, interface = frame.get("Queue"), frame.get("Interface", "")
        return [
            m for (q, i), m in self.members.items() if i == interface and (not queue or q == queue)
        ]

    @staticmethod
    def _member_event(name: str, member: _Member) -> Frame:
        return Frame((("Event", name), ("Privilege", "agent,all"), *member.event_pairs()))

    def _a_queue_add(self, frame: Frame) -> Reply:
        queue, interface = frame.get("Queue", ""), frame.get("Interface", "")
        if (queue, interface) in self.members:
            return [self._error(frame, "Unable to add interface: Already there")]  # source
        if all(q != queue for q, _ in self.members):
            return [self._error(frame, "Unable to add interface to queue: No such queue")]
        paused = frame.get("Paused", "false").lower() in ("true", "yes", "1")
        member = _member(
            {
                "Queue": queue,
                "Interface": interface,
                "MemberName": frame.get("MemberName", interface),
                "StateInterface": frame.get("StateInterface", interface),
                "Penalty": frame.get("Penalty", "0"),
                "Paused": "1" if paused else "0",
            },
            membership="dynamic",
        )
        self.members[(queue, interface)] = member
        added = self._member_event("QueueMemberAdded", member)
        return [self._ack(frame, "Added interface to queue"), added]  # recorded

    def _a_queue_remove(self, frame: Frame) -> Reply:
        queue, interface = frame.get("Queue", ""), frame.get("Interface", "")
        member = self.members.get((queue, interface))
        if member is None:
            return [self._error(frame, "Unable to remove interface: Not there")]  # source
        if member.fields.get("Membership") != "dynamic":
            return [self._error(frame, "Member not dynamic")]  # source: app_queue.c
        del self.members[(queue, interface)]
        removed = self._member_event("QueueMemberRemoved", member)
        return [self._ack(frame, "Removed interface from queue"), removed]  # recorded

    def _a_queue_pause(self, frame: Frame) -> Reply:
        if "Interface" not in frame or "Paused" not in frame:
            return [self._error(frame, "Need 'Interface' and 'Paused' parameters.")]  # source
        members = self._find_members(frame)
        if not members:
            return [self._error(frame, "Interface not found")]  # recorded
        paused = frame["Paused"].lower() in ("true", "yes", "1")
        events: list[bytes | Frame] = []
        for member in members:
            member.fields["Paused"] = "1" if paused else "0"
            member.fields["PausedReason"] = frame.get("Reason", "") if paused else ""
            if paused:
                member.fields["LastPause"] = str(int(time.time()))
            events.append(self._member_event("QueueMemberPause", member))
        word = "paused" if paused else "unpaused"
        return [self._ack(frame, f"Interface {word} successfully"), *events]  # recorded

    def _a_command(self, frame: Frame) -> Reply:
        return [
            render(
                [
                    ("Response", "Success"),
                    *self._id(frame),
                    ("Message", "Command output follows"),
                    ("Output", "Asterisk 22.10.1 (fake AMI server)"),
                ]
            )
        ]

    _handlers_by_name: Final[dict[str, Callable[[AmiServer, Frame], Reply]]] = {
        "ping": _a_ping,
        "logoff": _a_logoff,
        "coreshowchannels": _a_core_show_channels,
        "queuestatus": _a_queue_status,
        "redirect": _a_redirect,
        "blindtransfer": _a_blind_transfer,
        "atxfer": _a_atxfer,
        "hangup": _a_hangup,
        "setvar": _a_setvar,
        "originate": _a_originate,
        "queueadd": _a_queue_add,
        "queueremove": _a_queue_remove,
        "queuepause": _a_queue_pause,
        "command": _a_command,
    }
