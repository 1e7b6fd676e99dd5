"""When a citizen last wrote on a channel (WeChat's 48-hour window), on SQLite and PostgreSQL:
questions asked together share one read and each gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from router.channel_actions import ChannelActions
from tests.fakes.clock import FakeClock
from tickets.model import Channel, CitizenIdentity, InboundContact
from tickets.service import TicketService


async def test_last_seen_per_citizen_and_channel_in_one_read(
    service: TicketService, clock: FakeClock, make_contact: Callable[..., InboundContact]
) -> None:
    def wrote(channel: Channel, **who: str) -> InboundContact:
        return make_contact(channel=channel, citizen=CitizenIdentity(**who), text="路灯不亮")

    first = clock()
    await service.accept(wrote(Channel.WECHAT, wechat_openid="oA"))
    await service.accept(wrote(Channel.WECHAT, wechat_openid="oB"))
    later = clock.advance(hours=3)
    await service.accept(wrote(Channel.WECHAT, wechat_openid="oA"))
    await service.accept(wrote(Channel.TELEGRAM, telegram_id="777"))

    actions = ChannelActions(service, service.store, clock)
    reads = 0
    read = service.store.read

    def counting_read() -> object:
        nonlocal reads
        reads += 1
        return read()

    service.store.read = counting_read  # type: ignore[method-assign,assignment]
    asked = [("wechat", "oA"), ("wechat", "oB"), ("wechat", "oNobody"), ("telegram", "777"),
             ("wechat", "777"), ("telegram", "oA")]  # fmt: skip
    answers = await asyncio.gather(*(actions.last_seen(c, r) for c, r in asked))
    service.store.read = read  # type: ignore[method-assign]
    assert answers == [later, first, None, later, None, None]
    assert reads == 1
