"""The AMI session against the fake server: login, trace replay, keep-alive, errors, reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.asterisk.errors import (
    AmiActionFailed,
    AmiConnectionError,
    AmiLoginFailed,
    AmiTimeout,
)
from connectors.asterisk.frames import Frame, parse_frames
from connectors.asterisk.replay import TraceClock, replay_file
from connectors.asterisk.session import AmiConfig, AmiSession, CallUpdate, backoff_delay
from connectors.asterisk.tracker import CallEnded, CallRecord
from hotline.settings import AsteriskSettings
from tests.fakes.ami_server import AmiServer

TRACES = Path(__file__).parents[3].parent / "shared" / "ami-traces"
ANSWERED = TRACES / "real-asterisk-22.10.1__queue-answered-caller-hangup.ami"


def config(ami: AmiServer, **tuning: Any) -> AmiConfig:
    """Fast timings for tests: tenths of seconds instead of seconds."""
    values: dict[str, Any] = {
        "connect_timeout": 2.0,
        "action_timeout": 2.0,
        "ping_interval": 60.0,
        "ping_timeout": 1.0,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
    }
    values.update(tuning)
    return AmiConfig(ami.host, ami.port, "hotline", "hotline12345", **values)


class Collector:
    """Subscriber that keeps every call update."""

    def __init__(self) -> None:
        self.updates: list[CallUpdate] = []

    async def __call__(self, update: CallUpdate) -> None:
        self.updates.append(update)

    @property
    def ended(self) -> list[CallUpdate]:
        return [u for u in self.updates if isinstance(u.update, CallEnded)]

    @property
    def records(self) -> list[CallRecord]:
        return [u.update.record for u in self.ended if isinstance(u.update, CallEnded)]


@contextlib.asynccontextmanager
async def running(
    ami: AmiServer, *, connect: bool = True, **tuning: Any
) -> AsyncIterator[tuple[AmiSession, Collector]]:
    """A started session on the fake (trace time, as the file replay uses) and its updates."""
    collector = Collector()
    session = AmiSession(
        config(ami, **tuning),
        on_update=collector,
        clock=TraceClock().observe,
        rng=random.Random(7),
    )
    await session.start()
    try:
        if connect:
            await session.wait_connected(2.0)
            await eventually(lambda: session.health().resyncs >= 1)
        yield session, collector
    finally:
        await session.stop()


async def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until `check()` holds (the session works in the background)."""
    async with asyncio.timeout(within):
        while True:
            if check():
                return
            await asyncio.sleep(0.005)


def trace_events(path: Path) -> list[Frame]:
    frames = [m for m in parse_frames(path.read_bytes()) if isinstance(m, Frame)]
    return [f for f in frames if f.kind == "event"]


def index_of(events: list[Frame], name: str, channel: str = "") -> int:
    return next(
        i for i, f in enumerate(events) if f.name == name and channel in f.get("Channel", "")
    )


# ---------------------------------------------------------------------------------- login


async def test_login_accepted() -> None:
    async with AmiServer() as ami, running(ami) as (session, _):
        health = session.health()
        assert (health.connected, health.asterisk_version, health.last_error) == (
            True,
            "11.0.0",
            None,
        )
        login = ami.actions_named("Login")[0]
        assert {k: login[k] for k in ("Username", "Secret", "Events")} == {
            "Username": "hotline",
            "Secret": "hotline12345",
            "Events": "on",
        }
        assert session.health().resyncs == 1
    assert ami.actions_named("Logoff"), "stop() logs off"


async def test_login_refused_is_reported_and_retried() -> None:
    async with AmiServer(secret="other") as ami, running(ami, connect=False) as (session, _):
        with pytest.raises(AmiTimeout) as raised:
            await session.wait_connected(0.3)
        assert isinstance(raised.value.__cause__, AmiLoginFailed)
        assert raised.value.__cause__.message == "Authentication failed"
        health = session.health()
        assert not health.connected
        assert health.last_error == "AMI login refused: Authentication failed"
        assert len(ami.actions_named("Login")) >= 2, "it keeps trying, with backoff"


async def test_unreachable_asterisk_is_a_connection_error() -> None:
    async with AmiServer() as ami:
        port = ami.port
    session = AmiSession(AmiConfig("127.0.0.1", port, backoff_initial=0.01, backoff_max=0.02))
    await session.start()
    try:
        with pytest.raises(AmiTimeout) as raised:
            await session.wait_connected(0.2)
        assert isinstance(raised.value.__cause__, AmiConnectionError)
        assert isinstance(raised.value.__cause__.__cause__, OSError)
        with pytest.raises(AmiConnectionError):
            await session.send_action("Ping")
    finally:
        await session.stop()


def test_backoff_doubles_is_capped_and_jittered() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 0.5, 30.0, rng) for n in range(10)]
    for attempt, delay in enumerate(delays):
        capped = min(30.0, 0.5 * 2**attempt)
        assert capped / 2 <= delay <= capped
    assert delays[-1] <= 30.0 and delays[3] > delays[0]


