"""Working-day deadlines for work orders; pure, no I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = [
    "BAD_REVIEW_STEPS",
    "DEFAULT_TZ",
    "CalendarOverride",
    "Deadline",
    "WorkCalendar",
    "add_working_days_to",
    "bad_review_deadlines",
    "extend_for_pause",
    "hours_deadline",
    "working_days_between",
    "working_days_deadline",
]

DEFAULT_TZ = "Asia/Shanghai"

# 3-5-15 after a bad review (国办发〔2019〕51号): contact the citizen within 3 working days,
# rectify within 5, complex cases within 15.
BAD_REVIEW_STEPS: dict[str, int] = {"contact": 3, "rectify": 5, "complex": 15}

# Fixed-date Gregorian holidays guessed for years nobody has published yet: 元旦 Jan 1,
# 劳动节 May 1, 国庆 Oct 1-3. Spring Festival, Qingming, Dragon Boat and Mid-Autumn follow the
# lunar calendar and the State Council's yearly notice (with its 调休 weekends), so they can't be
# guessed; deadlines that touch such years are marked provisional and recomputed later.
FALLBACK_HOLIDAYS: frozenset[tuple[int, int]] = frozenset(
    {(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)}
)

# A search for the next working day gives up after this many days: a calendar with a year of
# holidays in a row is a data-entry mistake, not something to loop on forever.
_MAX_SEARCH_DAYS = 366

_ONE_DAY = timedelta(days=1)
_EPSILON = timedelta(microseconds=1)


@cache
def _library_knows(year: int) -> bool:
    """Whether chinesecalendar has the State Council notice for ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value!r}")


def _require_date(value: date, name: str) -> None:
    # A datetime is a date too, but taking its .date() silently would use whatever zone it
    # happens to carry; callers must go through WorkCalendar.local_date().
    if isinstance(value, datetime):
        raise TypeError(f"{name} must be a date, not a datetime; use WorkCalendar.local_date()")


def _check_warn_share(warn_share: float) -> None:
    if not (0.0 < warn_share <= 1.0):  # also rejects NaN
        raise ValueError(f"warn_share must be in (0, 1], got {warn_share!r}")


@dataclass(frozen=True)
class CalendarOverride:
    """One row of the city's override table, entered by admins from the yearly notice.

    ``is_workday=False`` marks a holiday, ``True`` an adjusted working day (调休 weekend).
    """

    day: date
    is_workday: bool
    name: str = ""


class WorkCalendar:
    """Which local days are working days, and whether that answer is official.

    A day is classified in this order:

    1. an override row for that day wins;
    2. else chinesecalendar (``chinese_calendar.is_workday``) for the years it has data for;
    3. else, if the year has at least one override row, the admins entered that year's whole
       notice (holidays and 调休 weekends), so every other day is Mon-Fri working, Sat-Sun not;
       such days are official;
    4. else the fallback guess: Mon-Fri working except the fixed-date holidays in
       ``FALLBACK_HOLIDAYS``. Lunar holidays can't be guessed; these days are not official and
       make any deadline that uses them provisional.
    """

    tz: ZoneInfo

    def __init__(self, overrides: Iterable[CalendarOverride] = (), tz: str = DEFAULT_TZ) -> None:
        """Build a calendar from override rows and the IANA zone working days are reckoned in.

        Two rows for the same day that disagree raise ValueError.
        """
        self.tz = ZoneInfo(tz)
        self._overrides: dict[date, CalendarOverride] = {}
        for row in overrides:
            _require_date(row.day, "CalendarOverride.day")
            known = self._overrides.get(row.day)
            if known is not None and known.is_workday != row.is_workday:
                raise ValueError(f"conflicting override rows for {row.day}: {known!r}, {row!r}")
            self._overrides[row.day] = row
        self._override_years = frozenset(day.year for day in self._overrides)

    def is_workday(self, d: date) -> bool:
        """Whether local date ``d`` is a working day (see the class docstring for the order)."""
        _require_date(d, "d")
        row = self._overrides.get(d)
        if row is not None:
            return row.is_workday
        if _library_knows(d.year):
            return bool(chinese_calendar.is_workday(d))
        if d.weekday() >= 5:
            return False
        if d.year in self._override_years:
            return True
        return (d.month, d.day) not in FALLBACK_HOLIDAYS

    def is_official(self, d: date) -> bool:
        """Whether ``d``'s classification comes from published data, not the fallback guess.

        True when chinesecalendar has data for the year or the year has at least one override
        row (the admins entered that year's notice).
        """
        _require_date(d, "d")
        return self._year_is_official(d.year)

    def unknown_years(self, start: date, end: date) -> list[int]:
        """Years in ``[start, end]`` (by calendar year) whose days are only guessed."""
        _require_date(start, "start")
        _require_date(end, "end")
        return [y for y in range(start.year, end.year + 1) if not self._year_is_official(y)]

    def next_workday(self, d: date) -> date:
        """The first working day strictly after local date ``d``."""
        _require_date(d, "d")
        day = d
        for _ in range(_MAX_SEARCH_DAYS):
            day += _ONE_DAY
            if self.is_workday(day):
                return day
        raise ValueError(f"no working day within {_MAX_SEARCH_DAYS} days after {d}")

    def local_date(self, at: datetime) -> date:
        """The calendar's local date of the aware instant ``at``."""
        _require_aware(at, "at")
        return at.astimezone(self.tz).date()

    def start_of_day(self, d: date) -> datetime:
        """Local 00:00 of ``d`` as an aware UTC datetime."""
        _require_date(d, "d")
        return datetime.combine(d, time(0), tzinfo=self.tz).astimezone(UTC)

    def end_of_day(self, d: date) -> datetime:
        """Local 24:00 of ``d`` (the next local midnight) as an aware UTC datetime."""
        return self.start_of_day(d + _ONE_DAY)

    def _year_is_official(self, year: int) -> bool:
        return _library_knows(year) or year in self._override_years

    def _days_provisional(self, first: date, last: date) -> bool:
        """Whether any day in ``[first, last]`` falls in a year that is only guessed."""
        if last < first:
            return False
        return bool(self.unknown_years(first, last))

    def _add_working_days(self, after: date, days: int) -> date:
        """The ``days``-th working day strictly after ``after`` (``after`` itself if 0)."""
        day = after
        for _ in range(days):
            day = self.next_workday(day)
        return day


