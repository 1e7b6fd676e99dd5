"""The hotspot rule on hand-made series: each threshold decides on its own, by hand."""

from __future__ import annotations

from collections import Counter

import pytest

from reports.hotspots import (
    CITY,
    DAY_RULE,
    HotRule,
    Key,
    TicketText,
    baseline,
    count_window,
    find_hot,
    hotspots,
    judge,
    matter_terms,
)

RULE = HotRule(min_count=5, ratio=2.0, k=3.0, min_history=3)


def test_baseline_by_hand() -> None:
    # mean 4; deviations -2, 0, 2, 0 → variance (4+0+4+0)/4 = 2
    assert baseline([2, 4, 6, 4]) == (4.0, pytest.approx(2**0.5))
    assert baseline([]) == (0.0, 0.0)


def test_new_term_with_no_history_is_hot_from_the_minimum_count() -> None:
    history = [0] * 28
    assert judge(4, history, RULE) is None
    hot = judge(5, history, RULE)
    assert hot is not None
    assert (hot.mean, hot.sd, hot.limit) == (0.0, 0.0, 5.0)
    assert hot.z == 5.0  # (5 − 0) / max(√0, 0, 1)
    assert hot.ratio is None  # no baseline to divide by


def test_control_limit_decides_for_a_noisy_series() -> None:
    # mean 10, sd 4 (values 6 and 14 alternating): limit = max(5, 20, 10 + 3·4 = 22) = 22
    history = [6, 14] * 7
    assert judge(21, history, RULE) is None
    hot = judge(22, history, RULE)
    assert hot is not None and hot.limit == 22.0
    assert hot.z == pytest.approx((22 - 10) / 4)


def test_ratio_decides_for_a_steady_large_series() -> None:
    # mean 40, sd 0 → σ floored at √40 ≈ 6.32: 40 + 18.97 = 58.97 < ratio 2 × 40 = 80
    history = [40] * 14
    assert judge(79, history, RULE) is None
    assert judge(80, history, RULE) is not None


def test_poisson_floor_keeps_a_flat_small_series_from_firing_on_one_more() -> None:
    # mean 4, sd 0: without the √m floor 5 would pass (≥ 4 + 0, ≥ min 5) but ratio needs 8,
    # and m + 3√m = 10 → the limit is 10.
    history = [4] * 10
    assert judge(9, history, RULE) is None
    hot = judge(10, history, RULE)
    assert hot is not None and hot.limit == 10.0


def test_minimum_count_decides_for_a_rare_term() -> None:
    # mean 0.25, sd ≈ 0.433, floor √0.25 = 0.5 → m + 3·0.5 = 1.75, ratio 0.5: the minimum rules
    history = [0, 1, 0, 0]
    assert judge(4, history, RULE) is None
    assert judge(5, history, RULE) is not None


def test_too_little_history_is_never_hot() -> None:
    assert judge(50, [0, 0], RULE) is None
    assert judge(50, [0, 0, 0], RULE) is not None


def test_rule_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        HotRule(min_count=0)
    with pytest.raises(ValueError):
        HotRule(ratio=0.5)


def test_each_ticket_counts_once_per_term_and_in_its_district() -> None:
    tickets = [
        TicketText("共享单车 乱停 共享单车 堵路", "city.traffic", "wuxing"),
        TicketText("共享单车 堵路", None, None),
    ]
    counts = count_window(tickets, str.split)
    assert counts[Key("term", "共享单车")] == 2  # not 3: the repeat in one letter counts once
    assert counts[Key("term", "共享单车", "wuxing")] == 1
    assert counts[Key("category", "city.traffic")] == 1
    assert counts[Key("category", "city.traffic", "wuxing")] == 1
    assert Key("term", "堵路", "None") not in counts


def test_find_hot_ranks_by_z_and_splits_by_district() -> None:
    bike, noise, steady = "共享单车", "施工噪音", "公积金"
    history = [
        Counter({Key("term", steady): 20, Key("term", noise): 1, Key("term", noise, "wuxing"): 1})
        for _ in range(7)
    ]
    current = Counter(
        {
            Key("term", bike): 6,  # new: z = 6
            Key("term", bike, "nanxun"): 6,
            Key("term", noise): 12,  # m 1, floor 1: limit max(5, 2, 4) → z = 11
            Key("term", noise, "wuxing"): 12,
            Key("term", steady): 25,  # limit max(5, 40, 20 + 3√20) = 40: not hot
        }
    )
    found = hotspots(current, history, RULE)
    assert [h.key.value for h in found.city] == [noise, bike]
    assert found.city[0].z == 11.0 and found.city[0].history == (1,) * 7
    assert {d: [h.key.value for h in hs] for d, hs in found.by_district.items()} == {
        "nanxun": [bike],
        "wuxing": [noise],
    }
    items, districts, cells = found.grid(current)
    assert [i.value for i in items] == [noise, bike]
    assert districts == ["nanxun", "wuxing"]
    assert cells == [[0, 12], [6, 0]]
    assert found.windows == 7
    assert all(h.key.district == CITY for h in found.city)


def test_a_quiet_window_has_no_hotspots() -> None:
    history = [Counter({Key("term", "医保"): n}) for n in (3, 5, 4, 6, 2, 4, 5)]
    assert find_hot(Counter({Key("term", "医保"): 6}), history, DAY_RULE) == []


def test_numbers_that_identify_a_person_are_never_counted() -> None:
    words = ["电话", "13800138000", "身份证号", "110101199003071234", "11010119900307123X",
             "SF1234567890", "12345", "302", "号楼", "2026"]  # fmt: skip
    kept = matter_terms(lambda text: words)("")
    assert kept == ["电话", "身份证号", "302", "号楼", "2026"]
