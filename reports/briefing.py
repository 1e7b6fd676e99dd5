"""The leaders' briefing (day, week, month) and the hotspots behind it: one model, read-only.

`build_briefing` is pure: it turns what was read (volumes per bucket and channel, the
department figures, urgent and overdue orders, hotspots, the quarter's ranking) into the
`Briefing` the page, the e-mail and the Telegram post all show. `BriefingService` does the
reading: store queries in `tickets.hotspot_queries`, figures through `FigureService`.

Periods are local (the city's time zone): a day, a Monday-to-Sunday week, a calendar month;
each is compared with the one before. The bottom departments come from the ranking leaders
are held to, the quarter to date, with the ranking's minimum of follow-ups. Hotspots compare
the period (so far, if it is still running: a conservative comparison against full windows)
with the previous 28 days, 8 weeks or 3 months, never with windows before the record begins.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reports.figures import DepartmentFigures, rate, service_index
from reports.hotspots import (
    CITY,
    DAY_RULE,
    WEEK_RULE,
    Hot,
    HotRule,
    Hotspots,
    Key,
    TicketText,
    count_window,
    hotspots,
    matter_terms,
)
from reports.scoring import Scored, rank_classes
from reports.service import FigureService
from tickets import hotspot_queries as q
from tickets import words
from tickets.service import TicketService
from tickets.store import Row

PERIODS = ("day", "week", "month")
HISTORY = {"day": 28, "week": 8, "month": 3}
RULES = {"day": DAY_RULE, "week": WEEK_RULE, "month": WEEK_RULE}
ONE_DAY = timedelta(days=1)
MATTER_TERMS = matter_terms(words.terms)
CHANNEL_ORDER = ("phone", "wechat", "telegram", "mailbox", "web", "sms", "province", "police")


@dataclass(frozen=True)
class Period:
    """A local period [start, end) and what it is (day, week, month)."""

    kind: str
    start: date
    end: date

    @property
    def key(self) -> str:
        """The period's name in dedupe keys and URLs: day:2026-11-23, week:2026-11-16, …"""
        return f"{self.kind}:{self.start.isoformat()}"

    def previous(self) -> Period:
        """The period just before, of the same kind."""
        return period_of(self.kind, self.start - timedelta(days=1))

    def shifted(self, n: int) -> Period:
        """The period `n` periods earlier (n ≥ 0)."""
        p = self
        for _ in range(n):
            p = p.previous()
        return p


def period_of(kind: str, day: date) -> Period:
    """The day, week (Monday first) or month that contains `day`."""
    if kind == "day":
        return Period(kind, day, day + timedelta(days=1))
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=7))
    if kind == "month":
        start = day.replace(day=1)
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        return Period(kind, start, end)
    raise ValueError(f"unknown period {kind!r}: day, week or month")


def _days(p: Period) -> list[date]:
    return [p.start + timedelta(days=i) for i in range((p.end - p.start).days)]


def quarter_of(day: date) -> tuple[date, date]:
    """The calendar quarter containing `day`, as [start, end)."""
    first = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first, 1)
    return start, date(day.year + (first == 10), (first + 2) % 12 + 1, 1)


# -- the model --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelVolume:
    """Tickets of one channel in the period and in the one before."""

    channel: str
    current: int
    previous: int


@dataclass(frozen=True)
class Matter:
    """An order named in the briefing (urgent or overdue)."""

    number: str
    subject: str
    state: str
    department: str  # name
    district: str  # name
    at: datetime | None  # created (urgent) or due (overdue)
    hours_over: float | None = None  # overdue only


@dataclass(frozen=True)
class HotItem:
    """A hotspot as shown: name, count, baseline, and the districts it is most in."""

    kind: str
    value: str
    name: str
    count: int
    mean: float
    limit: float
    z: float
    ratio: float | None
    history: tuple[int, ...]
    districts: tuple[tuple[str, int], ...]  # (district name, count), most first


@dataclass(frozen=True)
class RankedDepartment:
    """A department's place in the quarter's ranking (its class's index plus adjustments)."""

    code: str
    name: str
    index: float  # the score the ranking orders by
    follow_ups: int
    bottom: bool
    vetoed: bool = False


