"""Online contacts in a real browser: an agent signs in to the queue, takes a WeChat chat
offered live, reads the citizen's text, image, voice and location, replies (pending → sent,
received once by the fake WeChat API), then takes a letter, reads it with its attachments
and answers it: the answer reaches a real SMTP server (aiosmtpd) threaded to the letter."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from argon2 import PasswordHasher
from playwright.async_api import Browser, Page, expect

from hotline.bootstrap import Center, build
from hotline.demo import load_reference_data
from hotline.settings import load_settings
from tests.agent_console.conftest import PASSWORD, SHOTS, _page
from tests.conftest import free_port
from tests.connectors.wechat.conftest import AES_KEY, APP_ID, TOKEN
from tests.fakes.wechat_api import WechatApiFake
from tickets.mailbox_records import MailboxRecords
from tickets.model import (
    Attachment,
    Channel,
    CitizenIdentity,
    InboundContact,
    Location,
    Role,
)
from tickets.outbox import OutboxWorker

pytestmark = pytest.mark.browser

OPENID = "oWx_citizen_7f3a9c21"
LETTER_ID = "9c1f2e7a.4711@mail.citizen.example"


class Inbox:
    """An aiosmtpd handler that keeps every mail it is given."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        mail = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        return "250 Message accepted"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    yield handler, port
    ctl.stop()


@dataclass
class Desk:
    center: Center
    base: str
    fake: WechatApiFake


@pytest_asyncio.fixture
async def desk(tmp_path: Path, inbox: tuple[Inbox, int]) -> AsyncIterator[Desk]:
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    fake = WechatApiFake(app_id=APP_ID)
    api = TestServer(fake.app(), host="127.0.0.1")
    await api.start_server()
    settings = load_settings(
        data_dir=tmp_path / "data",
        wechat={
            "token": TOKEN,
            "encoding_aes_key": AES_KEY,
            "app_id": APP_ID,
            "app_secret": fake.app_secret,
            "api_base_url": str(api.make_url("")).rstrip("/"),
        },
        mailbox={
            "smtp_host": "127.0.0.1",
            "smtp_port": inbox[1],
            "smtp_from": "mayor@hotline.test",
        },
    )
    c = build(settings, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    await c.start()
    await load_reference_data(c.tickets)
    await c.accounts.add_user("wang", PASSWORD, Role.AGENT, display_name="王静")
    worker = asyncio.create_task(OutboxWorker(c.outbox, c.senders, poll_seconds=0.2).run())
    c.app.cleanup_ctx.clear()
    srv = TestServer(c.app, host="127.0.0.1")
    await srv.start_server()
    yield Desk(c, str(srv.make_url("")).rstrip("/"), fake)
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await worker
    await srv.close()
    await c.stop()
    await api.close()


async def _workspace(browser: Browser, base: str) -> Page:
    page = await _page(browser)
    await page.goto(base + "/login?next=/workspace")
    await page.fill("input[name=username]", "wang")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/workspace")
    await expect(page.locator("#live-dot")).to_have_attribute("data-on", "1")
    return page


async def _shot(page: Page, name: str) -> None:
    """The workspace from its top, as the agent sees it when they look up."""
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(SHOTS / name))


async def _wechat(c: Center, n: int, text: str, **kw: object) -> None:
    await c.tickets.accept(
        InboundContact(
            channel=Channel.WECHAT,
            external_id=f"wx-msg-{n}",
            citizen=CitizenIdentity(wechat_openid=OPENID),
            text=text,
            received_at=c.tickets.clock(),
            **kw,  # type: ignore[arg-type]
        )
    )


