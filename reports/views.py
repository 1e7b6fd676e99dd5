"""The figures as the console, the command line and the exports show them: one builder per
view, so the ranking page, its JSON, `hotline figures` and the XLSX files print the same
numbers, and each number's drill-down lists exactly the tickets that make it.

Charts (the briefing, the console) call `ranking_view` for departments' indexes and
`report_rows` for any period's figures; both answer plain JSON-ready dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reports.call_figures import CALL_FIGURES, CallFigures, call_members
from reports.figures import (
    COUNT_NAMES,
    RATE_NAMES,
    DepartmentFigures,
    TicketFacts,
    membership,
    rate,
    returns_of,
)
from reports.scoring import ClassRanking, Scored, rank_classes
from reports.service import FigureService

Namer = Callable[[str | None, str], str]
DRILL_FIGURES = (*RATE_NAMES, *COUNT_NAMES, "returns")
# Timeline actions that show why a ticket counts in a figure.
DRILL_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "response": ("accept", "resolve_on_spot", "submit_review", "dispatch", "transfer_110",
                 "merge", "cancel"),
    "on_time": ("dispatch", "approve_extension", "submit_result"),
    "feedback": ("submit_result", "inform_citizen"),
    "satisfaction": ("record_rating",),
    "excluded": ("record_rating",),
    "tickets": ("accept",),
    "cycle": ("accept", "submit_result"),
    "extensions": ("request_extension", "approve_extension"),
    "hops": ("dispatch", "return", "accept_return", "redispatch", "pass_on"),
    "returns": ("dispatch", "return", "accept_return", "redispatch", "pass_on"),
}  # fmt: skip


class PeriodError(ValueError):
    """A period or filter the figures cannot be computed for: names the field."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


def quarter_of(today: date) -> tuple[date, date]:
    """The calendar quarter `today` falls in, as [first day, first day of the next)."""
    first_month = 3 * ((today.month - 1) // 3) + 1
    start = date(today.year, first_month, 1)
    end = date(today.year + (first_month == 10), (first_month + 2) % 12 + 1, 1)
    return start, end


def check_period(start: date, end: date) -> None:
    """At least a day, at most 400 (a year and its spill-over)."""
    if end <= start or end - start > timedelta(days=400):
        raise PeriodError("end", "after start, at most 400 days")


@dataclass(frozen=True)
class Period:
    """Local dates [start, end) in the center's zone, and the instant figures are taken."""

    start: date
    end: date
    tz: ZoneInfo
    at: datetime

    @property
    def lo(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=self.tz)

    @property
    def hi(self) -> datetime:
        return datetime(self.end.year, self.end.month, self.end.day, tzinfo=self.tz)


def pct(r: tuple[int, int]) -> float | None:
    """A ratio as a percentage with one decimal, None when nothing was counted."""
    v = rate(r)
    return None if v is None else round(100 * v, 1)


def figure_row(f: DepartmentFigures, name: str) -> dict[str, Any]:
    """One row of figures: every rate as a percentage and as [numerator, denominator]."""
    return {
        "department": f.department,
        "name": name,
        "tickets": f.tickets,
        **{k: pct(getattr(f, k)) for k in RATE_NAMES},
        "counts": {k: list(getattr(f, k)) for k in RATE_NAMES},
        "follow_ups": f.follow_ups,
        "excluded": f.excluded,
        "returns": f.returns,
        "hops": f.hops,
        "extensions": f.extensions,
        "cycle_days": f.cycle_days,
        "cycle_n": f.cycle[1],
        "index": f.index,
    }


def _scored_row(s: Scored, name: str, place: int | None) -> dict[str, Any]:
    row = figure_row(s.figures, name)
    row.update(
        place=place,
        class_code=s.class_code,
        index=s.index,
        score=s.score,
        vetoed=s.vetoed,
        adjustments=[
            {
                "kind": a.kind,
                "points": a.points,
                "reason": a.reason,
                "day": a.day.isoformat(),
                "recorded_by": a.recorded_by,
            }
            for a in s.adjustments
        ],
    )
    return row


def call_row(c: CallFigures) -> dict[str, Any]:
    """The call figures as shown."""
    return {
        "offered": c.offered,
        "answered": c.answered,
        "abandoned": c.abandoned,
        "answer_rate": pct(c.answer_rate),
        "service_level": pct(c.service_level),
        "service_level_counts": list(c.service_level),
        "asa_seconds": c.asa,
        "aht_seconds": c.aht,
        "transfers_110": c.transfers_110,
        "transfers_110_ok": c.transfers_110_ok,
        "transfer_setup_seconds": c.setup_avg,
    }


def _overall(groups: list[ClassRanking]) -> tuple[list[Scored], list[str | None]]:
    everyone = [s for g in groups for s in g.ranked]
    everyone.sort(key=lambda s: (s.vetoed, -(s.score or 0.0), str(s.department)))
    bottom = [s.department for s in everyone[-3:]] if len(everyone) > 3 else []
    bottom += [s.department for s in everyone if s.vetoed and s.department not in bottom]
    return everyone, bottom


async def ranking_view(
    figures: FigureService,
    name: Namer,
    period: Period,
    min_follow_ups: int = 10,
    department: str | None = None,
    locale: str = "zh",
) -> dict[str, Any]:
    """The ranking of a period: every department's figures under its class's weights,
    adjustments applied, ranked overall and per class; the center, districts and calls.

    With `department`, only that department's rows are listed (its place kept).
    """
    if min_follow_ups < 0:
        raise PeriodError("min_follow_ups", "a whole number, 0 or more")
    check_period(period.start, period.end)
    report = await figures.report(period.lo, period.hi, period.at)
    classes, class_of = await figures.classes()
    adjustments = await figures.adjustments(period.start, period.end)
    if department is not None and department not in class_of:
        raise PeriodError("department", "no such department")
    groups = rank_classes(
        report.departments,
        class_of,
        classes,
        figures.rules.weights,
        adjustments,
        min_follow_ups,
    )
    overall, bottom = _overall(groups)

    def keep(code: str | None) -> bool:
        return department is None or code == department

    class_names = {
        c.code: c.name_en if locale == "en" and c.name_en else c.name_zh for c in classes
    }
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "at": period.at.isoformat(),
        "min_follow_ups": min_follow_ups,
        "department": department,
        "ranked": [
            _scored_row(s, name(s.department, locale), i)
            for i, s in enumerate(overall, 1)
            if keep(s.department)
        ],
        "bottom": [d for d in bottom if keep(d)],
        "too_few": [
            _scored_row(s, name(s.department, locale), None)
            for g in groups
            for s in g.too_few
            if keep(s.department)
        ],
        "classes": [
            {
                "code": g.class_code,
                "name": class_names.get(g.class_code or "", ""),
                "weights": dict(g.weights),
                "ranked": [
                    _scored_row(s, name(s.department, locale), i)
                    for i, s in enumerate(g.ranked, 1)
                    if keep(s.department)
                ],
                "bottom": [d for d in g.bottom if keep(d)],
            }
            for g in groups
        ],
        "center": figure_row(report.center, ""),
        "districts": sorted(
            (figure_row(f, name(d, locale)) for d, f in report.districts.items() if d is not None),
            key=lambda r: (r["cycle_days"] is None, r["cycle_days"] or 0.0, r["department"]),
        ),
        "calls": call_row(report.calls),
    }


