"""Tests for the working-day SLA clock (tickets.sla)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets.sla import (
    BAD_REVIEW_STEPS,
    CalendarOverride,
    Deadline,
    WorkCalendar,
    add_working_days_to,
    bad_review_deadlines,
    extend_for_pause,
    hours_deadline,
    working_days_between,
    working_days_deadline,
)

BEIJING = ZoneInfo("Asia/Shanghai")
US = timedelta(microseconds=1)

# Made-up notice for 2027 (the real one is not published yet): 元旦 Jan 1 plus Jan 4-5 off,
# Saturday Jan 9 worked in lieu.
OVERRIDES_2027 = (
    CalendarOverride(date(2027, 1, 1), False, "元旦"),
    CalendarOverride(date(2027, 1, 4), False, "元旦"),
    CalendarOverride(date(2027, 1, 5), False, "元旦"),
    CalendarOverride(date(2027, 1, 9), True, "元旦调休"),
)


def bj(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """An aware Beijing time."""
    return datetime(y, m, d, h, mi, tzinfo=BEIJING)


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """An aware UTC time."""
    return datetime(y, m, d, h, mi, tzinfo=UTC)


@pytest.fixture
def cal() -> WorkCalendar:
    """The national calendar with no city overrides."""
    return WorkCalendar()


# --- the calendar -------------------------------------------------------------------------


def test_calendar_follows_chinesecalendar_for_spring_festival_2026(cal: WorkCalendar) -> None:
    assert cal.is_workday(date(2026, 2, 13))  # Friday
    assert cal.is_workday(date(2026, 2, 14))  # Saturday worked in lieu (调休)
    for day in range(15, 24):
        assert not cal.is_workday(date(2026, 2, day))
    assert cal.is_workday(date(2026, 2, 24))
    assert cal.is_workday(date(2026, 2, 28))  # Saturday worked in lieu (调休)
    assert not cal.is_workday(date(2026, 3, 1))  # plain Sunday
    assert cal.is_official(date(2026, 2, 15))


def test_calendar_fallback_for_unpublished_year(cal: WorkCalendar) -> None:
    assert not cal.is_official(date(2027, 3, 1))
    assert not cal.is_workday(date(2027, 1, 1))  # 元旦, Friday
    assert not cal.is_workday(date(2027, 5, 1))
    assert not cal.is_workday(date(2027, 10, 1))
    assert not cal.is_workday(date(2027, 10, 2))
    assert not cal.is_workday(date(2027, 10, 3))
    assert cal.is_workday(date(2027, 10, 4))  # Monday: the fallback can't know Golden Week
    assert not cal.is_workday(date(2027, 1, 2))  # Saturday
    assert cal.unknown_years(date(2025, 6, 1), date(2028, 1, 1)) == [2027, 2028]


def test_calendar_override_rows_win_and_make_the_year_official() -> None:
    cal = WorkCalendar(
        [
            CalendarOverride(date(2026, 3, 2), False, "city holiday"),
            CalendarOverride(date(2026, 3, 7), True, "city 调休"),
            *OVERRIDES_2027,
        ]
    )
    assert not cal.is_workday(date(2026, 3, 2))
    assert cal.is_workday(date(2026, 3, 7))
    assert cal.is_workday(date(2026, 3, 3))  # not overridden: chinesecalendar
    assert not cal.is_workday(date(2027, 1, 4))
    assert cal.is_workday(date(2027, 1, 9))
    # Not overridden in an entered year: plain weekday rule, no fallback guess.
    assert cal.is_workday(date(2027, 5, 3))
    assert cal.is_workday(date(2027, 10, 1))  # the notice as entered has no National Day row
    assert cal.is_official(date(2027, 10, 1))
    assert cal.unknown_years(date(2026, 1, 1), date(2028, 12, 31)) == [2028]


def test_conflicting_override_rows_are_rejected() -> None:
    with pytest.raises(ValueError, match="conflicting"):
        WorkCalendar(
            [CalendarOverride(date(2027, 1, 1), False), CalendarOverride(date(2027, 1, 1), True)]
        )


def test_next_workday_skips_holiday_and_lands_on_adjusted_saturday(cal: WorkCalendar) -> None:
    assert cal.next_workday(date(2026, 2, 13)) == date(2026, 2, 14)
    assert cal.next_workday(date(2026, 2, 14)) == date(2026, 2, 24)
    assert cal.next_workday(date(2026, 2, 27)) == date(2026, 2, 28)
    assert cal.next_workday(date(2026, 10, 9)) == date(2026, 10, 10)
    assert cal.next_workday(date(2026, 10, 10)) == date(2026, 10, 12)


def test_calendar_rejects_datetime_where_a_local_date_is_needed(cal: WorkCalendar) -> None:
    with pytest.raises(TypeError):
        cal.is_workday(bj(2026, 3, 2, 10))


# --- working-day deadlines ----------------------------------------------------------------


def test_five_days_from_friday_before_spring_festival(cal: WorkCalendar) -> None:
    # Accepted Fri 02-13: Sat 02-14 (调休) is day 1, 02-15..23 off, then 02-24..27 are days 2-5.
    deadline = working_days_deadline(cal, bj(2026, 2, 13, 10), 5)
    assert deadline.due == utc(2026, 2, 27, 16)  # 2026-02-28 00:00 Beijing
    assert deadline.due.tzinfo is UTC
    assert not deadline.provisional
    # warn at 80 % of the elapsed time from 02-13 02:00 UTC to 02-27 16:00 UTC (350 h).
    assert deadline.warn_at == utc(2026, 2, 13, 2) + timedelta(hours=280)


def test_five_days_from_adjusted_saturday_ends_on_the_next_adjusted_saturday(
    cal: WorkCalendar,
) -> None:
    # Accepted on 调休 Sat 02-14: 02-24, 25, 26, 27 and the 调休 Sat 02-28.
    deadline = working_days_deadline(cal, bj(2026, 2, 14, 9), 5)
    assert deadline.due == utc(2026, 2, 28, 16)
    assert working_days_deadline(cal, bj(2026, 2, 14, 9), 3).due == utc(2026, 2, 26, 16)


def test_national_day_and_mid_autumn_2026(cal: WorkCalendar) -> None:
    # 09-25..27 Mid-Autumn, 10-01..07 National Day, Sat 10-10 worked in lieu.
    assert working_days_deadline(cal, bj(2026, 9, 24, 11), 3).due == utc(2026, 9, 30, 16)
    deadline = working_days_deadline(cal, bj(2026, 9, 30, 15), 5)
    # 10-08, 10-09, 10-10 (调休), 10-12, 10-13
    assert deadline.due == utc(2026, 10, 13, 16)


def test_deadline_into_unpublished_year_is_provisional_until_overrides_are_entered() -> None:
    start = bj(2026, 12, 20, 10)  # Sunday
    guessed = working_days_deadline(WorkCalendar(), start, 15)
    # Dec 21-25, 28-31 (9); Jan 1 guessed off; Jan 4-8 (14); Jan 11 (15).
    assert guessed.due == utc(2027, 1, 11, 16)
    assert guessed.provisional

    entered = working_days_deadline(WorkCalendar(OVERRIDES_2027), start, 15)
    # 9 in 2026; Jan 1, 4, 5 off; Jan 6-8 (12); Sat Jan 9 (13); Jan 11 (14); Jan 12 (15).
    assert entered.due == utc(2027, 1, 12, 16)
    assert not entered.provisional


def test_deadline_inside_a_published_year_is_not_provisional_near_its_end(
    cal: WorkCalendar,
) -> None:
    assert not working_days_deadline(cal, bj(2026, 12, 28, 10), 3).provisional  # Dec 29-31
    assert working_days_deadline(cal, bj(2026, 12, 28, 10), 4).provisional


def test_start_date_is_the_local_date(cal: WorkCalendar) -> None:
    late_evening = bj(2026, 3, 2, 23, 30)
    assert late_evening == utc(2026, 3, 2, 15, 30)
    assert working_days_deadline(cal, late_evening, 1).due == utc(2026, 3, 3, 16)
    # 01:00 Beijing on 03-03 is still 03-02 in UTC; the local date (03-03) is what counts.
    early_morning = utc(2026, 3, 2, 17)
    assert working_days_deadline(cal, early_morning, 1).due == utc(2026, 3, 4, 16)
    utc_cal = WorkCalendar(tz="UTC")
    assert working_days_deadline(utc_cal, early_morning, 1).due == utc(2026, 3, 4, 0)


def test_bad_review_starts_the_3_5_15_clock(cal: WorkCalendar) -> None:
    deadlines = bad_review_deadlines(cal, bj(2026, 2, 13, 10))
    assert set(deadlines) == set(BAD_REVIEW_STEPS) == {"contact", "rectify", "complex"}
    assert deadlines["contact"].due == utc(2026, 2, 25, 16)
    assert deadlines["rectify"].due == utc(2026, 2, 27, 16)
    # 02-14, 24-28 (6), 03-02..06 (11), 03-09..12 (15)
    assert deadlines["complex"].due == utc(2026, 3, 12, 16)


# --- hour deadlines -----------------------------------------------------------------------


def test_two_hours_crossing_midnight_run_on_the_wall_clock(cal: WorkCalendar) -> None:
    deadline = hours_deadline(cal, bj(2026, 2, 14, 23), 2)  # into the Spring Festival
    assert deadline.due == utc(2026, 2, 14, 17)  # 01:00 Beijing on 02-15
    assert deadline.warn_at == utc(2026, 2, 14, 16, 36)
    assert not deadline.provisional


def test_working_hours_only_skip_the_weekend(cal: WorkCalendar) -> None:
    # Fri 03-06 20:00: 4 h left on Friday, Sat/Sun skipped, 6 h into Monday 03-09.
    deadline = hours_deadline(cal, bj(2026, 3, 6, 20), 10, working_hours_only=True)
    assert deadline.due == bj(2026, 3, 9, 6)
    assert deadline.due == utc(2026, 3, 8, 22)
    assert not deadline.provisional


def test_working_hours_only_from_a_holiday_start_at_the_next_working_day(
    cal: WorkCalendar,
) -> None:
    deadline = hours_deadline(cal, bj(2026, 10, 3, 12), 24, working_hours_only=True)
    assert deadline.due == bj(2026, 10, 9)  # all of Thursday 10-08
    late = hours_deadline(cal, bj(2026, 12, 31, 12), 24, working_hours_only=True)
    assert late.due == bj(2027, 1, 4, 12)  # Jan 1 guessed off, then the weekend
    assert late.provisional


# --- pauses and extensions ----------------------------------------------------------------


def test_extend_for_pause_adds_the_working_days_paused(cal: WorkCalendar) -> None:
    deadline = working_days_deadline(cal, bj(2026, 2, 13, 10), 5)  # end of 02-27
    # Pause 02-24 10:00 .. 02-26 09:00 covers 02-25 and 02-26: due moves past Sat 02-28.
    moved = extend_for_pause(cal, deadline, bj(2026, 2, 24, 10), bj(2026, 2, 26, 9))
    assert moved.due == utc(2026, 3, 2, 16)
    assert moved.start == deadline.start
    assert moved.warn_at == _expected_warn(moved)


def test_pause_within_one_day_or_after_due_does_not_extend(cal: WorkCalendar) -> None:
    deadline = working_days_deadline(cal, bj(2026, 2, 13, 10), 5)
    assert extend_for_pause(cal, deadline, bj(2026, 2, 24, 9), bj(2026, 2, 24, 17)) == deadline
    assert extend_for_pause(cal, deadline, bj(2026, 2, 28, 9), bj(2026, 3, 5, 9)) == deadline


def test_pause_running_past_due_counts_only_up_to_due(cal: WorkCalendar) -> None:
    deadline = working_days_deadline(cal, bj(2026, 2, 13, 10), 5)  # end of 02-27
    moved = extend_for_pause(cal, deadline, bj(2026, 2, 26, 9), bj(2026, 3, 10, 9))
    assert moved.due == utc(2026, 2, 28, 16)  # 02-27 paused -> one more day: Sat 02-28


def test_working_days_between(cal: WorkCalendar) -> None:
    assert working_days_between(cal, bj(2026, 2, 13, 12), bj(2026, 2, 24, 12)) == 2
    assert working_days_between(cal, bj(2026, 2, 24, 9), bj(2026, 2, 24, 18)) == 0
    assert working_days_between(cal, bj(2026, 2, 24, 9), bj(2026, 2, 20, 18)) == 0


def test_approved_extension_adds_working_days(cal: WorkCalendar) -> None:
    deadline = working_days_deadline(cal, bj(2026, 9, 24, 11), 3)  # end of 09-30
    extended = add_working_days_to(cal, deadline, 3)  # 10-08, 10-09, 10-10 (调休)
    assert extended.due == utc(2026, 10, 10, 16)
    assert extended.warn_at == _expected_warn(extended)
    assert not extended.provisional
    assert add_working_days_to(cal, deadline, 0) == deadline
    into_2027 = add_working_days_to(cal, working_days_deadline(cal, bj(2026, 12, 28), 3), 1)
    assert into_2027.provisional
    assert into_2027.due == utc(2027, 1, 4, 16)


# --- dashboards and bad input -------------------------------------------------------------


def test_remaining_share(cal: WorkCalendar) -> None:
    deadline = hours_deadline(cal, utc(2026, 3, 2, 0), 10)
    assert deadline.remaining_share(utc(2026, 3, 1)) == 1.0
    assert deadline.remaining_share(utc(2026, 3, 2, 0)) == 1.0
    assert deadline.remaining_share(utc(2026, 3, 2, 5)) == pytest.approx(0.5)
    assert deadline.remaining_share(utc(2026, 3, 2, 10)) == 0.0
    assert deadline.remaining_share(utc(2026, 3, 3)) == 0.0
    # Without a recorded start it is inferred from warn_at and warn_share.
    bare = Deadline(due=deadline.due, warn_at=deadline.warn_at, provisional=False)
    assert bare.remaining_share(utc(2026, 3, 2, 5)) == pytest.approx(0.5)


def test_naive_datetimes_are_rejected(cal: WorkCalendar) -> None:
    naive = datetime(2026, 3, 2, 10)
    aware = bj(2026, 3, 2, 10)
    with pytest.raises(ValueError, match="naive"):
        working_days_deadline(cal, naive, 5)
    with pytest.raises(ValueError, match="naive"):
        hours_deadline(cal, naive, 2)
    with pytest.raises(ValueError, match="naive"):
        working_days_between(cal, aware, naive)
    deadline = working_days_deadline(cal, aware, 5)
    with pytest.raises(ValueError, match="naive"):
        extend_for_pause(cal, deadline, naive, aware)
    with pytest.raises(ValueError, match="naive"):
        deadline.remaining_share(naive)


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5, float("nan")])
def test_bad_warn_share_is_rejected(cal: WorkCalendar, share: float) -> None:
    with pytest.raises(ValueError, match="warn_share"):
        working_days_deadline(cal, bj(2026, 3, 2, 10), 5, warn_share=share)
    with pytest.raises(ValueError, match="warn_share"):
        hours_deadline(cal, bj(2026, 3, 2, 10), 2, warn_share=share)


def test_other_bad_arguments_are_rejected(cal: WorkCalendar) -> None:
    start = bj(2026, 3, 2, 10)
    with pytest.raises(ValueError):
        working_days_deadline(cal, start, 0)
    with pytest.raises(ValueError):
        hours_deadline(cal, start, 0)
    with pytest.raises(ValueError):
        add_working_days_to(cal, working_days_deadline(cal, start, 1), -1)
    with pytest.raises(ValueError):
        extend_for_pause(cal, working_days_deadline(cal, start, 1), start, start - US)


def test_warn_share_one_warns_at_due(cal: WorkCalendar) -> None:
    deadline = working_days_deadline(cal, bj(2026, 3, 2, 10), 5, warn_share=1.0)
    assert deadline.warn_at == deadline.due


# --- properties ---------------------------------------------------------------------------

CALENDARS = (WorkCalendar(), WorkCalendar(OVERRIDES_2027), WorkCalendar(tz="America/New_York"))
ZONES = (BEIJING, UTC, ZoneInfo("America/New_York"))
MODEST = settings(max_examples=200, deadline=None, database=None)

starts = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 6, 30),
    timezones=st.sampled_from(ZONES),
)
calendars = st.sampled_from(CALENDARS)
day_counts = st.integers(min_value=1, max_value=30)


def _expected_warn(deadline: Deadline) -> datetime:
    assert deadline.start is not None
    return deadline.start + (deadline.due - deadline.start) * deadline.warn_share


def _working_days_in(cal: WorkCalendar, first_excl: date, last_incl: date) -> int:
    count, day = 0, first_excl + timedelta(days=1)
    while day <= last_incl:
        count += cal.is_workday(day)
        day += timedelta(days=1)
    return count


@MODEST
@given(cal=calendars, start=starts, days=day_counts)
def test_working_days_deadline_properties(cal: WorkCalendar, start: datetime, days: int) -> None:
    deadline = working_days_deadline(cal, start, days)
    last = cal.local_date(deadline.due - US)
    assert cal.is_workday(last)
    assert deadline.due.astimezone(cal.tz).time() == datetime.min.time()  # local midnight
    assert deadline.due > start
    assert deadline.due.tzinfo is UTC and deadline.warn_at.tzinfo is UTC
    assert _working_days_in(cal, cal.local_date(start), last) == days
    assert start <= deadline.warn_at <= deadline.due
    years = range(cal.local_date(start).year, last.year + 1)
    touched_unknown = any(not cal.is_official(date(y, 1, 1)) for y in years)
    first_counted = cal.local_date(start) + timedelta(days=1)
    assert deadline.provisional == bool(cal.unknown_years(first_counted, last))
    if not touched_unknown:
        assert not deadline.provisional


@MODEST
@given(cal=calendars, start=starts, days=day_counts, more=st.integers(min_value=1, max_value=10))
def test_working_days_deadline_is_monotonic(
    cal: WorkCalendar, start: datetime, days: int, more: int
) -> None:
    shorter = working_days_deadline(cal, start, days)
    longer = working_days_deadline(cal, start, days + more)
    assert longer.due > shorter.due
    assert add_working_days_to(cal, shorter, more).due == longer.due


@MODEST
@given(
    cal=calendars,
    start=starts,
    days=day_counts,
    pause_at=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)),
    pause_for=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
)
def test_extend_for_pause_never_moves_due_earlier(
    cal: WorkCalendar,
    start: datetime,
    days: int,
    pause_at: timedelta,
    pause_for: timedelta,
) -> None:
    deadline = working_days_deadline(cal, start, days)
    pause_start = start + pause_at
    moved = extend_for_pause(cal, deadline, pause_start, pause_start + pause_for)
    assert moved.due >= deadline.due
    assert cal.is_workday(cal.local_date(moved.due - US))
    assert deadline.start is not None
    assert deadline.start <= moved.warn_at <= moved.due
    assert moved.provisional or not deadline.provisional


@MODEST
@given(
    cal=calendars,
    start=starts,
    hours=st.floats(min_value=0.01, max_value=200.0),
    working_hours_only=st.booleans(),
)
def test_hours_deadline_properties(
    cal: WorkCalendar, start: datetime, hours: float, working_hours_only: bool
) -> None:
    deadline = hours_deadline(cal, start, hours, working_hours_only=working_hours_only)
    wanted = timedelta(hours=hours)
    if not working_hours_only:
        assert deadline.due - start == wanted
        return
    assert deadline.due - start >= wanted
    assert cal.is_workday(cal.local_date(deadline.due - US))
    # The working time between start and due is exactly the hours asked for.
    worked, cursor = timedelta(0), start.astimezone(UTC)
    while cursor < deadline.due:
        day = cal.local_date(cursor)
        day_end = min(cal.end_of_day(day), deadline.due)
        if cal.is_workday(day):
            worked += day_end - cursor
        cursor = day_end
    assert worked == wanted
