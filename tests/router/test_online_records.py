"""The durable side of online contacts, on SQLite and PostgreSQL: conversations queued, taken
once, ended and queued again; replies stored once and written on the timeline; skills."""

from __future__ import annotations

from collections.abc import Callable

from tests.fakes.clock import FakeClock
from tickets.model import Channel, CitizenIdentity, InboundContact
from tickets.online_contacts import ENDED, QUEUED, WAITING, OnlineRecords
from tickets.outbox import Outbox
from tickets.service import TicketService


async def test_a_conversation_from_queue_to_end_and_back(
    service: TicketService, clock: FakeClock, make_contact: Callable[..., InboundContact]
) -> None:
    records = OnlineRecords(service.store, Outbox(service.store, clock))
    citizen = CitizenIdentity(wechat_openid="oRecords")

    def says(text: str) -> InboundContact:
        return make_contact(channel=Channel.WECHAT, citizen=citizen, text=text)

    # Accepting the contact queued its conversation in the same transaction.
    accepted = await service.accept(says("垃圾桶满了"))
    tid = accepted.ticket_id
    assert accepted.conversation == QUEUED
    row = await records.conversation(tid) or {}
    assert row["status"] == WAITING and row["waiting_since"] == clock() and row["language"] == "zh"
    start = clock()
    clock.advance(minutes=1)
    again = await service.accept(says("还在等"))
    assert again.ticket_id == tid and again.conversation == WAITING  # joins, changes nothing
    assert (await records.conversation(tid) or {})["waiting_since"] == start
    assert [r["ticket_id"] for r in await records.waiting()] == [tid]

    await records.let_go([tid])
    assert await records.take(tid, "li", clock())
    assert not await records.take(tid, "zhang", clock())  # first one wins
    assert [(r["ticket_id"], r["agent"]) for r in await records.taken()] == [(tid, "li")]
    assert await records.taken("zhang") == [] and await records.waiting() == []

    reply = await records.reply(
        tid, "li", "wechat", "oRecords", {"text": "已派人清运", "agent": "li"}, "reply:k1", clock()
    )
    same = await records.reply(
        tid, "li", "wechat", "oRecords", {"text": "已派人清运", "agent": "li"}, "reply:k1", clock()
    )
    assert reply["id"] == same["id"] and reply["status"] == "pending"
    assert (await records.outbound(reply["id"]) or {})["kind"] == "reply"
    contacts, replies = await records.messages(tid)
    assert [c["text"] for c in contacts] == ["垃圾桶满了", "还在等"] and len(replies) == 1

    assert not await records.end(tid, "zhang", clock())  # not zhang's
    assert await records.end(tid, "li", clock())
    assert (await records.conversation(tid) or {})["status"] == ENDED
    later = clock.advance(hours=1)
    back = await service.accept(says("又满了"))  # the citizen writes again: queued again
    assert back.ticket_id == tid and back.conversation == QUEUED
    row = await records.conversation(tid) or {}
    assert row["status"] == WAITING and row["agent"] is None
    assert row["waiting_since"] == later and row["offers"] == 0

    async with service.store.read() as tx:
        timeline = await tx.timeline_of(tid)
    notes = [(e["action"], e["actor"], e["reason"]) for e in timeline if e["actor"] == "li"]
    assert notes == [
        ("chat_taken", "li", ""),
        ("chat_reply", "li", "已派人清运"),
        ("chat_ended", "li", ""),
    ]


async def test_skills_are_set_and_replaced(service: TicketService, clock: FakeClock) -> None:
    records = OnlineRecords(service.store, Outbox(service.store, clock))
    assert await records.skills() == {}
    await records.put_skills("li", ["complaint", "complaint"], ["en", "zh"], 2, "sup", clock())
    await records.put_skills("li", ["consult"], ["zh"], None, "sup", clock())
    await records.put_skills("zhang", [], ["zh"], 4, "admin", clock())
    skills = await records.skills()
    assert {k: (v["categories"], v["languages"], v["max_chats"]) for k, v in skills.items()} == {
        "li": (["consult"], ["zh"], None),
        "zhang": ([], ["zh"], 4),
    }
