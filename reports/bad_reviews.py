"""Bad-review 3-5-15 tracking and appeals (申诉/复核): the clock, the case rules and the
"named bad reviews followed up" figure; pure, no I/O.

Every 不满意/非常不满意 rating opens a case for the ticket's lead department at the rating
time. The department contacts the citizen within 3 working days (已联系), rectifies within 5,
or within 15 when a supervisor marks the case complex (已整改), and a supervisor closes it
(已办结). The department may appeal a case it thinks malicious or out of its scope (申诉); a
supervisor re-checks it (复核): upheld closes the case as 申诉成立 and takes the rating out
of the figures, rejected lets the case go on. The clock keeps running while an appeal is
open: an appeal is no excuse to leave the citizen waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from tickets.model import RatingLevel, Role
from tickets.sla import BAD_REVIEW_STEPS, Deadline, WorkCalendar, working_days_deadline

__all__ = [
    "ACTIONS",
    "FINAL",
    "Appeal",
    "Case",
    "CaseAction",
    "CaseError",
    "CaseStep",
    "Status",
    "StepDeadlines",
    "StepFlags",
    "Followed",
    "allowed",
    "apply",
    "case_deadlines",
    "followed_up",
    "is_bad",
    "open_case",
    "overdue_steps",
    "step_flags",
    "total",
    "warnings_due",
]


class Status(StrEnum):
    """Where a case stands (待联系 → 已联系 → 已整改 → 已办结, or 申诉成立)."""

    PENDING_CONTACT = "pending_contact"
    CONTACTED = "contacted"
    RECTIFIED = "rectified"
    DONE = "done"
    APPEAL_UPHELD = "appeal_upheld"


FINAL = frozenset({Status.DONE, Status.APPEAL_UPHELD})


class Appeal(StrEnum):
    """The appeal on a case: none filed, open (申诉中), upheld (成立) or rejected (驳回)."""

    NONE = "none"
    OPEN = "open"
    UPHELD = "upheld"
    REJECTED = "rejected"


class CaseAction(StrEnum):
    """What people do to a case."""

    CONTACT = "contact"  # department: the citizen was contacted
    RECTIFY = "rectify"  # department: the matter was put right
    CLOSE = "close"  # supervisor: rectification checked, case closed (已办结)
    SET_COMPLEX = "set_complex"  # supervisor: a complex case gets 15 working days
    APPEAL = "appeal"  # department: 申诉
    UPHOLD = "uphold"  # supervisor: 复核 — the appeal stands
    REJECT = "reject"  # supervisor: 复核 — the appeal fails, the case goes on


ACTIONS = tuple(a.value for a in CaseAction)

# Which role may take which action; a department acts only on its own cases (in_scope).
_ROLES: dict[CaseAction, frozenset[Role]] = {
    CaseAction.CONTACT: frozenset({Role.DEPARTMENT}),
    CaseAction.RECTIFY: frozenset({Role.DEPARTMENT}),
    CaseAction.APPEAL: frozenset({Role.DEPARTMENT}),
    CaseAction.CLOSE: frozenset({Role.SUPERVISOR}),
    CaseAction.SET_COMPLEX: frozenset({Role.SUPERVISOR}),
    CaseAction.UPHOLD: frozenset({Role.SUPERVISOR}),
    CaseAction.REJECT: frozenset({Role.SUPERVISOR}),
}

# Step actions move the status along this table.
_STEPS: dict[CaseAction, tuple[Status, Status]] = {
    CaseAction.CONTACT: (Status.PENDING_CONTACT, Status.CONTACTED),
    CaseAction.RECTIFY: (Status.CONTACTED, Status.RECTIFIED),
    CaseAction.CLOSE: (Status.RECTIFIED, Status.DONE),
}


class CaseError(Exception):
    """An action the rules refuse; `code` is a catalog key suffix, `field` the form field."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class StepDeadlines:
    """When the citizen must have been contacted, and the matter rectified."""

    contact: Deadline
    rectify: Deadline


def case_deadlines(cal: WorkCalendar, rated_at: datetime, complex_case: bool) -> StepDeadlines:
    """The 3-5-15 clock from the rating instant: contact in 3 working days, rectify in 5,
    or in 15 for a complex case (counted as every working-day deadline: the rating day does
    not count, each step ends at 24:00 local of its last working day)."""
    contact = working_days_deadline(cal, rated_at, BAD_REVIEW_STEPS["contact"])
    days = BAD_REVIEW_STEPS["complex" if complex_case else "rectify"]
    return StepDeadlines(contact, working_days_deadline(cal, rated_at, days))


