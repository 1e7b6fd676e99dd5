"""The fake AMI server speaks AMI as the Asterisk 22 recordings show, checked with a raw client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from connectors.asterisk.frames import Banner, Frame, FrameParser, parse_frames
from tests.fakes.ami_server import AmiServer, load_script

TRACES = Path(__file__).parents[2].parent / "shared" / "ami-traces"
ANSWERED = TRACES / "real-asterisk-22.10.1__queue-answered-caller-hangup.ami"
BLIND = TRACES / "real-asterisk-22.10.1__blind-transfer-to-110.ami"


class RawClient:
    """A bare asyncio AMI client: writes blocks, reads frames; no session logic at all."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = FrameParser()
        self.pending: list[Frame | Banner] = []

    def send(self, *pairs: tuple[str, str]) -> None:
        self.writer.write(("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode())

    async def next(self, within: float = 2.0) -> Frame | Banner | None:
        """The next banner or frame; None at end of stream."""
        async with asyncio.timeout(within):
            while not self.pending:
                data = await self.reader.read(65536)
                if not data:
                    return None
                self.pending.extend(
                    m for m in self.parser.feed(data) if isinstance(m, Frame | Banner)
                )
        return self.pending.pop(0)

    async def frame(self) -> Frame:
        message = await self.next()
        assert isinstance(message, Frame), message
        return message

    async def until(self, match: Callable[[Frame], bool]) -> list[Frame]:
        """Every frame up to and including the first that matches."""
        seen: list[Frame] = []
        while True:
            frame = await self.frame()
            seen.append(frame)
            if match(frame):
                return seen

    async def login(self, secret: str = "hotline12345") -> Frame:
        self.send(
            ("Action", "Login"),
            ("ActionID", "t-1"),
            ("Username", "hotline"),
            ("Secret", secret),
            ("Events", "on"),
        )
        return await self.frame()


@pytest.fixture
async def server() -> AsyncIterator[AmiServer]:
    async with AmiServer() as ami:
        yield ami


@contextlib.asynccontextmanager
async def connect(ami: AmiServer) -> AsyncIterator[RawClient]:
    reader, writer = await asyncio.open_connection(ami.host, ami.port)
    client = RawClient(reader, writer)
    try:
        assert await client.next() == Banner("11.0.0")
        yield client
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def answered_events() -> list[Frame]:
    frames = [m for m in parse_frames(ANSWERED.read_bytes()) if isinstance(m, Frame)]
    return [f for f in frames if f.kind == "event" and f.name not in ("FullyBooted",)]


async def test_banner_only_until_login_then_the_trace() -> None:
    async with AmiServer(trace=ANSWERED) as ami, connect(ami) as client:
        with pytest.raises(TimeoutError):
            await client.next(within=0.2)  # nothing before Login, as on a real Asterisk
        response = await client.login()
        assert dict(response.pairs) == {
            "Response": "Success",
            "ActionID": "t-1",
            "Message": "Authentication accepted",
        }
        booted = await client.frame()
        assert (booted.name, booted["Status"]) == ("FullyBooted", "Fully Booted")
        seen = await client.until(lambda f: f.name == "Hangup" and "8001" in f["Channel"])
        assert [f.name for f in seen if f.name in ("QueueCallerJoin", "AgentConnect")] == [
            "QueueCallerJoin",
            "AgentConnect",
        ]
        assert seen == answered_events()[: len(seen)]


async def test_wrong_secret_is_refused_and_the_connection_closed(server: AmiServer) -> None:
    async with connect(server) as client:
        response = await client.login(secret="wrong")
        assert dict(response.pairs) == {
            "Response": "Error",
            "ActionID": "t-1",
            "Message": "Authentication failed",
        }
        assert await client.next() is None
    assert server.logins == 0


async def test_actions_before_login_are_denied(server: AmiServer) -> None:
    async with connect(server) as client:
        client.send(("Action", "CoreShowChannels"), ("ActionID", "t-0"))
        response = await client.frame()
        assert (response["Response"], response["Message"]) == ("Error", "Permission denied")


async def test_ping_echoes_action_id(server: AmiServer) -> None:
    async with connect(server) as client:
        await client.login()
        await client.frame()
        client.send(("Action", "Ping"), ("ActionID", "t-2"))
        pong = await client.frame()
        assert (pong["Response"], pong["ActionID"], pong["Ping"]) == ("Success", "t-2", "Pong")
        assert float(pong["Timestamp"]) > 0
    assert server.received_actions[-1] == {"Action": "Ping", "ActionID": "t-2"}


async def test_core_show_channels_lists_what_the_events_said(server: AmiServer) -> None:
    events = answered_events()
    bridged = next(i for i, f in enumerate(events) if f.name == "BridgeEnter")
    async with connect(server) as client:
        await client.login()
        await client.frame()
        server.push_events(events[: bridged + 2])
        await client.until(lambda f: f.name == "BridgeEnter" and "citizen" in f["Channel"])
        client.send(("Action", "CoreShowChannels"), ("ActionID", "t-3"))
        start, *items, complete = await client.until(lambda f: f.name == "CoreShowChannelsComplete")
    assert (start["EventList"], start["Message"]) == ("start", "Channels will follow")
    assert [(i["Channel"], i["Uniqueid"], i["Linkedid"]) for i in items] == [
        ("PJSIP/citizen-00000000", "1795396328.0", "1795396328.0"),
        ("PJSIP/8001-00000001", "1795396328.1", "1795396328.0"),
    ]
    assert items[0]["Application"] == "Queue" and items[0]["ApplicationData"].startswith("hotline")
    assert items[0]["BridgeId"] == items[1]["BridgeId"] != ""
    assert all(i["ActionID"] == "t-3" for i in items)
    assert (complete["EventList"], complete["ListItems"]) == ("Complete", "2")


async def test_queue_status_lists_members_and_waiting_callers(server: AmiServer) -> None:
    events = answered_events()
    joined = next(i for i, f in enumerate(events) if f.name == "QueueCallerJoin")
    async with connect(server) as client:
        await client.login()
        await client.frame()
        server.push_events(events[: joined + 1])
        client.send(("Action", "QueueStatus"), ("ActionID", "t-4"), ("Queue", "hotline"))
        frames = await client.until(lambda f: f.name == "QueueStatusComplete")
    frames = [f for f in frames if f.get("ActionID") == "t-4"]
    names = [f.name for f in frames if f.kind == "event"]
    assert names == [
        "QueueParams",
        "QueueMember",
        "QueueMember",
        "QueueEntry",
        "QueueStatusComplete",
    ]
    entry = frames[-2]
    assert (entry["Channel"], entry["CallerIDNum"], entry["Position"]) == (
        "PJSIP/citizen-00000000",
        "13800138001",
        "1",
    )
    assert frames[-1]["ListItems"] == "4"


async def test_errors_carry_asterisks_messages(server: AmiServer) -> None:
    async with connect(server) as client:
        await client.login()
        await client.frame()
        client.send(("Action", "Hangup"), ("ActionID", "t-5"), ("Channel", "PJSIP/nobody-1"))
        assert (await client.frame())["Message"] == "No such channel"
        client.send(("Action", "Redirect"), ("ActionID", "t-6"), ("Channel", "PJSIP/x-1"))
        assert (await client.frame())["Message"] == "Channel does not exist: PJSIP/x-1"
        client.send(("Action", "NoSuchAction"), ("ActionID", "t-7"))
        assert (await client.frame())["Message"] == (
            "Invalid/unknown command: NoSuchAction. "
            "Use Action: ListCommands to show available commands."
        )
        server.set_failure("QueueAdd", "Unable to add interface: Already there")
        client.send(("Action", "QueueAdd"), ("ActionID", "t-8"), ("Queue", "hotline"))
        failed = await client.frame()
        assert dict(failed.pairs) == {
            "Response": "Error",
            "ActionID": "t-8",
            "Message": "Unable to add interface: Already there",
        }


async def test_queue_actions_answer_and_announce(server: AmiServer) -> None:
    async with connect(server) as client:
        await client.login()
        await client.frame()
        client.send(
            ("Action", "QueuePause"),
            ("ActionID", "t-9"),
            ("Queue", "hotline"),
            ("Interface", "PJSIP/8001"),
            ("Paused", "true"),
            ("Reason", "lunch"),
        )
        ack, event = await client.frame(), await client.frame()
        assert ack["Message"] == "Interface paused successfully"
        assert (event.name, event["Paused"], event["PausedReason"]) == (
            "QueueMemberPause",
            "1",
            "lunch",
        )
        client.send(
            ("Action", "QueueAdd"),
            ("ActionID", "t-10"),
            ("Queue", "hotline"),
            ("Interface", "PJSIP/8003"),
            ("MemberName", "Agent Wang"),
        )
        ack, event = await client.frame(), await client.frame()
        assert (ack["Message"], event.name, event["Membership"]) == (
            "Added interface to queue",
            "QueueMemberAdded",
            "dynamic",
        )
        client.send(
            ("Action", "QueueRemove"),
            ("ActionID", "t-11"),
            ("Queue", "hotline"),
            ("Interface", "PJSIP/8002"),
        )
        assert (await client.frame())["Message"] == "Member not dynamic"
        client.send(("Action", "Logoff"), ("ActionID", "t-12"))
        goodbye = await client.frame()
        assert (goodbye["Response"], goodbye["Message"]) == ("Goodbye", "Thanks for all the fish.")
        assert await client.next() is None


async def test_script_waits_for_the_recorded_action_and_answers_as_recorded() -> None:
    script = load_script(BLIND)
    assert [f["Action"] for f in script.expected] == ["Login", "BlindTransfer", "Logoff"]
    async with AmiServer(trace=BLIND) as ami, connect(ami) as client:
        await client.login()
        recorded = await ami.wait_expecting("BlindTransfer")
        client.send(
            ("Action", "BlindTransfer"),
            ("ActionID", "mine-7"),
            ("Channel", recorded["Channel"]),
            ("Exten", "110"),
            ("Context", "transfer-110"),
        )
        frames = await client.until(lambda f: f.kind == "response" and f["ActionID"] == "mine-7")
        assert frames[-1]["Message"] == "Transfer succeeded"
        assert any(f.name == "AgentConnect" for f in frames)
        after = await client.until(lambda f: f.name == "BlindTransfer")
        assert after[-1]["Result"] == "Success"
        await ami.wait_expecting("Logoff")


async def test_drop_connection_cuts_the_client_and_it_can_come_back(server: AmiServer) -> None:
    async with connect(server) as client:
        await client.login()
        await client.frame()
        assert server.drop_connection() == 1
        assert await client.next() is None
    async with connect(server) as client:
        assert (await client.login())["Message"] == "Authentication accepted"
    assert server.logins == 2


async def test_silent_action_gets_no_answer(server: AmiServer) -> None:
    server.set_silent("Ping")
    async with connect(server) as client:
        await client.login()
        await client.frame()
        client.send(("Action", "Ping"), ("ActionID", "t-13"))
        with pytest.raises(TimeoutError):
            await client.next(within=0.2)


async def test_originate_async_answers_then_reports(server: AmiServer) -> None:
    async with connect(server) as client:
        await client.login()
        await client.frame()
        client.send(
            ("Action", "Originate"),
            ("ActionID", "t-14"),
            ("Channel", "PJSIP/8001"),
            ("Context", "callback"),
            ("Exten", "13800138005"),
            ("Async", "true"),
            ("CallerID", '"12345 Callback" <12345>'),
        )
        ack, report = await client.frame(), await client.frame()
        assert ack["Message"] == "Originate successfully queued"
        assert (report.name, report["ActionID"], report["Response"], report["Reason"]) == (
            "OriginateResponse",
            "t-14",
            "Success",
            "4",
        )
        assert (report["CallerIDNum"], report["CallerIDName"]) == ("12345", "12345 Callback")
