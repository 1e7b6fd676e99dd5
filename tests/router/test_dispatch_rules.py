"""Dispatch rules: the most specific rule wins; urgent orders are dispatched at once."""

from __future__ import annotations

from collections.abc import Callable

from router.dispatch_rules import DispatchRule, suggest
from router.dispatching import DispatchDesk
from tests.fakes.clock import FakeClock
from tickets.bus import InProcessBus
from tickets.model import InboundContact, Role
from tickets.privacy import Viewer
from tickets.service import TicketService

PARENTS = {
    "complaint.noise": "complaint",
    "complaint.street_vendor": "complaint",
    "complaint": None,
}
RULES = [
    DispatchRule(1, "chengguan", category="complaint"),
    DispatchRule(2, "eco", category="complaint.noise", co_departments=("chengguan",)),
    DispatchRule(3, "chengguan.jinniu", category="complaint.street_vendor", district="jinniu"),
    DispatchRule(4, "housing", category="complaint.noise", keywords=("工地", "夜间")),
    DispatchRule(5, "health", keywords=("医院",), priority=5),
]


def pick(category: str | None, district: str | None, text: str = "") -> int | None:
    s = suggest(RULES, category=category, district=district, text=text, parents=PARENTS)
    return s.rule_id if s else None


def test_most_specific_rule_wins() -> None:
    assert pick("complaint.noise", "chenghua") == 2  # exact category beats parent
    assert pick("complaint.noise", "chenghua", "工地夜间施工") == 4  # more keywords
    assert pick("complaint.noise", "chenghua", "工地施工") == 2  # keywords must all occur
    assert pick("complaint.street_vendor", "jinniu") == 3  # named district
    assert pick("complaint.street_vendor", "chenghua") == 1  # falls back to the parent
    assert pick(None, None, "医院门口") == 5
    assert pick(None, None, "路灯坏了") is None


async def test_urgent_order_is_dispatched_by_rule_at_once(
    service: TicketService, clock: FakeClock, make_contact: Callable[..., InboundContact]
) -> None:
    desk = DispatchDesk(service)
    assert isinstance(service.bus, InProcessBus)
    service.bus.subscribe(desk)
    admin = Viewer("admin", Role.ADMIN)
    saved = await desk.save(
        admin,
        [
            {"category": "report.pollution", "lead_department": "eco", "auto_dispatch": True},
            {"category": "complaint.noise", "lead_department": "chengguan"},
        ],
        clock(),
    )
    assert saved == 2
    urgent = await service.accept(make_contact(category="report.pollution", text="工厂偷排污水"))
    calm = await service.accept(make_contact(category="complaint.noise", text="广场舞太吵"))
    await service.bus.drain()
    sup = Viewer("sup", Role.SUPERVISOR)
    t = await service.view(urgent.ticket_number, sup)
    assert t["state"] == "dispatched" and t["lead_department"] == "eco"
    assert t["urgency"] == "urgent"
    (entry,) = [e for e in t["timeline"] if e["action"] == "dispatch"]
    assert entry["role"] == "system" and entry["reason"].startswith("急事急办")
    assert t["due_at"] is not None  # an hour deadline: urgent
    left = await service.view(calm.ticket_number, sup)
    assert left["state"] == "received"
    s = await desk.suggestion(calm.ticket_number, sup)
    assert s is not None and s.lead_department == "chengguan" and not s.auto_dispatch


async def test_rules_name_real_departments(service: TicketService, clock: FakeClock) -> None:
    desk = DispatchDesk(service)
    import pytest

    from tickets.service import InvalidField

    with pytest.raises(InvalidField) as bad:
        await desk.save(Viewer("a", Role.ADMIN), [{"lead_department": "nowhere"}], clock())
    assert bad.value.details["field"] == "rules[0].lead_department"
    with pytest.raises(InvalidField):
        await desk.save(Viewer("x", Role.AGENT), [], clock())