def is_bad(level: str) -> bool:
    """Whether a rating level opens a case (不满意, 非常不满意)."""
    try:
        return RatingLevel(level).is_bad
    except ValueError:
        return False


@dataclass(frozen=True)
class Case:
    """One bad-review case as the rules see it."""

    department: str | None
    level: str
    rated_at: datetime
    named: bool
    contact_due: datetime
    rectify_due: datetime
    status: Status = Status.PENDING_CONTACT
    complex_case: bool = False
    appeal: Appeal = Appeal.NONE
    contacted_at: datetime | None = None
    rectified_at: datetime | None = None
    closed_at: datetime | None = None


def open_case(
    cal: WorkCalendar, department: str | None, level: str, rated_at: datetime, named: bool
) -> Case:
    """The case a bad rating opens; ValueError for a rating that is not bad."""
    if not is_bad(level):
        raise ValueError(f"rating {level!r} does not open a bad-review case")
    d = case_deadlines(cal, rated_at, complex_case=False)
    return Case(department, level, rated_at, named, d.contact.due, d.rectify.due)


@dataclass(frozen=True)
class CaseStep:
    """One request on a case: who, when, what, why."""

    action: CaseAction
    role: Role
    actor: str
    at: datetime
    note: str = ""
    in_scope: bool = True  # a department acting on its own case
    complex_case: bool | None = None  # for SET_COMPLEX


def apply(case: Case, step: CaseStep, cal: WorkCalendar) -> Case:
    """The case after `step`, or CaseError saying why not."""
    a = step.action
    if step.role not in _ROLES[a]:
        raise CaseError("role", f"role {step.role.value} may not {a.value} a case")
    if step.role is Role.DEPARTMENT and not step.in_scope:
        raise CaseError("scope", "a department acts only on its own cases")
    if case.status in FINAL:
        raise CaseError("final", f"the case is {case.status.value}; nothing more to do")
    note = step.note.strip()
    if not note:
        raise CaseError("note", f"{a.value} needs a note", field="note")
    if a in _STEPS:
        source, target = _STEPS[a]
        if case.status is not source:
            raise CaseError("order", f"cannot {a.value} a case that is {case.status.value}")
        if a is CaseAction.CONTACT:
            return replace(case, status=target, contacted_at=step.at)
        if a is CaseAction.RECTIFY:
            return replace(case, status=target, rectified_at=step.at)
        return replace(case, status=target, closed_at=step.at)
    if a is CaseAction.SET_COMPLEX:
        if step.complex_case is None:
            raise CaseError("complex", "say whether the case is complex", field="complex")
        if step.complex_case == case.complex_case:
            raise CaseError("complex", "the case already is so", field="complex")
        if case.rectified_at is not None:
            raise CaseError("order", "the case is already rectified")
        d = case_deadlines(cal, case.rated_at, step.complex_case)
        return replace(case, complex_case=step.complex_case, rectify_due=d.rectify.due)
    if a is CaseAction.APPEAL:
        if case.appeal is Appeal.OPEN:
            raise CaseError("appeal_open", "the case already has an open appeal")
        return replace(case, appeal=Appeal.OPEN)
    # UPHOLD / REJECT: the 复核 of an open appeal.
    if case.appeal is not Appeal.OPEN:
        raise CaseError("no_appeal", "the case has no open appeal to decide")
    if a is CaseAction.UPHOLD:
        return replace(case, appeal=Appeal.UPHELD, status=Status.APPEAL_UPHELD, closed_at=step.at)
    return replace(case, appeal=Appeal.REJECTED)


def allowed(case: Case, role: Role, in_scope: bool = True) -> list[CaseAction]:
    """The actions `role` may take on `case` now (what the page offers)."""
    out = []
    for a in CaseAction:
        step = CaseStep(a, role, "", case.rated_at, "x", in_scope, not case.complex_case)
        try:
            apply(case, step, _ANY_CALENDAR)
        except CaseError:
            continue
        out.append(a)
    return out


# `allowed` only asks whether a step is possible; the deadlines it computes are dropped.
_ANY_CALENDAR = WorkCalendar()


