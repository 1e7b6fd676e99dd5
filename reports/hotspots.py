"""Hotspots: terms and categories suddenly more frequent than usual, by district; no I/O.

A window (a local day or week) is counted as a `Counter` over `Key`s: each ticket counts once
for each distinct term of its text and once for its category, both city-wide (district
`CITY`) and in its own district. Counting tickets rather than word occurrences keeps one long
letter that repeats a word from looking like a wave of complaints.

The rule (`HotRule`), for an item with count `c` in the current window and counts
`h_1 … h_N` in the previous N windows (an item absent from a window counts 0 there), with
mean `m` and population standard deviation `s`:

    hot  ⇔  c ≥ min_count  ∧  c ≥ ratio · m  ∧  c ≥ m + k · max(s, √m)

- `min_count` keeps a handful of tickets from being news (5 a day, 10 a week by default);
- `ratio` asks for at least a doubling, so a steady large term with a little more noise than
  usual is not news either;
- `m + k·σ` is the control limit (k = 3); σ is floored at √m because counts of independent
  complaints are roughly Poisson, whose spread is √mean: a series that happened to be flat
  (s = 0) must not turn its first +1 into a hotspot.

A new term with no history has m = s = 0, so only `min_count` (and c > 0) decides. Nothing is
hot while fewer than `min_history` windows of history exist (a new installation cannot tell
"sudden" from "always"). Items are ranked by how far they stand above the limit in units of
σ (z score), then by count.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

CITY = "*"  # the district of city-wide counts
# Numbers that identify a person or a parcel (phones, ID cards, bank cards, tracking codes)
# are never counted: a hotspot list must not show, nor a stored count keep, a citizen's number.
PERSONAL = re.compile(r"\d{5,}[\dXx]?|[A-Za-z]{1,3}\d{5,}")


def matter_terms(segment: Callable[[str], Sequence[str]]) -> Callable[[str], list[str]]:
    """`segment` without the terms that could identify a person (see `PERSONAL`)."""

    def terms(text: str) -> list[str]:
        return [w for w in segment(text) if not PERSONAL.fullmatch(w)]

    return terms


@dataclass(frozen=True, order=True)
class Key:
    """What is counted: a term or a category, city-wide or in one district."""

    kind: str  # "term" or "category"
    value: str
    district: str = CITY


@dataclass(frozen=True)
class TicketText:
    """What hotspot counting needs of one ticket."""

    text: str
    category: str | None
    district: str | None


@dataclass(frozen=True)
class HotRule:
    """When a count is far enough above its baseline to be news; every number the city's."""

    min_count: int = 5
    ratio: float = 2.0
    k: float = 3.0
    min_history: int = 3

    def __post_init__(self) -> None:
        if self.min_count < 1 or self.ratio < 1 or self.k < 0 or self.min_history < 1:
            raise ValueError("min_count ≥ 1, ratio ≥ 1, k ≥ 0 and min_history ≥ 1")


DAY_RULE = HotRule(min_count=5)
WEEK_RULE = HotRule(min_count=10)


@dataclass(frozen=True)
class Hot:
    """One hotspot with the figures that make it one (so it can be checked by hand)."""

    key: Key
    count: int
    mean: float
    sd: float
    limit: float  # the count it had to reach
    z: float
    history: tuple[int, ...]  # oldest first

    @property
    def ratio(self) -> float | None:
        """Count over the baseline mean; None for a new item (no baseline)."""
        return self.count / self.mean if self.mean else None


def count_window(
    tickets: Iterable[TicketText], segment: Callable[[str], Sequence[str]]
) -> Counter[Key]:
    """One window's counts: each ticket once per distinct term and once for its category."""
    counts: Counter[Key] = Counter()
    for t in tickets:
        items = [Key("term", w) for w in dict.fromkeys(segment(t.text))]
        if t.category:
            items.append(Key("category", t.category))
        for item in items:
            counts[item] += 1
            if t.district:
                counts[Key(item.kind, item.value, t.district)] += 1
    return counts


def baseline(history: Sequence[int]) -> tuple[float, float]:
    """(mean, population standard deviation) of a history; (0, 0) when empty."""
    if not history:
        return 0.0, 0.0
    m = sum(history) / len(history)
    return m, math.sqrt(sum((x - m) ** 2 for x in history) / len(history))


def judge(count: int, history: Sequence[int], rule: HotRule) -> Hot | None:
    """The rule for one item; a `Hot` (without its key) when it is hot, else None."""
    if len(history) < rule.min_history:
        return None
    m, s = baseline(history)
    spread = max(s, math.sqrt(m))
    limit = max(float(rule.min_count), rule.ratio * m, m + rule.k * spread)
    if count < limit or count <= 0:
        return None
    z = (count - m) / max(spread, 1.0)
    return Hot(Key("", ""), count, round(m, 3), round(s, 3), round(limit, 3), round(z, 3),
               tuple(history))  # fmt: skip


def find_hot(
    current: Mapping[Key, int], history: Sequence[Mapping[Key, int]], rule: HotRule
) -> list[Hot]:
    """Every hot item of the current window, most striking first.

    `history` holds the previous windows' counts, oldest first.
    """
    out: list[Hot] = []
    for key, count in current.items():
        found = judge(count, [w.get(key, 0) for w in history], rule)
        if found is not None:
            out.append(
                Hot(key, found.count, found.mean, found.sd, found.limit, found.z, found.history)
            )
    out.sort(key=lambda h: (-h.z, -h.count, h.key))
    return out


@dataclass(frozen=True)
class Hotspots:
    """A window's hotspots: city-wide, per district, and the grid the district chart draws."""

    city: tuple[Hot, ...]
    by_district: Mapping[str, tuple[Hot, ...]]
    windows: int  # history windows that were compared

    def grid(
        self, current: Mapping[Key, int], top: int = 8
    ) -> tuple[list[Key], list[str], list[list[int]]]:
        """(items, districts, counts[item][district]) for the top city-wide hot items."""
        items = [h.key for h in self.city[:top]]
        districts = sorted({k.district for k in current if k.district != CITY})
        cells = [[current.get(Key(i.kind, i.value, d), 0) for d in districts] for i in items]
        return items, districts, cells


def hotspots(
    current: Mapping[Key, int], history: Sequence[Mapping[Key, int]], rule: HotRule
) -> Hotspots:
    """Split `find_hot` into the city-wide list and each district's own list."""
    found = find_hot(current, history, rule)
    districts: dict[str, list[Hot]] = {}
    for h in found:
        if h.key.district != CITY:
            districts.setdefault(h.key.district, []).append(h)
    return Hotspots(
        city=tuple(h for h in found if h.key.district == CITY),
        by_district={d: tuple(v) for d, v in sorted(districts.items())},
        windows=len(history),
    )
