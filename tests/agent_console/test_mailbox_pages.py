"""The public mayor's mailbox pages: letter form, receipt, progress, publication, abuse guards."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from agent_console.mailbox_guard import MailboxDesk
from agent_console.web import SERVICES
from hotline.bootstrap import Center
from tests.fakes.clock import FakeClock
from tickets.attachments import AttachmentRules, FileStore
from tickets.bus import InProcessBus
from tickets.lifecycle import Action
from tickets.mailbox_records import MailboxEntry
from tickets.model import Role
from tickets.privacy import Viewer

Client = TestClient[Any, Any]
AGENT = Viewer("agent", Role.AGENT)
LETTER = {
    "mailbox": "mayor",
    "identity": "real",
    "name": "王小明",
    "phone": "138 0013 8000",
    "email": "wxm@example.cn",
    "subject": "建设路工地夜间施工扰民",
    "content": "建设路8号楼旁的工地连续一周在夜里十一点以后施工,电话13800138000,请督促整改。",
    "category": "complaint.noise",
    "location": "金牛区建设路8号",
    "consent_publish": "on",
}


def desk_of(center: Center) -> MailboxDesk:
    desk = center.app[SERVICES].mailbox
    assert desk is not None
    return desk


def token_in(html: str) -> str:
    m = re.search(r'name="challenge" value="([^"]+)"', html)
    assert m, "the form carries a challenge"
    return m.group(1)


async def fresh_form(client: Client, center: Center) -> tuple[str, int]:
    """A new form's challenge token and its right answer."""
    resp = await client.get("/mailbox")
    assert resp.status == 200
    token = token_in(await resp.text())
    return token, desk_of(center).read(token).answer


async def post(
    client: Client,
    fields: dict[str, str],
    files: Sequence[tuple[str, bytes]] = (),
) -> tuple[int, str]:
    form = FormData(default_to_multipart=True)
    for k, v in fields.items():
        form.add_field(k, v)
    for name, data in files:
        form.add_field("attachments", data, filename=name, content_type="image/jpeg")
    resp = await client.post("/mailbox", data=form)
    return resp.status, await resp.text()


async def send(
    client: Client, center: Center, files: Sequence[tuple[str, bytes]] = (), **changes: str
) -> tuple[int, str]:
    token, answer = await fresh_form(client, center)
    fields = {**LETTER, "challenge": token, "answer": str(answer), **changes}
    return await post(client, fields, files)


def receipt_of(html: str) -> tuple[str, str]:
    number = re.search(r'class="mb-number">([0-9-]+)<', html)
    code = re.search(r'class="mb-code">([A-Z0-9]+)<', html)
    assert number and code, html
    return number.group(1), code.group(1)


def error_fields(html: str) -> set[str]:
    return set(re.findall(r'data-error-field="([a-z_]+)"', html))


async def test_form_offers_mailboxes_categories_and_a_text_challenge(
    center: Center, anon: Client
) -> None:
    resp = await anon.get("/mailbox")
    html = await resp.text()
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "市长信箱" in html and 'enctype="multipart/form-data"' in html
    assert '<optgroup label="投诉">' in html and 'value="complaint.noise"' in html
    assert re.search(r"请计算:\d+ [加减] \d+ 等于多少?", html)
    assert "http://" not in html and "https://" not in html  # nothing from outside
    assert 'name="attachments" type="file" multiple' in html
    en = await anon.get("/mailbox?lang=en")
    assert "What is" in await en.text()


