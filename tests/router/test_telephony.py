"""Calls become tickets: real Asterisk 22 traces played by the fake AMI server through the
connector and the desk, to screen pops, contacts, timing logs and the police console."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from connectors.asterisk.intake import AsteriskConnector
from connectors.asterisk.session import AmiConfig
from router.call_timing import TimingMark, call_figures
from router.telephony import TelephonyDesk
from tests.fakes.ami_server import AmiServer
from tests.fakes.clock import FakeClock
from tickets.calls import CallLog
from tickets.events import (
    CallAnswered,
    CallerHistory,
    CallFinished,
    CallOffered,
    DomainEvent,
    TransferOutcome,
)
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.privacy import Viewer
from tickets.service import TicketService
from tickets.tables import users

TRACES = Path(__file__).parents[2].parent / "shared" / "ami-traces"
ANSWERED = TRACES / "real-asterisk-22.10.1__queue-answered-caller-hangup.ami"
BLIND = TRACES / "real-asterisk-22.10.1__blind-transfer-to-110.ami"
ABANDONED = TRACES / "real-asterisk-22.10.1__queue-abandoned.ami"


class Events:
    """Every event the bus delivered, in order."""

    def __init__(self) -> None:
        self.seen: list[DomainEvent] = []

    async def __call__(self, event: DomainEvent) -> None:
        self.seen.append(event)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.seen if isinstance(e, kind)]


async def until(check: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - the fake plays in the background
            await asyncio.sleep(0.01)


@pytest_asyncio.fixture
async def desk(
    service: TicketService, clock: FakeClock
) -> AsyncIterator[tuple[TelephonyDesk, Events]]:
    async with service.store.write() as tx:
        await tx.conn.execute(
            users.insert().values(
                username="zhang",
                display_name="Agent Zhang",
                password_hash="x",
                role="agent",
                extension="8001",
                created_at=clock(),
            )
        )
    events = Events()
    service.bus.subscribe(events)
    d = TelephonyDesk(service, CallLog(service.store, service, clock), service.bus)
    yield d, events
    await d.drain()


def ami_config(ami: AmiServer) -> AmiConfig:
    return AmiConfig(
        ami.host, ami.port, "hotline", "hotline12345", ping_interval=60, backoff_initial=0.01
    )


async def caller_of(trace: Path) -> str:
    text = trace.read_text(encoding="utf-8", errors="replace")
    line = next(
        x for x in text.splitlines() if x.startswith("CallerIDNum: ") and x[13:].strip().isdigit()
    )
    return line[13:].strip()


async def test_answered_call_pops_the_screen_and_opens_a_ticket(
    service: TicketService, desk: tuple[TelephonyDesk, Events], clock: FakeClock
) -> None:
    d, events = desk
    caller = await caller_of(ANSWERED)
    earlier = await service.accept(
        InboundContact(
            channel=Channel.WECHAT,
            external_id="wx-earlier",
            citizen=CitizenIdentity(phone=caller),
            text="上周反映的路灯问题",
            received_at=clock(),
            category="complaint.cityscape",
        )
    )
    async with AmiServer(trace=ANSWERED) as ami:
        connector = AsteriskConnector(ami_config(ami), d.on_signal)
        d.telephony = connector
        await connector.start()
        try:
            await until(lambda: bool(events.of(CallFinished)))
        finally:
            await connector.stop()
    await d.drain()
    await service.bus.drain()  # type: ignore[attr-defined]
    (pop,) = events.of(CallOffered)
    assert pop.agent == "PJSIP/8001" and pop.agent_username == "zhang"
    assert pop.caller == caller
    history = pop.history
    if history is None:  # the pop beat the history read; it followed in its own event
        (late,) = events.of(CallerHistory)
        history = late.history
    assert [h["number"] for h in history] == [earlier.ticket_number]
    (answered,) = events.of(CallAnswered)
    assert answered.agent_username == "zhang" and answered.ticket_number
    (finished,) = events.of(CallFinished)
    assert finished.ticket_number == answered.ticket_number and not finished.abandoned
    assert finished.figures["answered"] and finished.figures["talk_seconds"] > 0
    # the pop came before the answer, the answer before the end
    order = [
        type(e) for e in events.seen if isinstance(e, CallOffered | CallAnswered | CallFinished)
    ]
    assert order == [CallOffered, CallAnswered, CallFinished]
    # the caller's open, untouched ticket takes the call as a new contact
    assert answered.ticket_number == earlier.ticket_number
    ticket = await service.view(answered.ticket_number, Viewer("sup", Role.SUPERVISOR))
    (entry,) = [e for e in ticket["timeline"] if e["payload"].get("call_id")]
    assert entry["action"] == "add_contact" and entry["payload"]["call_id"] == pop.call_id
    assert entry["payload"]["recording"].endswith(f"/{pop.call_id}.wav")
    assert entry["payload"]["line"] == pop.dialed
    assert [c["channel"] for c in ticket["contacts"]] == ["wechat", "phone"]
    row = await d.calls.get(pop.call_id)
    assert row is not None and row["agent_username"] == "zhang"
    assert row["ticket_id"] is not None and row["ended_at"] is not None
    marks = [m["what"] for m in await d.calls.marks(pop.call_id)]
    assert marks[0] == "arrived" and "ringing" in marks and "answered" in marks
    assert marks.index("ringing") < marks.index("answered") < len(marks) - 1


async def test_one_key_110_transfers_the_caller_and_hands_the_ticket_to_the_police(
    service: TicketService, desk: tuple[TelephonyDesk, Events]
) -> None:
    d, events = desk
    async with AmiServer(trace=BLIND) as ami:
        connector = AsteriskConnector(ami_config(ami), d.on_signal)
        d.telephony = connector
        await connector.start()
        try:
            await ami.wait_expecting("BlindTransfer")
            await until(lambda: bool(events.of(CallAnswered)))
            await d.drain()
            (answered,) = events.of(CallAnswered)
            agent = Viewer("zhang", Role.AGENT)
            outcome = await d.transfer(agent, "8001", "110")
            assert outcome["status"] == "requested" and outcome["message"] == "Transfer succeeded"
            # the police see the ticket at the moment of the key press
            police = Viewer("p", Role.POLICE, "police", service.scope_of("police"))
            ticket = await service.view(answered.ticket_number, police)
            assert ticket["state"] == "with_police"
            assert ticket["timeline"][-1]["payload"]["call_id"] == answered.call_id
            await until(lambda: bool(events.of(CallFinished)))
        finally:
            await connector.stop()
    sent = ami.actions_named("BlindTransfer")[0]
    assert (sent["Exten"], sent["Context"]) == ("110", "transfer-110")
    setvar = ami.actions_named("Setvar")[0]
    assert setvar["Variable"] == "__HOTLINE_TICKET" and setvar["Value"] == answered.ticket_number
    (result,) = events.of(TransferOutcome)
    assert result.ok and result.line == "110"
    (finished,) = events.of(CallFinished)
    (transfer,) = finished.figures["transfers"]
    assert transfer["ok"] and transfer["setup_seconds"] is not None


async def test_abandoned_call_gets_a_callback_task(
    service: TicketService, desk: tuple[TelephonyDesk, Events]
) -> None:
    d, events = desk
    async with AmiServer(trace=ABANDONED) as ami:
        connector = AsteriskConnector(ami_config(ami), d.on_signal)
        await connector.start()
        try:
            await until(lambda: bool(events.of(CallFinished)))
        finally:
            await connector.stop()
    await d.drain()
    (finished,) = events.of(CallFinished)
    assert finished.abandoned and finished.ticket_number is None
    (missed,) = await d.calls.missed()
    assert missed["call_id"] == finished.call_id and missed["callback_due_at"] is not None
    await d.calls.callback_done(finished.call_id, "zhang")
    assert await d.calls.missed() == []


def test_call_figures_from_marks() -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

    def at(s: float) -> datetime:
        return t0 + timedelta(seconds=s)

    marks = [
        TimingMark("arrived", at(0)),
        TimingMark("queued", at(6)),
        TimingMark("ringing", at(6.1)),
        TimingMark("answered", at(18)),
        TimingMark("transfer_requested", at(60), "110"),
        TimingMark("transfer_failed", at(75), "BUSY"),
        TimingMark("transfer_requested", at(80), "110"),
        TimingMark("transfer_answered", at(83.5), "PJSIP/police110"),
        TimingMark("hangup", at(120)),
    ]
    f = call_figures(marks, 15)
    assert f["wait_seconds"] == 12 and f["within_service_level"] and f["answered"]
    assert f["talk_seconds"] == 102 and not f["abandoned"]
    assert f["transfers"] == [
        {"line": "110", "ok": False, "status": "BUSY", "setup_seconds": None},
        {"line": "110", "ok": True, "status": "PJSIP/police110", "setup_seconds": 3.5},
    ]
    slow = call_figures(marks, 10)
    assert not slow["within_service_level"]
    gone = call_figures([TimingMark("queued", at(0)), TimingMark("abandoned", at(40))], 15)
    assert gone["abandoned"] and not gone["answered"] and gone["wait_seconds"] == 40
