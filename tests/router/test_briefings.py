"""The briefing on schedule: once at 17:30 local, never twice after a restart, never skipped
after downtime; delivered as an e-mail to a real aiosmtpd and a post to the fake Bot API."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller

from agent_console.briefing_pages import render_messages
from connectors.mailbox.smtp import SmtpConfig, SmtpSender
from connectors.telegram.sender import TelegramSender
from reports.briefing import BriefingService, period_of
from reports.service import FigureService
from router.briefings import BriefingScheduler, Schedule, due_periods
from tests.conftest import free_port
from tests.connectors.mailbox.test_smtp import Inbox
from tests.connectors.telegram.conftest import make_bot
from tests.fakes.clock import FakeClock
from tests.fakes.telegram_api import TelegramApiFake
from tests.reports.test_briefing import hand_made_day, insert
from tickets.mailbox_records import MailboxEntry, MailboxRecords
from tickets.outbox import Outbox, OutboxWorker
from tickets.service import TicketService
from tickets.store import Row

os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

SCHEDULE = Schedule()  # 17:30 Asia/Shanghai, weeks on Monday, months on the 1st, 12 h catch-up
LEADERS = ["mayor@huzhou.test", "director@huzhou.test"]
GROUP = "-1001276785818"


def at(month: int, day: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """Beijing wall-clock time in 2026 (UTC+8, no daylight saving), as UTC."""
    return datetime(2026, month, day, hh, mm, ss, tzinfo=UTC) - timedelta(hours=8)


def keys(now: datetime) -> list[str]:
    return [s.period.key for s in due_periods(now, SCHEDULE)]


# -- the rule -------------------------------------------------------------------------------


def test_day_briefing_is_due_from_1730_local() -> None:
    assert keys(at(11, 24, 17, 29, 59)) == []  # Tuesday; yesterday's is 24 h old
    assert keys(at(11, 24, 17, 30)) == ["day:2026-11-24"]
    (slot,) = due_periods(at(11, 24, 23, 0), SCHEDULE)
    assert slot.due == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def test_downtime_over_1730_is_caught_up_within_the_window_only() -> None:
    assert keys(at(11, 25, 5, 29)) == ["day:2026-11-24"]  # 11 h 59 min late: still sent
    assert keys(at(11, 25, 5, 31)) == []  # more than 12 h: the next one comes at 17:30


def test_week_on_monday_for_the_week_before_and_month_on_the_first() -> None:
    assert keys(at(11, 23, 17, 30)) == ["day:2026-11-23", "week:2026-11-16"]
    assert keys(at(12, 1, 17, 30)) == ["day:2026-12-01", "month:2026-11-01"]
    # a Friday-morning week briefing covers the week the day before belongs to: this one
    custom = Schedule(at=time(8, 0), weekly_weekday=4, timezone="Asia/Shanghai")
    assert [s.period.key for s in due_periods(at(11, 27, 8, 0), custom)] == [
        "day:2026-11-27", "week:2026-11-23",
    ]  # fmt: skip
    assert Schedule.parse("09:05").at == time(9, 5)


# -- the scheduler over a real store and outbox -----------------------------------------------


@pytest_asyncio.fixture
async def scheduled(service: TicketService, clock: FakeClock) -> AsyncIterator[BriefingService]:
    await insert(service.store, hand_made_day())
    async with service.store.write() as tx:
        await tx.bind_chat(
            {"channel": "telegram", "chat_id": GROUP, "department": "hotline",
             "bound_at": clock(), "bound_by": "admin"}
        )  # fmt: skip
    yield BriefingService(service, FigureService(service.store), min_follow_ups=2)


def scheduler(briefings: BriefingService, clock: FakeClock) -> BriefingScheduler:
    """A fresh scheduler, as after a restart: it remembers nothing of its own."""
    return BriefingScheduler(
        briefings, Outbox(briefings.store, clock), render_messages, SCHEDULE, clock,
        emails=LEADERS, telegram_departments=["hotline"],
    )  # fmt: skip


async def outbox_rows(briefings: BriefingService) -> list[Row]:
    async with briefings.store.read() as tx:
        return [r for r in await tx.outbound() if r["kind"] == "briefing"]


async def test_fires_once_at_1730_and_not_again_after_a_restart(
    scheduled: BriefingService, clock: FakeClock
) -> None:
    clock.now = at(11, 24, 17, 29)
    assert await scheduler(scheduled, clock).run_once() == []
    clock.now = at(11, 24, 17, 30)
    sent = await scheduler(scheduled, clock).run_once()
    assert [p.key for p in sent] == ["day:2026-11-24"]
    rows = await outbox_rows(scheduled)
    assert sorted((r["channel"], r["recipient"]) for r in rows) == [
        ("mailbox", "director@huzhou.test"), ("mailbox", "mayor@huzhou.test"),
        ("telegram", GROUP),
    ]  # fmt: skip
    # the same pass again, and a restarted process a minute later: nothing more
    again = scheduler(scheduled, clock)
    assert await again.run_once() == []
    clock.advance(minutes=1)
    assert await scheduler(scheduled, clock).run_once() == []
    assert len(await outbox_rows(scheduled)) == 3


async def test_crash_between_enqueue_and_record_sends_nothing_twice(
    scheduled: BriefingService, clock: FakeClock
) -> None:
    clock.now = at(11, 24, 17, 30)
    first = scheduler(scheduled, clock)
    assert await first.send(period_of("day", date(2026, 11, 24))) == 3  # then the crash
    assert [p.key for p in await scheduler(scheduled, clock).run_once()] == ["day:2026-11-24"]
    assert len(await outbox_rows(scheduled)) == 3


async def test_downtime_spanning_1730_sends_late_but_once(
    scheduled: BriefingService, clock: FakeClock
) -> None:
    clock.now = at(11, 24, 17, 0)
    assert await scheduler(scheduled, clock).run_once() == []
    clock.now = at(11, 24, 21, 10)  # the server was down from 17:00 to 21:10
    sent = await scheduler(scheduled, clock).run_once()
    assert [p.key for p in sent] == ["day:2026-11-24"]
    clock.advance(hours=1)
    assert await scheduler(scheduled, clock).run_once() == []
    assert len(await outbox_rows(scheduled)) == 3


# -- delivery ---------------------------------------------------------------------------------


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    yield handler, port
    ctl.stop()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_leaders_receive_the_briefing_as_html_with_a_plain_text_alternative(
    scheduled: BriefingService, clock: FakeClock, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    clock.now = at(11, 23, 17, 30)  # the hand-made day (and Monday: last week's too)
    sched = scheduler(scheduled, clock)
    assert [p.key for p in await sched.run_once()] == ["day:2026-11-23", "week:2026-11-16"]
    records = MailboxRecords(
        scheduled.store, scheduled.tickets, sched.outbox, [MailboxEntry("mayor", "市长信箱", "")],
        mail_domain="hotline.test",
    )  # fmt: skip
    cfg = SmtpConfig(host="127.0.0.1", port=port, from_addr="briefing@hotline.test", timeout=3)
    worker = OutboxWorker(sched.outbox, {"mailbox": records.sender(SmtpSender(cfg))})
    assert await worker.run_once() == 4
    assert await worker.run_once() == 0
    day = [m for m in handler.mails if "每日简报" in str(m["Subject"])]
    assert sorted(str(m["To"]) for m in day) == sorted(LEADERS)
    mail: EmailMessage = day[0]
    assert mail["Subject"] == "【12345】每日简报 2026-11-23"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    text_part = mail.get_body(("plain",))
    html_part = mail.get_body(("html",))
    assert text_part is not None and html_part is not None
    text, html = text_part.get_content(), html_part.get_content()
    for line in (
        "各渠道受理量:今日 7,昨日 2",
        "- 电话:4(昨日 1)",
        "- 微信:2(昨日 1)",
        "- 市长信箱:1(昨日 0)",
        "即时响应率 57.1%",
        "紧急事项:共 1 件",
        "- T00024 燃气泄漏(锦江区人民政府)",
        "超期工单:共 1 件",
        "- T00016 市城市管理局 超期 79.5 小时",
        "- 共享单车 6(基线均值 0.0;成华区人民政府 6)",
        "- 市市场监督管理局 40.00",
    ):
        assert line in text, line
    assert "<script" not in html
    assert ">T00016<" in html and ">79.5" not in html and "超期 79.5 小时" in html
    assert "市卫生健康委员会 <b" in html or "市卫生健康委员会" in html
    assert html.count("<tr") >= 12


@pytest_asyncio.fixture
async def tg_fake() -> AsyncIterator[tuple[TelegramApiFake, str]]:
    fake = TelegramApiFake()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_leaders_group_gets_the_briefing_on_telegram(
    scheduled: BriefingService, clock: FakeClock, tg_fake: tuple[TelegramApiFake, str]
) -> None:
    fake, root = tg_fake
    clock.now = at(11, 23, 17, 30)
    sched = scheduler(scheduled, clock)
    await sched.run_once()
    bot = make_bot(fake, root)
    worker = OutboxWorker(sched.outbox, {"telegram": TelegramSender(bot)})
    assert await worker.run_once() == 2  # day and week, to the one bound group
    posts = fake.calls("sendMessage")
    assert [p.params["chat_id"] for p in posts] == [GROUP, GROUP]
    day = next(p.params["text"] for p in posts if "每日简报" in p.params["text"])
    assert day.startswith("【每日简报】2026-11-23\n统计截至 2026-11-23 17:30")
    assert "- 电话:4(昨日 1)" in day and "超期工单:共 1 件" in day
    assert "- 共享单车 6" in day and len(day) < 4096
    await bot.shutdown()


async def test_the_center_wires_the_schedule_from_settings(tmp_path: Path) -> None:
    from hotline.bootstrap import build
    from hotline.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="briefing.time"):
        load_settings(data_dir=tmp_path, briefing={"time": "25:00"})
    settings = load_settings(
        data_dir=tmp_path,
        briefing={"time": "08:15", "leader_emails": LEADERS, "weekly_weekday": 4},
    )
    center = build(settings, clock=FakeClock(at(11, 23, 8, 0)))
    try:
        assert center.briefings is not None
        assert center.briefings.schedule == Schedule(
            at=time(8, 15), weekly_weekday=4, timezone="Asia/Shanghai"
        )
        assert center.briefings.emails == LEADERS
        assert center.briefings.telegram_departments == ["hotline"]
    finally:
        await center.store.close()
