"""A long ticket list is paged: where the agent is, and the way back and on."""

from __future__ import annotations

import asyncio
from typing import Any

from hotline.bootstrap import Center
from tickets.model import Channel, CitizenIdentity, InboundContact


async def test_the_ticket_list_pages_back_and_on(center: Center, login: Any) -> None:
    now = center.tickets.clock()
    await asyncio.gather(*(
        center.tickets.accept(InboundContact(
            channel=Channel.PHONE, external_id=f"call-{n}",
            citizen=CitizenIdentity(phone=f"138{n:08d}"), text=f"路灯不亮 {n}", received_at=now,
        ))
        for n in range(45)
    ))  # fmt: skip
    sup = await login("sup")
    first = await (await sup.client.get("/tickets")).text()
    assert "1 / 2" in first and "?page=2" in first and "?page=0" not in first
    second = await (await sup.client.get("/tickets?page=2")).text()
    assert "2 / 2" in second and "?page=1" in second and "?page=3" not in second


async def test_the_other_paged_lists_render(center: Center, login: Any) -> None:
    sup = await login("sup")
    for path in ("/knowledge", "/reviews"):
        resp = await sup.client.get(path)
        assert resp.status == 200, path
        assert 'class="pager"' not in await resp.text()  # one page: no pager
