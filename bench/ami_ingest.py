"""AMI ingest: events per second through our session and tracker over a loopback socket,
beside panoramisk's bare parse of the same stream, and the AgentCalled → screen-pop delay.

Run with no arguments; the last line printed is one JSON object of the figures. The calls
are the recorded Asterisk 22 "queue answered" call, repeated with fresh ids.
"""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import tempfile
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from panoramisk.message import Message as PanoramiskMessage

from connectors.asterisk.frames import Frame, parse_frames
from connectors.asterisk.intake import AsteriskConnector
from connectors.asterisk.session import AmiConfig, AmiSession, CallUpdate
from connectors.asterisk.tracker import CallEnded
from hotline.demo import load_reference_data
from hotline.runtime import tune_process
from router.telephony import TelephonyDesk
from tickets.bus import InProcessBus
from tickets.calls import CallLog
from tickets.events import CallOffered, DomainEvent
from tickets.policy import TicketRules
from tickets.service import TicketService
from tickets.store import create_store

TRACE = (
    Path(__file__).parents[1].parent
    / "shared"
    / "ami-traces"
    / "real-asterisk-22.10.1__queue-answered-caller-hangup.ami"
)
THROUGHPUT_CALLS = 2000
POP_RATE = 100  # new calls per second
POP_SECONDS = 10


def call_template() -> tuple[list[Frame], str]:
    """The events of the recorded call, and the id prefix its ids share."""
    frames = [
        m
        for m in parse_frames(TRACE.read_bytes())
        if isinstance(m, Frame) and m.kind == "event" and m.get("Event") != "FullyBooted"
    ]
    linkedid = next(f.get("Linkedid") for f in frames if f.get("Linkedid"))
    assert linkedid is not None
    return frames, linkedid.split(".")[0]


def render(frame: Frame) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in frame.pairs).encode() + b"\r\n"


def one_call(frames: list[Frame], prefix: str, n: int) -> tuple[bytes, int]:
    """The call's bytes with every id made unique for call `n`; offset of AgentCalled."""
    new = str(int(prefix) + 1000 + n)
    parts: list[bytes] = []
    agent_called = 0
    for f in frames:
        block = render(f).replace(prefix.encode(), new.encode())
        # Channel names too, so calls in flight never share a channel.
        block = block.replace(b"-0000", f"-{n:05d}".encode())
        if f.get("Event") == "AgentCalled":
            agent_called = sum(len(p) for p in parts) + len(block)
        parts.append(block)
    return b"".join(parts), agent_called


class StreamServer:
    """Just enough of Asterisk: banner, login answer, then whatever the bench writes."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.ready = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        while True:
            block = await reader.readuntil(b"\r\n\r\n")
            text = block.decode()
            action_id = next(
                (x.split(": ", 1)[1] for x in text.split("\r\n") if x.startswith("ActionID: ")), ""
            )
            if "Action: Login" in text:
                writer.write(
                    f"Response: Success\r\nActionID: {action_id}\r\n"
                    "Message: Authentication accepted\r\n\r\n".encode()
                )
                self.writers.append(writer)
                self.ready.set()
            elif "Action: Logoff" in text:
                writer.write(f"Response: Goodbye\r\nActionID: {action_id}\r\n\r\n".encode())
                await writer.drain()
                writer.close()
                return
            else:
                # Resync lists come back empty: nothing is live when the bench begins.
                name = next(x[8:] for x in text.split("\r\n") if x.startswith("Action: "))
                complete = {"CoreShowChannels": "CoreShowChannelsComplete"}.get(
                    name, "QueueStatusComplete"
                )
                writer.write(
                    f"Response: Success\r\nActionID: {action_id}\r\nEventList: start\r\n"
                    f"Message: listing\r\n\r\nEvent: {complete}\r\nActionID: {action_id}\r\n"
                    "EventList: Complete\r\nListItems: 0\r\n\r\n".encode()
                )
            await writer.drain()

    async def stop(self) -> None:
        for w in self.writers:
            w.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def panoramisk_parse(stream: bytes, chunk: int = 65536) -> tuple[int, float]:
    """panoramisk's own parse (its AMIProtocol.data_received loop) over the same bytes."""
    start = time.perf_counter()
    queue: deque[str] = deque()
    count = 0
    for i in range(0, len(stream), chunk):
        data = stream[i : i + chunk].decode("ascii", "ignore")
        if queue:
            data = queue.popleft() + data
        lines = data.split("\r\n\r\n")
        queue.append(lines.pop(-1))
        for line in lines:
            if PanoramiskMessage.from_line(line.strip()) is not None:
                count += 1
    return count, time.perf_counter() - start