@dataclass(frozen=True)
class Briefing:
    """Everything the leaders read, for one period; the same for page, e-mail and Telegram."""

    period: Period
    previous: Period
    as_of: datetime  # figures counted up to here (the period's end, or now)
    complete: bool  # the period has ended
    volumes: tuple[ChannelVolume, ...]
    total: int
    previous_total: int
    trend: tuple[tuple[str, int], ...]  # (local date, tickets)
    rates: Mapping[str, float | None]  # response, on_time, feedback, satisfaction, in %
    index: float | None
    urgent_total: int
    urgent: tuple[Matter, ...]
    overdue_total: int
    overdue: tuple[Matter, ...]
    hot: tuple[HotItem, ...]
    hot_by_district: tuple[tuple[str, tuple[HotItem, ...]], ...]
    hot_windows: int
    hot_grid: Mapping[str, Any]  # items, districts, cells: the district chart
    categories: tuple[tuple[str, int], ...]  # (name, tickets), most first; "other" folded
    ranking_start: date
    ranking_end: date
    ranked: tuple[RankedDepartment, ...]
    bottom: tuple[RankedDepartment, ...]
    min_follow_ups: int

    def chart_data(self) -> dict[str, Any]:
        """The plain data the page's charts draw (JSON in the page, never code)."""
        return {
            "trend": {"dates": [d for d, _ in self.trend], "values": [n for _, n in self.trend]},
            "channels": [
                {"channel": v.channel, "current": v.current, "previous": v.previous}
                for v in self.volumes
            ],
            "categories": [{"name": n, "value": c} for n, c in self.categories],
            "ranking": [
                {"name": r.name, "index": r.index, "bottom": r.bottom} for r in self.ranked
            ],
            "hot": [{"name": h.name, "count": h.count, "mean": h.mean} for h in self.hot],
            "grid": dict(self.hot_grid),
        }


@dataclass(frozen=True)
class Names:
    """Display names for codes, in one locale."""

    department: Callable[[str | None], str]
    category: Callable[[str | None], str]
    district: Callable[[str | None], str]
    other: str = "其他"


def _hot_items(
    found: Sequence[Hot], current: Mapping[Key, int], names: Names, top: int
) -> tuple[HotItem, ...]:
    by_item: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for k, n in current.items():
        if k.district != CITY:
            by_item.setdefault((k.kind, k.value), []).append((k.district, n))
    out = []
    for h in found[:top]:
        spread = sorted(by_item.get((h.key.kind, h.key.value), []), key=lambda x: (-x[1], x[0]))
        out.append(
            HotItem(
                kind=h.key.kind,
                value=h.key.value,
                name=names.category(h.key.value) if h.key.kind == "category" else h.key.value,
                count=h.count,
                mean=h.mean,
                limit=h.limit,
                z=h.z,
                ratio=None if h.ratio is None else round(h.ratio, 2),
                history=h.history,
                districts=tuple((names.district(d), n) for d, n in spread[:3]),
            )
        )
    return tuple(out)


def _matter(row: Row, names: Names, at_key: str, now: datetime | None) -> Matter:
    at = row.get(at_key)
    over = None
    if now is not None and at is not None:
        over = round((now - at).total_seconds() / 3600, 1)
    return Matter(
        number=row["number"],
        subject=row["subject"] or "",
        state=row["state"],
        department=names.department(row["lead_department"]) if row["lead_department"] else "",
        district=names.district(row["district"]) if row["district"] else "",
        at=at,
        hours_over=over,
    )


def _pct(r: tuple[int, int]) -> float | None:
    v = rate(r)
    return None if v is None else round(100 * v, 1)


