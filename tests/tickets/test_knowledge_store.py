"""The knowledge base over the store, on SQLite and PostgreSQL: versions, review, expiry,
search and the answers cited on tickets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from tests.fakes.clock import FakeClock
from tickets.knowledge import (
    KbAction,
    KnowledgeBase,
    KnowledgeForbidden,
    KnowledgeNotFound,
    KnowledgeStateError,
)
from tickets.model import InboundContact, Role
from tickets.privacy import Viewer
from tickets.service import InvalidField, TicketService
from tickets.tables import audit_log

HRSS = Viewer("hr", Role.DEPARTMENT, "hrss", frozenset({"hrss"}))
CG = Viewer("cg", Role.DEPARTMENT, "chengguan", frozenset({"chengguan", "chengguan.jinniu"}))
AGENT = Viewer("agent", Role.AGENT)
SUP = Viewer("sup", Role.SUPERVISOR)

GJJ = {
    "title": "住房公积金提取办理指南",
    "body": (
        "缴存职工购买自住住房、租房自住的，可以申请提取住房公积金。"
        "携带身份证、购房合同到公积金中心办理。"
    ),
    "category": "consult.social_insurance",
    "keywords": ["公积金", "提取"],
    "expires_on": "2027-06-30",
}


@pytest.fixture
def kb(service: TicketService) -> KnowledgeBase:
    return KnowledgeBase(service.store, service)


async def published(kb: KnowledgeBase, data: dict[str, Any], who: Viewer = HRSS) -> int:
    art = await kb.create(who, data, submit=True)
    await kb.act(art["id"], SUP, KbAction.PUBLISH)
    return int(art["id"])


async def audit_actions(kb: KnowledgeBase) -> list[tuple[str, str]]:
    async with kb.store.read() as tx:
        rows = await tx.conn.execute(
            select(audit_log.c.username, audit_log.c.action).order_by(audit_log.c.id)
        )
        return [(r.username, r.action) for r in rows if r.action.startswith("kb_")]


async def test_write_review_publish_with_every_step_audited(kb: KnowledgeBase) -> None:
    art = await kb.create(HRSS, GJJ)
    assert (art["status"], art["latest_version"], art["published_version"]) == ("draft", 1, None)
    assert art["version"]["keywords"] == ["公积金", "提取"]
    # nobody outside the department and the reviewers sees a draft
    with pytest.raises(KnowledgeNotFound):
        await kb.get(art["id"], AGENT)
    with pytest.raises(KnowledgeNotFound):
        await kb.get(art["id"], CG)
    assert (await kb.search(AGENT, "公积金"))[1] == 0

    await kb.act(art["id"], HRSS, KbAction.SUBMIT)
    assert [a["id"] for a in await kb.review_queue(SUP)] == [art["id"]]
    with pytest.raises(KnowledgeNotFound):  # an agent does not even see an unpublished one
        await kb.act(art["id"], AGENT, KbAction.PUBLISH)
    with pytest.raises(KnowledgeForbidden):
        await kb.act(art["id"], HRSS, KbAction.PUBLISH)
    done = await kb.act(art["id"], SUP, KbAction.PUBLISH)
    assert (done["status"], done["published_version"]) == ("published", 1)
    assert done["version"]["reviewed_by"] == "sup"
    seen = await kb.get(art["id"], AGENT)
    assert seen["version"]["title"] == GJJ["title"] and not seen["may_edit"]
    assert await kb.review_queue(SUP) == []
    assert await audit_actions(kb) == [
        ("hr", "kb_create"),
        ("hr", "kb_submit"),
        ("sup", "kb_publish"),
    ]


async def test_editing_a_published_article_makes_a_version_that_waits_for_review(
    kb: KnowledgeBase,
) -> None:
    aid = await published(kb, GJJ)
    draft = await kb.edit(aid, HRSS, {"body": "新规定：租房提取每年一次。"}, base_version=1)
    assert (draft["status"], draft["latest_version"], draft["published_version"]) == (
        "draft",
        2,
        1,
    )
    # agents still read (and find) the published text
    agent_view = await kb.get(aid, AGENT)
    assert agent_view["version"]["version"] == 1 and "携带身份证" in agent_view["version"]["body"]
    assert [h["version"] for h in agent_view["history"]] == [1]
    items, _ = await kb.search(AGENT, "租房提取")
    assert [(i["id"], i["version"]) for i in items] == [(aid, 1)]
    # a stale editor is told, not overwritten
    with pytest.raises(KnowledgeStateError):
        await kb.edit(aid, HRSS, {"title": "x"}, base_version=1)
    await kb.act(aid, HRSS, KbAction.SUBMIT)
    with pytest.raises(InvalidField):
        await kb.act(aid, SUP, KbAction.SEND_BACK, reason="")
    back = await kb.act(aid, SUP, KbAction.SEND_BACK, reason="请注明依据文件")
    assert back["status"] == "draft" and back["version"]["review_note"] == "请注明依据文件"
    await kb.edit(aid, HRSS, {"body": "依据2026年第3号文：租房提取每年一次。"}, submit=True)
    final = await kb.act(aid, SUP, KbAction.PUBLISH)
    assert final["published_version"] == 2
    assert [(h["version"], h["status"]) for h in final["history"]] == [
        (2, "published"),
        (1, "superseded"),
    ]
    old = await kb.get(aid, AGENT, version=1)
    assert old["version"]["status"] == "superseded"


async def test_a_department_never_writes_another_departments_articles(kb: KnowledgeBase) -> None:
    aid = await published(kb, GJJ)
    with pytest.raises(KnowledgeForbidden):
        await kb.edit(aid, CG, {"title": "改"})
    with pytest.raises(KnowledgeForbidden):
        await kb.create(CG, {**GJJ, "department": "hrss"})
    with pytest.raises(KnowledgeForbidden):
        await kb.create(AGENT, GJJ)
    with pytest.raises(KnowledgeForbidden):
        await kb.act(aid, CG, KbAction.WITHDRAW, reason="x")
    # a parent department writes for its sub-unit
    sub = await kb.create(CG, {**GJJ, "department": "chengguan.jinniu", "title": "占道经营"})
    assert sub["department"] == "chengguan.jinniu"


async def test_bad_fields_are_named(kb: KnowledgeBase) -> None:
    for bad, field in (
        ({"title": ""}, "title"),
        ({"body": "x" * 20_001}, "body"),
        ({"category": "nope"}, "category"),
        ({"expires_on": "2026-13-01"}, "expires_on"),
        ({"expires_on": "2026-11-23"}, "expires_on"),  # not after today
        ({"keywords": [1]}, "keywords"),
    ):
        with pytest.raises(InvalidField) as e:
            await kb.create(HRSS, {**GJJ, **bad})
        assert e.value.details["field"] == field
    assert (await kb.search(SUP))[1] == 0


async def test_expired_articles_are_flagged_ranked_last_and_listed_to_renew(
    kb: KnowledgeBase, clock: FakeClock
) -> None:
    old = await published(kb, {**GJJ, "expires_on": "2026-12-01"})
    fresh = await published(
        kb,
        {
            **GJJ,
            "title": "公积金贷款问答",
            "body": "贷款结清后也可以提取公积金。",
            "expires_on": "2027-12-31",
        },
    )
    items, _ = await kb.search(AGENT, "公积金提取")
    assert [i["id"] for i in items] == [old, fresh]  # title match first while both are valid
    soon = await kb.to_renew(HRSS)  # expiring within 30 days already shows, not yet flagged
    assert [(r["id"], r["expired"]) for r in soon] == [(old, False)]
    clock.advance(days=9)  # 2026-12-02 in Beijing
    items, _ = await kb.search(AGENT, "公积金提取")
    assert [(i["id"], i["expired"]) for i in items] == [(fresh, False), (old, True)]
    assert [r["id"] for r in await kb.to_renew(HRSS)] == [old]
    assert await kb.to_renew(CG) == []
    assert [i["id"] for i in (await kb.search(HRSS, expired=True))[0]] == [old]
    # an expired text does not go back to review unchanged: renewing is an edit with a new
    # date, reviewed again
    await kb.edit(old, HRSS, {"body": "同上，补充材料清单。"})
    with pytest.raises(InvalidField) as e:
        await kb.act(old, HRSS, KbAction.SUBMIT)
    assert e.value.details == {"field": "expires_on"}
    with pytest.raises(InvalidField):
        await kb.edit(old, HRSS, {"title": "住房公积金提取办理指南"}, submit=True)
    await kb.edit(old, HRSS, {"expires_on": "2027-12-31"}, submit=True)
    await kb.act(old, SUP, KbAction.PUBLISH)
    assert [r["id"] for r in await kb.to_renew(HRSS)] == []


async def test_search_ranks_title_above_body_and_lifts_the_category(kb: KnowledgeBase) -> None:
    body_only = await published(
        kb,
        {
            **GJJ,
            "title": "新生儿落户",
            "body": "办理落户时需要居住证明。",
            "category": "consult.household",
            "keywords": [],
        },
    )
    title = await published(
        kb,
        {
            **GJJ,
            "title": "居住证办理指南",
            "body": "到社区警务室申请。",
            "category": "consult.social_insurance",
            "keywords": [],
        },
    )
    other = await published(
        kb,
        {**GJJ, "title": "居住证签注", "body": "每年签注一次。", "category": "consult.household"},
    )
    items, total = await kb.search(AGENT, "居住证怎么办理")
    assert total == 3 and [i["id"] for i in items][:2] == [title, other]
    assert items[-1]["id"] == body_only
    lifted = await kb.quick_answers(AGENT, "居住证", "consult.household")
    assert [i["id"] for i in lifted][0] == other
    by_category = await kb.quick_answers(AGENT, "", "consult.household")
    assert {i["id"] for i in by_category} == {body_only, other}
    assert await kb.quick_answers(AGENT, "", None) == []
    # filters
    assert (await kb.search(SUP, category="consult.social_insurance"))[1] == 1
    assert (await kb.search(SUP, category="consult"))[1] == 3
    assert (await kb.search(SUP, department="chengguan"))[1] == 0
    assert (await kb.search(SUP, "100%_"))[1] == 0  # LIKE wildcards are literal


async def test_withdrawn_articles_leave_the_agents_view(kb: KnowledgeBase) -> None:
    aid = await published(kb, GJJ)
    out = await kb.act(aid, HRSS, KbAction.WITHDRAW, reason="政策废止")
    assert (out["status"], out["published_version"]) == ("withdrawn", None)
    with pytest.raises(KnowledgeNotFound):
        await kb.get(aid, AGENT)
    assert (await kb.search(AGENT, "公积金"))[1] == 0
    # the department can rewrite it as version 2
    again = await kb.edit(aid, HRSS, {"title": "住房公积金提取（2027版）"})
    assert (again["latest_version"], again["status"]) == (2, "draft")


async def test_an_answer_given_from_an_article_is_cited_on_the_timeline(
    kb: KnowledgeBase, service: TicketService, make_contact: Callable[..., InboundContact]
) -> None:
    aid = await published(kb, GJJ)
    await kb.edit(aid, HRSS, {"body": "草稿"})  # v2 draft: cannot be cited
    ticket = await service.accept(make_contact(text="公积金怎么提取"))
    with pytest.raises(KnowledgeNotFound):
        await kb.cite(aid, 2, ticket.ticket_number, AGENT)
    with pytest.raises(KnowledgeForbidden):
        await kb.cite(aid, 1, ticket.ticket_number, HRSS)
    cited = await kb.cite(aid, 1, ticket.ticket_number, AGENT)
    assert cited == {
        "article_id": aid,
        "version": 1,
        "title": GJJ["title"],
        "owner": "hrss",
        "expired": False,
    }
    view = await service.view(ticket.ticket_number, AGENT)
    entry = [e for e in view["timeline"] if e["action"] == "knowledge_answer"]
    assert len(entry) == 1 and entry[0]["payload"]["article_id"] == aid
    assert entry[0]["actor"] == "agent" and entry[0]["from_state"] == entry[0]["to_state"]
    assert ("agent", "kb_cite") in await audit_actions(kb)
