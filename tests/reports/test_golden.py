"""Hand-computed figures: working-day deadlines across the 2026 National Day holiday, reply
cycles by department and district, ratings taken out by an upheld appeal, call figures, and
a Jiangmen class example with deductions, a bonus and a veto, each written out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reports.call_figures import CallFacts, call_figures, transfers_from_marks
from reports.figures import (
    HUZHOU_WEIGHTS,
    DepartmentFigures,
    TicketFacts,
    by_department,
    by_district,
    cycle_days,
    figures,
    membership,
    returns_of,
    service_index,
)
from reports.scoring import (
    Adjustment,
    DepartmentClass,
    WeightsError,
    check_weights,
    rank_classes,
)
from tickets.model import RatingLevel
from tickets.sla import WorkCalendar, working_days_deadline

BJ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 12, 31, tzinfo=UTC)


def test_five_working_days_across_national_day_2026() -> None:
    # Accepted Wed 30 Sep 2026 10:00. Oct 1-7 are the holiday; Sat Oct 10 is a 调休 working
    # day; Sun Oct 11 is not. Working days after the acceptance day: Oct 8, 9, 10, 12, 13.
    cal = WorkCalendar(tz="Asia/Shanghai")
    accepted = datetime(2026, 9, 30, 10, 0, tzinfo=BJ)
    due = working_days_deadline(cal, accepted, 5).due
    assert due == datetime(2026, 10, 14, 0, 0, tzinfo=BJ)  # end of Tue Oct 13
    # counting calendar days (or skipping the 调休 Saturday) would be wrong either way
    assert due != accepted + timedelta(days=5)
    in_time = datetime(2026, 10, 13, 18, 0, tzinfo=BJ)
    late = datetime(2026, 10, 14, 9, 0, tzinfo=BJ)
    facts = [
        TicketFacts("cg", "phone", accepted, accepted, due, in_time),
        TicketFacts("cg", "phone", accepted, accepted, due, late),
        # not yet due on Oct 12 and no result: not counted at all on that day
        TicketFacts("cg", "phone", accepted, accepted, due, None),
    ]
    assert figures(facts, datetime(2026, 10, 12, tzinfo=BJ)).on_time == (1, 2)
    # on Oct 14 the third order is overdue and counts against the department
    assert figures(facts, datetime(2026, 10, 14, 1, tzinfo=BJ)).on_time == (1, 3)


def test_reply_cycle_by_department_and_district() -> None:
    t0 = datetime(2026, 10, 8, 9, 0, tzinfo=BJ)
    day = timedelta(days=1)
    facts = [
        TicketFacts("cg", "web", t0, result_at=t0 + 3 * day, district="wuxing"),
        TicketFacts("cg", "web", t0, result_at=t0 + 6 * day + timedelta(hours=12),
                    district="nanxun"),
        TicketFacts("eco", "web", t0, result_at=t0 + 2 * day, district="wuxing"),
        TicketFacts("eco", "web", t0, district="wuxing"),  # no result yet: not in the cycle
    ]  # fmt: skip
    per = by_department(facts, AT)
    # cg: (3 + 6.5) / 2 = 4.75 days; eco: 2 / 1 = 2.00 days
    assert per["cg"].cycle == (int(9.5 * 86400), 2) and per["cg"].cycle_days == 4.75
    assert per["eco"].cycle_days == 2.0
    districts = by_district(facts, AT)
    # wuxing: (3 + 2) / 2 = 2.5 days; nanxun: 6.5 days
    assert districts["wuxing"].cycle_days == 2.5 and districts["wuxing"].tickets == 3
    assert districts["nanxun"].cycle_days == 6.5
    assert cycle_days((0, 0)) is None


def test_an_upheld_appeal_takes_the_rating_out() -> None:
    t0 = datetime(2026, 10, 8, tzinfo=UTC)
    ok, bad = RatingLevel.SATISFIED, RatingLevel.VERY_DISSATISFIED
    facts = [
        TicketFacts("cg", "web", t0, rating=ok),
        TicketFacts("cg", "web", t0, rating=ok),
        TicketFacts("cg", "web", t0, rating=bad),
        TicketFacts("cg", "web", t0, rating=bad, rating_excluded=True),  # malicious: upheld
    ]
    f = figures(facts, AT)
    assert f.satisfaction == (2, 3) and f.excluded == 1 and f.follow_ups == 3
    assert membership("satisfaction", facts[3], AT) == (False, False)
    assert membership("excluded", facts[3], AT) == (True, True)


def test_returns_count_against_the_department_that_returned() -> None:
    t0 = datetime(2026, 10, 8, tzinfo=UTC)
    facts = [
        # eco and housing passed it on before chengguan took it: two re-dispatch hops
        TicketFacts("cg", "web", t0, returned_by=("eco", "housing"), hops=2),
        TicketFacts("eco", "web", t0, returned_by=("eco",), hops=1),
        TicketFacts("housing", "web", t0),
    ]
    per = by_department(facts, AT)
    assert (per["cg"].returns, per["eco"].returns, per["housing"].returns) == (0, 2, 1)
    assert (per["cg"].hops, per["eco"].hops) == (2, 1)
    assert [f.department for f in returns_of("eco", facts)] == ["cg", "eco"]
    assert figures(facts, AT).returns == 3


def test_call_figures_by_hand() -> None:
    t0 = datetime(2026, 10, 8, 9, 0, tzinfo=UTC)
    s = timedelta(seconds=1)
    marks = [
        ("transfer_requested", t0, "110@transfer-110"),
        ("transfer_answered", t0 + 7 * s, ""),
        ("transfer_requested", t0 + 60 * s, "110"),
        ("transfer_failed", t0 + 90 * s, "BUSY"),
        ("transfer_requested", t0 + 100 * s, "8001"),  # to a colleague: not a 110 transfer
    ]
    assert transfers_from_marks(marks) == (
        ("110@transfer-110", True, 7.0),
        ("110", False, None),
        ("8001", False, None),
    )
    calls = [
        CallFacts("a", t0, True, False, 5.0, 200.0, transfers_from_marks(marks)),
        CallFacts("b", t0, True, False, 15.0, 100.0),  # at the threshold: within
        CallFacts("c", t0, True, False, 40.0, 300.0),  # answered late
        CallFacts("d", t0, False, True, 22.0, None),  # abandoned
    ]
    f = call_figures(calls, service_level_seconds=15)
    assert (f.offered, f.answered, f.abandoned) == (4, 3, 1)
    assert f.answer_rate == (3, 4)
    assert f.service_level == (2, 4)  # 5 s and 15 s, of 3 answered + 1 abandoned
    assert f.asa == 20.0  # (5 + 15 + 40) / 3
    assert f.aht == 200.0  # (200 + 100 + 300) / 3
    assert (f.transfers_110, f.transfers_110_ok, f.setup_avg) == (2, 1, 7.0)


def _dept(code: str, rates: tuple[int, int, int, int], rated: int = 20) -> DepartmentFigures:
    # rates in percent of 100 (response, on time, feedback), satisfaction of `rated`
    r, o, fb, sat = rates
    return DepartmentFigures(
        code, 100, (r, 100), (o, 100), (fb, 100), (sat * rated // 100, rated), 0, 0, None
    )


def test_huzhou_weights_still_give_83_05() -> None:
    rates = {"response": 0.97, "on_time": 0.94, "feedback": 0.94, "satisfaction": 0.75}
    assert service_index(rates, HUZHOU_WEIGHTS) == 83.05


def test_jiangmen_class_example_written_out() -> None:
    # Public-facing departments: 80 % the citizens' direct evaluation (satisfaction), 10 %
    # on time, 5 % response, 5 % feedback. Other departments: Huzhou's weights.
    public = DepartmentClass(
        "public", "窗口服务部门", "Public-facing",
        {"satisfaction": 0.80, "on_time": 0.10, "response": 0.05, "feedback": 0.05},
    )  # fmt: skip
    per = {
        # A: 0.05*90 + 0.10*80 + 0.05*100 + 0.80*70 = 4.5 + 8 + 5 + 56 = 73.50
        "a": _dept("a", (90, 80, 100, 70)),
        # B: 0.05*100 + 0.10*100 + 0.05*100 + 0.80*60 = 5 + 10 + 5 + 48 = 68.00
        "b": _dept("b", (100, 100, 100, 60)),
        # C: 0.05*80 + 0.10*90 + 0.05*90 + 0.80*90 = 4 + 9 + 4.5 + 72 = 89.50
        "c": _dept("c", (80, 90, 90, 90)),
        # D: 0.05*100 + 0.10*100 + 0.05*100 + 0.80*85 = 5 + 10 + 5 + 68 = 88.00
        "d": _dept("d", (100, 100, 100, 85)),
        # E: 100 * (0.15*.9 + 0.15*.9 + 0.10*.9 + 0.60*.8) = 84.00, Huzhou weights, no class
        "e": _dept("e", (90, 90, 90, 80)),
        # F has too few follow-ups to be ranked
        "f": _dept("f", (100, 100, 100, 100), rated=5),
    }
    day = date(2026, 11, 2)
    adjustments = [
        # A: an e-supervision finding -2, an undercover check -1.5, a bonus +0.5 → 70.50
        Adjustment("a", "deduction", 2, "电子监察: 超期未签收", day, "sup"),
        Adjustment("a", "deduction", 1.5, "暗访: 窗口推诿", day, "sup"),
        Adjustment("a", "bonus", 0.5, "市领导表扬", day, "sup"),
        # C scores best but a veto item puts it last: 一票否决
        Adjustment("c", "veto", 0, "弄虚作假: 篡改回访结果", day, "sup"),
    ]
    classes = [public]
    class_of = {"a": "public", "b": "public", "c": "public", "d": "public", "f": "public"}
    out = rank_classes(per, class_of, classes, HUZHOU_WEIGHTS, adjustments, min_follow_ups=10)
    assert [g.class_code for g in out] == ["public", None]
    pub = out[0]
    assert [(s.department, s.index, s.score) for s in pub.ranked] == [
        ("d", 88.0, 88.0),
        ("a", 73.5, 70.5),
        ("b", 68.0, 68.0),
        ("c", 89.5, 89.5),
    ]
    assert pub.ranked[-1].vetoed and pub.bottom == ("a", "b", "c")
    assert [s.department for s in pub.too_few] == ["f"]
    assert [a.reason for a in pub.ranked[1].adjustments][0] == "电子监察: 超期未签收"
    assert [(s.department, s.score) for s in out[1].ranked] == [("e", 84.0)]


def test_weights_are_checked() -> None:
    assert check_weights({"satisfaction": 0.8, "on_time": 0.2}) == {
        "satisfaction": 0.8,
        "on_time": 0.2,
    }
    for bad, key in (
        ({"satisfaction": 0.8, "speed": 0.2}, "speed"),
        ({"satisfaction": 1.5, "on_time": -0.5}, "satisfaction"),
        ({"satisfaction": 0.5}, "weights"),
        ({"satisfaction": "x"}, "satisfaction"),
    ):
        with pytest.raises(WeightsError) as e:
            check_weights(bad)  # type: ignore[arg-type]
        assert e.value.key == key
