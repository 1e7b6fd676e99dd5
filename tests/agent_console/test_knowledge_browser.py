"""The knowledge base in a real browser: a department writes an article and a supervisor
publishes it; on a call an agent types the consultation, takes the quick answer, resolves on
the spot, and the ticket's timeline cites the article and its version."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from agent_console.knowledge_pages import KB
from hotline.bootstrap import Center
from tests.agent_console.conftest import PASSWORD, SHOTS, _page
from tests.agent_console.test_live_browser import ami, floor  # noqa: F401
from tests.fakes.ami_server import AmiServer
from tickets.knowledge import KbAction
from tickets.model import Role
from tickets.privacy import Viewer
from tickets.tables import kb_versions

pytestmark = pytest.mark.browser

HR = Viewer("hr", Role.DEPARTMENT, "hrss", frozenset({"hrss"}))
SUP = Viewer("sup", Role.SUPERVISOR)
GJJ_BODY = (
    "在本市缴存住房公积金的职工，购买、建造、翻建、大修自住住房或租房自住的，可以申请提取。"
    "租房提取每年可办理一次，携带身份证、租房合同到市公积金中心任一服务网点办理，"
    "也可以在“城市公积金”小程序线上办理，材料齐全的当场办结。"
)


async def _signed_in(browser: Browser, base: str, username: str, path: str) -> Page:
    page = await _page(browser)
    await page.goto(base + "/login?next=" + path)
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**" + path)
    return page


async def _seed(center: Center) -> None:
    """Articles already in the base: two published, one of them long expired, one revision."""
    kb = center.app[KB]
    today = kb.today()
    year = today.replace(year=today.year + 1).isoformat()
    for data in (
        {
            "title": "居住证办理和签注",
            "body": "持身份证、租房合同或房产证明到居住地社区警务室申请，15个工作日内发证；"
            "居住证每年签注一次，可在“天府通办”线上签注。",
            "category": "consult.household",
            "keywords": ["居住证", "签注"],
            "expires_on": year,
        },
        {
            "title": "异地就医备案怎么办",
            "body": "参保人可通过国家医保服务平台App或医保经办窗口办理异地就医备案，"
            "备案后在就医地直接结算。",
            "category": "consult.social_insurance",
            "keywords": ["医保", "异地就医"],
            "expires_on": year,
        },
        {
            "title": "2025年度住房公积金缴存基数调整",
            "body": "2025年度住房公积金缴存基数按上年度职工月平均工资确定，"
            "单位应在7月底前完成调整。",
            "category": "consult.social_insurance",
            "keywords": ["公积金", "缴存基数"],
            "expires_on": year,
        },
    ):
        art = await kb.create(HR, data, submit=True)
        await kb.act(art["id"], SUP, KbAction.PUBLISH)
    # The last one's year is over: it expired (flagged, ranked last, listed to renew).
    async with center.store.write() as tx:
        await tx.conn.execute(
            update(kb_versions)
            .where(kb_versions.c.article_id == art["id"])
            .values(expires_on=today - timedelta(days=20))
        )


async def test_department_writes_supervisor_publishes_agent_answers_from_it(
    floor: tuple[Center, str],  # noqa: F811
    ami: AmiServer,  # noqa: F811
    browser: Browser,
) -> None:
    center, base = floor
    SHOTS.mkdir(exist_ok=True)
    await center.accounts.add_user(
        "hr", PASSWORD, Role.DEPARTMENT, department="hrss", display_name="市人社局 王科员"
    )
    await _seed(center)

    # A department writes an article and submits it for review.
    dept = await _signed_in(browser, base, "hr", "/knowledge")
    await expect(dept.locator("#kb-renew")).to_contain_text("缴存基数")  # expired: to renew
    await dept.click("text=新建知识")
    await dept.fill("input[name=title]", "住房公积金提取办理指南")
    await dept.select_option("select[name=category]", "consult.social_insurance")
    await dept.fill("textarea[name=body]", GJJ_BODY)
    await dept.fill("input[name=keywords]", "公积金 提取 租房")
    await dept.screenshot(path=str(SHOTS / "knowledge_edit.png"), full_page=True)
    await dept.click("button[name=submit][value='1']")
    await expect(dept.locator(".page-head .badge")).to_have_text("审核中")
    article_url = dept.url.split("?")[0]
    article_id = int(article_url.rsplit("/", 1)[1])

    # The supervisor reviews it in the queue and publishes it.
    sup = await _signed_in(browser, base, "sup", "/knowledge/review")
    item = sup.locator(f".kb-review-item[data-id='{article_id}']")
    await expect(item).to_contain_text("租房提取每年可办理一次")
    await sup.screenshot(path=str(SHOTS / "knowledge_review.png"), full_page=True)
    await item.locator("button.primary").click()
    await expect(sup.locator(".alert.ok")).to_contain_text("审核通过并发布")
    await expect(sup.locator(".kb-review-item")).to_have_count(0)
    await sup.goto(base + "/knowledge?q=公积金")
    results = sup.locator(".kb-item")
    await expect(results).to_have_count(2)
    await expect(results.first).to_contain_text("住房公积金提取办理指南")
    await expect(results.last.locator(".kb-expired")).to_have_text("已过期")  # ranked last
    await sup.goto(base + "/knowledge")
    await sup.screenshot(path=str(SHOTS / "knowledge.png"), full_page=True)
    await dept.goto(article_url)
    await expect(dept.locator(".page-head .badge")).to_have_text("已发布")
    await dept.screenshot(path=str(SHOTS / "knowledge_article.png"), full_page=True)

    # On a call, the agent types the consultation; the quick answer comes up.
    agent = await _signed_in(browser, base, "zhang", "/workspace")
    await expect(agent.locator("#live-dot")).to_have_attribute("data-on", "1")
    await center.start_background()
    await expect(agent.locator("#pop")).to_have_attribute("data-state", "talking", timeout=10_000)
    number = (await agent.inner_text("#form-number")).strip()
    await agent.fill("input[name=subject]", "咨询公积金提取")
    await agent.select_option("select[name=category]", "consult.social_insurance")
    await agent.fill(
        "textarea[name=description]", "市民来电咨询：租房的话公积金怎么提取，要带什么材料？"
    )
    first = agent.locator("#kb-qa-list > li").first
    await expect(first).to_contain_text("住房公积金提取办理指南", timeout=5_000)
    await expect(agent.locator("#kb-qa-list > li.is-expired")).to_have_count(1)
    assert await agent.locator("#kb-qa-list > li").last.get_attribute("class") == "is-expired"

    # One click: the answer is in the resolution and cited on the ticket; then resolve.
    await first.locator("button.kb-use").click()
    await expect(first.locator(".outcome")).to_have_attribute("data-state", "done")
    assert await agent.input_value("#answer") == GJJ_BODY
    await agent.click("#resolve")
    await expect(agent.locator("#resolve-outcome")).to_have_attribute("data-state", "done")
    await expect(agent.locator("#form-state")).to_have_text("待回访")
    await agent.evaluate("document.getElementById('kb-panel').scrollIntoView({block: 'end'})")
    await agent.screenshot(path=str(SHOTS / "workspace_knowledge.png"))

    # The ticket's timeline says which article (and version) the answer came from.
    await agent.goto(f"{base}/tickets/{number}")
    cited = agent.locator(".tl-knowledge_answer")
    await expect(cited).to_contain_text("采用知识库答复")
    await expect(cited.locator("a.kb-cited")).to_contain_text(f"知识库第{article_id}号 第1版")
    await expect(agent.locator(".tl-resolve_on_spot")).to_be_visible()
    resolved: Any = await center.tickets.view(number, SUP)
    assert resolved["result_text"] == GJJ_BODY

    # A walk-in filled on the new-ticket form: the answers show while typing (to read out),
    # and the ticket's page resolves on the spot with the answer cited.
    await agent.goto(base + "/tickets/new")
    await agent.fill("input[name=phone]", "13900001111")
    await agent.fill("textarea[name=text]", "来人咨询居住证到期了怎么签注")
    await expect(agent.locator("#kb-qa-list > li").first).to_contain_text("居住证办理和签注")
    assert await agent.locator("#kb-qa-list button.kb-use").count() == 0  # no ticket yet
    await agent.screenshot(path=str(SHOTS / "new_ticket_knowledge.png"), full_page=True)
    await agent.click("form.form-grid button.primary")
    await agent.wait_for_url("**/tickets/2*")
    walk_in = agent.url.split("/tickets/")[1].split("?")[0]
    first = agent.locator("#kb-qa-list > li").first
    await expect(first).to_contain_text("居住证办理和签注")
    await first.locator("button.kb-use").click()
    await expect(first.locator(".outcome")).to_have_attribute("data-state", "done")
    result = agent.locator("input[value=resolve_on_spot] ~ label textarea[name=result]")
    await expect(result).to_be_visible()
    assert "社区警务室" in await result.input_value()
    await agent.locator("input[value=resolve_on_spot] ~ button").click()
    await expect(agent.locator(".page-head .badge")).to_have_text("待回访")
    await expect(agent.locator(".tl-knowledge_answer a.kb-cited")).to_contain_text(
        "居住证办理和签注"
    )
    await agent.screenshot(path=str(SHOTS / "ticket_knowledge_cited.png"), full_page=True)
    assert (await center.tickets.view(walk_in, SUP))["state"] == "follow_up"
    for p in (dept, sup, agent):
        await p.context.close()
