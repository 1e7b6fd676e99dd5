"""The knowledge base's rules and its Chinese search ranking, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from tickets.knowledge import (
    ArticleFacts,
    Candidate,
    Decision,
    KbAction,
    KnowledgeForbidden,
    KnowledgeStateError,
    Status,
    decide,
    index_terms,
    is_expired,
    joined,
    rank,
    score,
    search_terms,
)
from tickets.model import Role
from tickets.privacy import Viewer
from tickets.service import InvalidField

CG = Viewer("cg", Role.DEPARTMENT, "chengguan", frozenset({"chengguan", "chengguan.jinniu"}))
CG_JINNIU = Viewer("cgj", Role.DEPARTMENT, "chengguan.jinniu", frozenset({"chengguan.jinniu"}))
HRSS = Viewer("hr", Role.DEPARTMENT, "hrss", frozenset({"hrss"}))
AGENT = Viewer("a", Role.AGENT)
SUP = Viewer("s", Role.SUPERVISOR)
ADMIN = Viewer("ad", Role.ADMIN)
POLICE = Viewer("p", Role.POLICE, "police", frozenset({"police"}))
EVERYONE = (CG, CG_JINNIU, HRSS, AGENT, SUP, ADMIN, POLICE)


def facts(status: Status, published: int | None = None, dept: str = "chengguan") -> ArticleFacts:
    return ArticleFacts(dept, status, 2 if published else 1, published)


# -- rules -------------------------------------------------------------------------------------


def test_only_the_owning_department_writes_edits_and_submits() -> None:
    for action in (KbAction.CREATE, KbAction.EDIT, KbAction.SUBMIT):
        allowed = {v.username for v in EVERYONE if _allowed(facts(Status.DRAFT), action, v)}
        assert allowed == {"cg"}, action
    # a sub-unit's article belongs to the parent's scope too, not the other way round
    sub = facts(Status.DRAFT, dept="chengguan.jinniu")
    assert _allowed(sub, KbAction.EDIT, CG) and _allowed(sub, KbAction.EDIT, CG_JINNIU)
    assert not _allowed(facts(Status.DRAFT), KbAction.EDIT, CG_JINNIU)


def test_only_reviewers_publish_or_send_back() -> None:
    for action in (KbAction.PUBLISH, KbAction.SEND_BACK):
        allowed = {
            v.username for v in EVERYONE if _allowed(facts(Status.IN_REVIEW), action, v, "过时")
        }
        assert allowed == {"s", "ad"}, action


def _allowed(f: ArticleFacts, action: KbAction, v: Viewer, reason: str = "") -> bool:
    try:
        decide(f, action, v, reason)
    except KnowledgeForbidden:
        return False
    return True


@pytest.mark.parametrize(
    ("status", "published", "action", "expected"),
    [
        (Status.DRAFT, None, KbAction.EDIT, Decision(Status.DRAFT)),
        (Status.IN_REVIEW, None, KbAction.EDIT, Decision(Status.DRAFT)),
        (Status.PUBLISHED, 1, KbAction.EDIT, Decision(Status.DRAFT, new_version=True)),
        (Status.WITHDRAWN, None, KbAction.EDIT, Decision(Status.DRAFT, new_version=True)),
        (Status.DRAFT, None, KbAction.SUBMIT, Decision(Status.IN_REVIEW)),
        (Status.DRAFT, 1, KbAction.SUBMIT, Decision(Status.IN_REVIEW)),
    ],
)
def test_department_transitions(
    status: Status, published: int | None, action: KbAction, expected: Decision
) -> None:
    assert decide(facts(status, published), action, CG) == expected


@pytest.mark.parametrize("status", [Status.IN_REVIEW, Status.PUBLISHED, Status.WITHDRAWN])
def test_only_a_draft_is_submitted(status: Status) -> None:
    with pytest.raises(KnowledgeStateError):
        decide(facts(status), KbAction.SUBMIT, CG)


def test_review_needs_an_article_in_review_and_a_reason_to_send_back() -> None:
    assert decide(facts(Status.IN_REVIEW), KbAction.PUBLISH, SUP) == Decision(Status.PUBLISHED)
    assert decide(facts(Status.IN_REVIEW, 1), KbAction.SEND_BACK, ADMIN, "依据已废止") == Decision(
        Status.DRAFT
    )
    with pytest.raises(InvalidField) as e:
        decide(facts(Status.IN_REVIEW), KbAction.SEND_BACK, SUP, "  ")
    assert e.value.details == {"field": "reason"}
    for status in (Status.DRAFT, Status.PUBLISHED, Status.WITHDRAWN):
        with pytest.raises(KnowledgeStateError):
            decide(facts(status), KbAction.PUBLISH, SUP)


def test_withdraw_takes_the_published_text_away_and_keeps_a_pending_revision() -> None:
    assert decide(facts(Status.PUBLISHED, 1), KbAction.WITHDRAW, CG, "政策调整") == Decision(
        Status.WITHDRAWN
    )
    # a revision in review stays in review; only the published text goes
    assert decide(facts(Status.IN_REVIEW, 1), KbAction.WITHDRAW, SUP, "政策调整") == Decision(
        Status.IN_REVIEW
    )
    with pytest.raises(KnowledgeStateError):
        decide(facts(Status.DRAFT), KbAction.WITHDRAW, SUP, "x")
    with pytest.raises(InvalidField):
        decide(facts(Status.PUBLISHED, 1), KbAction.WITHDRAW, SUP, "")
    for v in (AGENT, POLICE, HRSS, CG_JINNIU):
        with pytest.raises(KnowledgeForbidden):
            decide(facts(Status.PUBLISHED, 1), KbAction.WITHDRAW, v, "x")


def test_expiry_is_flagged_from_the_day_after() -> None:
    assert not is_expired(date(2026, 11, 23), date(2026, 11, 23))
    assert is_expired(date(2026, 11, 22), date(2026, 11, 23))


# -- words and ranking ---------------------------------------------------------------------------


def test_city_terms_stay_whole_and_their_parts_are_indexed() -> None:
    words = index_terms("住房公积金提取办理指南")
    assert "住房公积金" in words and "公积金" in words and "提取" in words
    assert "居住证" in index_terms("居住证签注需要哪些材料")
    assert "医保" in index_terms("异地就医医保报销")
    assert joined(["a", "b"]) == " a b " and joined([]) == " "


def test_query_words_of_a_spoken_consultation() -> None:
    assert search_terms("请问公积金怎么提取？") == ["公积金", "提取"]
    assert search_terms("ETC办理") == ["etc", "办理"]


def cand(
    article_id: int,
    title: str,
    body: str = "",
    *,
    keywords: tuple[str, ...] = (),
    category: str | None = None,
    expires: date = date(2027, 12, 31),
) -> Candidate:
    return Candidate(
        article_id,
        1,
        title,
        joined(index_terms(title)),
        joined(index_terms(body + " " + " ".join(keywords))),
        keywords,
        category,
        expires,
    )


TODAY = date(2026, 11, 23)
GJJ_TITLE = cand(1, "住房公积金提取指南", "本市缴存职工购房、租房可以申请提取。")
GJJ_BODY = cand(2, "购房贷款常见问题", "贷款结清后可申请提取住房公积金余额。")
JZZ = cand(3, "居住证办理", "持身份证到社区警务室申请居住证。", category="consult.household")
YB = cand(4, "异地就医备案", "医保参保人异地就医前应办理备案。", keywords=("医保", "异地就医"))


def test_title_hits_rank_above_body_hits() -> None:
    ranked = [
        c.article_id for c, _ in rank([GJJ_BODY, GJJ_TITLE, JZZ], search_terms("公积金提取"), TODAY)
    ]
    assert ranked == [1, 2]


def test_keywords_count_between_title_and_body() -> None:
    terms = search_terms("医保")
    in_keywords = score(YB, terms)
    in_body = score(cand(5, "参保缴费", "医保缴费可在线办理"), terms)
    in_title = score(cand(6, "医保卡补办", "到营业厅办理"), terms)
    assert in_title > in_keywords > in_body > 0


def test_whole_question_beats_a_single_word() -> None:
    both = cand(7, "公积金提取条件", "")
    one = cand(8, "公积金缴存基数", "")
    ranked = [c.article_id for c, _ in rank([one, both], search_terms("公积金提取条件"), TODAY)]
    assert ranked == [7, 8]


def test_the_chosen_category_lifts_its_articles() -> None:
    other = cand(9, "居住证办理", "居住证可在网上办理。", category="consult.school")
    terms = search_terms("居住证")
    plain = [c.article_id for c, _ in rank([other, JZZ], terms, TODAY)]
    boosted = [c.article_id for c, _ in rank([other, JZZ], terms, TODAY, "consult.household")]
    assert plain == [9, 3]  # equal match: newest id first
    assert boosted == [3, 9]
    # the same group counts a little
    assert score(JZZ, terms, "consult.school") > score(JZZ, terms)


def test_expired_articles_rank_below_every_valid_one() -> None:
    expired_exact = cand(10, "住房公积金提取指南", "提取", expires=date(2026, 11, 1))
    weak_valid = cand(11, "购房问答", "也可以提取公积金")
    ranked = [
        c.article_id
        for c, _ in rank([expired_exact, weak_valid], search_terms("公积金提取"), TODAY)
    ]
    assert ranked == [11, 10]


def test_no_match_no_result_and_empty_query_keeps_all() -> None:
    assert rank([GJJ_TITLE, JZZ], search_terms("共享单车"), TODAY) == []
    assert {c.article_id for c, _ in rank([GJJ_TITLE, JZZ], [], TODAY)} == {1, 3}
