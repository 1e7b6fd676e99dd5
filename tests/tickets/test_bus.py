"""The in-process bus: each handler gets the kinds of events it names (or every event), as
a task of its own; a failing handler costs the others nothing."""

from __future__ import annotations

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
