"""Call control against the fake: the frames the real-Asterisk recordings show, and their outcomes.

The scripted traces stop where the recorded client sent its action and go on only when ours
sends an action of the same name; the whole call then has to come out as the file replay says.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from connectors.asterisk.control import CallControl
from connectors.asterisk.errors import AmiActionFailed
from connectors.asterisk.frames import Frame, parse_frames
from connectors.asterisk.replay import replay_file
from connectors.asterisk.session import AmiSession
from tests.connectors.asterisk.test_session import TRACES, eventually, running
from tests.fakes.ami_server import AmiServer, load_script

BLIND = TRACES / "real-asterisk-22.10.1__blind-transfer-to-110.ami"
ATTENDED = TRACES / "real-asterisk-22.10.1__attended-transfer-to-110.ami"
THREE_WAY = TRACES / "real-asterisk-22.10.1__three-way-confbridge.ami"
CALLBACK = TRACES / "real-asterisk-22.10.1__originate-callback.ami"
ACTIONS = TRACES / "real-asterisk-22.10.1__ami-actions.ami"


def same_frame(sent: Frame, recorded: Frame) -> bool:
    """Equal as key/value pairs (duplicates counted), ActionID and order aside."""

    def bag(frame: Frame) -> Counter[tuple[str, str]]:
        return Counter((k, v) for k, v in frame.pairs if k.lower() != "actionid")

    return bag(sent) == bag(recorded)


def recorded_action(path: Path, action_id: str) -> Frame:
    return next(f for f in load_script(path).expected if f["ActionID"] == action_id)


def recorded_answer(path: Path, action_id: str) -> Frame:
    return next(
        m
        for m in parse_frames(path.read_bytes())
        if isinstance(m, Frame) and m.kind == "response" and m.get("ActionID") == action_id
    )


def channel_name(session: AmiSession, uniqueid: str | None) -> str:
    return next(name for name, uid in session.state.names.items() if uid == uniqueid)


def legs(session: AmiSession) -> tuple[str, str]:
    """(caller channel, agent channel) of the one answered call in progress."""
    (call,) = session.state.calls.values()
    return channel_name(session, call.first), channel_name(session, call.agent_leg)


async def test_blind_transfer_to_110() -> None:
    async with AmiServer(trace=BLIND) as ami, running(ami) as (session, collector):
        recorded = await ami.wait_expecting("BlindTransfer")
        await eventually(lambda: any(c.answered for c in session.live_calls()))
        _, agent = legs(session)
        result = await CallControl(session).transfer_blind(agent)
        assert result.message == recorded_answer(BLIND, "rec-2")["Message"] == "Transfer succeeded"
        assert same_frame(ami.actions_named("BlindTransfer")[0], recorded)
        expected = replay_file(BLIND)
        await eventually(lambda: len(collector.ended) == len(expected.records))
    assert collector.records == expected.records
    (transfer,) = collector.records[0].transfers
    assert (transfer.kind, transfer.target, transfer.outcome, transfer.answered_by) == (
        "blind",
        "110@transfer-110",
        "ANSWER",
        "PJSIP/police110",
    )


async def test_attended_transfer_to_110() -> None:
    async with AmiServer(trace=ATTENDED) as ami, running(ami) as (session, collector):
        recorded = await ami.wait_expecting("Atxfer")
        await eventually(lambda: any(c.answered for c in session.live_calls()))
        _, agent = legs(session)
        result = await CallControl(session).transfer_attended(agent)
        assert result.message == "Atxfer successfully queued"
        assert same_frame(ami.actions_named("Atxfer")[0], recorded)
        expected = replay_file(ATTENDED)
        await eventually(lambda: len(collector.ended) == len(expected.records))
    assert collector.records == expected.records


async def test_three_way_call_with_110() -> None:
    async with AmiServer(trace=THREE_WAY) as ami, running(ami) as (session, collector):
        redirect = await ami.wait_expecting("Redirect")
        await eventually(lambda: any(c.answered for c in session.live_calls()))
        caller, agent = legs(session)
        three = await CallControl(session).three_way(caller, agent, room="9004", wait_answer=True)
        assert three.redirect.message == "Dual Redirect successful"
        assert (three.line.message, three.line.reason, three.line.channel) == (
            "Originate successfully queued",
            4,
            "PJSIP/police110-00000009",
        )
        assert same_frame(ami.actions_named("Redirect")[0], redirect)
        assert same_frame(ami.actions_named("Originate")[0], recorded_action(THREE_WAY, "rec-3"))
        expected = replay_file(THREE_WAY)
        await eventually(lambda: len(collector.ended) == len(expected.records))
    assert collector.records == expected.records
    assert collector.records[0].conference_members == (
        "PJSIP/8001",
        "PJSIP/citizen",
        "PJSIP/police110",
    )


async def test_originate_callback() -> None:
    async with AmiServer(trace=CALLBACK) as ami, running(ami) as (session, collector):
        recorded = await ami.wait_expecting("Originate")
        called = await CallControl(session).callback(
            "PJSIP/8001", "13800138005", ticket="T20261123-0005", wait_answer=True
        )
        assert (called.message, called.reason, called.channel, called.uniqueid) == (
            "Originate successfully queued",
            4,
            "PJSIP/8001-0000000a",
            "1795396392.12",
        )
        assert same_frame(ami.actions_named("Originate")[0], recorded)
        expected = replay_file(CALLBACK)
        await eventually(lambda: len(collector.ended) == len(expected.records))
    # The tracker ties the call to the Originate by ActionID: ours, where the recording has rec-2.
    assert collector.records == [
        replace(r, origin_action=called.action_id) for r in expected.records
    ]


async def test_queue_login_pause_unpause_logout_as_recorded() -> None:
    async with AmiServer() as ami, running(ami) as (session, _):
        control = CallControl(session)
        steps = [
            (control.queue_login("PJSIP/8003", "Agent Wang"), "QueueAdd", "rec-3"),
            (control.queue_pause("PJSIP/8001", "lunch"), "QueuePause", "rec-4"),
            (control.queue_unpause("PJSIP/8001"), "QueuePause", "rec-17"),
            (control.queue_logout("PJSIP/8003"), "QueueRemove", "rec-18"),
        ]
        for call, action, action_id in steps:
            result = await call
            assert result.message == recorded_answer(ACTIONS, action_id)["Message"]
            assert same_frame(ami.actions_named(action)[-1], recorded_action(ACTIONS, action_id))
        assert not session.queue_members[("hotline", "PJSIP/8001")].paused


async def test_failures_carry_asterisks_recorded_messages() -> None:
    async with AmiServer() as ami, running(ami) as (session, _):
        control = CallControl(session)
        with pytest.raises(AmiActionFailed) as raised:
            await control.three_way("PJSIP/8009-0000dead", "PJSIP/8001-00000001", room="9004")
        assert raised.value.message == recorded_answer(ACTIONS, "rec-12")["Message"]
        assert not ami.actions_named("Originate"), "no 110 leg into a room nobody reached"
        with pytest.raises(AmiActionFailed) as raised:
            await control.hangup("PJSIP/nonexistent-00000000")
        assert raised.value.message == recorded_answer(ACTIONS, "rec-13")["Message"]
        with pytest.raises(AmiActionFailed) as raised:
            await control.queue_pause("PJSIP/8099", "lunch")
        assert raised.value.message == recorded_answer(ACTIONS, "rec-14")["Message"]
        assert (raised.value.action, str(raised.value)) == (
            "QueuePause",
            "QueuePause failed: Interface not found",
        )


async def test_failed_callback_says_why() -> None:
    async with AmiServer() as ami, running(ami) as (session, _):
        ami.originate_reason = 5
        with pytest.raises(AmiActionFailed) as raised:
            await CallControl(session).callback("PJSIP/8001", "13800138005", wait_answer=True)
        assert (raised.value.action, raised.value.message) == ("Originate", "busy")
        assert raised.value.response["Uniqueid"] == "<null>"


async def test_blind_transfer_puts_the_ticket_on_the_caller_first() -> None:
    async with AmiServer(check_channels=False) as ami, running(ami) as (session, _):
        await CallControl(session).transfer_blind(
            "PJSIP/8001-00000005", caller_channel="PJSIP/citizen-00000004", ticket="T20261123-0003"
        )
        setvar, transfer = [
            f for f in ami.received_frames if f["Action"] in ("Setvar", "BlindTransfer")
        ]
        assert same_frame(
            setvar,
            Frame.of(
                ("Action", "Setvar"),
                ("Channel", "PJSIP/citizen-00000004"),
                ("Variable", "__HOTLINE_TICKET"),
                ("Value", "T20261123-0003"),
            ),
        )
        assert transfer["Channel"] == "PJSIP/8001-00000005"


async def test_other_lines_use_the_transfer_line_context() -> None:
    async with AmiServer(check_channels=False) as ami, running(ami) as (session, _):
        await CallControl(session).transfer_blind("PJSIP/8001-00000005", "119")
        (sent,) = ami.actions_named("BlindTransfer")
        assert (sent["Context"], sent["Exten"]) == ("transfer-line", "119")


async def test_bad_input_is_refused_before_anything_is_sent() -> None:
    async with AmiServer(check_channels=False) as ami, running(ami) as (session, _):
        control = CallControl(session)
        before = len(ami.received_frames)
        with pytest.raises(ValueError):
            await control.transfer_blind("PJSIP/8001-00000005", "999")
        with pytest.raises(ValueError):
            await control.callback("PJSIP/8001", "138;Hangup")
        with pytest.raises(ValueError):
            await control.three_way("PJSIP/a-1", "PJSIP/b-2", room="9004\r\nAction: Hangup")
        with pytest.raises(ValueError):
            await control.callback("PJSIP/8001", "13800138005", ticket="T1\r\nAction: Hangup")
        assert [f["Action"] for f in ami.received_frames[before:]] == []
