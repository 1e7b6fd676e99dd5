"""The figures a director defends, as pure functions over ticket facts; no I/O.

Each rate is (numerator, denominator) so it can be checked by hand and added up across
departments; `rate()` turns it into a share. The same figures come from SQL aggregates in
the store for large periods, and the tests hold the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

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
    extensions: int = 0
    id: int = 0
    number: str = ""
    district: str | None = None
    # An upheld appeal (申诉 → 复核) takes the rating out of every figure.
    rating_excluded: bool = False
    # Departments that returned (退回) this order, one entry per return.
    returned_by: tuple[str, ...] = ()
    # Times the order went on to another lead department after the first dispatch.
    hops: int = 0

    @property
    def counted_rating(self) -> RatingLevel | None:
        """The rating the figures count (None once an appeal took it out)."""
        return None if self.rating_excluded else self.rating

    @property
    def cycle_seconds(self) -> int | None:
        """Whole seconds from creation to the result (Chengdu's reply cycle)."""
        if self.result_at is None:
            return None
        return round((self.result_at - self.created_at).total_seconds())


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


def _responded(f: TicketFacts, rules: Rules) -> bool:
    limit = rules.response_seconds.get(f.channel, rules.default_response_seconds)
    # measured to the millisecond, as the database does
    return (
        f.first_response_at is not None
        and round((f.first_response_at - f.created_at).total_seconds(), 3) <= limit
    )


def _on_time_due(f: TicketFacts, at: datetime) -> bool:
    return f.due_at is not None and (f.result_at is not None or f.due_at <= at)


def _told_in_time(f: TicketFacts, rules: Rules) -> bool:
    return (
        f.result_at is not None
        and f.informed_at is not None
        and round((f.informed_at - f.result_at).total_seconds(), 3) <= rules.feedback_hours * 3600
    )


# Which tickets make each rate: (in the numerator, in the denominator). The ratios below
# and the drill-down lists are both read off these, so a list always has the clicked count.
RATE_NAMES = ("response", "on_time", "feedback", "satisfaction")
COUNT_NAMES = ("tickets", "returns", "hops", "extensions", "cycle", "excluded")


def membership(
    name: str, f: TicketFacts, at: datetime, rules: Rules = Rules()
) -> tuple[bool, bool]:
    """Whether ticket `f` counts in figure `name`'s numerator and denominator."""
    if name == "response":
        return _responded(f, rules), True
    if name == "on_time":
        due = _on_time_due(f, at)
        return due and f.result_at is not None and f.due_at is not None and (
            f.result_at <= f.due_at
        ), due
    if name == "feedback":
        return _told_in_time(f, rules), f.result_at is not None
    if name == "satisfaction":
        r = f.counted_rating
        return r is not None and r in rules.satisfied, r is not None
    if name == "tickets":
        return True, True
    if name == "cycle":
        return f.result_at is not None, f.result_at is not None
    if name == "extensions":
        return f.extensions > 0, f.extensions > 0
    if name == "hops":
        return f.hops > 0, f.hops > 0
    if name == "excluded":
        return f.rating_excluded and f.rating is not None, f.rating is not None
    raise ValueError(f"unknown figure {name!r}")


def _ratio(name: str, facts: Iterable[TicketFacts], at: datetime, rules: Rules) -> Ratio:
    n = d = 0
    for f in facts:
        num, den = membership(name, f, at, rules)
        n += num
        d += den
    return n, d


def response(facts: Iterable[TicketFacts], rules: Rules = Rules()) -> Ratio:
    """即时响应率: contacts answered within their channel's limit."""
    return _ratio("response", facts, datetime.min, rules)


def on_time(facts: Iterable[TicketFacts], at: datetime) -> Ratio:
    """按时办结率: results submitted by the deadline, of the orders whose deadline has come
    or whose result is in (an order still running and not yet due is not counted)."""
    return _ratio("on_time", facts, at, Rules())


def feedback(facts: Iterable[TicketFacts], rules: Rules = Rules()) -> Ratio:
    """及时反馈率: citizens told the result within the limit, of the results submitted."""
    return _ratio("feedback", facts, datetime.min, rules)


def satisfaction(facts: Iterable[TicketFacts], rules: Rules = Rules()) -> Ratio:
    """满意率: ratings in the satisfied levels, of all ratings (an appeal upheld on review
    takes a rating out of both)."""
    return _ratio("satisfaction", facts, datetime.min, rules)


def reply_cycle(facts: Iterable[TicketFacts]) -> Ratio:
    """Chengdu's reply cycle: (whole seconds from creation to result summed, results)."""
    cycles = [c for c in (f.cycle_seconds for f in facts) if c is not None]
    return sum(cycles), len(cycles)


def cycle_days(r: Ratio) -> float | None:
    """The average reply cycle in days, two decimals (6.1 days in Chengdu in 2016)."""
    total, count = r
    return round(total / count / 86400, 2) if count else None


def service_index(rates: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """服务指数 = 100 × Σ weight × rate; None if a weighted rate has nothing counted."""
    total = 0.0
    for name, weight in weights.items():
        if not weight:
            continue
        value = rates.get(name)
        if value is None:
            return None
        total += weight * value
    return round(100 * total, 2)


@dataclass(frozen=True)
class DepartmentFigures:
    """One department's (or district's, or the center's) figures for a period."""

    department: str | None
    tickets: int
    response: Ratio
    on_time: Ratio
    feedback: Ratio
    satisfaction: Ratio
    returns: int
    extensions: int
    index: float | None
    cycle: Ratio = (0, 0)
    hops: int = 0
    excluded: int = 0

    @property
    def follow_ups(self) -> int:
        """Rated orders (回访件), which decide whether a department is ranked."""
        return self.satisfaction[1]

    @property
    def cycle_days(self) -> float | None:
        """Average days from creation to result."""
        return cycle_days(self.cycle)

    def rates(self) -> dict[str, float | None]:
        """Each rate as a share."""
        return {name: rate(getattr(self, name)) for name in RATE_NAMES}

    def reweighed(self, weights: Mapping[str, float]) -> DepartmentFigures:
        """The same figures with the index under other weights (a department class's)."""
        return replace(self, index=service_index(self.rates(), weights))


def figures(
    facts: Sequence[TicketFacts], at: datetime, rules: Rules = Rules()
) -> DepartmentFigures:
    """Every figure of one set of tickets (a department's, or the whole center's); returns
    are those made by anyone on these tickets."""
    ratios = {name: _ratio(name, facts, at, rules) for name in RATE_NAMES}
    return DepartmentFigures(
        department=facts[0].department if facts else None,
        tickets=len(facts),
        response=ratios["response"],
        on_time=ratios["on_time"],
        feedback=ratios["feedback"],
        satisfaction=ratios["satisfaction"],
        returns=sum(len(f.returned_by) for f in facts),
        extensions=sum(f.extensions for f in facts),
        index=service_index({k: rate(v) for k, v in ratios.items()}, rules.weights),
        cycle=reply_cycle(facts),
        hops=sum(f.hops for f in facts),
        excluded=sum(1 for f in facts if f.rating_excluded and f.rating is not None),
    )


def by_department(
    facts: Iterable[TicketFacts], at: datetime, rules: Rules = Rules()
) -> dict[str | None, DepartmentFigures]:
    """Figures per lead department; returns are counted against the department that
    returned the order (buck-passing made visible), whoever leads it now."""
    items = list(facts)
    groups: dict[str | None, list[TicketFacts]] = {}
    for f in items:
        groups.setdefault(f.department, []).append(f)
    returned: dict[str, int] = {}
    for f in items:
        for dept in f.returned_by:
            returned[dept] = returned.get(dept, 0) + 1
    return {
        dept: replace(figures(group, at, rules), returns=returned.get(dept or "", 0))
        for dept, group in groups.items()
    }


def by_district(
    facts: Iterable[TicketFacts], at: datetime, rules: Rules = Rules()
) -> dict[str | None, DepartmentFigures]:
    """Figures per district (the `department` field holds the district's code); returns
    are those made on the district's orders."""
    groups: dict[str | None, list[TicketFacts]] = {}
    for f in facts:
        groups.setdefault(f.district, []).append(f)
    return {
        district: replace(figures(group, at, rules), department=district)
        for district, group in groups.items()
    }


def returns_of(department: str, facts: Iterable[TicketFacts]) -> list[TicketFacts]:
    """The orders `department` returned, once per return (the drill-down of its returns)."""
    return [f for f in facts for d in f.returned_by if d == department]


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
