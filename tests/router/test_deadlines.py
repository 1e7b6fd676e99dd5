"""Deadline watch: each warning once, in order: sign overdue, early warning, overdue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from router.deadlines import DeadlineWatcher, OpenOrder, warnings_due
from tests.fakes.clock import FakeClock
from tickets.lifecycle import Action
from tickets.model import CitizenIdentity, InboundContact, Role
from tickets.privacy import Viewer
from tickets.service import TicketService

T = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_the_rule() -> None:
    o = OpenOrder("dispatched", T, T + timedelta(days=3), T + timedelta(days=4))
    assert warnings_due(o, T - timedelta(seconds=1)) == []
    assert warnings_due(o, T) == ["sign_overdue"]
    assert warnings_due(o, T + timedelta(days=3)) == ["sign_overdue", "due_warning"]
    assert warnings_due(o, T + timedelta(days=4)) == ["sign_overdue", "overdue"]
    assert warnings_due(o, T + timedelta(days=4), ["sign_overdue", "overdue"]) == []
    signed = OpenOrder("handling", T, T + timedelta(days=3), T + timedelta(days=4))
    assert warnings_due(signed, T + timedelta(days=3)) == ["due_warning"]
    paused = OpenOrder("handling", T, None, T, extension_pending=True)
    assert warnings_due(paused, T + timedelta(days=1)) == []


async def test_watch_warns_once_on_the_timeline(
    service: TicketService, clock: FakeClock, make_contact: Callable[..., InboundContact]
) -> None:
    r = await service.accept(make_contact(category="complaint.noise"))
    t = await service.act(
        r.ticket_number, Viewer("a", Role.AGENT), Action.DISPATCH, payload={"department": "eco"}
    )
    watcher = DeadlineWatcher(service, clock)
    assert await watcher.run_once() == []
    clock.now = datetime.fromisoformat(t["sign_due_at"]) + timedelta(minutes=1)
    (w,) = await watcher.run_once()
    assert (w.kind, w.ticket_number, w.departments) == ("sign_overdue", r.ticket_number, ("eco",))
    assert await watcher.run_once() == []  # once only
    clock.now = datetime.fromisoformat(t["due_at"]) + timedelta(minutes=1)
    kinds = [x.kind for x in await watcher.run_once()]
    assert kinds == ["overdue"]
    view = await service.view(r.ticket_number, Viewer("s", Role.SUPERVISOR))
    given = [e["payload"]["kind"] for e in view["timeline"] if e["action"] == "deadline_warning"]
    assert given == ["sign_overdue", "overdue"]


async def test_overdue_lists_only_orders_still_owed(
    service: TicketService, clock: FakeClock, make_contact: Callable[..., InboundContact]
) -> None:
    agent, sup = Viewer("a", Role.AGENT), Viewer("s", Role.SUPERVISOR)
    eco = Viewer("e", Role.DEPARTMENT, "eco", frozenset({"eco"}))
    owed, answered = [
        (
            await service.accept(
                make_contact(
                    citizen=CitizenIdentity(phone=f"1380013800{i}"), category="complaint.noise"
                )
            )
        ).ticket_number
        for i in range(2)
    ]
    for n in (owed, answered):
        t = await service.act(n, agent, Action.DISPATCH, payload={"department": "eco"})
    clock.now = datetime.fromisoformat(t["due_at"]) + timedelta(hours=1)
    await service.act(answered, eco, Action.SIGN)
    await service.act(answered, eco, Action.SUBMIT_RESULT, payload={"result": "已处理"})
    rows, total = await service.list(sup, overdue=True)
    assert [r["number"] for r in rows] == [owed] and total == 1
