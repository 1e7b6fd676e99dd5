"""The leaders' briefing on schedule: at the configured local time, into the outbox once per period.

`due_periods` is the pure rule: the day briefing goes out every day at the briefing time (it
covers that day so far and the day before); the week briefing on the configured weekday for
the week before; the month briefing on the configured day for the month before. Only the
latest slot of each kind counts, and only within `catch_up_hours` of it: a restart after
downtime spanning 17:30 sends it late, a server off for days does not flood the leaders with
old briefings.

`BriefingScheduler` checks every `interval` seconds. A period's messages go into the outbox
under dedupe keys (period, channel, recipient), then the period is recorded as done: a crash
between the two re-enqueues on restart and the outbox stores each message once, so no
briefing is sent twice and none is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from reports.briefing import Briefing, BriefingService, Period, period_of
from tickets import hotspot_queries as q
from tickets.outbox import Outbox
from tickets.service import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """When briefings go out (the city's local time)."""

    at: time = time(17, 30)
    weekly_weekday: int = 0  # Monday
    monthly_day: int = 1
    catch_up: timedelta = timedelta(hours=12)
    timezone: str = "Asia/Shanghai"

    @classmethod
    def parse(cls, hhmm: str, **kw: object) -> Schedule:
        """From "17:30" and the other fields."""
        hours, minutes = (int(x) for x in hhmm.split(":"))
        return cls(at=time(hours, minutes), **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Slot:
    """One briefing to send: its period and the local moment it was due."""

    period: Period
    due: datetime


def _latest_day(local_now: datetime, at: time, ok: Callable[[date], bool]) -> date | None:
    """The latest day ≤ today whose slot time has passed and that `ok` accepts."""
    day = local_now.date()
    for _ in range(62):
        if ok(day) and datetime.combine(day, at, local_now.tzinfo) <= local_now:
            return day
        day -= timedelta(days=1)
    return None


def due_periods(now: datetime, schedule: Schedule) -> list[Slot]:
    """The latest slot of each kind that has come and is within the catch-up window."""
    tz = ZoneInfo(schedule.timezone)
    local = now.astimezone(tz)
    out = []
    rules: Sequence[tuple[str, Callable[[date], bool], Callable[[date], Period]]] = (
        ("day", lambda d: True, lambda d: period_of("day", d)),
        (
            "week",
            lambda d: d.weekday() == schedule.weekly_weekday,
            lambda d: period_of("week", d - timedelta(days=1)),
        ),
        (
            "month",
            lambda d: d.day == schedule.monthly_day,
            lambda d: period_of("month", d.replace(day=1) - timedelta(days=1)),
        ),
    )
    for _kind, ok, period in rules:
        day = _latest_day(local, schedule.at, ok)
        if day is None:
            continue
        due = datetime.combine(day, schedule.at, tz)
        if local - due <= schedule.catch_up:
            out.append(Slot(period(day), due))
    return out


@dataclass(frozen=True)
class BriefingText:
    """One briefing rendered for delivery."""

    subject: str
    text: str
    html: str


Renderer = Callable[[Briefing], BriefingText]


class BriefingScheduler:
    """Every `interval` seconds: enqueue the due briefings not yet sent (a background task)."""

    def __init__(
        self,
        briefings: BriefingService,
        outbox: Outbox,
        render: Renderer,
        schedule: Schedule,
        clock: Clock,
        *,
        emails: Sequence[str] = (),
        telegram_departments: Sequence[str] = (),
        interval: float = 30.0,
    ) -> None:
        self.briefings = briefings
        self.store = briefings.store
        self.outbox = outbox
        self.render = render
        self.schedule = schedule
        self.clock = clock
        self.emails = list(emails)
        self.telegram_departments = list(telegram_departments)
        self.interval = interval

    async def send(self, period: Period) -> int:
        """Put one period's briefing in the outbox (each recipient once); returns messages."""
        model = await self.briefings.briefing(period, "zh")
        text = self.render(model)
        payload = {"subject": text.subject, "text": text.text, "html": text.html,
                   "period": period.key}  # fmt: skip
        count = 0
        for address in self.emails:
            await self.outbox.enqueue(
                "mailbox", "briefing", address, payload, f"briefing:{period.key}:mailbox:{address}"
            )
            count += 1
        if self.telegram_departments:
            async with self.store.read() as tx:
                chats = await tx.chat_bindings("telegram", self.telegram_departments)
            for chat in chats:
                chat_id = str(chat["chat_id"])
                await self.outbox.enqueue(
                    "telegram", "briefing", chat_id, {"text": text.text, "period": period.key},
                    f"briefing:{period.key}:telegram:{chat_id}",
                )  # fmt: skip
                count += 1
        return count

    async def run_once(self) -> list[Period]:
        """One pass; returns the periods enqueued now."""
        now = self.clock()
        sent = []
        for slot in due_periods(now, self.schedule):
            async with self.store.read() as tx:
                done = await q.briefing_done(tx, slot.period.key)
            if done:
                continue
            count = await self.send(slot.period)
            async with self.store.write() as tx:
                await q.record_briefing(tx, slot.period.key, now, count)
            log.info("briefing %s: %d messages in the outbox", slot.period.key, count)
            sent.append(slot.period)
        try:
            # Yesterday's hotspot counts are made here, in the background, not on a page view;
            # after the briefings, so a failure here never holds one back.
            await self.briefings.warm()
        except Exception:
            log.exception("counting the hotspot days failed")
        return sent

    async def run(self) -> None:
        """Forever (a background task of `hotline serve`)."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("briefing pass failed")
            await asyncio.sleep(self.interval)
