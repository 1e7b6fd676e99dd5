"""The store's contract, run on SQLite and on PostgreSQL through the ticket service.

Accepting is idempotent per (channel, external id) even under concurrency, numbers are
per local day and consecutive, threading joins the right ticket, and every timestamp
comes back as an aware UTC datetime on both backends.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from tests.conftest import FakeClock
from tickets.bus import InProcessBus
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, RatingLevel, Role, State
from tickets.policy import TicketRules
from tickets.privacy import Viewer
from tickets.service import InvalidField, TicketService
from tickets.store import Store, create_store
from tickets.tables import citizens, contacts, tickets, timeline

MakeContact = Callable[..., InboundContact]

NUMBER = re.compile(r"^\d{8}-\d{6}$")
AGENT = Viewer("agent01", Role.AGENT)
SUPERVISOR = Viewer("supervisor", Role.SUPERVISOR)
BEIJING = ZoneInfo("Asia/Shanghai")


def department(service: TicketService, code: str) -> Viewer:
    """A department user of `code`, seeing its own units."""
    return Viewer(f"{code}-user", Role.DEPARTMENT, code, service.scope_of(code))


def phone(i: int) -> str:
    """A distinct valid mobile number per i (so contacts do not thread together)."""
    return f"139{i:08d}"


async def count(store: Store, table: Any, *where: Any) -> int:
    async with store.read() as tx:
        q = select(func.count()).select_from(table)
        if where:
            q = q.where(*where)
        return int((await tx.conn.execute(q)).scalar_one())


async def all_rows(store: Store, table: Any) -> list[dict[str, Any]]:
    async with store.read() as tx:
        q = select(table).order_by(table.c[next(iter(table.primary_key.columns)).name])
        return [dict(r) for r in (await tx.conn.execute(q)).mappings()]


async def warm_pool(store: Store, n: int = 10) -> None:
    """Open n connections at once, so a burst runs in parallel instead of one by one
    while the pool is still connecting (on PostgreSQL)."""

    async def hold() -> None:
        async with store.read() as tx:
            await tx.ping()
            await asyncio.sleep(0.05)

    await asyncio.gather(*(hold() for _ in range(n)))


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# -- accept ----------------------------------------------------------------------------------


async def test_accept_creates_ticket_contact_and_timeline(
    service: TicketService, store: Store, make_contact: MakeContact, clock: FakeClock
) -> None:
    contact = make_contact(category="complaint.noise", district="jinniu")
    result = await service.accept(contact)

    assert result.created_ticket and not result.duplicate and not result.joined_existing
    assert NUMBER.match(result.ticket_number)
    # 02:00 UTC on 23 Nov is 10:00 in Beijing, the same day.
    assert result.ticket_number == "20261123-000001"

    [ticket] = await all_rows(store, tickets)
    assert ticket["id"] == result.ticket_id
    assert ticket["number"] == result.ticket_number
    assert ticket["state"] == State.RECEIVED.value
    assert ticket["channel"] == "phone"
    assert ticket["category"] == "complaint.noise" and ticket["district"] == "jinniu"
    assert ticket["created_at"] == clock()

    [row] = await all_rows(store, contacts)
    assert row["id"] == result.contact_id
    assert (row["channel"], row["external_id"]) == ("phone", contact.external_id)
    assert row["ticket_id"] == result.ticket_id
    assert row["citizen_id"] == ticket["citizen_id"] is not None
    assert row["text"] == contact.text

    [citizen] = await all_rows(store, citizens)
    assert citizen["phone"] == "+8613800138000" and citizen["name"] == "张三"

    [entry] = await all_rows(store, timeline)
    assert entry["ticket_id"] == result.ticket_id
    assert (entry["action"], entry["from_state"], entry["to_state"]) == ("accept", None, "received")
    assert entry["payload"]["contact_id"] == result.contact_id
    assert entry["at"] == clock()


async def test_numbers_follow_the_beijing_date_and_restart_each_day(
    service: TicketService, make_contact: MakeContact, clock: FakeClock
) -> None:
    first = await service.accept(make_contact(citizen=CitizenIdentity(phone=phone(1))))
    second = await service.accept(make_contact(citizen=CitizenIdentity(phone=phone(2))))
    assert [first.ticket_number, second.ticket_number] == ["20261123-000001", "20261123-000002"]

    clock.now = datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Beijing
    late = await service.accept(make_contact(citizen=CitizenIdentity(phone=phone(3))))
    assert late.ticket_number == "20261123-000003"

    clock.advance(seconds=1)  # midnight in Beijing, still the 23rd in UTC
    assert clock().date().day == 23
    nxt = await service.accept(make_contact(citizen=CitizenIdentity(phone=phone(4))))
    again = await service.accept(make_contact(citizen=CitizenIdentity(phone=phone(5))))
    assert [nxt.ticket_number, again.ticket_number] == ["20261124-000001", "20261124-000002"]


async def test_repeat_delivery_returns_the_same_ticket(
    service: TicketService, store: Store, make_contact: MakeContact, clock: FakeClock
) -> None:
    contact = make_contact()
    first = await service.accept(contact)
    clock.advance(minutes=5)
    # A redelivery may even carry other text: the (channel, external id) decides.
    repeat = await service.accept(
        make_contact(external_id=contact.external_id, text="retransmitted")
    )

    assert repeat.duplicate and not repeat.created_ticket
    assert (repeat.ticket_id, repeat.ticket_number, repeat.contact_id) == (
        first.ticket_id,
        first.ticket_number,
        first.contact_id,
    )
    assert await count(store, contacts) == 1
    assert await count(store, tickets) == 1
    assert await count(store, timeline) == 1
    # The same external id on another channel is another contact.
    other = await service.accept(make_contact(channel=Channel.SMS, external_id=contact.external_id))
    assert not other.duplicate
    assert await count(store, contacts) == 2


async def test_a_batch_across_channels_finds_only_its_own_repeats(
    service: TicketService, store: Store, make_contact: MakeContact
) -> None:
    """Contacts committed together are looked up together: an id repeated on another
    channel is a new contact, the same (channel, id) a repeat."""
    first = await service.accept(make_contact(channel=Channel.WECHAT, external_id="a"))
    await service.accept(make_contact(channel=Channel.SMS, external_id="b"))
    await warm_pool(store)
    results = await asyncio.gather(
        service.accept(make_contact(channel=Channel.WECHAT, external_id="b")),
        service.accept(make_contact(channel=Channel.SMS, external_id="a")),
        service.accept(make_contact(channel=Channel.WECHAT, external_id="a")),
    )

    assert [r.duplicate for r in results] == [False, False, True]
    assert results[2].contact_id == first.contact_id
    assert await count(store, contacts) == 4


async def test_new_citizens_of_different_channels_are_accepted_in_one_batch(
    service: TicketService, store: Store, make_contact: MakeContact, monkeypatch: Any
) -> None:
    """Calls, WeChat messages and letters arriving together are committed together: new
    citizens known by different kinds of key go into one insert, not one by one."""
    one_by_one: list[str] = []
    single = service._accept_single

    async def noted(c: Any) -> Any:
        one_by_one.append(c.external_id)
        return await single(c)

    monkeypatch.setattr(service, "_accept_single", noted)
    burst = [
        make_contact(channel=Channel.PHONE, citizen=CitizenIdentity(phone="13800138001")),
        make_contact(channel=Channel.WECHAT, citizen=CitizenIdentity(wechat_openid="oX1")),
        make_contact(channel=Channel.MAILBOX, citizen=CitizenIdentity(email="a@example.cn")),
        make_contact(channel=Channel.PHONE, citizen=CitizenIdentity(phone="13800138002")),
    ]
    results = await asyncio.gather(*(service.accept(c) for c in burst))
    assert one_by_one == []
    assert all(r.created_ticket for r in results)
    assert await count(store, citizens) == 4


async def test_fifty_concurrent_duplicates_make_one_contact_and_one_ticket(
    service: TicketService, store: Store, make_contact: MakeContact
) -> None:
    contact = make_contact(category="complaint.noise")
    await warm_pool(store)
    results = await asyncio.gather(*(service.accept(contact) for _ in range(50)))

    assert len({r.ticket_number for r in results}) == 1
    assert len({r.contact_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert sum(r.created_ticket for r in results) == 1
    assert await count(store, contacts) == 1
    assert await count(store, tickets) == 1
    assert await count(store, citizens) == 1
    assert await count(store, timeline) == 1


async def test_fifty_concurrent_contacts_get_fifty_consecutive_numbers(
    service: TicketService, store: Store, make_contact: MakeContact
) -> None:
    batch = [make_contact(citizen=CitizenIdentity(phone=phone(i))) for i in range(50)]
    await warm_pool(store)
    results = await asyncio.gather(*(service.accept(c) for c in batch))

    numbers = sorted(r.ticket_number for r in results)
    assert numbers == [f"20261123-{i:06d}" for i in range(1, 51)]
    assert all(r.created_ticket and not r.duplicate for r in results)
    assert await count(store, tickets) == 50
    assert await count(store, contacts) == 50
    assert await count(store, contacts, contacts.c.ticket_id.is_(None)) == 0


async def test_concurrent_contacts_of_one_new_citizen(
    service: TicketService, store: Store, make_contact: MakeContact
) -> None:
    """A citizen calls and writes at once: one citizen record, one ticket, no error."""
    who = CitizenIdentity(name="李四", phone="13912345678")
    batch = [make_contact(citizen=who, category="complaint.noise") for _ in range(20)]
    await warm_pool(store)
    results = await asyncio.gather(*(service.accept(c) for c in batch))

    assert await count(store, citizens) == 1
    assert await count(store, contacts) == 20
    assert len({r.ticket_number for r in results}) == 1
    assert sum(r.created_ticket for r in results) == 1
    assert sum(r.joined_existing for r in results) == 19


async def test_concurrent_contacts_of_a_known_citizen_thread_into_one_ticket(
    service: TicketService, store: Store, make_contact: MakeContact
) -> None:
    """Threading must not depend on timing: the same matter at once is still one ticket."""
    earlier = await service.accept(make_contact(category="help.water", text="家里停水了"))
    batch = [make_contact(category="complaint.noise") for _ in range(20)]
    await warm_pool(store)
    results = await asyncio.gather(*(service.accept(c) for c in batch))

    assert await count(store, citizens) == 1
    assert len({r.ticket_number for r in results}) == 1
    assert earlier.ticket_number not in {r.ticket_number for r in results}
    assert sum(r.created_ticket for r in results) == 1
    assert await count(store, tickets) == 2


@pytest_asyncio.fixture
async def other_process(store: Store, clock: FakeClock) -> AsyncIterator[TicketService]:
    """A second service on its own engine over the same database: another `hotline serve`."""
    other = create_store(store.engine.url.render_as_string(hide_password=False))
    svc = TicketService(
        store=other, bus=InProcessBus(), rules=TicketRules(), forgery_key=b"k" * 32, clock=clock
    )
    try:
        await svc.load_reference()
        yield svc
    finally:
        await other.close()


async def test_two_processes_accept_one_burst_without_duplicates(
    service: TicketService,
    other_process: TicketService,
    store: Store,
    make_contact: MakeContact,
) -> None:
    """Duplicates, a new citizen and a known one, all arriving at two processes at once."""
    await service.accept(make_contact(category="help.water", text="家里停水了"))
    await other_process.load_reference()
    repeated = make_contact(citizen=CitizenIdentity(phone=phone(1)), text="同一条短信")
    newcomer = CitizenIdentity(name="王五", phone=phone(2))
    burst: list[tuple[TicketService, InboundContact]] = []
    for n in range(40):
        svc = (service, other_process)[n % 2]
        burst.append((svc, repeated))
        burst.append((svc, make_contact(citizen=newcomer, category="complaint.noise")))
        burst.append((svc, make_contact(category="complaint.noise")))  # the known citizen
    await warm_pool(store)
    await warm_pool(other_process.store)
    results = await asyncio.gather(*(svc.accept(c) for svc, c in burst))

    dup = results[0::3]
    assert len({r.contact_id for r in dup}) == 1 and sum(not r.duplicate for r in dup) == 1
    for same_matter in (results[1::3], results[2::3]):
        assert len({r.ticket_number for r in same_matter}) == 1
        assert sum(r.created_ticket for r in same_matter) == 1
    assert await count(store, citizens) == 3
    assert await count(store, contacts) == 1 + 1 + 40 + 40
    assert await count(store, tickets) == 4


async def test_two_processes_thread_one_matter_into_one_ticket(
    service: TicketService,
    other_process: TicketService,
    store: Store,
    make_contact: MakeContact,
) -> None:
    """A known citizen writes to two processes at once about one matter: one ticket."""
    earlier = await service.accept(make_contact(category="help.water", text="家里停水了"))
    await warm_pool(store)
    await warm_pool(other_process.store)
    burst = [make_contact(category="complaint.noise") for _ in range(20)]
    results = await asyncio.gather(
        *((service, other_process)[n % 2].accept(c) for n, c in enumerate(burst))
    )

    assert len({r.ticket_number for r in results}) == 1
    assert earlier.ticket_number not in {r.ticket_number for r in results}
    assert await count(store, tickets) == 2
    assert await count(store, citizens) == 1


# -- threading -------------------------------------------------------------------------------


async def test_same_citizen_and_category_within_the_window_joins(
    service: TicketService, store: Store, make_contact: MakeContact, clock: FakeClock
) -> None:
    first = await service.accept(make_contact(category="complaint.noise"))
    clock.advance(hours=71)
    again = await service.accept(make_contact(category="complaint.noise", text="还在施工"))

    assert again.joined_existing and not again.created_ticket and not again.duplicate
    assert again.ticket_number == first.ticket_number
    assert again.contact_id != first.contact_id
    assert await count(store, tickets) == 1
    assert await count(store, contacts, contacts.c.ticket_id == first.ticket_id) == 2

    view = await service.view(first.ticket_number, SUPERVISOR)
    assert [c["text"] for c in view["contacts"]] == [
        "小区门口夜间施工噪声扰民,影响休息。",
        "还在施工",
    ]
    assert [e["action"] for e in view["timeline"]] == ["accept", "add_contact"]
    assert view["timeline"][1]["payload"]["contact_id"] == again.contact_id


async def test_after_the_window_a_new_ticket_opens(
    service: TicketService, make_contact: MakeContact, clock: FakeClock
) -> None:
    first = await service.accept(make_contact(category="complaint.noise"))
    clock.advance(hours=72, seconds=1)
    later = await service.accept(make_contact(category="complaint.noise"))
    assert later.created_ticket and not later.joined_existing
    assert later.ticket_number != first.ticket_number


async def test_another_category_opens_a_new_ticket(
    service: TicketService, make_contact: MakeContact, clock: FakeClock
) -> None:
    first = await service.accept(make_contact(category="complaint.noise"))
    clock.advance(minutes=10)
    other = await service.accept(make_contact(category="help.water", text="家里停水了"))
    assert other.created_ticket and not other.joined_existing
    assert other.ticket_number != first.ticket_number


async def test_another_citizen_never_joins(
    service: TicketService, make_contact: MakeContact
) -> None:
    first = await service.accept(make_contact(category="complaint.noise"))
    other = await service.accept(
        make_contact(
            category="complaint.noise",
            citizen=CitizenIdentity(phone=phone(7)),
            text=f"我也要反映 {first.ticket_number} 的问题",
        )
    )
    assert other.created_ticket and other.ticket_number != first.ticket_number


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("请问工单 {} 处理得怎么样了?", id="spaced"),
        pytest.param("工单号:{}。", id="punctuated"),
        pytest.param(
            "请问工单{}处理得怎么样了?",
            id="between-hanzi",
        ),
    ],
)
async def test_quoting_a_ticket_number_joins_it(
    service: TicketService, make_contact: MakeContact, clock: FakeClock, template: str
) -> None:
    first = await service.accept(make_contact(category="complaint.noise"))
    await service.accept(make_contact(category="help.water", text="家里停水了"))
    clock.advance(days=10)  # long past the window, and another category
    quoting = await service.accept(
        make_contact(
            channel=Channel.WECHAT,
            category="help.water",
            text=template.format(first.ticket_number),
        )
    )
    assert quoting.joined_existing
    assert quoting.ticket_number == first.ticket_number


# -- lifecycle -------------------------------------------------------------------------------


async def test_full_lifecycle_on_the_timeline(
    service: TicketService, store: Store, make_contact: MakeContact, clock: FakeClock
) -> None:
    accepted = await service.accept(make_contact(category="complaint.noise", district="jinniu"))
    number = accepted.ticket_number
    chengguan = department(service, "chengguan")
    steps: list[tuple[Viewer, Action, dict[str, Any], State]] = [
        (AGENT, Action.DISPATCH, {"department": "chengguan"}, State.DISPATCHED),
        (chengguan, Action.SIGN, {}, State.HANDLING),
        (chengguan, Action.SUBMIT_RESULT, {"result": "已责令夜间停工。"}, State.RESULT_SUBMITTED),
        (AGENT, Action.INFORM_CITIZEN, {}, State.FOLLOW_UP),
        (AGENT, Action.RECORD_RATING, {"rating": RatingLevel.SATISFIED.value}, State.CLOSED),
    ]
    times = [clock()]
    for viewer, action, payload, expected in steps:
        clock.advance(hours=3, microseconds=1234)
        times.append(clock())
        seen = await service.act(number, viewer, action, payload=payload)
        assert seen["state"] == expected.value, action

    view = await service.view(number, SUPERVISOR)
    assert view["state"] == "closed"
    assert view["rating"] == "satisfied"
    assert view["closed_at"] == times[-1].isoformat()
    assert view["lead_department"] == "chengguan"
    assert [(r["level"], r["score"]) for r in view["ratings"]] == [("satisfied", 4)]
    [hop] = view["dispatches"]
    assert (hop["department"], hop["signed_at"]) == ("chengguan", times[2].isoformat())

    tl = view["timeline"]
    assert [e["action"] for e in tl] == [
        "accept",
        "dispatch",
        "sign",
        "submit_result",
        "inform_citizen",
        "record_rating",
    ]
    states = ["received", "dispatched", "handling", "result_submitted", "follow_up", "closed"]
    assert [e["to_state"] for e in tl] == states
    assert [e["from_state"] for e in tl] == [None, *states[:-1]]
    assert [e["at"] for e in tl] == [t.isoformat() for t in times]
    assert all(e["at"].endswith("+00:00") for e in tl)

    # Stored rows, not just the rendered view, are aware UTC and in order.
    rows = await all_rows(store, timeline)
    assert [r["at"] for r in rows] == times
    for r in rows:
        assert_utc(r["at"])
    [ticket] = await all_rows(store, tickets)
    for key in ("created_at", "updated_at", "dispatched_at", "due_at", "result_at", "closed_at"):
        assert_utc(ticket[key])
    assert ticket["closed_at"] == times[-1]
    assert ticket["version"] == 1 + len(steps)


# -- time --------------------------------------------------------------------------------------


async def test_aware_datetimes_come_back_as_utc(
    service: TicketService, store: Store, make_contact: MakeContact
) -> None:
    in_beijing = datetime(2026, 11, 23, 9, 58, 30, 654321, tzinfo=BEIJING)
    result = await service.accept(make_contact(received_at=in_beijing))

    [row] = await all_rows(store, contacts)
    assert row["id"] == result.contact_id
    assert_utc(row["received_at"])
    assert_utc(row["accepted_at"])
    assert row["received_at"] == in_beijing
    assert row["received_at"] == datetime(2026, 11, 23, 1, 58, 30, 654321, tzinfo=UTC)
    view = await service.view(result.ticket_number, SUPERVISOR)
    assert view["contacts"][0]["received_at"] == "2026-11-23T01:58:30.654321+00:00"


async def test_naive_datetimes_are_refused(
    service: TicketService, store: Store, make_contact: MakeContact
) -> None:
    with pytest.raises(InvalidField):
        await service.accept(make_contact(received_at=datetime(2026, 11, 23, 10, 0)))
    assert await count(store, contacts) == 0
