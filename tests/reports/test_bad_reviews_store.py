"""Bad-review cases in the store, on SQLite and PostgreSQL: opened by the rating event,
walked through their steps and appeals with the timeline and audit written alongside, and
the SQL figure and overdue ordering agreeing with the pure rules."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent_console.review_pages import ReviewDesk, ReviewNotFound, ReviewRefused
from agent_console.web import ApiError
from reports.bad_reviews import Case, CaseAction, Status, followed_up, open_case, step_flags
from tests.fakes.clock import FakeClock
from tickets import review_cases as rc
from tickets.bus import InProcessBus
from tickets.lifecycle import Action
from tickets.model import CitizenIdentity, InboundContact, Role
from tickets.privacy import Viewer
from tickets.service import InvalidField, TicketService

AGENT = Viewer("agent01", Role.AGENT)
SUP = Viewer("supervisor", Role.SUPERVISOR)


def dept(service: TicketService, code: str) -> Viewer:
    return Viewer(f"{code}-user", Role.DEPARTMENT, code, service.scope_of(code))


async def rated(
    service: TicketService,
    clock: FakeClock,
    make_contact: Any,
    department: str,
    rating: str,
    name: str | None = "张三",
) -> str:
    contact: InboundContact = make_contact(citizen=CitizenIdentity(name=name, phone="13800138000"))
    number = (await service.accept(contact)).ticket_number
    d = dept(service, department)
    for viewer, action, payload in [
        (AGENT, Action.DISPATCH, {"department": department}),
        (d, Action.SIGN, {}),
        (d, Action.SUBMIT_RESULT, {"result": "已处理。"}),
        (AGENT, Action.INFORM_CITIZEN, {}),
        (AGENT, Action.RECORD_RATING, {"rating": rating}),
    ]:
        clock.advance(minutes=5)
        await service.act(number, viewer, action, payload=payload)
    return number


@pytest.fixture
def desk(service: TicketService) -> ReviewDesk:
    d = ReviewDesk(service.store, service)
    assert isinstance(service.bus, InProcessBus)
    service.bus.subscribe(d)
    return d


async def drain(service: TicketService) -> None:
    assert isinstance(service.bus, InProcessBus)
    await service.bus.drain()


async def test_a_bad_rating_opens_one_case(
    service: TicketService, desk: ReviewDesk, clock: FakeClock, make_contact: Any
) -> None:
    bad = await rated(service, clock, make_contact, "chengguan", "very_dissatisfied")
    await rated(service, clock, make_contact, "eco", "satisfied")
    await rated(service, clock, make_contact, "eco", "basically_satisfied")
    await drain(service)
    cases, count = await desk.cases(SUP)
    assert count == 1
    [c] = cases
    # Rated Mon 2026-11-23 10:25 local: contact by Thu 26 24:00, rectify by Mon 30 24:00.
    assert (c["ticket"], c["department"], c["level"], c["named"], c["status"]) == (
        bad, "chengguan", "very_dissatisfied", True, "pending_contact",
    )  # fmt: skip
    assert c["contact_due"] == "2026-11-26T16:00:00+00:00"
    assert c["rectify_due"] == "2026-11-30T16:00:00+00:00"
    assert await desk.open_missing() == []  # idempotent
    view = await service.view(bad, SUP)
    opened = [e for e in view["timeline"] if e["action"] == "review_open"]
    assert len(opened) == 1 and opened[0]["payload"]["case"] == c["id"]


async def test_the_sweep_opens_cases_the_subscriber_missed(
    service: TicketService, clock: FakeClock, make_contact: Any
) -> None:
    # No subscriber: as if the process died between the rating's commit and the case's.
    number = await rated(service, clock, make_contact, "chengguan", "dissatisfied", name=None)
    desk = ReviewDesk(service.store, service)
    assert (await desk.cases(SUP))[1] == 0
    [case_id] = await desk.open_missing()
    detail = await desk.detail(case_id, SUP)
    assert (detail["ticket"], detail["named"]) == (number, False)


async def test_steps_timeline_and_audit(
    service: TicketService, desk: ReviewDesk, clock: FakeClock, make_contact: Any
) -> None:
    number = await rated(service, clock, make_contact, "chengguan", "dissatisfied")
    await drain(service)
    [c] = (await desk.cases(SUP))[0]
    cg = dept(service, "chengguan")
    assert c["actions"] == ["set_complex"]  # what the supervisor may do now
    detail = await desk.detail(c["id"], cg)
    assert detail["actions"] == ["contact", "appeal"]
    with pytest.raises(InvalidField):
        await desk.act(c["id"], cg, CaseAction.CONTACT, note="  ")
    with pytest.raises(ReviewRefused):
        await desk.act(c["id"], cg, CaseAction.RECTIFY, note="先整改")
    with pytest.raises(ApiError):
        await desk.act(c["id"], cg, CaseAction.CLOSE, note="自己办结")
    clock.advance(hours=2)
    await desk.act(c["id"], cg, CaseAction.CONTACT, note="电话联系市民,已致歉")
    await desk.act(c["id"], SUP, CaseAction.SET_COMPLEX, note="涉及多部门", complex_case=True)
    clock.advance(days=3)
    await desk.act(c["id"], cg, CaseAction.RECTIFY, note="已清理占道")
    done = await desk.act(c["id"], SUP, CaseAction.CLOSE, note="回访市民确认")
    assert done["status"] == "done" and done["complex"]
    assert done["rectify_due"] == "2026-12-14T16:00:00+00:00"  # 15 working days
    assert [(s["action"], s["actor"]) for s in done["steps"]] == [
        ("contact", "chengguan-user"),
        ("set_complex", "supervisor"),
        ("rectify", "chengguan-user"),
        ("close", "supervisor"),
    ]
    view = await service.view(number, SUP)
    actions = [e["action"] for e in view["timeline"]]
    for a in ("review_open", "review_contact", "review_set_complex", "review_rectify"):
        assert a in actions
    assert view["timeline"][-1]["reason"] == "回访市民确认"
    async with service.store.read() as tx:
        row = await tx.ticket(number=number)
        assert row is not None
        audit = await tx.audit_entries(row["id"])
    assert {a["action"] for a in audit} >= {"review_contact", "review_close"}
    assert done["actions"] == []


async def test_appeal_upheld_takes_the_rating_out(
    service: TicketService, desk: ReviewDesk, clock: FakeClock, make_contact: Any
) -> None:
    number = await rated(service, clock, make_contact, "chengguan", "very_dissatisfied")
    other = await rated(service, clock, make_contact, "eco", "dissatisfied")
    await drain(service)
    cg, eco = dept(service, "chengguan"), dept(service, "eco")
    [mine] = (await desk.cases(cg))[0]
    [theirs] = (await desk.cases(eco))[0]
    assert (mine["ticket"], theirs["ticket"]) == (number, other)
    # Department A neither sees nor appeals B's case.
    with pytest.raises(ReviewNotFound):
        await desk.detail(theirs["id"], cg)
    with pytest.raises(ReviewNotFound):
        await desk.act(theirs["id"], cg, CaseAction.APPEAL, note="不是我们的")
    with pytest.raises(ApiError):
        await desk.cases(AGENT)
    with pytest.raises(InvalidField):
        await desk.act(mine["id"], cg, CaseAction.APPEAL, note="")
    await desk.act(mine["id"], cg, CaseAction.APPEAL, note="市民诉求属物业纠纷", evidence="合同")
    with pytest.raises(ReviewRefused):
        await desk.act(mine["id"], cg, CaseAction.APPEAL, note="再申诉一次")
    with pytest.raises(ApiError):
        await desk.act(mine["id"], cg, CaseAction.UPHOLD, note="自己批准")
    clock.advance(hours=4)
    out = await desk.act(mine["id"], SUP, CaseAction.UPHOLD, note="经核实不属城管职责")
    assert (out["status"], out["appeal"], out["rating_excluded"]) == (
        "appeal_upheld", "upheld", True,
    )  # fmt: skip
    [appeal] = out["appeals"]
    assert (appeal["reason"], appeal["evidence"], appeal["decision"]) == (
        "市民诉求属物业纠纷", "合同", "upheld",
    )  # fmt: skip
    assert appeal["decided_by"] == "supervisor"
    view = await service.view(number, SUP)
    entry = view["timeline"][-1]
    assert (entry["action"], entry["reason"]) == ("review_uphold", "经核实不属城管职责")
    async with service.store.read() as tx:
        ticket = await tx.ticket(number=number)
        untouched = await tx.ticket(number=other)
    assert ticket is not None and ticket["rating_excluded"] is True
    assert untouched is not None and untouched["rating_excluded"] is False
    with pytest.raises(ReviewRefused):
        await desk.act(mine["id"], cg, CaseAction.CONTACT, note="联系")
    # B's appeal is rejected: its case goes on.
    await desk.act(theirs["id"], eco, CaseAction.APPEAL, note="恶意差评")
    out = await desk.act(theirs["id"], SUP, CaseAction.REJECT, note="证据不足")
    assert (out["status"], out["appeal"], out["actions"]) == (
        "pending_contact",
        "rejected",
        ["set_complex"],
    )
    assert (await desk.detail(theirs["id"], eco))["actions"] == ["contact", "appeal"]


async def test_sql_figure_list_and_overdue_agree_with_the_rules(
    service: TicketService, clock: FakeClock, make_contact: Any
) -> None:
    # Not subscribed: the rated ticket only carries the generated cases.
    desk = ReviewDesk(service.store, service)
    number = await rated(service, clock, make_contact, "chengguan", "dissatisfied")
    async with service.store.read() as tx:
        ticket = await tx.ticket(number=number)
    assert ticket is not None
    rnd = random.Random(12345)
    depts = ["chengguan", "eco", "education", None]
    base = datetime(2026, 9, 1, tzinfo=UTC)
    made: list[Case] = []
    async with service.store.write() as tx:
        for i in range(300):
            at = base + timedelta(minutes=rnd.randint(0, 120 * 24 * 60), microseconds=i)
            c = open_case(
                service.calendar, rnd.choice(depts), "dissatisfied", at, rnd.random() < 0.7
            )
            status = rnd.choice(list(Status))
            contacted = (
                at + timedelta(days=rnd.uniform(0, 7))
                if status is not Status.PENDING_CONTACT
                else None
            )
            if status is Status.APPEAL_UPHELD and rnd.random() < 0.5:
                contacted = None
            rectified = (
                (contacted or at) + timedelta(days=rnd.uniform(0, 9))
                if status in (Status.RECTIFIED, Status.DONE)
                else None
            )
            closed = (rectified or contacted or at) + timedelta(hours=1) if status in (
                Status.DONE, Status.APPEAL_UPHELD
            ) else None  # fmt: skip
            c = Case(
                c.department, c.level, at, c.named, c.contact_due, c.rectify_due,
                status=status, contacted_at=contacted, rectified_at=rectified, closed_at=closed,
            )  # fmt: skip
            made.append(c)
            await rc.insert_case(
                tx,
                {
                    "ticket_id": ticket["id"],
                    "department": c.department,
                    "level": c.level,
                    "rated_at": at,
                    "named": c.named,
                    "status": c.status.value,
                    "contact_due": c.contact_due,
                    "rectify_due": c.rectify_due,
                    "contacted_at": contacted,
                    "rectified_at": rectified,
                    "closed_at": closed,
                    "opened_at": at,
                    "updated_at": at,
                },
            )
    await drain(service)
    for start, end in [
        (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)),
        (base, datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2026, 9, 15, 7, 30, tzinfo=UTC), datetime(2026, 9, 16, tzinfo=UTC)),
    ]:
        sql = await desk.followed_sql(start, end)
        pure = await desk.followed_pure(start, end)
        assert sql == pure
        assert sql == followed_up(made, start, end)  # ... and the cases as generated
    # Overdue filter and ordering: the SQL agrees with step_flags at the clock's now.
    now = clock()
    rows, count = await desk.cases(SUP, limit=1000)
    assert count == 300
    flags = [r["overdue"] and r["status"] not in ("done", "appeal_upheld") for r in rows]
    first_calm = flags.index(False)
    assert all(flags[:first_calm]) and not any(flags[first_calm:])
    finals = [r["status"] in ("done", "appeal_upheld") for r in rows]
    assert finals == sorted(finals)
    over, n_over = await desk.cases(SUP, limit=1000, overdue_only=True)
    async with service.store.read() as tx:
        all_rows = await rc.list_cases(tx, now, limit=1000)
    from agent_console.review_pages import _case

    expected = {r["id"] for r in all_rows if step_flags(_case(r), now).overdue}
    assert {r["id"] for r in over} == expected and n_over == len(expected)
    # A department's filter never widens its scope.
    cg = dept(service, "chengguan")
    mine, _ = await desk.cases(cg, limit=1000, department="eco")
    assert mine == []


async def test_step_warnings_are_given_once_and_announced(
    service: TicketService, desk: ReviewDesk, clock: FakeClock, make_contact: Any
) -> None:
    from tickets.events import DeadlineWarning

    heard: list[DeadlineWarning] = []

    async def listen(e: object) -> None:
        if isinstance(e, DeadlineWarning):
            heard.append(e)

    assert isinstance(service.bus, InProcessBus)
    service.bus.subscribe(listen)  # type: ignore[arg-type]
    number = await rated(service, clock, make_contact, "chengguan", "dissatisfied")
    await drain(service)
    assert await desk.give_warnings() == []
    # Rated Mon 10:25 local, contact due Thu 24:00 (85 h 35 min): 80 % of it has passed
    # at Thu 06:53 local (Wed 22:53 UTC).
    clock.now = datetime(2026, 11, 25, 22, 52, tzinfo=UTC)
    assert await desk.give_warnings() == []
    clock.now = datetime(2026, 11, 25, 22, 54, tzinfo=UTC)
    given = await desk.give_warnings()
    assert [(w.kind, w.ticket_number, w.departments) for w in given] == [
        ("review_contact_warning", number, ("chengguan",))
    ]
    assert await desk.give_warnings() == []
    clock.now = datetime(2026, 11, 26, 16, tzinfo=UTC)
    assert [w.kind for w in await desk.give_warnings()] == ["review_contact_overdue"]
    await drain(service)
    assert [w.kind for w in heard] == ["review_contact_warning", "review_contact_overdue"]
    view = await service.view(number, SUP)
    notes = [e["payload"]["kind"] for e in view["timeline"] if e["action"] == "review_warning"]
    assert notes == ["review_contact_warning", "review_contact_overdue"]