def test_config_from_settings_keeps_the_secret_out_of_repr() -> None:
    assert AmiConfig.from_settings(AsteriskSettings()) is None, "no host: connector off"
    cfg = AmiConfig.from_settings(
        AsteriskSettings(host="127.0.0.1", port=5039, secret=SecretStr("s3cret"))
    )
    assert cfg is not None and (cfg.host, cfg.port, cfg.secret) == ("127.0.0.1", 5039, "s3cret")
    assert "s3cret" not in repr(cfg)


# ---------------------------------------------------------------------------------- events


@pytest.mark.parametrize(
    "name",
    [
        "real-asterisk-22.10.1__queue-answered-caller-hangup.ami",
        "real-asterisk-22.10.1__queue-abandoned.ami",
        "real-asterisk-22.10.1__queue-ringnoanswer-next-agent.ami",
        "real-asterisk-22.10.1__post-call-survey.ami",
        "cacofonisk__queue_answered_then_blind_transfer.ami",
    ],
)
async def test_trace_through_the_session_gives_the_file_replays_updates(name: str) -> None:
    expected = replay_file(TRACES / name)
    assert expected.records
    async with AmiServer(trace=TRACES / name) as ami, running(ami) as (session, collector):
        await eventually(lambda: len(collector.ended) == len(expected.records))
        await session.idle()
        assert [u.update for u in collector.updates] == expected.updates
        assert collector.records == expected.records
        assert not any(u.reconstructed for u in collector.updates)
        assert session.live_calls() == []


async def test_malformed_frames_and_unknown_events_are_skipped() -> None:
    events = trace_events(ANSWERED)
    async with AmiServer() as ami, running(ami) as (session, collector):
        ami.push_raw(b"\x00\xff\xfe junk without colon\r\n\r\n")
        ami.push_raw(b"Event: NoSuchEventEver\r\nFoo: bar\r\n\r\n")
        ami.push_raw(b"Key: value but no Event header\r\n\r\n")
        ami.push_events(events)
        await eventually(lambda: len(collector.ended) == 1)
        assert collector.records == replay_file(ANSWERED).records
        health = session.health()
        assert health.connected and health.skipped_frames == 2


# ---------------------------------------------------------------------------------- actions


async def test_ping_keeps_the_link_alive() -> None:
    async with AmiServer() as ami, running(ami, ping_interval=0.02) as (session, _):
        await eventually(lambda: len(ami.actions_named("Ping")) >= 3)
        assert session.health().connected and session.health().reconnects == 0


async def test_silent_asterisk_is_detected_by_ping_and_reconnected() -> None:
    async with AmiServer() as ami:
        ami.set_silent("Ping")
        async with running(ami, ping_interval=0.02, ping_timeout=0.05) as (session, _):
            await ami.wait_logins(2)
            await eventually(lambda: session.connected)
            assert session.health().reconnects >= 1


async def test_action_error_carries_asterisks_message() -> None:
    async with AmiServer() as ami, running(ami) as (session, _):
        with pytest.raises(AmiActionFailed) as raised:
            await session.send_action("Hangup", {"Channel": "PJSIP/nonexistent-00000000"})
        assert (raised.value.action, raised.value.message) == ("Hangup", "No such channel")
        assert raised.value.response["Response"] == "Error"
        assert session.connected


async def test_action_timeout() -> None:
    async with AmiServer() as ami, running(ami) as (session, _):
        ami.set_silent("Status")
        with pytest.raises(AmiTimeout) as raised:
            await session.send_action("Status", time_limit=0.05)
        assert raised.value.action == "Status"
        assert isinstance(raised.value.__cause__, TimeoutError)
        pong = await session.send_action("Ping")
        assert pong.frame["Ping"] == "Pong", "the session goes on after a timeout"


async def test_list_action_collects_items_by_action_id() -> None:
    events = trace_events(ANSWERED)
    async with AmiServer() as ami, running(ami) as (session, _):
        ami.push_events(events[: index_of(events, "BridgeEnter", "citizen") + 1])
        await eventually(lambda: len(session.live_calls()) == 1)
        listing = await session.send_action("CoreShowChannels", action_id="mine-1")
        assert listing.message == "Channels will follow"
        assert [i["Channel"] for i in listing.items[:-1]] == [
            "PJSIP/citizen-00000000",
            "PJSIP/8001-00000001",
        ]
        assert listing.items[-1]["ListItems"] == "2"


async def test_header_injection_is_refused() -> None:
    async with AmiServer() as ami, running(ami) as (session, _):
        with pytest.raises(ValueError, match="line break"):
            await session.send_action("Setvar", {"Value": "T1\r\nAction: Originate"})
        assert not ami.actions_named("Setvar") and not ami.actions_named("Originate")


async def test_pending_action_fails_when_the_link_drops() -> None:
    async with AmiServer() as ami, running(ami) as (session, _):
        ami.set_silent("Status")
        pending = asyncio.create_task(session.send_action("Status"))
        await eventually(lambda: bool(ami.actions_named("Status")))
        ami.drop_connection()
        with pytest.raises(AmiConnectionError):
            await pending
        await ami.wait_logins(2)
        assert len(ami.actions_named("Status")) == 1, "never re-sent after reconnect"