def build_briefing(
    period: Period,
    as_of: datetime,
    *,
    volume_rows: Sequence[Row],
    days: Sequence[date],
    per_department: Mapping[str | None, DepartmentFigures],
    weights: Mapping[str, float],
    urgent_rows: Sequence[Row],
    overdue_rows: Sequence[Row],
    found: Hotspots,
    current: Mapping[Key, int],
    category_rows: Sequence[Row],
    ranked: Sequence[Scored],
    bottom: Sequence[str | None],
    ranking_period: tuple[date, date],
    names: Names,
    complete: bool,
    min_follow_ups: int,
    top_hot: int = 10,
    top_categories: int = 8,
) -> Briefing:
    """The briefing from what was read; pure.

    `volume_rows` are (bucket, channel, tickets) over the buckets: one per day of `days`
    (the trend), then the previous period, then the period itself (the last two buckets).
    """
    n_days = len(days)
    current_ch: Counter[str] = Counter()
    previous_ch: Counter[str] = Counter()
    per_day: Counter[int] = Counter()
    for r in volume_rows:
        b, ch, n = int(r["bucket"]), str(r["channel"]), int(r["tickets"])
        if b < n_days:
            per_day[b] += n
        elif b == n_days:
            previous_ch[ch] += n
        else:
            current_ch[ch] += n
    channels = sorted(
        set(current_ch) | set(previous_ch),
        key=lambda c: (CHANNEL_ORDER.index(c) if c in CHANNEL_ORDER else 99, c),
    )
    # Centre-wide rates: the departments' ratios added up (each is numerator, denominator).
    sums = {k: [0, 0] for k in ("response", "on_time", "feedback", "satisfaction")}
    for f in per_department.values():
        for k, (n, d) in (
            ("response", f.response), ("on_time", f.on_time),
            ("feedback", f.feedback), ("satisfaction", f.satisfaction),
        ):  # fmt: skip
            sums[k][0] += n
            sums[k][1] += d
    ratios = {k: (v[0], v[1]) for k, v in sums.items()}
    rates = {k: _pct(v) for k, v in ratios.items()}
    index = service_index({k: rate(v) for k, v in ratios.items()}, weights)
    total_cat = sum(int(r["tickets"]) for r in category_rows)
    cats = [(names.category(r["category"]), int(r["tickets"])) for r in category_rows]
    if len(cats) > top_categories:
        cats = cats[: top_categories - 1] + [
            (names.other, total_cat - sum(n for _, n in cats[: top_categories - 1]))
        ]
    places = tuple(
        RankedDepartment(
            code=str(s.department),
            name=names.department(s.department),
            index=float(s.score or 0.0),
            follow_ups=s.figures.follow_ups,
            bottom=s.department in bottom,
            vetoed=s.vetoed,
        )
        for s in ranked
    )
    items, districts, cells = found.grid(current)
    hot = _hot_items(found.city, current, names, top_hot)
    return Briefing(
        period=period,
        previous=period.previous(),
        as_of=as_of,
        complete=complete,
        volumes=tuple(ChannelVolume(c, current_ch[c], previous_ch[c]) for c in channels),
        total=sum(current_ch.values()),
        previous_total=sum(previous_ch.values()),
        trend=tuple((d.isoformat(), per_day[i]) for i, d in enumerate(days)),
        rates=rates,
        index=index,
        urgent_total=int(urgent_rows[0]["total"]) if urgent_rows else 0,
        urgent=tuple(_matter(r, names, "created_at", None) for r in urgent_rows),
        overdue_total=int(overdue_rows[0]["total"]) if overdue_rows else 0,
        overdue=tuple(_matter(r, names, "due_at", as_of) for r in overdue_rows),
        hot=hot,
        hot_by_district=tuple(
            (names.district(d), _hot_items(hs, current, names, 3))
            for d, hs in found.by_district.items()
        ),
        hot_windows=found.windows,
        hot_grid={
            "items": [names.category(i.value) if i.kind == "category" else i.value for i in items],
            "districts": [names.district(d) for d in districts],
            "cells": cells,
        },
        categories=tuple(cats),
        ranking_start=ranking_period[0],
        ranking_end=ranking_period[1],
        ranked=places,
        bottom=tuple(r for r in places if r.bottom),
        min_follow_ups=min_follow_ups,
    )


# -- reading ----------------------------------------------------------------------------


@dataclass
class HotspotView:
    """A period's hotspots with its counts (what the hotspots page shows)."""

    period: Period
    as_of: datetime
    found: Hotspots
    current: Counter[Key]
    history_windows: int
    items: tuple[HotItem, ...] = ()
    by_district: tuple[tuple[str, tuple[HotItem, ...]], ...] = ()
    grid: dict[str, Any] = field(default_factory=dict)


