"""Department classes, supervisors' deductions, bonus points and veto items, and the
ranking that applies them; pure, no I/O.

Jiangmen scores departments by class (public-facing government departments mostly by the
citizens' direct evaluation), then a supervisor's findings (e-supervision, undercover checks,
administrative errors) take points off, bonus points add some, and a veto item (一票否决)
puts the department last whatever its score. Every adjustment keeps its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from reports.figures import RATE_NAMES, DepartmentFigures

ADJUSTMENT_KINDS = ("deduction", "bonus", "veto")


class WeightsError(ValueError):
    """Weights that cannot score anything: names the bad key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights over the four rates, each in [0, 1], adding up to 1 (to 0.001)."""
    out: dict[str, float] = {}
    for key, value in weights.items():
        if key not in RATE_NAMES:
            raise WeightsError(key, "not one of " + ", ".join(RATE_NAMES))
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WeightsError(key, "a number")
        if not 0 <= float(value) <= 1:
            raise WeightsError(key, "between 0 and 1")
        out[key] = float(value)
    if abs(sum(out.values()) - 1) > 0.001:
        raise WeightsError("weights", f"must add up to 1 (they add up to {sum(out.values()):g})")
    return out


@dataclass(frozen=True)
class DepartmentClass:
    """A class of departments scored by its own weights (分类评价)."""

    code: str
    name_zh: str
    name_en: str
    weights: Mapping[str, float]


@dataclass(frozen=True)
class Adjustment:
    """A deduction, bonus or veto recorded by a supervisor, with its reason."""

    department: str
    kind: str  # deduction / bonus / veto
    points: float
    reason: str
    day: date
    recorded_by: str
    id: int = 0

    @property
    def signed_points(self) -> float:
        """What it does to the score (a veto moves the department, not the score)."""
        if self.kind == "deduction":
            return -abs(self.points)
        if self.kind == "bonus":
            return abs(self.points)
        return 0.0


@dataclass(frozen=True)
class Scored:
    """A department's place: index under its class's weights, adjustments, final score."""

    figures: DepartmentFigures
    class_code: str | None
    index: float | None
    adjustments: tuple[Adjustment, ...] = ()
    vetoed: bool = False

    @property
    def department(self) -> str | None:
        return self.figures.department

    @property
    def score(self) -> float | None:
        """Index plus bonus minus deductions, two decimals."""
        if self.index is None:
            return None
        return round(self.index + sum(a.signed_points for a in self.adjustments), 2)


@dataclass(frozen=True)
class ClassRanking:
    """One class's departments, best first; vetoed ones last; the bottom three flagged."""

    class_code: str | None
    weights: Mapping[str, float]
    ranked: tuple[Scored, ...]
    bottom: tuple[str | None, ...]
    too_few: tuple[Scored, ...] = field(default=())


def rank_classes(
    per_department: Mapping[str | None, DepartmentFigures],
    class_of: Mapping[str, str | None],
    classes: Sequence[DepartmentClass],
    default_weights: Mapping[str, float],
    adjustments: Iterable[Adjustment] = (),
    min_follow_ups: int = 10,
) -> list[ClassRanking]:
    """Rank each class's departments by their class's index plus adjustments.

    Departments without a class (or with an unknown one) are ranked together under the
    default weights. Only departments with at least `min_follow_ups` rated orders and an
    index are ranked; a veto puts a department after every other, whatever its score.
    """
    known = {c.code: c for c in classes}
    by_dept: dict[str, list[Adjustment]] = {}
    for a in adjustments:
        by_dept.setdefault(a.department, []).append(a)
    groups: dict[str | None, list[Scored]] = {}
    for dept, figs in per_department.items():
        if not dept:
            continue
        code = class_of.get(dept)
        cls = known.get(code) if code else None
        weights = cls.weights if cls else default_weights
        figs = figs.reweighed(weights)
        adj = tuple(sorted(by_dept.get(dept, ()), key=lambda a: (a.day, a.id)))
        groups.setdefault(cls.code if cls else None, []).append(
            Scored(
                figs, cls.code if cls else None, figs.index, adj, any(a.kind == "veto" for a in adj)
            )
        )
    out: list[ClassRanking] = []
    order = [c.code for c in classes if c.code in groups] + ([None] if None in groups else [])
    for code in order:
        members = groups[code]
        eligible = [
            s for s in members if s.figures.follow_ups >= min_follow_ups and s.index is not None
        ]
        eligible.sort(key=lambda s: (s.vetoed, -(s.score or 0.0), str(s.department)))
        too_few = tuple(
            sorted((s for s in members if s not in eligible), key=lambda s: str(s.department))
        )
        bottom = tuple(s.department for s in eligible[-3:]) if len(eligible) > 3 else ()
        bottom = tuple(dict.fromkeys(bottom + tuple(s.department for s in eligible if s.vetoed)))
        weights = known[code].weights if code else default_weights
        out.append(ClassRanking(code, dict(weights), tuple(eligible), bottom, too_few))
    return out
