"""The figures a director defends, as pure functions over ticket facts; no I/O.

Each rate is (numerator, denominator) so it can be checked by hand and added up across
departments; `rate()` turns it into a share. The same figures come from SQL aggregates in
the store for large periods, and the tests hold the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tickets.model import RatingLevel

# Huzhou's 阳光湖州服务指数: response 15 %, on time 15 %, feedback 10 %, satisfaction 60 %.
HUZHOU_WEIGHTS: Mapping[str, float] = {
    "response": 0.15,
    "on_time": 0.15,
    "feedback": 0.10,
    "satisfaction": 0.60,
}
DEFAULT_SATISFIED = frozenset(
    {RatingLevel.VERY_SATISFIED, RatingLevel.SATISFIED, RatingLevel.BASICALLY_SATISFIED}
)


@dataclass(frozen=True)
class TicketFacts:
    """What the figures need to know about one ticket (read off its timeline)."""

    department: str | None
    channel: str
    created_at: datetime
    first_response_at: datetime | None = None
    due_at: datetime | None = None
    result_at: datetime | None = None
    informed_at: datetime | None = None
    rating: RatingLevel | None = None
    returns: int = 0
    extensions: int = 0


@dataclass(frozen=True)
class Rules:
    """How the figures are counted; every threshold is the city's to set."""

    response_seconds: Mapping[str, float] = field(
        default_factory=lambda: {
            "phone": 15,
            "wechat": 180,
            "telegram": 180,
            "sms": 180,
            "mailbox": 24 * 3600,
            "web": 24 * 3600,
        }
    )
    default_response_seconds: float = 24 * 3600
    feedback_hours: float = 24  # the citizen is told within this long of the result
    satisfied: frozenset[RatingLevel] = DEFAULT_SATISFIED
    weights: Mapping[str, float] = field(default_factory=lambda: dict(HUZHOU_WEIGHTS))


Ratio = tuple[int, int]


def rate(r: Ratio) -> float | None:
    """The share, or None when nothing was counted (never a fake 100 %)."""
    n, d = r
    return n / d if d else None


def response(facts: Iterable[TicketFacts], rules: Rules = Rules()) -> Ratio:
    """即时响应率: contacts answered within their channel's limit."""
    n = d = 0
    for f in facts:
        d += 1
        limit = rules.response_seconds.get(f.channel, rules.default_response_seconds)
        if (
            f.first_response_at is not None
            and (f.first_response_at - f.created_at).total_seconds() <= limit
        ):
            n += 1
    return n, d


def on_time(facts: Iterable[TicketFacts], at: datetime) -> Ratio:
    """按时办结率: results submitted by the deadline, of the orders whose deadline has come
    or whose result is in (an order still running and not yet due is not counted)."""
    n = d = 0
    for f in facts:
        if f.due_at is None:
            continue
        if f.result_at is not None:
            d += 1
            n += f.result_at <= f.due_at
        elif f.due_at <= at:
            d += 1
    return n, d


def feedback(facts: Iterable[TicketFacts], rules: Rules = Rules()) -> Ratio:
    """及时反馈率: citizens told the result within the limit, of the results submitted."""
    n = d = 0
    limit = timedelta(hours=rules.feedback_hours)
    for f in facts:
        if f.result_at is None:
            continue
        d += 1
        n += f.informed_at is not None and f.informed_at - f.result_at <= limit
    return n, d


def satisfaction(facts: Iterable[TicketFacts], rules: Rules = Rules()) -> Ratio:
    """满意率: ratings in the satisfied levels, of all ratings."""
    rated = [f.rating for f in facts if f.rating is not None]
    return sum(r in rules.satisfied for r in rated), len(rated)


def service_index(rates: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """服务指数 = 100 × Σ weight × rate; None if a weighted rate has nothing counted."""
    total = 0.0
    for name, weight in weights.items():
        value = rates.get(name)
        if value is None:
            return None
        total += weight * value
    return round(100 * total, 2)


@dataclass(frozen=True)
class DepartmentFigures:
    """One department's figures for a period."""

    department: str | None
    tickets: int
    response: Ratio
    on_time: Ratio
    feedback: Ratio
    satisfaction: Ratio
    returns: int
    extensions: int
    index: float | None

    @property
    def follow_ups(self) -> int:
        """Rated orders (回访件), which decide whether a department is ranked."""
        return self.satisfaction[1]


def figures(
    facts: Sequence[TicketFacts], at: datetime, rules: Rules = Rules()
) -> DepartmentFigures:
    """Every figure of one set of tickets (a department's, or the whole center's)."""
    rates = {
        "response": response(facts, rules),
        "on_time": on_time(facts, at),
        "feedback": feedback(facts, rules),
        "satisfaction": satisfaction(facts, rules),
    }
    return DepartmentFigures(
        department=facts[0].department if facts else None,
        tickets=len(facts),
        response=rates["response"],
        on_time=rates["on_time"],
        feedback=rates["feedback"],
        satisfaction=rates["satisfaction"],
        returns=sum(f.returns for f in facts),
        extensions=sum(f.extensions for f in facts),
        index=service_index({k: rate(v) for k, v in rates.items()}, rules.weights),
    )


def by_department(
    facts: Iterable[TicketFacts], at: datetime, rules: Rules = Rules()
) -> dict[str | None, DepartmentFigures]:
    """Figures per department."""
    groups: dict[str | None, list[TicketFacts]] = {}
    for f in facts:
        groups.setdefault(f.department, []).append(f)
    return {dept: figures(items, at, rules) for dept, items in groups.items()}


@dataclass(frozen=True)
class Ranking:
    """Departments ranked by index (best first); the bottom three are flagged."""

    ranked: tuple[DepartmentFigures, ...]
    bottom: tuple[str | None, ...]
    too_few: tuple[str | None, ...]


def rank(
    per_department: Mapping[str | None, DepartmentFigures], min_follow_ups: int = 10
) -> Ranking:
    """Huzhou's rule: only departments with at least `min_follow_ups` rated orders are ranked."""
    eligible = [
        f
        for d, f in per_department.items()
        if d and f.follow_ups >= min_follow_ups and f.index is not None
    ]
    eligible.sort(key=lambda f: (-(f.index or 0.0), str(f.department)))
    too_few = tuple(
        sorted((d for d, f in per_department.items() if d and f not in eligible), key=str)
    )
    bottom = tuple(f.department for f in eligible[-3:]) if len(eligible) > 3 else ()
    return Ranking(tuple(eligible), bottom, too_few)