@dataclass(frozen=True)
class StepFlags:
    """Per step: late (done after its due, or not done and past due) and due soon."""

    contact_overdue: bool
    rectify_overdue: bool
    contact_due_soon: bool
    rectify_due_soon: bool

    @property
    def overdue(self) -> bool:
        """Any step overdue."""
        return self.contact_overdue or self.rectify_overdue


def _late(done_at: datetime | None, due: datetime, now: datetime) -> bool:
    return done_at > due if done_at is not None else now >= due


def _soon(
    done_at: datetime | None, start: datetime, due: datetime, share: float, now: datetime
) -> bool:
    if done_at is not None or now >= due:
        return False
    return now >= start + (due - start) * share


def step_flags(case: Case, now: datetime, warn_share: float = 0.8) -> StepFlags:
    """Overdue and due-soon flags of both steps at `now`.

    A case closed by an upheld appeal owes nothing more: its open steps are not overdue.
    """
    upheld = case.status is Status.APPEAL_UPHELD
    contact_done = case.contacted_at or (case.closed_at if upheld else None)
    rectify_done = case.rectified_at or (case.closed_at if upheld else None)
    contact_late = _late(case.contacted_at, case.contact_due, now)
    rectify_late = _late(case.rectified_at, case.rectify_due, now)
    if upheld:
        contact_late = case.contacted_at is not None and case.contacted_at > case.contact_due
        rectify_late = case.rectified_at is not None and case.rectified_at > case.rectify_due
    return StepFlags(
        contact_overdue=contact_late,
        rectify_overdue=rectify_late,
        contact_due_soon=_soon(contact_done, case.rated_at, case.contact_due, warn_share, now),
        rectify_due_soon=_soon(rectify_done, case.rated_at, case.rectify_due, warn_share, now),
    )


def overdue_steps(case: Case, now: datetime) -> list[str]:
    """Names of the steps that are overdue at `now` (contact, rectify)."""
    f = step_flags(case, now)
    return [
        s for s, late in (("contact", f.contact_overdue), ("rectify", f.rectify_overdue)) if late
    ]


@dataclass(frozen=True)
class Followed:
    """The "named bad reviews followed up" figure: contacted / all named cases."""

    followed: int
    total: int

    @property
    def rate(self) -> float | None:
        """followed / total, None when there is no named bad review."""
        return self.followed / self.total if self.total else None


def followed_up(
    cases: Iterable[Case], start: datetime, end: datetime
) -> dict[str | None, Followed]:
    """Per department, named cases rated in [start, end) and how many were contacted.

    A case closed as 申诉成立 is left out: its rating has left the figures. A contact
    counts whenever it was recorded (a late contact is still a follow-up; lateness is the
    step's overdue flag).
    """
    counts: dict[str | None, list[int]] = {}
    for c in cases:
        if not c.named or c.status is Status.APPEAL_UPHELD:
            continue
        if not (start <= c.rated_at < end):
            continue
        pair = counts.setdefault(c.department, [0, 0])
        pair[1] += 1
        if c.contacted_at is not None:
            pair[0] += 1
    return {d: Followed(f, t) for d, (f, t) in counts.items()}


def total(per_department: Mapping[str | None, Followed]) -> Followed:
    """The figure over all departments."""
    return Followed(
        sum(f.followed for f in per_department.values()),
        sum(f.total for f in per_department.values()),
    )


WARNING_KINDS = (
    "review_contact_warning",
    "review_contact_overdue",
    "review_rectify_warning",
    "review_rectify_overdue",
)


def warnings_due(
    case: Case, now: datetime, already: Iterable[str] = (), warn_share: float = 0.8
) -> list[str]:
    """The step warnings this case has earned by `now` and not yet been given.

    A step not yet done earns `review_<step>_warning` once the warning share of its time
    has passed and `review_<step>_overdue` once its deadline has; a closed case earns none.
    """
    if case.status in FINAL:
        return []
    seen = set(already)
    out = []
    for name, done, due in (
        ("contact", case.contacted_at, case.contact_due),
        ("rectify", case.rectified_at, case.rectify_due),
    ):
        if done is not None:
            continue
        if now >= due:
            out.append(f"review_{name}_overdue")
        elif now >= case.rated_at + (due - case.rated_at) * warn_share:
            out.append(f"review_{name}_warning")
    return [k for k in out if k not in seen]