# ---------------------------------------------------------------------------------- reconnect


async def test_reconnect_mid_call_neither_loses_nor_duplicates_the_call() -> None:
    events = trace_events(ANSWERED)
    cut = index_of(events, "BridgeEnter", "citizen") + 1
    async with AmiServer() as ami, running(ami) as (session, collector):
        ami.push_events(events[:cut])
        await eventually(lambda: any(r.answered for r in session.live_calls()))
        assert ami.drop_connection() == 1
        await ami.wait_logins(2)
        await eventually(lambda: session.health().resyncs == 2)
        assert len(ami.actions_named("CoreShowChannels")) == 2
        assert len(ami.actions_named("QueueStatus")) == 2
        assert [c.call_id for c in session.live_calls()] == ["1795396328.0"]
        ami.push_events(events[cut:])
        await eventually(lambda: len(collector.ended) == 1)
        await session.idle()
    assert collector.records == replay_file(ANSWERED).records
    assert not any(u.reconstructed for u in collector.updates), "nothing had to be made up"
    assert session.health().reconnects == 1


async def test_answer_missed_while_disconnected_is_rebuilt_by_resync() -> None:
    events = trace_events(ANSWERED)
    ringing = index_of(events, "DialEnd")  # 8001 is ringing; it answers during the outage
    bridged = index_of(events, "BridgeEnter", "citizen") + 1
    async with AmiServer() as ami, running(ami) as (session, collector):
        ami.push_events(events[:ringing])
        await eventually(lambda: bool(session.live_calls()))
        ami.drop_connection()
        await eventually(lambda: not session.connected)
        ami.push_events(events[ringing:bridged])  # nobody listening: lost, as on a real server
        await ami.wait_logins(2)
        await eventually(lambda: session.health().resyncs == 2)
        (live,) = session.live_calls()
        assert (live.answered, live.agent) == (True, "PJSIP/8001")
        ami.push_events(events[bridged:])
        await eventually(lambda: len(collector.ended) == 1)
        await session.idle()
    (ended,) = collector.ended
    record = collector.records[0]
    assert ended.reconstructed
    assert (record.call_id, record.caller, record.queue, record.answered) == (
        "1795396328.0",
        "13800138001",
        "hotline",
        True,
    )
    assert (record.agent, record.talk_time, record.hangup_cause) == ("PJSIP/8001", 8.0, 16)
    assert [a.agent for a in record.rang] == ["PJSIP/8001"]


async def test_call_that_ended_while_disconnected_is_closed_once() -> None:
    events = trace_events(ANSWERED)
    bridged = index_of(events, "BridgeEnter", "citizen") + 1
    async with AmiServer() as ami, running(ami) as (session, collector):
        ami.push_events(events[:bridged])
        await eventually(lambda: any(r.answered for r in session.live_calls()))
        ami.drop_connection()
        await eventually(lambda: not session.connected)
        ami.push_events(events[bridged:])
        await ami.wait_logins(2)
        await eventually(lambda: len(collector.ended) == 1)
        await eventually(lambda: session.health().resyncs == 2)
        await session.idle()
        assert session.live_calls() == []
    (ended,) = collector.ended
    record = collector.records[0]
    assert ended.reconstructed
    assert (record.call_id, record.answered, record.agent) == ("1795396328.0", True, "PJSIP/8001")


async def test_session_started_mid_call_picks_the_call_up_from_asterisk() -> None:
    events = trace_events(ANSWERED)
    bridged = index_of(events, "BridgeEnter", "citizen") + 1
    async with AmiServer() as ami:
        ami.push_events(events[:bridged])  # before we connect: we only learn it from resync
        async with running(ami) as (session, collector):
            await eventually(lambda: session.health().resyncs == 1)
            (live,) = session.live_calls()
            assert (live.caller, live.queue, live.agent) == ("13800138001", "hotline", "PJSIP/8001")
            assert session.is_reconstructed("1795396328.0")
            ami.push_events(events[bridged:])
            await eventually(lambda: len(collector.ended) == 1)
            await session.idle()
    record = collector.records[0]
    assert (record.call_id, record.caller, record.dialed, record.answered) == (
        "1795396328.0",
        "13800138001",
        "12345",
        True,
    )
    assert (record.agent, record.talk_time, record.hangup_cause) == ("PJSIP/8001", 8.0, 16)
    assert collector.ended[0].reconstructed
    assert len({u.call_id for u in collector.updates}) == 1, "one call, not two"


async def test_queue_members_come_from_queue_status_and_events() -> None:
    async with AmiServer() as ami, running(ami) as (session, _):
        await eventually(lambda: session.health().resyncs == 1)
        assert {i for _, i in session.queue_members} == {"PJSIP/8001", "PJSIP/8002"}
        await session.send_action(
            "QueuePause",
            {"Queue": "hotline", "Interface": "PJSIP/8001", "Paused": "true", "Reason": "lunch"},
        )
        await eventually(lambda: session.queue_members[("hotline", "PJSIP/8001")].paused)
        assert session.queue_members[("hotline", "PJSIP/8001")].paused_reason == "lunch"