async def test_letter_becomes_a_ticket_with_query_code_and_progress(
    center: Center, anon: Client
) -> None:
    status, html = await send(anon, center, files=[("现场照片.jpg", b"\xff\xd8\xff" + b"x" * 2000)])
    assert status == 200, html
    assert "来信已成功提交" in html
    number, code = receipt_of(html)
    assert len(code) == 8
    async with center.store.read() as tx:
        row = await tx.ticket(number=number)
        assert row is not None
        contacts = await tx.contacts_of(row["id"])
        citizen = await tx.get_citizen(row["citizen_id"])
    assert row["channel"] == "web" and row["category"] == "complaint.noise"
    assert row["subject"] == LETTER["subject"] and row["consent_publish"]
    assert row["query_code"] == code
    assert citizen is not None and citizen["name"] == "王小明"
    assert citizen["phone"] == "+8613800138000"
    (contact,) = contacts
    assert contact["external_id"].startswith("web:")
    (attachment,) = contact["attachments"]
    assert attachment["name"] == "现场照片.jpg"
    assert desk_of(center).files.path_of(attachment["ref"]) is not None
    # progress: the right code shows the state, and nothing personal
    resp = await anon.post("/mailbox/progress", data={"number": number, "code": code.lower()})
    page = await resp.text()
    assert resp.status == 200 and "已受理" in page and number in page and "受理" in page
    for private in ("王小明", "13800138000", "建设路", "wxm@example.cn", "夜间施工"):
        assert private not in page
    resp = await anon.get(f"/mailbox/progress?number={number}&code={code}")
    assert resp.status == 200 and "已受理" in await resp.text()
    resp = await anon.post("/mailbox/progress", data={"number": number, "code": "WRONG234"})
    assert resp.status == 404 and "未查到" in await resp.text()
    resp = await anon.get(f"/mailbox/progress?number={number}")
    assert resp.status == 200 and f'value="{number}"' in await resp.text()
    # guessing codes: a few wrong tries per IP and hour, then even the right code waits
    desk_of(center).failed_lookups_per_hour = 3
    for _ in range(2):
        resp = await anon.post("/mailbox/progress", data={"number": number, "code": "WRONG234"})
        assert resp.status == 404
    resp = await anon.post("/mailbox/progress", data={"number": number, "code": code})
    assert resp.status == 429 and "查询失败次数过多" in await resp.text()


async def test_letter_to_a_district_head_belongs_to_the_district(
    center: Center, anon: Client
) -> None:
    desk_of(center).records.mailboxes["jinniu"] = MailboxEntry(
        "jinniu", "金牛区区长信箱", "Jinniu district head", district="jinniu"
    )
    resp = await anon.get("/mailbox?to=jinniu")
    html = await resp.text()
    assert '<option value="jinniu" selected>金牛区区长信箱</option>' in html
    status, html = await send(anon, center, mailbox="jinniu")
    assert status == 200, html
    number, _ = receipt_of(html)
    async with center.store.read() as tx:
        row = await tx.ticket(number=number)
    assert row is not None and row["district"] == "jinniu"


async def test_anonymous_letter_keeps_no_name(center: Center, anon: Client) -> None:
    status, html = await send(anon, center, identity="anonymous", name="")
    assert status == 200, html
    number, _ = receipt_of(html)
    async with center.store.read() as tx:
        row = await tx.ticket(number=number)
        assert row is not None
        citizen = await tx.get_citizen(row["citizen_id"])
    assert citizen is not None and not citizen["name"]


async def test_double_submit_is_one_letter(center: Center, anon: Client) -> None:
    token, answer = await fresh_form(anon, center)
    fields = {**LETTER, "challenge": token, "answer": str(answer)}
    first, again = await asyncio.gather(post(anon, fields), post(anon, fields))
    later = await post(anon, fields)
    assert first[0] == again[0] == later[0] == 200
    assert receipt_of(first[1]) == receipt_of(again[1]) == receipt_of(later[1])
    async with center.store.read() as tx:
        rows, total = await tx.list_tickets(limit=10, offset=0)
    assert total == 1
    # a double click does not use up the writer's allowance either
    used = desk_of(center).limiter.used(
        "phone:+8613800138000", timedelta(days=1), center.tickets.clock()
    )
    assert used == 1


BAD = [
    ({"phone": "12345"}, "phone", "联系电话"),
    ({"phone": ""}, "phone", "联系电话"),
    ({"content": "   "}, "content", "来信内容"),
    ({"subject": ""}, "subject", "标题"),
    ({"category": "complaint.nonsense"}, "category", "诉求类别"),
    ({"mailbox": "nobody"}, "mailbox", "收信信箱"),
    ({"email": "not-an-address"}, "email", "电子邮箱"),
    ({"name": ""}, "name", "姓名"),
    ({"answer": "999"}, "answer", "验证问题"),
    ({"content": "很长" * 2600}, "content", "来信内容"),
]


