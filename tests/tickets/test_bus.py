"""The in-process bus: each handler gets the kinds of events it names (or every event), as
a task of its own; a failing handler costs the others nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tickets.bus import InProcessBus
from tickets.events import ContactAccepted, DomainEvent, TicketChanged

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def test_handlers_get_the_kinds_they_name_and_a_failure_stays_theirs() -> None:
    bus = InProcessBus()
    seen: dict[str, list[str]] = {"contacts": [], "all": [], "changes": []}

    async def contacts(e: DomainEvent) -> None:
        seen["contacts"].append(e.name)

    async def everything(e: DomainEvent) -> None:
        seen["all"].append(e.name)

    async def broken(e: DomainEvent) -> None:
        raise RuntimeError("a subscriber bug")

    async def changes(e: DomainEvent) -> None:
        seen["changes"].append(e.name)

    bus.subscribe(contacts, ContactAccepted)
    bus.subscribe(everything)
    bus.subscribe(broken, ContactAccepted, TicketChanged)
    stop = bus.subscribe(changes, TicketChanged)
    accepted = ContactAccepted(AT, 1, "20261123-000001", 1, "wechat", True)
    changed = TicketChanged(
        AT, 1, "20261123-000001", "dispatch", "received", "dispatched", "li", "agent"
    )
    await bus.publish(accepted)
    await bus.publish(changed)
    stop()
    await bus.publish(changed)
    await bus.drain()
    assert seen == {
        "contacts": ["ContactAccepted"],
        "all": ["ContactAccepted", "TicketChanged", "TicketChanged"],
        "changes": ["TicketChanged"],
    }


async def test_a_handler_is_given_only_the_events_it_wants() -> None:
    """`when` is asked first: an event the handler would drop makes no task at all."""
    bus = InProcessBus()
    seen: list[int] = []

    async def urgent_only(e: DomainEvent) -> None:
        assert isinstance(e, ContactAccepted)
        seen.append(e.ticket_id)

    def wants(e: DomainEvent) -> bool:
        return isinstance(e, ContactAccepted) and e.urgent

    bus.subscribe(urgent_only, ContactAccepted, when=wants)
    await bus.publish(ContactAccepted(AT, 1, "20261123-000001", 1, "wechat", True))
    assert not bus._tasks  # nothing to run for it
    await bus.publish(ContactAccepted(AT, 2, "20261123-000002", 2, "phone", True, urgent=True))
    await bus.drain()
    assert seen == [2]


async def test_events_committed_together_reach_each_handler_in_one_task_in_order() -> None:
    """A batch of contacts is published at once: one task per handler that wants any of
    them, the events in commit order, and one that fails costs the rest nothing."""
    bus = InProcessBus()
    seen: list[int] = []
    inline_seen: list[int] = []

    async def slow_then_record(e: DomainEvent) -> None:
        assert isinstance(e, ContactAccepted)
        if e.ticket_id == 2:
            raise RuntimeError("a subscriber bug")
        await asyncio.sleep(0.01 if e.ticket_id == 1 else 0)  # the first is the slowest
        seen.append(e.ticket_id)

    def online(e: DomainEvent) -> bool:
        return isinstance(e, ContactAccepted) and e.channel == "wechat"

    bus.subscribe(slow_then_record, ContactAccepted, when=online)
    bus.subscribe_inline(lambda e: inline_seen.append(getattr(e, "ticket_id", 0)))
    batch = [
        ContactAccepted(AT, n, f"20261123-00000{n}", n, "phone" if n == 3 else "wechat", True)
        for n in (1, 2, 3, 4)
    ]
    await bus.publish_many(batch)
    assert len(bus._tasks) == 1
    await bus.drain()
    assert seen == [1, 4]  # in order, past the failure, without the phone call
    assert inline_seen == [1, 2, 3, 4]
    await bus.publish_many([])
    assert not bus._tasks