def _members(
    figure: str,
    part: str,
    facts: list[TicketFacts],
    period: Period,
    figures: FigureService,
    department: str | None,
    district: str | None,
) -> list[TicketFacts]:
    if figure == "returns":
        if department is None:
            return [f for f in facts if f.returned_by for _ in f.returned_by]
        return returns_of(department, facts)
    chosen = [
        f
        for f in facts
        if (department is None or f.department == department)
        and (district is None or f.district == district)
    ]
    index = 0 if part == "n" else 1
    return [f for f in chosen if membership(figure, f, period.at, figures.rules)[index]]


async def drill_view(
    figures: FigureService,
    name: Namer,
    period: Period,
    figure: str,
    part: str = "n",
    department: str | None = None,
    district: str | None = None,
    locale: str = "zh",
) -> dict[str, Any]:
    """The tickets behind one number of the ranking (its numerator `n` or denominator `d`),
    read off the same per-ticket facts as the pure path, with their timeline entries."""
    if figure not in DRILL_FIGURES:
        raise PeriodError("figure", "one of " + ", ".join(DRILL_FIGURES))
    if part not in ("n", "d"):
        raise PeriodError("part", "n or d")
    check_period(period.start, period.end)
    facts = await figures.facts(period.lo, period.hi)
    members = _members(figure, part, facts, period, figures, department, district)
    entries = await figures.timeline_of([f.id for f in members], DRILL_ACTIONS[figure])
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "at": period.at.isoformat(),
        "figure": figure,
        "part": part,
        "department": department,
        "department_name": name(department, locale) if department else "",
        "district": district,
        "district_name": name(district, locale) if district else "",
        "count": len(members),
        "tickets": [
            {
                "number": f.number,
                "department": f.department,
                "department_name": name(f.department, locale),
                "district": f.district,
                "channel": f.channel,
                "created_at": f.created_at.isoformat(),
                "first_response_at": _iso(f.first_response_at),
                "due_at": _iso(f.due_at),
                "result_at": _iso(f.result_at),
                "informed_at": _iso(f.informed_at),
                "rating": f.rating.value if f.rating else None,
                "rating_excluded": f.rating_excluded,
                "cycle_days": None
                if f.cycle_seconds is None
                else round(f.cycle_seconds / 86400, 2),
                "returned_by": list(f.returned_by),
                "hops": f.hops,
                "extensions": f.extensions,
                "timeline": entries.get(f.id, []),
            }
            for f in members
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def call_drill_view(figures: FigureService, period: Period, figure: str) -> dict[str, Any]:
    """The calls behind one call figure of the ranking page."""
    if figure not in CALL_FIGURES:
        raise PeriodError("figure", "one of " + ", ".join(CALL_FIGURES))
    check_period(period.start, period.end)
    calls = await figures.call_facts(period.lo, period.hi)
    members = call_members(figure, calls, figures.service_level_seconds)
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "figure": figure,
        "count": len(members),
        "calls": [
            {
                "call_id": c.call_id,
                "started_at": c.started_at.isoformat(),
                "answered": c.answered and not c.abandoned,
                "abandoned": c.abandoned,
                "wait_seconds": c.wait_seconds,
                "talk_seconds": c.talk_seconds,
                "transfers": [
                    {"line": line, "ok": ok, "setup_seconds": setup}
                    for line, ok, setup in c.transfers
                ],
            }
            for c in members
        ],
    }
