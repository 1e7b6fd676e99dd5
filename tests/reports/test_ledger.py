"""The person ledger: the rolling two-year window at its boundaries, the consequences table,
and the store's count agreeing with the pure one on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from reports.ledger import (
    DEFAULT_CONSEQUENCES,
    Complaint,
    Consequences,
    Verdict,
    consequence,
    counts,
    ledger,
    window_start,
)
from tickets import review_cases as rc
from tickets.model import Channel, CitizenIdentity, InboundContact
from tickets.service import TicketService

TABLE = Consequences(DEFAULT_CONSEQUENCES)


def c(day: date, verdict: Verdict = Verdict.VALID, pid: str = "A01") -> Complaint:
    return Complaint(pid, "张三", "chengguan", day, verdict)


def test_window_boundaries() -> None:
    on = date(2026, 11, 23)
    assert window_start(on) == date(2024, 11, 24)
    # Two years to the day: no longer counts; the day after: still counts; today counts.
    assert counts([c(date(2024, 11, 23))], on) == {}
    assert counts([c(date(2024, 11, 24))], on) == {"A01": 1}
    assert counts([c(on)], on) == {"A01": 1}
    # A complaint dated after the day asked about is not in that day's window.
    assert counts([c(on + timedelta(days=1))], on) == {}
    # The same complaint drops out exactly on its second anniversary.
    item = c(date(2025, 3, 10))
    assert counts([item], date(2027, 3, 9)) == {"A01": 1}
    assert counts([item], date(2027, 3, 10)) == {}


def test_window_on_29_february() -> None:
    # 2028-02-29: two years before there is no 29th; the 28th is the anniversary.
    assert window_start(date(2028, 2, 29)) == date(2026, 3, 1)
    assert counts([c(date(2026, 2, 28))], date(2028, 2, 29)) == {}
    assert counts([c(date(2026, 3, 1))], date(2028, 2, 29)) == {"A01": 1}
    # A complaint of 2024-02-29 counts through 2026-02-28 and not on 2026-03-01.
    leap = c(date(2024, 2, 29))
    assert counts([leap], date(2026, 2, 28)) == {"A01": 1}
    assert counts([leap], date(2026, 3, 1)) == {}


def test_only_valid_complaints_count() -> None:
    on = date(2026, 11, 23)
    items = [c(on, Verdict.PENDING), c(on, Verdict.INVALID), c(on), c(on, pid="B02")]
    assert counts(items, on) == {"A01": 1, "B02": 1}


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, None), (1, "talk"), (2, "criticism"), (3, "reassign"), (4, "suspend"), (5, "dismiss"),
     (9, "dismiss")],
)  # fmt: skip
def test_default_consequences(n: int, expected: str | None) -> None:
    assert consequence(TABLE, n) == expected


def test_a_citys_own_table() -> None:
    table = Consequences({2: "talk", 4: "reassign"})
    assert [consequence(table, n) for n in range(6)] == [
        None, None, "talk", "talk", "reassign", "reassign",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        Consequences({})
    with pytest.raises(ValueError):
        Consequences({0: "talk"})


def test_ledger_lines() -> None:
    on = date(2026, 11, 23)
    items = [
        c(date(2026, 1, 5)),
        c(date(2025, 6, 1)),
        c(date(2024, 1, 1)),  # outside the window: recorded, not counted
        c(date(2026, 2, 2), Verdict.INVALID),
        Complaint("B02", "李四", None, date(2026, 5, 5), Verdict.VALID),
        Complaint("C03", "王五", "eco", date(2026, 5, 5), Verdict.PENDING),
    ]
    lines = ledger(items, on, TABLE)
    assert [(x.person_id, x.valid, x.recorded, x.consequence) for x in lines] == [
        ("A01", 2, 4, "criticism"),
        ("B02", 1, 1, "talk"),
        ("C03", 0, 1, None),
    ]


async def _ticket(service: TicketService) -> int:
    r = await service.accept(
        InboundContact(
            channel=Channel.PHONE,
            external_id="ledger-1",
            citizen=CitizenIdentity(phone="13800138000"),
            text="投诉话务员态度",
            received_at=datetime(2026, 11, 23, 2, tzinfo=UTC),
        )
    )
    return r.ticket_id


async def test_store_count_agrees_with_the_pure_one(service: TicketService) -> None:
    ticket_id = await _ticket(service)
    rnd = random.Random(8)
    now = datetime(2026, 11, 23, 2, tzinfo=UTC)
    items = []
    async with service.store.write() as tx:
        for i in range(120):
            day = date(2026, 11, 23) - timedelta(days=rnd.randint(-5, 900))
            verdict = rnd.choice(list(Verdict))
            pid = f"P{rnd.randint(1, 9)}"
            items.append(Complaint(pid, pid, None, day, verdict))
            await rc.add_complaint(
                tx,
                {
                    "person_id": pid,
                    "person_name": pid,
                    "department": None,
                    "ticket_id": ticket_id,
                    "occurred_on": day,
                    "verdict": verdict.value,
                    "note": f"#{i}",
                    "recorded_by": "sup",
                    "recorded_at": now,
                    "updated_at": now,
                },
            )
    async with service.store.read() as tx:
        for on in (date(2026, 11, 23), date(2025, 1, 1), date(2024, 11, 24), date(2028, 2, 29)):
            sql = await rc.valid_counts(tx, window_start(on), on)
            assert sql == counts(items, on), on
        rows = await rc.complaints(tx, person_id="P1")
    assert rows and all(r["person_id"] == "P1" for r in rows)
    assert [r["occurred_on"] for r in rows] == sorted(
        (r["occurred_on"] for r in rows), reverse=True
    )
