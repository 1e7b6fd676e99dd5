"""Segmentation keeps the city's terms whole and drops words that carry no matter."""

from __future__ import annotations

from tickets.words import query_terms, terms


def test_city_terms_stay_whole() -> None:
    assert terms("我要反映小区噪音扰民，晚上施工噪音很大") == ["小区", "噪音扰民", "施工噪音"]
    assert "住房公积金" in terms("咨询住房公积金提取条件")


def test_stop_words_punctuation_and_single_characters_dropped() -> None:
    words = terms("您好，请问我的问题什么时候处理？谢谢！")
    assert words == []
    assert terms("") == []


def test_repeats_are_kept_for_counting() -> None:
    assert terms("停水停水，又停水了") == ["停水", "停水", "停水"]


def test_query_terms_are_distinct_and_never_empty_for_text() -> None:
    assert query_terms("公积金 公积金 提取") == ["公积金", "提取"]
    assert query_terms("？") == ["？"]
    assert query_terms("  ") == []