def config(port: int) -> AmiConfig:
    return AmiConfig("127.0.0.1", port, "hotline", "x", ping_interval=3600, action_timeout=30)


async def throughput(stream: bytes, events: int, calls: int) -> float:
    """Events per second from the socket through parser, typed events and tracker."""
    server = StreamServer()
    await server.start()
    ended = 0
    done = asyncio.Event()

    async def on_update(update: CallUpdate) -> None:
        nonlocal ended
        if isinstance(update.update, CallEnded):
            ended += 1
            if ended == calls:
                done.set()

    session = AmiSession(config(server.port), on_update=on_update)
    await session.start()
    await server.ready.wait()
    await session.wait_connected(10)
    await asyncio.sleep(0.2)  # resync answered
    start = time.perf_counter()
    writer = server.writers[0]
    writer.write(stream)
    await writer.drain()
    await done.wait()
    elapsed = time.perf_counter() - start
    await session.stop()
    await server.stop()
    return events / elapsed


async def screen_pop_delay(frames: list[Frame], prefix: str) -> dict[str, float]:
    """Delay from writing AgentCalled to CallOffered reaching a bus subscriber."""
    with tempfile.TemporaryDirectory() as d:
        store = create_store(f"sqlite+aiosqlite:///{d}/h.db")
        await store.migrate()
        bus = InProcessBus()
        tickets = TicketService(store, bus, TicketRules(), b"k" * 32)
        await load_reference_data(tickets)
        desk = TelephonyDesk(tickets, CallLog(store, tickets), bus)
        sent: dict[str, float] = {}
        delays: list[float] = []

        def on_event(event: DomainEvent) -> None:
            # As the console's socket hub takes events: inline, handing them on at once.
            if isinstance(event, CallOffered) and event.call_id in sent:
                delays.append(time.perf_counter() - sent[event.call_id])

        bus.subscribe_inline(on_event)
        server = StreamServer()
        await server.start()
        connector = AsteriskConnector(config(server.port), desk.on_signal)
        await connector.start()
        await server.ready.wait()
        await connector.session.wait_connected(10)
        await asyncio.sleep(0.2)
        tune_process()  # as `hotline serve` does once it is up
        writer = server.writers[0]
        total = POP_RATE * POP_SECONDS
        suffix = next(f.get("Linkedid", "") for f in frames if f.get("Linkedid")).split(".")[1]
        # Rendered before the clock starts: the fake's own work must not slow the system.
        calls = [one_call(frames, prefix, n) for n in range(total)]
        t0 = time.perf_counter()
        for n, (data, cut) in enumerate(calls):
            due = t0 + n / POP_RATE
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            call_id = f"{int(prefix) + 1000 + n}.{suffix}"
            writer.write(data[:cut])
            sent[call_id] = time.perf_counter()  # AgentCalled is on the wire now
            writer.write(data[cut:])
            await writer.drain()
        async with asyncio.timeout(60):
            while len(delays) < total:  # noqa: ASYNC110 - counting deliveries
                await asyncio.sleep(0.05)
        await desk.drain()
        await connector.stop()
        await server.stop()
        await bus.drain()
        await store.close()
    delays.sort()
    return {
        "screen_pops": len(delays),
        "pop_p50_ms": round(statistics.median(delays) * 1000, 3),
        "pop_p99_ms": round(delays[int(len(delays) * 0.99) - 1] * 1000, 3),
    }


async def main() -> None:
    frames, prefix = call_template()
    blocks = [one_call(frames, prefix, n)[0] for n in range(THROUGHPUT_CALLS)]
    stream = b"".join(blocks)
    events = len(frames) * THROUGHPUT_CALLS
    parsed, seconds = panoramisk_parse(stream)
    assert parsed == events, (parsed, events)
    bare = events / seconds
    ours = await throughput(stream, events, THROUGHPUT_CALLS)
    pops = await screen_pop_delay(frames, prefix)
    result: dict[str, Any] = {
        "bench": "ami_ingest",
        "machine": f"{platform.machine()} {platform.system()} python{platform.python_version()}",
        "date": datetime.now(UTC).date().isoformat(),
        "events": events,
        "panoramisk_bare_parse_events_per_s": round(bare),
        "session_and_tracker_events_per_s": round(ours),
        "ratio": round(ours / bare, 3),
        "new_calls_per_s": POP_RATE,
        **pops,
    }
    print(f"panoramisk bare parse: {bare:,.0f} events/s")
    print(f"our session + tracker over loopback: {ours:,.0f} events/s")
    p50, p99 = pops["pop_p50_ms"], pops["pop_p99_ms"]
    print(f"screen pop at {POP_RATE} calls/s: p50 {p50} ms, p99 {p99} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