@pytest.mark.parametrize(("change", "field", "label"), BAD)
async def test_bad_field_is_400_naming_it_with_input_kept(
    center: Center, anon: Client, change: dict[str, str], field: str, label: str
) -> None:
    records = desk_of(center).records
    records.mailboxes["jinniu"] = MailboxEntry(
        "jinniu", "金牛区区长信箱", "Jinniu district head", district="jinniu"
    )
    token, answer = await fresh_form(anon, center)
    status, html = await post(anon, {**LETTER, "challenge": token, "answer": str(answer), **change})
    assert status == 400
    assert error_fields(html) == {field}
    assert label in html
    assert f'id="f-{field}"' in html and 'aria-invalid="true"' in html
    for k in ("subject", "content", "location", "email", "name"):
        if k not in change:
            assert LETTER[k] in html, k  # what the writer typed is still there
    assert 'complaint.noise" selected' in html or field == "category"
    async with center.store.read() as tx:
        assert (await tx.list_tickets(limit=1, offset=0))[1] == 0


async def test_several_bad_fields_are_named_at_once(center: Center, anon: Client) -> None:
    status, html = await send(anon, center, phone="1", content="", answer="x")
    assert status == 400
    assert error_fields(html) == {"phone", "content", "answer"}
    assert "有 3 处需要修改" in html


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ([("setup.exe", b"MZ" * 10)], "文件类型不支持"),
        ([("big.jpg", b"x" * 5000)], "超过单个"),
        ([(f"p{i}.jpg", b"x" * 10) for i in range(4)], "最多 3 个"),
    ],
)
async def test_attachment_rules_are_400_naming_the_file(
    center: Center, anon: Client, files: list[tuple[str, bytes]], reason: str
) -> None:
    desk = desk_of(center)
    desk.files = FileStore(desk.files.root, AttachmentRules(max_bytes=4096, max_count=3))
    status, html = await send(anon, center, files=files)
    assert status == 400 and error_fields(html) == {"attachments"}
    assert reason in html and files[0][0] in html or "最多" in reason
    assert "请重新选择附件" in html and LETTER["content"] in html


async def test_over_the_size_limit_is_a_413_page(center: Center, anon: Client) -> None:
    desk = desk_of(center)
    desk.max_body_bytes = 64 * 1024  # the test center's client_max_size
    status, html = await send(anon, center, files=[("huge.jpg", b"x" * (80 * 1024))])
    assert status == 413 and "提交内容过大" in html and "64 KB" in html
    assert 'href="/mailbox"' in html
    # a plain (urlencoded) post over the app's client_max_size (64 KB) gets the same page
    desk.max_body_bytes = 21 * 1024 * 1024
    token, answer = await fresh_form(anon, center)
    resp = await anon.post(
        "/mailbox",
        data={**LETTER, "content": "长" * 30_000, "challenge": token, "answer": str(answer)},
    )
    assert resp.status == 413 and "提交内容过大" in await resp.text()


async def test_rate_limit_per_ip(center: Center, anon: Client) -> None:
    desk = desk_of(center)
    desk.per_ip_per_hour = 2
    for i in range(2):
        status, _ = await send(anon, center, phone=f"1390000000{i}")
        assert status == 200
    status, html = await send(anon, center, phone="13900000009")
    assert status == 429 and "每小时最多提交 2 封" in html
    assert LETTER["content"] in html  # the letter is not lost
    clock = center.tickets.clock
    assert isinstance(clock, FakeClock)
    clock.advance(hours=1, seconds=1)
    status, _ = await send(anon, center, phone="13900000009")
    assert status == 200


async def test_rate_limit_per_phone(center: Center, anon: Client) -> None:
    desk = desk_of(center)
    desk.per_phone_per_day = 2
    for category in ("complaint.noise", "complaint.street_vendor"):
        status, _ = await send(anon, center, category=category)
        assert status == 200
    status, html = await send(anon, center, phone="+86 138-0013-8000", category="help.water")
    assert status == 429 and "每天最多提交 2 封" in html
    status, _ = await send(anon, center, phone="13700000000", category="help.water")
    assert status == 200
    clock = center.tickets.clock
    assert isinstance(clock, FakeClock)
    clock.advance(days=1, seconds=1)
    status, _ = await send(anon, center, category="help.water")
    assert status == 200