@dataclass(frozen=True)
class Deadline:
    """A due instant with its early-warning instant, both aware UTC datetimes.

    ``provisional`` is True when any day used to compute it was only guessed (its year is
    neither in chinesecalendar nor in the override table); such deadlines should be recomputed
    once the year's notice is entered. ``start`` and ``warn_share`` are kept so the warning and
    the dashboard share can follow the due instant when it moves (pause, extension).
    """

    due: datetime
    warn_at: datetime
    provisional: bool
    start: datetime | None = None
    warn_share: float = 0.8

    def remaining_share(self, at: datetime) -> float:
        """Share of the allowed time left at ``at``: 1 = untouched, 0 = due or overdue.

        Counted in elapsed time between ``start`` and ``due``. Without ``start`` it is
        inferred from ``warn_at`` and ``warn_share``.
        """
        _require_aware(at, "at")
        start = self._effective_start()
        if start is None or self.due <= start:
            return 1.0 if at < self.due else 0.0
        share = (self.due - at) / (self.due - start)
        return min(1.0, max(0.0, share))

    def _effective_start(self) -> datetime | None:
        if self.start is not None:
            return self.start
        if self.warn_share >= 1.0:
            return None
        # warn_at = start + share * (due - start)  =>  due - start = (due - warn_at) / (1 - share)
        return self.due - (self.due - self.warn_at) / (1.0 - self.warn_share)

    def _moved_to(self, due: datetime, provisional: bool) -> Deadline:
        """This deadline with a new due instant and the warning recomputed to match."""
        if self.start is not None:
            warn_at = _warn_at(self.start, due, self.warn_share)
        else:
            warn_at = self.warn_at + (due - self.due)
        return replace(self, due=due, warn_at=warn_at, provisional=self.provisional or provisional)


def _warn_at(start: datetime, due: datetime, warn_share: float) -> datetime:
    # timedelta * float rounds exactly, so with warn_share <= 1 this never passes due.
    return (start + (due - start) * warn_share).astimezone(UTC)


def _make(start: datetime, due: datetime, warn_share: float, provisional: bool) -> Deadline:
    start_utc = start.astimezone(UTC)
    due_utc = due.astimezone(UTC)
    return Deadline(
        due=due_utc,
        warn_at=_warn_at(start_utc, due_utc, warn_share),
        provisional=provisional,
        start=start_utc,
        warn_share=warn_share,
    )


def working_days_deadline(
    cal: WorkCalendar, start: datetime, days: int, warn_share: float = 0.8
) -> Deadline:
    """Deadline ``days`` working days (个工作日) after ``start``.

    Counting starts on the first working day after the local start date (the day of acceptance
    does not count); the deadline is the end of the ``days``-th working day, 24:00 local, i.e.
    the next local midnight, returned in UTC. So the local date of ``due - 1µs`` is always a
    working day. ``warn_at`` is ``start + warn_share * (due - start)`` in elapsed time.

    Raises ValueError for a naive ``start``, ``days < 1`` or ``warn_share`` outside (0, 1].
    """
    _require_aware(start, "start")
    _check_warn_share(warn_share)
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    start_day = cal.local_date(start)
    last = cal._add_working_days(start_day, days)
    provisional = cal._days_provisional(start_day + _ONE_DAY, last)
    return _make(start, cal.end_of_day(last), warn_share, provisional)