async def test_agent_takes_a_chat_replies_and_answers_a_letter(
    desk: Desk, browser: Browser, inbox: tuple[Inbox, int]
) -> None:
    c = desk.center
    SHOTS.mkdir(exist_ok=True)
    page = await _workspace(browser, desk.base)
    await expect(page.locator("#od-empty")).to_be_visible()
    await page.click("[data-queue=login]")
    await expect(page.locator("#presence-outcome")).to_have_attribute("data-state", "done")
    await expect(page.locator("#od-load")).to_have_attribute("data-state", "ready")

    # A WeChat citizen writes: the offer pops up with the words and a countdown.
    await _wechat(c, 1, "你好,我家楼下幸福路的路灯坏了一个多星期了,晚上特别黑,老人出门不安全。")
    offer = page.locator(".od-offer[data-ticket]")
    await expect(offer).to_be_visible()
    await expect(offer).to_contain_text("路灯坏了一个多星期")
    await expect(offer.locator(".od-offer-left")).to_have_text(re.compile(r"\d+s"))
    await page.screenshot(path=str(SHOTS / "workspace-chat-offer.png"))
    await page.keyboard.press("F8")  # one key takes the oldest offer
    await expect(page.locator("#od-conv")).to_be_visible()
    await expect(page.locator("#od-messages .od-citizen")).to_have_count(1)
    await expect(page.locator("#od-load")).to_contain_text("1/3")

    # The citizen goes on: a photo, a voice message with its recognition, where it is.
    await _wechat(
        c, 2, "[图片]",
        attachments=(Attachment("wx-media-1.jpg", "image/jpeg", 0, "wechat-media:m1"),),
    )  # fmt: skip
    await _wechat(
        c, 3, "就在幸福路和光华街交叉口往北五十米,公交站旁边那根。",
        attachments=(Attachment("wx-media-2.amr", "audio/amr", 0, "wechat-media:m2"),),
    )  # fmt: skip
    await _wechat(
        c, 4, "幸福路公交站",
        location=Location(latitude=30.67412, longitude=104.06231, address="幸福路公交站"),
    )  # fmt: skip
    messages = page.locator("#od-messages .od-citizen")
    await expect(messages).to_have_count(4)
    await expect(messages.nth(1).locator("[data-kind=image]")).to_be_visible()
    await expect(messages.nth(2).locator("[data-kind=voice]")).to_contain_text("语音识别")
    await expect(messages.nth(2)).to_contain_text("交叉口往北五十米")
    await expect(messages.nth(3).locator("[data-kind=location]")).to_contain_text("30.67412")

    answer = "您好,已为您登记路灯报修,城管照明所将在24小时内到现场维修,修好后会通知您。"
    await page.fill("#od-text", answer)
    await page.keyboard.press("Control+Enter")
    sent = page.locator("#od-messages .od-agent .od-status")
    await expect(sent).to_have_attribute("data-status", "sent", timeout=10_000)
    await expect(page.locator("#od-messages .od-agent")).to_contain_text(answer)
    delivered = [
        r for r in desk.fake.delivered() if r.body.get("text", {}).get("content") == answer
    ]  # fmt: skip
    assert len(delivered) == 1 and delivered[0].body["touser"] == OPENID
    await _shot(page, "workspace-chat.png")

    # A letter to the mayor's mailbox arrives and is offered too.
    records = MailboxRecords(c.store, c.tickets, c.outbox, mail_domain="hotline.test")
    await records.accept(
        InboundContact(
            channel=Channel.MAILBOX,
            external_id="mail:" + LETTER_ID,
            citizen=CitizenIdentity(name="李建国", email="li.jianguo@citizen.example"),
            text=(
                "尊敬的市长:\n\n"
                "我是金牛区西华街道光明小区的居民。小区北门外的排水沟堵塞已近一个月,"
                "每逢下雨污水漫到人行道上,气味很大,孩子上学只能绕行。"
                "我们向物业和社区反映过多次,至今没有处理。\n\n"
                "恳请有关部门尽快疏通,并查明堵塞原因。附上现场照片两张。\n\n"
                "此致\n敬礼\n李建国"
            ),
            received_at=c.tickets.clock() - timedelta(minutes=7),
            subject="光明小区北门排水沟堵塞近一个月无人处理",
            attachments=(
                Attachment("北门排水沟-1.jpg", "image/jpeg", 482_133, "sha256:aa01"),
                Attachment("北门排水沟-2.jpg", "image/jpeg", 517_902, "sha256:aa02"),
            ),
            extra={"source": "email", "mailbox": "mayor", "message_id": LETTER_ID},
        )
    )
    letter_offer = page.locator(".od-offer-letter")
    await expect(letter_offer).to_be_visible()
    await expect(letter_offer).to_contain_text("排水沟")
    await letter_offer.locator("[data-accept]").click()
    await expect(page.locator("#od-panel")).to_have_attribute("data-kind", "letter")
    await expect(page.locator(".od-letter-text")).to_contain_text("排水沟堵塞已近一个月")
    await expect(page.locator(".od-letter-files li")).to_have_count(2)
    await expect(page.locator(".od-letter-files")).to_contain_text("北门排水沟-1.jpg")
    await expect(page.locator("#od-tabs .od-tab")).to_have_count(2)
    reply = (
        "李建国同志:\n\n您好!您反映的光明小区北门排水沟堵塞问题已收悉。"
        "我们已将此件交金牛区城管局办理,要求三个工作日内完成疏通并查明原因,"
        "办理结果将通过邮件答复您。\n\n12345市长信箱"
    )
    await page.fill("#od-text", reply)
    await page.click("#od-send")
    status = page.locator("#od-messages .od-agent .od-status")
    await expect(status).to_have_attribute("data-status", "sent", timeout=10_000)
    answered = [m for m in inbox[0].mails if "排水沟堵塞问题已收悉" in m.get_content()]
    assert len(answered) == 1
    mail = answered[0]
    assert mail["To"] == "li.jianguo@citizen.example"
    assert mail["In-Reply-To"] == f"<{LETTER_ID}>"
    await _shot(page, "workspace-letter.png")

    # The answer is on the letter's ticket timeline.
    number = await page.inner_text("#od-ticket")
    ticket = await page.request.get(desk.base + f"/api/v1/tickets/{number}")
    timeline = (await ticket.json())["timeline"]
    notes = [e for e in timeline if e["action"] == "letter_reply"]
    assert len(notes) == 1 and notes[0]["reason"] == reply and notes[0]["actor"] == "wang"
    ticket_page = await page.context.new_page()
    await ticket_page.goto(desk.base + f"/tickets/{number}")
    await expect(ticket_page.locator(".tl-letter_reply")).to_contain_text("答复来信")
    await ticket_page.screenshot(path=str(SHOTS / "ticket-letter-answered.png"))
    await ticket_page.close()

    # Done with the letter: back to the chat tab.
    await page.click("#od-end")
    await expect(page.locator("#od-tabs .od-tab")).to_have_count(1)
    await expect(page.locator("#od-panel")).to_have_attribute("data-kind", "chat")

    # A reload (in English) brings the open conversation back with its sent reply.
    await page.goto(desk.base + "/lang/en")
    await page.goto(desk.base + "/workspace")
    await expect(page.locator("#od-messages .od-citizen")).to_have_count(4)
    await expect(page.locator("#od-messages .od-agent .od-status")).to_have_text("Sent")
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")
    await _shot(page, "workspace-chat-en.png")
    await page.context.close()