async def test_challenge_wrong_forged_and_expired(center: Center, anon: Client) -> None:
    desk = desk_of(center)
    token, answer = await fresh_form(anon, center)
    # wrong: a new question for the same letter (same nonce), then the right answer works
    status, html = await post(anon, {**LETTER, "challenge": token, "answer": str(answer + 1)})
    assert status == 400 and error_fields(html) == {"answer"} and "回答不正确" in html
    retry = token_in(html)
    assert retry != token and desk.read(retry).nonce == desk.read(token).nonce
    # forged: a changed question, or a made-up signature
    head, mac = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    body.update(a=1, b=1, op="plus")
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    for bad in (f"{forged}.{mac}", f"{head}.{'A' * len(mac)}", "", "garbage"):
        status, html = await post(anon, {**LETTER, "challenge": bad, "answer": "2"})
        assert status == 400 and "验证问题无效" in html, bad
    # expired: a page left open too long
    clock = center.tickets.clock
    assert isinstance(clock, FakeClock)
    clock.advance(hours=3)
    retry_answer = desk.read(retry).answer
    status, html = await post(anon, {**LETTER, "challenge": retry, "answer": str(retry_answer)})
    assert status == 400 and "验证问题已失效" in html and LETTER["content"] in html
    fresh = token_in(html)
    status, html = await post(
        anon, {**LETTER, "challenge": fresh, "answer": str(desk.read(fresh).answer)}
    )
    assert status == 200 and "来信已成功提交" in html
    # full-width digits are a right answer too
    token, answer = await fresh_form(anon, center)
    wide = str(answer).translate({0x30 + i: 0xFF10 + i for i in range(10)})
    status, html = await post(anon, {**LETTER, "challenge": token, "answer": wide,
                                     "category": "help.water"})  # fmt: skip
    assert status == 200, html


async def test_published_letters_only_with_consent_and_no_personal_data(
    center: Center, anon: Client
) -> None:
    numbers = []
    for consent, category, phone in (
        ("on", "complaint.noise", "13800138000"),
        ("", "complaint.street_vendor", "13800138001"),
        ("on", "help.water", "13800138002"),
    ):
        status, html = await send(
            anon, center, consent_publish=consent, category=category, phone=phone
        )
        assert status == 200, html
        numbers.append(receipt_of(html)[0])
    for number in numbers:
        await center.tickets.act(
            number, AGENT, Action.RESOLVE_ON_SPOT,
            payload={"result": "已联系王小明(13800138000),工地已停止夜间施工。"},
        )  # fmt: skip
        await center.tickets.act(
            number, AGENT, Action.RECORD_RATING, payload={"rating": "satisfied"}
        )
    assert isinstance(center.bus, InProcessBus)
    await center.bus.drain()

    resp = await anon.get("/mailbox/published")
    html = await resp.text()
    assert resp.status == 200 and "共 2 封" in html
    assert LETTER["subject"] in html and "工地已停止夜间施工" in html
    for private in ("王小明", "13800138000", "wxm@example.cn", "8号楼"):
        assert private not in html, private
    assert "王**" in html and "[电话]" in html

    async def count(query: str) -> str:
        r = await anon.get("/mailbox/published?" + query)
        assert r.status == 200
        m = re.search(r"共 (\d+) 封", await r.text())
        assert m
        return m.group(1)

    assert await count("category=complaint") == "1"
    assert await count("category=complaint.street_vendor") == "0"
    assert await count("category=help") == "1"
    assert await count("month=2026-11") == "2"
    assert await count("month=2026-10") == "0"
    assert await count("category=help.water&month=2026-11") == "1"
    resp = await anon.get("/mailbox/published?month=November")
    assert resp.status == 400 and error_fields(await resp.text()) == {"month"}
    resp = await anon.get("/mailbox/published?category=nope")
    assert resp.status == 400 and error_fields(await resp.text()) == {"category"}


async def test_broken_multipart_is_400_not_500(center: Center, anon: Client) -> None:
    resp = await anon.post(
        "/mailbox",
        data=b"--xyz\r\nnot a header line\r\n\r\nbody",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert resp.status == 400


async def test_pages_are_off_without_a_mailbox(center: Center, anon: Client) -> None:
    svc = center.app[SERVICES]
    desk = svc.mailbox
    svc.mailbox = None
    try:
        assert (await anon.get("/mailbox")).status == 404
    finally:
        svc.mailbox = desk


def test_rate_limiter_gives_back_and_forgets() -> None:
    from datetime import UTC, datetime, timedelta

    from agent_console.mailbox_guard import RateLimiter

    limiter = RateLimiter()
    now = datetime(2026, 11, 23, tzinfo=UTC)
    rules = [("ip:1", 1, timedelta(hours=1))]
    assert limiter.take(rules, now) is None
    assert limiter.take(rules, now) == "ip:1"
    limiter.give_back(["ip:1"], now)
    assert limiter.take(rules, now) is None
    assert limiter.take(rules, now + timedelta(hours=1)) is None