class BriefingService:
    """Reads the store and the figures; builds briefings and hotspots. Changes nothing."""

    def __init__(
        self,
        tickets: TicketService,
        figures: FigureService,
        *,
        min_follow_ups: int = 10,
        rules: Mapping[str, HotRule] | None = None,
        history: Mapping[str, int] | None = None,
        cache_days: int = 120,
    ) -> None:
        self.tickets = tickets
        self.store = tickets.store
        self.figures = figures
        self.tz = ZoneInfo(tickets.timezone)
        self.min_follow_ups = min_follow_ups
        self.rules = dict(rules or RULES)
        self.history = dict(history or HISTORY)
        self._cache: dict[date, Counter[Key]] = {}
        self._cache_days = cache_days

    # time ------------------------------------------------------------------------------

    def today(self) -> date:
        """The city's date now."""
        return self.tickets.clock().astimezone(self.tz).date()

    def utc(self, day: date) -> datetime:
        """Local midnight starting `day`, in UTC."""
        return datetime(day.year, day.month, day.day, tzinfo=self.tz).astimezone(UTC)

    def names(self, locale: str) -> Names:
        """Display names in `locale`."""
        tree = self.tickets.tree
        cats = self.tickets.category_rows
        other = "Other" if locale == "en" else "其他"
        unset = "(uncategorised)" if locale == "en" else "(未分类)"

        def category(code: str | None) -> str:
            row = cats.get(code or "")
            if row is None:
                return code or unset
            return str((row["name_en"] if locale == "en" else "") or row["name_zh"])

        def department(code: str | None) -> str:
            return tree.name(code, locale) if code else unset

        return Names(department, category, department, other)

    # hotspots --------------------------------------------------------------------------

    async def _count_days(
        self, days: Sequence[date]
    ) -> tuple[dict[date, Counter[Key]], Counter[date]]:
        """Segment the tickets of these local days (in a thread: jieba is CPU-bound)."""
        split: dict[date, list[TicketText]] = {d: [] for d in days}
        async with self.store.read() as tx:
            rows = await q.period_texts(tx, self.utc(min(days)), self.utc(max(days) + ONE_DAY))
        for r in rows:
            local = r["created_at"].astimezone(self.tz).date()
            if local in split:
                split[local].append(TicketText(r["text"], r["category"], r["district"]))
        counted = await asyncio.to_thread(
            lambda: {d: count_window(ts, MATTER_TERMS) for d, ts in split.items()}
        )
        return counted, Counter({d: len(ts) for d, ts in split.items()})

    async def day_counts(self, days: Sequence[date], now: datetime) -> dict[date, Counter[Key]]:
        """Hotspot counts per local day. A complete day is segmented once and stored
        (`hotspot_days`), so baselines of weeks and months cost a read, not re-segmenting
        every letter; the day still running is counted live each time."""
        complete = [d for d in days if self.utc(d + ONE_DAY) <= now]
        need = [d for d in complete if d not in self._cache]
        if need:
            async with self.store.read() as tx:
                done = await q.counted_days(tx, [d.isoformat() for d in need])
            missing = [d for d in need if d.isoformat() not in done]
            found: dict[date, Counter[Key]] = {d: Counter() for d in need}
            if missing:
                counted, totals = await self._count_days(missing)
                found.update(counted)
                for d, c in counted.items():  # a short write per day: others keep writing
                    rows = [
                        {"kind": k.kind, "value": k.value[:100], "district": k.district,
                         "count": n}
                        for k, n in c.items()
                    ]  # fmt: skip
                    async with self.store.write() as tx:
                        await q.store_day_counts(tx, d.isoformat(), rows, totals[d])
            stored = [d.isoformat() for d in need if d.isoformat() in done]
            if stored:
                async with self.store.read() as tx:
                    for r in await q.day_counts(tx, stored):
                        key = Key(r["kind"], r["value"], r["district"])
                        found[date.fromisoformat(r["day"])][key] = int(r["count"])
            for d, c in found.items():
                if len(self._cache) >= self._cache_days:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[d] = c
        live = [d for d in days if d not in complete]
        counted = (await self._count_days(live))[0] if live else {}
        return {d: counted[d] if d in counted else self._cache[d] for d in days}

    async def warm(self) -> None:
        """Count and keep the complete days the day and week baselines use (the scheduler
        calls this, so a page view only segments the day still running)."""
        now = self.tickets.clock()
        today = now.astimezone(self.tz).date()
        span = max(self.history["day"], 7 * self.history["week"])
        await self.day_counts([today - timedelta(days=i) for i in range(span, 0, -1)], now)

    async def hotspots(self, period: Period, locale: str = "zh") -> HotspotView:
        """The period's hotspots against its baseline windows."""
        now = self.tickets.clock()
        async with self.store.read() as tx:
            first = await q.first_ticket_at(tx)
        n = self.history[period.kind]
        previous = [period.shifted(i) for i in range(n, 0, -1)]
        # Windows that end before the record begins are unknown, not zero.
        previous = [p for p in previous if first is not None and self.utc(p.end) > first]
        windows = [*previous, period]
        days = [d for p in windows for d in _days(p)]
        per_day = await self.day_counts(days, now)
        counts = [sum((per_day[d] for d in _days(p)), Counter()) for p in windows]
        current, history = counts[-1], counts[:-1]
        found = hotspots(current, history, self.rules[period.kind])
        names = self.names(locale)
        items, districts, cells = found.grid(current)
        return HotspotView(
            period=period,
            as_of=min(now, self.utc(period.end)),
            found=found,
            current=current,
            history_windows=len(history),
            items=_hot_items(found.city, current, names, 20),
            by_district=tuple(
                (names.district(d), _hot_items(hs, current, names, 5))
                for d, hs in found.by_district.items()
            ),
            grid={
                "items": [
                    names.category(i.value) if i.kind == "category" else i.value for i in items
                ],
                "districts": [names.district(d) for d in districts],
                "cells": cells,
            },
        )

    async def _ranking(
        self, per: Mapping[str | None, DepartmentFigures], first: date, last: date
    ) -> tuple[list[Scored], list[str | None]]:
        """The ranking as /reports/ranking orders it: each department under its class's
        weights, supervisors' adjustments applied, vetoed ones last; the bottom three and
        every vetoed department flagged."""
        classes, class_of = await self.figures.classes()
        adjustments = await self.figures.adjustments(first, last)
        groups = rank_classes(
            per, class_of, classes, self.figures.rules.weights, adjustments, self.min_follow_ups
        )
        everyone = sorted(
            (s for g in groups for s in g.ranked),
            key=lambda s: (s.vetoed, -(s.score or 0.0), str(s.department)),
        )
        bottom = [s.department for s in everyone[-3:]] if len(everyone) > 3 else []
        bottom += [s.department for s in everyone if s.vetoed and s.department not in bottom]
        return everyone, bottom

    # the briefing ----------------------------------------------------------------------

    async def briefing(self, period: Period, locale: str = "zh") -> Briefing:
        """The briefing of `period` as of now (or of its end, when it is over)."""
        now = self.tickets.clock()
        end_utc = self.utc(period.end)
        as_of = min(now, end_utc)
        complete = now >= end_utc
        prev = period.previous()
        first_day = prev.start if period.kind != "day" else period.start - timedelta(days=13)
        days = [first_day + timedelta(days=i) for i in range((period.end - first_day).days)]
        bounds = [self.utc(d) for d in days] + [end_utc]
        # Buckets: each day of the trend, then the previous period, then the period: three
        # reads of the same index, kept apart so a bucket never straddles two of them.
        async with self.store.read() as tx:
            trend = await q.volumes(tx, bounds)
            pair = await q.volumes(tx, [self.utc(prev.start), self.utc(period.start), end_utc])
            urgent = await q.urgent_tickets(tx, self.utc(period.start), end_utc)
            overdue = await q.overdue_orders(tx, as_of)
            cats = await q.category_counts(tx, self.utc(period.start), end_utc)
        volume_rows = [*trend] + [{**r, "bucket": len(days) + int(r["bucket"])} for r in pair]
        per_period = await self.figures.sql(self.utc(period.start), end_utc, as_of)
        last_day = (as_of.astimezone(self.tz) - timedelta(microseconds=1)).date()
        q_start, q_end = quarter_of(max(last_day, period.start))
        q_hi = min(self.utc(q_end), as_of)
        per_quarter = await self.figures.sql(self.utc(q_start), q_hi, as_of)
        ranked, bottom = await self._ranking(per_quarter, q_start, last_day + timedelta(days=1))
        hot = await self.hotspots(period, locale)
        return build_briefing(
            period,
            as_of,
            volume_rows=volume_rows,
            days=days,
            per_department=per_period,
            weights=self.figures.rules.weights,
            urgent_rows=urgent,
            overdue_rows=overdue,
            found=hot.found,
            current=hot.current,
            category_rows=cats,
            ranked=ranked,
            bottom=bottom,
            ranking_period=(q_start, min(q_end, last_day + timedelta(days=1))),
            names=self.names(locale),
            complete=complete,
            min_follow_ups=self.min_follow_ups,
        )
