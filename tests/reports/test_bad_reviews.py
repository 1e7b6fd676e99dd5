"""The 3-5-15 clock across the 2026 National Day holiday (hand-computed instants), every
case/appeal rule, and the "named bad reviews followed up" figure."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from reports.bad_reviews import (
    Appeal,
    Case,
    CaseAction,
    CaseError,
    CaseStep,
    Followed,
    Status,
    allowed,
    apply,
    case_deadlines,
    followed_up,
    is_bad,
    open_case,
    overdue_steps,
    step_flags,
    total,
)
from tickets.model import RatingLevel, Role
from tickets.sla import CalendarOverride, WorkCalendar

CAL = WorkCalendar()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# 2026: Mid-Autumn Sep 25-27 (Fri-Sun), National Day Oct 1-7 (Thu-Wed); Sat Oct 10 is a
# working day (调休). Instants are UTC; local (Asia/Shanghai) is UTC+8; a step ends at
# local 24:00 of its last working day = 16:00 UTC that day.
GOLDEN = [
    # rated (UTC), local date, contact due (3rd working day), rectify (5th), complex (15th)
    # Wed Sep 30 10:00 local: working days after it are Oct 8, 9, 10(Sat, 调休), 12, 13 ...
    (utc(2026, 9, 30, 2), utc(2026, 10, 10, 16), utc(2026, 10, 13, 16), utc(2026, 10, 27, 16)),
    # Wed Sep 30 23:59 local (15:59 UTC): still Sep 30 locally, same deadlines.
    (utc(2026, 9, 30, 15, 59), utc(2026, 10, 10, 16), utc(2026, 10, 13, 16), utc(2026, 10, 27, 16)),
    # Thu Oct 1 00:30 local (Sep 30 16:30 UTC): a holiday; counting starts Oct 8 all the same.
    (utc(2026, 9, 30, 16, 30), utc(2026, 10, 10, 16), utc(2026, 10, 13, 16), utc(2026, 10, 27, 16)),
    # Sat Oct 3 (holiday) 15:00 local.
    (utc(2026, 10, 3, 7), utc(2026, 10, 10, 16), utc(2026, 10, 13, 16), utc(2026, 10, 27, 16)),
    # Fri Oct 9 09:00 local: Oct 10 (Sat 调休) is day 1, then Oct 12, 13; rectify Oct 15;
    # complex: 10,12,13,14,15,16,19,20,21,22,23,26,27,28,29 → Oct 29.
    (utc(2026, 10, 9, 1), utc(2026, 10, 13, 16), utc(2026, 10, 15, 16), utc(2026, 10, 29, 16)),
    # Thu Sep 24 18:00 local, before Mid-Autumn: Sep 28, 29, 30 → contact Sep 30; rectify
    # Oct 8, 9 → Oct 9; complex: 28,29,30,8,9,10,12,13,14,15,16,19,20,21,22 → Oct 22.
    (utc(2026, 9, 24, 10), utc(2026, 9, 30, 16), utc(2026, 10, 9, 16), utc(2026, 10, 22, 16)),
]


@pytest.mark.parametrize(("rated", "contact", "rectify", "complex_due"), GOLDEN)
def test_clock_across_national_day_2026(
    rated: datetime, contact: datetime, rectify: datetime, complex_due: datetime
) -> None:
    simple = case_deadlines(CAL, rated, complex_case=False)
    assert (simple.contact.due, simple.rectify.due) == (contact, rectify)
    assert not simple.contact.provisional and not simple.rectify.provisional
    hard = case_deadlines(CAL, rated, complex_case=True)
    assert (hard.contact.due, hard.rectify.due) == (contact, complex_due)


def test_clock_follows_the_citys_override_rows() -> None:
    # The city declares Oct 8 a holiday too: every step moves one working day on.
    cal = WorkCalendar([CalendarOverride(datetime(2026, 10, 8).date(), False, "本地假日")])
    d = case_deadlines(cal, utc(2026, 9, 30, 2), complex_case=False)
    assert d.contact.due == utc(2026, 10, 12, 16)
    assert d.rectify.due == utc(2026, 10, 14, 16)


def test_only_bad_levels_open_cases() -> None:
    assert [lv.value for lv in RatingLevel if is_bad(lv.value)] == [
        "dissatisfied",
        "very_dissatisfied",
    ]
    assert not is_bad("nonsense")
    with pytest.raises(ValueError):
        open_case(CAL, "chengguan", "basically_satisfied", utc(2026, 9, 30, 2), True)
    c = open_case(CAL, "chengguan", "dissatisfied", utc(2026, 9, 30, 2), True)
    assert (c.status, c.appeal, c.contact_due, c.rectify_due) == (
        Status.PENDING_CONTACT,
        Appeal.NONE,
        utc(2026, 10, 10, 16),
        utc(2026, 10, 13, 16),
    )


RATED = utc(2026, 9, 30, 2)
BASE = open_case(CAL, "chengguan", "very_dissatisfied", RATED, True)
DEPT, SUP = Role.DEPARTMENT, Role.SUPERVISOR


def step(
    action: CaseAction,
    role: Role = DEPT,
    *,
    note: str = "打过电话",
    in_scope: bool = True,
    at: datetime = RATED + timedelta(days=1),
    complex_case: bool | None = None,
) -> CaseStep:
    return CaseStep(action, role, "u", at, note, in_scope, complex_case)


def test_the_happy_path_records_each_instant() -> None:
    t1, t2, t3 = (RATED + timedelta(days=d) for d in (1, 2, 3))
    c = apply(BASE, step(CaseAction.CONTACT, at=t1), CAL)
    c = apply(c, step(CaseAction.RECTIFY, at=t2), CAL)
    c = apply(c, step(CaseAction.CLOSE, SUP, at=t3), CAL)
    assert (c.status, c.contacted_at, c.rectified_at, c.closed_at) == (Status.DONE, t1, t2, t3)
    with pytest.raises(CaseError) as e:
        apply(c, step(CaseAction.APPEAL), CAL)
    assert e.value.code == "final"


# Status × action: which step actions are possible from which status (for the right role).
STEP_TABLE = {
    (Status.PENDING_CONTACT, CaseAction.CONTACT): Status.CONTACTED,
    (Status.CONTACTED, CaseAction.RECTIFY): Status.RECTIFIED,
    (Status.RECTIFIED, CaseAction.CLOSE): Status.DONE,
}
ROLE_OF = {
    CaseAction.CONTACT: DEPT,
    CaseAction.RECTIFY: DEPT,
    CaseAction.APPEAL: DEPT,
    CaseAction.CLOSE: SUP,
    CaseAction.SET_COMPLEX: SUP,
    CaseAction.UPHOLD: SUP,
    CaseAction.REJECT: SUP,
}


@pytest.mark.parametrize(
    ("status", "appeal", "action", "role"),
    list(itertools.product(Status, Appeal, CaseAction, Role)),
)
def test_every_status_appeal_action_and_role(
    status: Status, appeal: Appeal, action: CaseAction, role: Role
) -> None:
    case = replace(BASE, status=status, appeal=appeal)
    s = step(action, role, complex_case=True)
    if role is not ROLE_OF[action]:
        with pytest.raises(CaseError) as e:
            apply(case, s, CAL)
        assert e.value.code == "role"
        return
    if status in (Status.DONE, Status.APPEAL_UPHELD):
        with pytest.raises(CaseError) as e:
            apply(case, s, CAL)
        assert e.value.code == "final"
        return
    if action in (CaseAction.CONTACT, CaseAction.RECTIFY, CaseAction.CLOSE):
        target = STEP_TABLE.get((status, action))
        if target is None:
            with pytest.raises(CaseError) as e:
                apply(case, s, CAL)
            assert e.value.code == "order"
        else:
            after = apply(case, s, CAL)
            assert after.status is target and after.appeal is appeal
        return
    if action is CaseAction.APPEAL:
        if appeal is Appeal.OPEN:
            with pytest.raises(CaseError) as e:
                apply(case, s, CAL)
            assert e.value.code == "appeal_open"
        else:
            after = apply(case, s, CAL)
            assert (after.status, after.appeal) == (status, Appeal.OPEN)
        return
    if action in (CaseAction.UPHOLD, CaseAction.REJECT):
        if appeal is not Appeal.OPEN:
            with pytest.raises(CaseError) as e:
                apply(case, s, CAL)
            assert e.value.code == "no_appeal"
        else:
            after = apply(case, s, CAL)
            if action is CaseAction.UPHOLD:
                assert (after.status, after.appeal) == (Status.APPEAL_UPHELD, Appeal.UPHELD)
                assert after.closed_at == s.at
            else:
                assert (after.status, after.appeal) == (status, Appeal.REJECTED)
        return
    # SET_COMPLEX: possible until the rectification is recorded.
    if status is Status.RECTIFIED:
        with pytest.raises(CaseError):
            apply(replace(case, rectified_at=RATED), s, CAL)
    else:
        after = apply(case, s, CAL)
        assert after.complex_case and after.rectify_due == utc(2026, 10, 27, 16)


@pytest.mark.parametrize("action", [CaseAction.CONTACT, CaseAction.RECTIFY, CaseAction.APPEAL])
def test_a_department_acts_only_on_its_own_cases(action: CaseAction) -> None:
    case = replace(BASE, status=Status.CONTACTED) if action is CaseAction.RECTIFY else BASE
    with pytest.raises(CaseError) as e:
        apply(case, step(action, in_scope=False), CAL)
    assert e.value.code == "scope"


@pytest.mark.parametrize("action", list(CaseAction))
def test_every_action_needs_a_note(action: CaseAction) -> None:
    case = {
        CaseAction.RECTIFY: replace(BASE, status=Status.CONTACTED),
        CaseAction.CLOSE: replace(BASE, status=Status.RECTIFIED),
        CaseAction.UPHOLD: replace(BASE, appeal=Appeal.OPEN),
        CaseAction.REJECT: replace(BASE, appeal=Appeal.OPEN),
    }.get(action, BASE)
    with pytest.raises(CaseError) as e:
        apply(case, step(action, ROLE_OF[action], note="  ", complex_case=True), CAL)
    assert (e.value.code, e.value.field) == ("note", "note")


def test_set_complex_both_ways_and_refuses_no_change() -> None:
    c = apply(BASE, step(CaseAction.SET_COMPLEX, SUP, complex_case=True), CAL)
    assert c.rectify_due == utc(2026, 10, 27, 16)
    back = apply(c, step(CaseAction.SET_COMPLEX, SUP, complex_case=False), CAL)
    assert back.rectify_due == utc(2026, 10, 13, 16) and not back.complex_case
    for value in (False, None):
        with pytest.raises(CaseError) as e:
            apply(BASE, step(CaseAction.SET_COMPLEX, SUP, complex_case=value), CAL)
        assert e.value.field == "complex"


def test_rejected_appeal_lets_the_case_go_on_and_may_be_appealed_again() -> None:
    c = apply(BASE, step(CaseAction.APPEAL), CAL)
    c = apply(c, step(CaseAction.REJECT, SUP), CAL)
    assert (c.status, c.appeal) == (Status.PENDING_CONTACT, Appeal.REJECTED)
    c = apply(c, step(CaseAction.CONTACT), CAL)
    assert c.status is Status.CONTACTED
    c = apply(c, step(CaseAction.APPEAL), CAL)
    assert c.appeal is Appeal.OPEN


def test_allowed_lists_what_the_page_offers() -> None:
    assert allowed(BASE, DEPT) == [CaseAction.CONTACT, CaseAction.APPEAL]
    assert allowed(BASE, DEPT, in_scope=False) == []
    assert allowed(BASE, SUP) == [CaseAction.SET_COMPLEX]
    appealed = replace(BASE, appeal=Appeal.OPEN)
    assert allowed(appealed, SUP) == [CaseAction.SET_COMPLEX, CaseAction.UPHOLD, CaseAction.REJECT]
    assert allowed(appealed, DEPT) == [CaseAction.CONTACT]
    assert allowed(replace(BASE, status=Status.DONE), SUP) == []
    assert allowed(BASE, Role.AGENT) == []


def test_overdue_and_due_soon_flags_per_step() -> None:
    contact_due, rectify_due = BASE.contact_due, BASE.rectify_due
    # 80 % of the contact time has passed: due soon, not overdue.
    soon = RATED + (contact_due - RATED) * 0.8
    f = step_flags(BASE, soon)
    assert (f.contact_due_soon, f.contact_overdue, f.rectify_overdue) == (True, False, False)
    just_before = contact_due - timedelta(microseconds=1)
    assert not step_flags(BASE, just_before).contact_overdue
    assert overdue_steps(BASE, contact_due) == ["contact"]
    assert overdue_steps(BASE, rectify_due) == ["contact", "rectify"]
    # Contacted late: stays flagged after the fact; contacted in time: never.
    late = replace(BASE, status=Status.CONTACTED, contacted_at=contact_due + timedelta(hours=1))
    assert overdue_steps(late, contact_due + timedelta(hours=2)) == ["contact"]
    on_time = replace(BASE, status=Status.CONTACTED, contacted_at=contact_due - timedelta(hours=1))
    assert overdue_steps(on_time, contact_due + timedelta(hours=2)) == []
    assert not step_flags(on_time, rectify_due - timedelta(hours=1)).contact_due_soon
    # An upheld appeal owes nothing more: open steps are not overdue afterwards.
    upheld = replace(
        BASE,
        status=Status.APPEAL_UPHELD,
        appeal=Appeal.UPHELD,
        closed_at=RATED + timedelta(hours=5),
    )
    assert overdue_steps(upheld, rectify_due + timedelta(days=30)) == []
    assert not step_flags(upheld, soon).contact_due_soon


def _case(dept: str | None, named: bool, contacted: bool, rated: datetime, **kw: object) -> Case:
    c = open_case(CAL, dept, "dissatisfied", rated, named)
    if contacted:
        c = replace(c, status=Status.CONTACTED, contacted_at=rated + timedelta(hours=3))
    return replace(c, **kw)  # type: ignore[arg-type]


def test_followed_up_figure_by_hand() -> None:
    start, end = utc(2026, 9, 30, 16), utc(2026, 10, 31, 16)  # local October
    inside = utc(2026, 10, 9, 1)
    cases = [
        _case("chengguan", True, True, inside),
        _case("chengguan", True, False, inside),
        _case("chengguan", False, False, inside),  # anonymous: not counted
        _case("chengguan", True, True, start),  # first instant of the period counts
        _case("chengguan", True, True, end),  # the end is exclusive
        _case("chengguan", True, False, inside, status=Status.APPEAL_UPHELD),  # upheld: out
        _case("eco", True, True, inside),
        _case(None, True, False, inside),
    ]
    per = followed_up(cases, start, end)
    assert per == {
        "chengguan": Followed(2, 3),
        "eco": Followed(1, 1),
        None: Followed(0, 1),
    }
    assert total(per) == Followed(3, 5)
    assert total(per).rate == pytest.approx(0.6)
    assert Followed(0, 0).rate is None


def test_step_warnings_once_each_in_order() -> None:
    from reports.bad_reviews import warnings_due

    contact_warn = RATED + (BASE.contact_due - RATED) * 0.8
    assert warnings_due(BASE, contact_warn - timedelta(seconds=1)) == []
    assert warnings_due(BASE, contact_warn) == ["review_contact_warning"]
    assert warnings_due(BASE, contact_warn, ["review_contact_warning"]) == []
    # Rectify's warning share passes after contact's deadline (5 vs 3 working days).
    at = BASE.contact_due
    assert warnings_due(BASE, at, ["review_contact_warning"]) == ["review_contact_overdue"]
    late = BASE.rectify_due
    assert warnings_due(BASE, late) == ["review_contact_overdue", "review_rectify_overdue"]
    contacted = replace(BASE, status=Status.CONTACTED, contacted_at=RATED + timedelta(hours=1))
    assert warnings_due(contacted, late) == ["review_rectify_overdue"]
    done = replace(contacted, status=Status.DONE, rectified_at=late, closed_at=late)
    assert warnings_due(done, late + timedelta(days=9)) == []
    upheld = replace(BASE, status=Status.APPEAL_UPHELD, appeal=Appeal.UPHELD)
    assert warnings_due(upheld, late) == []
