"""Citizens hear about their ticket on the channel they used; phone-only callers get a call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from router.notices import CitizenNotices
from tests.fakes.clock import FakeClock
from tickets.bus import InProcessBus
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.outbox import Outbox
from tickets.privacy import Viewer
from tickets.service import TicketService
from tickets.store import Tx

AGENT = Viewer("agent", Role.AGENT)


async def test_wechat_citizen_gets_accepted_dispatched_result_and_rating_request(
    service: TicketService, clock: FakeClock, make_contact: Callable[..., InboundContact]
) -> None:
    outbox = Outbox(service.store, clock)
    assert isinstance(service.bus, InProcessBus)
    service.bus.subscribe(CitizenNotices(service, outbox))
    contact = make_contact(
        channel=Channel.WECHAT,
        citizen=CitizenIdentity(wechat_openid="oWx_citizen_1"),
        category="complaint.noise",
    )
    r = await service.accept(contact)
    await service.bus.drain()
    await service.act(r.ticket_number, AGENT, Action.DISPATCH, payload={"department": "chengguan"})
    dept = Viewer("cg", Role.DEPARTMENT, "chengguan", service.scope_of("chengguan"))
    await service.act(r.ticket_number, dept, Action.SIGN)
    await service.act(r.ticket_number, dept, Action.SUBMIT_RESULT, payload={"result": "已处理"})
    await service.act(r.ticket_number, AGENT, Action.INFORM_CITIZEN)
    await service.bus.drain()
    messages = await outbox.messages()
    assert [(m["channel"], m["kind"], m["recipient"]) for m in messages] == [
        ("wechat", "accepted", "oWx_citizen_1"),
        ("wechat", "dispatched", "oWx_citizen_1"),
        ("wechat", "result", "oWx_citizen_1"),
        ("wechat", "rating_request", "oWx_citizen_1"),
    ]
    assert messages[2]["payload"]["result_text"] == "已处理"
    assert messages[1]["payload"]["department_name"] == "市城市管理局"
    # when the citizen wrote (WeChat's 48-hour window is counted from it)
    assert messages[0]["payload"]["wrote_at"] == contact.received_at.isoformat()
    # the same event delivered twice makes no second message
    await service.bus.drain()
    assert len(await outbox.messages()) == 4


async def test_phone_only_caller_gets_no_message(
    service: TicketService, clock: FakeClock, make_contact: Callable[..., InboundContact]
) -> None:
    outbox = Outbox(service.store, clock)
    assert isinstance(service.bus, InProcessBus)
    service.bus.subscribe(CitizenNotices(service, outbox))
    await service.accept(make_contact())
    await service.bus.drain()
    assert await outbox.messages() == []


async def test_agents_see_what_the_citizen_was_told_and_what_is_pending(
    service: TicketService, clock: FakeClock, make_contact: Callable[..., InboundContact]
) -> None:
    from tickets.model import SendError

    outbox = Outbox(service.store, clock)
    assert isinstance(service.bus, InProcessBus)
    service.bus.subscribe(CitizenNotices(service, outbox))
    r = await service.accept(
        make_contact(channel=Channel.WECHAT, citizen=CitizenIdentity(wechat_openid="oWx_2"))
    )
    await service.bus.drain()
    [m] = await outbox.claim()
    await outbox.failed(m, SendError("WeChat API 502"))
    t = await service.view(r.ticket_number, AGENT)
    (shown,) = t["outbound"]
    assert (shown["kind"], shown["status"], shown["last_error"]) == (
        "accepted",
        "pending",
        "WeChat API 502",
    )
    dept = Viewer("d", Role.DEPARTMENT, "eco", service.scope_of("eco"))
    await service.act(r.ticket_number, AGENT, Action.DISPATCH, payload={"department": "eco"})
    assert (await service.view(r.ticket_number, dept))["outbound"] == []


async def test_accepted_notice_commits_with_the_ticket_not_after_it(
    service: TicketService, clock: FakeClock, make_contact: Callable[..., InboundContact]
) -> None:
    """No subscriber runs here (as if the process died right after the commit): the
    notices are there all the same, one per new ticket, on the channel the citizen used."""
    outbox = Outbox(service.store, clock)
    batch = [
        make_contact(channel=Channel.WECHAT, citizen=CitizenIdentity(wechat_openid=f"oWx_b{i}"))
        for i in range(20)
    ]
    results = await asyncio.gather(*(service.accept(c) for c in batch))
    # One citizen quoting a ticket number goes the one-by-one path: the same rule holds.
    quoted = make_contact(
        channel=Channel.TELEGRAM,
        citizen=CitizenIdentity(telegram_id="7001"),
        text=f"工单 {results[0].ticket_number} 还没人来处理",
    )
    single = await service.accept(quoted)
    assert single.created_ticket
    messages = await outbox.messages()
    assert sorted((m["ticket_id"], m["channel"], m["recipient"]) for m in messages) == sorted(
        [(r.ticket_id, "wechat", f"oWx_b{i}") for i, r in enumerate(results)]
        + [(single.ticket_id, "telegram", "7001")]
    )
    assert all(m["kind"] == "accepted" and m["status"] == "pending" for m in messages)
    by_ticket = {m["ticket_id"]: m for m in messages}
    first = by_ticket[results[0].ticket_id]
    assert first["dedupe_key"] == f"accepted:{results[0].ticket_id}"
    assert first["payload"]["ticket_number"] == results[0].ticket_number
    assert first["payload"]["subject"] == "小区门口夜间施工噪声扰民,影响休息。"
    # WeChat delivering everything again, and the bus finally running: nothing twice.
    again = await asyncio.gather(*(service.accept(c) for c in [*batch, quoted]))
    assert all(r.duplicate for r in again)
    assert isinstance(service.bus, InProcessBus)
    service.bus.subscribe(CitizenNotices(service, outbox))
    await service.bus.drain()
    assert len(await outbox.messages()) == 21


async def test_a_failed_notice_write_takes_the_contact_back_with_it(
    service: TicketService,
    clock: FakeClock,
    make_contact: Callable[..., InboundContact],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Contact and notice are one transaction: if one cannot be written, neither is."""

    async def broken(self: Tx, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            raise RuntimeError("disk full")

    monkeypatch.setattr(Tx, "enqueue_outbound_many", broken)
    contact = make_contact(channel=Channel.WECHAT, citizen=CitizenIdentity(wechat_openid="oWx_x"))
    with pytest.raises(RuntimeError, match="disk full"):
        await service.accept(contact)
    async with service.store.read() as tx:
        assert await tx.contact_by_external_id("wechat", contact.external_id) is None
    monkeypatch.undo()
    r = await service.accept(contact)  # WeChat's retry
    assert not r.duplicate
    (m,) = await Outbox(service.store, clock).messages()
    assert (m["ticket_id"], m["kind"]) == (r.ticket_id, "accepted")


async def test_split_ticket_tells_the_citizen_its_new_number(
    service: TicketService, clock: FakeClock, make_contact: Callable[..., InboundContact]
) -> None:
    who = CitizenIdentity(wechat_openid="oWx_split")
    first = await service.accept(make_contact(channel=Channel.WECHAT, citizen=who))
    clock.advance(seconds=60)
    second = await service.accept(
        make_contact(channel=Channel.WECHAT, citizen=who, text="另外,路灯也不亮")
    )
    assert second.joined_existing and second.ticket_id == first.ticket_id
    new = await service.split(first.ticket_number, AGENT, [second.contact_id], "两件事")
    outbox = Outbox(service.store, clock)
    notices = [
        (m["kind"], m["recipient"], m["payload"]["ticket_number"]) for m in await outbox.messages()
    ]
    assert notices == [
        ("accepted", "oWx_split", first.ticket_number),
        ("accepted", "oWx_split", new["number"]),
    ]
