"""The store reads behind hotspots and the briefing, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tickets import hotspot_queries as q
from tickets.store import Store
from tickets.tables import categories, contacts, tickets

T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # 2026-11-23 00:00 in Beijing


async def fill(store: Store) -> None:
    rows = [
        # (created, channel, state, urgency, due, text)
        (T0 + timedelta(hours=1), "phone", "received", "normal", None, "井盖缺失"),
        (T0 + timedelta(hours=2), "wechat", "handling", "urgent", T0 - timedelta(hours=5),
         "燃气泄漏"),
        (T0 + timedelta(hours=3), "phone", "merged", "urgent", None, "重复来电"),
        (T0 + timedelta(hours=30), "wechat", "dispatched", "normal", T0 + timedelta(hours=20),
         "路灯不亮"),
        (T0 - timedelta(hours=1), "mailbox", "handling", "normal", T0 + timedelta(hours=2), "来信"),
    ]  # fmt: skip
    async with store.write() as tx:
        await tx.conn.execute(categories.insert().values(code="c", name_zh="类别"))
        for i, (created, channel, state, urgency, due, text) in enumerate(rows, 1):
            await tx.conn.execute(
                tickets.insert().values(
                    id=i, number=f"N{i}", state=state, channel=channel, urgency=urgency,
                    created_at=created, updated_at=created, last_contact_at=created,
                    due_at=due, description=text, subject="", category="c" if i < 3 else None,
                )
            )  # fmt: skip
        for n, (ticket_id, text) in enumerate([(1, "井盖缺失"), (1, "补充:人行道塌陷"), (2, "")]):
            await tx.conn.execute(
                contacts.insert().values(
                    channel="phone", external_id=f"x{n}", ticket_id=ticket_id, text=text,
                    identity={}, attachments=[], received_at=T0, accepted_at=T0,
                )
            )  # fmt: skip


async def test_period_reads(store: Store) -> None:
    await fill(store)
    day = (T0, T0 + timedelta(days=1))
    async with store.read() as tx:
        texts = await q.period_texts(tx, *day)
        buckets = await q.volumes(tx, [T0 - timedelta(days=1), T0, T0 + timedelta(days=1),
                                       T0 + timedelta(days=2)])  # fmt: skip
        cats = await q.category_counts(tx, *day)
        urgent = await q.urgent_tickets(tx, *day)
        overdue = await q.overdue_orders(tx, T0 + timedelta(hours=21))
        first = await q.first_ticket_at(tx)
        assert not await q.briefing_done(tx, "day:2026-11-23")
    # the merged call is no matter of its own; a follow-up contact adds its words once
    assert [(r["id"], r["text"]) for r in texts] == [
        (1, "井盖缺失\n补充:人行道塌陷"), (2, "燃气泄漏"),
    ]  # fmt: skip
    assert sorted((r["bucket"], r["channel"], r["tickets"]) for r in buckets) == [
        (0, "mailbox", 1), (1, "phone", 1), (1, "wechat", 1), (2, "wechat", 1),
    ]  # fmt: skip
    assert [(r["category"], r["tickets"]) for r in cats] == [("c", 2)]
    assert [(r["number"], r["total"]) for r in urgent] == [("N2", 1)]
    # open with a department and past due at 21:00 UTC: the urgent one, then the letter
    assert [(r["number"], r["total"]) for r in overdue] == [("N2", 3), ("N5", 3), ("N4", 3)]
    assert first == T0 - timedelta(hours=1)
    async with store.write() as tx:
        await q.record_briefing(tx, "day:2026-11-23", T0, 3)
        await q.record_briefing(tx, "day:2026-11-23", T0, 3)  # a repeat is a no-op
    async with store.read() as tx:
        assert await q.briefing_done(tx, "day:2026-11-23")
