"""Citizens hear about their ticket on the channel they used; phone-only callers get a call."""

from __future__ import annotations

from collections.abc import Callable

from router.notices import CitizenNotices
from tests.fakes.clock import FakeClock
from tickets.bus import InProcessBus
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.outbox import Outbox
from tickets.privacy import Viewer
from tickets.service import TicketService

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