def hours_deadline(
    cal: WorkCalendar,
    start: datetime,
    hours: float,
    warn_share: float = 0.8,
    working_hours_only: bool = False,
) -> Deadline:
    """Deadline ``hours`` after ``start``.

    By default wall-clock elapsed hours (urgent matters run 24/7; DST-safe, as it is computed
    in UTC) and never provisional. With ``working_hours_only=True`` only time on working days
    counts, whole local days 00:00-24:00; time on other days is skipped, and the deadline is
    provisional if any day it touched was only guessed.

    Raises ValueError for a naive ``start``, ``hours`` not a positive finite number or
    ``warn_share`` outside (0, 1].
    """
    _require_aware(start, "start")
    _check_warn_share(warn_share)
    if not (math.isfinite(hours) and hours > 0):
        raise ValueError(f"hours must be a positive finite number, got {hours!r}")
    remaining = timedelta(hours=hours)
    start_utc = start.astimezone(UTC)
    if not working_hours_only:
        return _make(start, start_utc + remaining, warn_share, provisional=False)

    day = cal.local_date(start)
    cursor = start_utc
    skipped = 0
    while True:
        day_end = cal.end_of_day(day)
        if cal.is_workday(day):
            skipped = 0
            available = day_end - cursor
            if remaining <= available:
                due = cursor + remaining
                break
            remaining -= available
        else:
            skipped += 1
            if skipped > _MAX_SEARCH_DAYS:
                raise ValueError(f"no working day within {_MAX_SEARCH_DAYS} days after {day}")
        cursor = day_end
        day += _ONE_DAY
    provisional = cal._days_provisional(cal.local_date(start), day)
    return _make(start, due, warn_share, provisional)


def working_days_between(cal: WorkCalendar, start: datetime, end: datetime) -> int:
    """Working days whose local date lies in ``(local date of start, local date of end]``.

    A day touched only partly counts whole, the start day never counts (as for deadlines);
    0 if ``end`` is not after ``start``. Used to measure a pause of the clock.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    first = cal.local_date(start) + _ONE_DAY
    last = cal.local_date(end)
    count = 0
    day = first
    while day <= last:
        if cal.is_workday(day):
            count += 1
        day += _ONE_DAY
    return count


def add_working_days_to(cal: WorkCalendar, deadline: Deadline, days: int) -> Deadline:
    """An approved extension (延期): move ``due`` to the end of the ``days``-th working day
    after the local day the current due instant falls in (for an end-of-day due, the working
    day that ends there).

    ``warn_at`` is recomputed with the deadline's ``warn_share`` (shifted along if it has no
    ``start``); ``provisional`` becomes True if any new day was only guessed. ``days == 0``
    returns the deadline unchanged; negative ``days`` raise ValueError.
    """
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    if days == 0:
        return deadline
    anchor = cal.local_date(deadline.due - _EPSILON)
    last = cal._add_working_days(anchor, days)
    provisional = cal._days_provisional(anchor + _ONE_DAY, last)
    return deadline._moved_to(cal.end_of_day(last), provisional)


def extend_for_pause(
    cal: WorkCalendar, deadline: Deadline, pause_start: datetime, pause_end: datetime
) -> Deadline:
    """Push ``due`` on by the working days a pause of the clock covered.

    Where the city's rules stop the clock while an extension request is pending, the pause
    ``[pause_start, pause_end]`` is measured with ``working_days_between`` and that many working
    days are added with ``add_working_days_to``. Only the part of the pause before ``due``
    counts: an order that is already overdue does not become on time by pausing. Never moves
    ``due`` earlier. Raises ValueError for naive datetimes or ``pause_end < pause_start``.
    """
    _require_aware(pause_start, "pause_start")
    _require_aware(pause_end, "pause_end")
    if pause_end < pause_start:
        raise ValueError(f"pause ends ({pause_end}) before it starts ({pause_start})")
    # due - 1µs: a due at local midnight belongs to the working day that ends there.
    end = min(pause_end, deadline.due - _EPSILON)
    days = working_days_between(cal, pause_start, end)
    pause_provisional = cal._days_provisional(
        cal.local_date(pause_start) + _ONE_DAY, cal.local_date(end)
    )
    moved = add_working_days_to(cal, deadline, days)
    if pause_provisional and not moved.provisional:
        moved = replace(moved, provisional=True)
    return moved


def bad_review_deadlines(cal: WorkCalendar, rated_at: datetime) -> dict[str, Deadline]:
    """The 3-5-15 clock started by a bad review: one deadline per step of BAD_REVIEW_STEPS."""
    return {
        step: working_days_deadline(cal, rated_at, days) for step, days in BAD_REVIEW_STEPS.items()
    }
