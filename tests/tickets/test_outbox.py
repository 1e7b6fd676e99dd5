"""The durable outbox on SQLite and PostgreSQL: once, leased, retried with backoff, dead."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from tests.fakes.clock import FakeClock
from tickets import outbox as outbox_module
from tickets.group_commit import GroupCommit
from tickets.model import OutboundMessage, SendError
from tickets.outbox import Outbox, OutboxWorker, backoff
from tickets.store import Store


async def test_enqueue_once_per_dedupe_key(store: Store, clock: FakeClock) -> None:
    box = Outbox(store, clock)
    first = await box.enqueue("wechat", "text", "openid-1", {"text": "已受理"}, "accept:1")
    again = await box.enqueue("wechat", "text", "openid-1", {"text": "已受理"}, "accept:1")
    assert first is not None and again is None
    assert len(await box.messages()) == 1


async def test_lease_retry_backoff_and_dead(store: Store, clock: FakeClock) -> None:
    box = Outbox(store, clock, lease_seconds=30, max_attempts=3)
    await box.enqueue("telegram", "text", "chat-9", {"text": "x"}, "k1")
    [m] = await box.claim()
    assert m.attempts == 0
    assert await box.claim() == []  # leased: nobody else gets it
    await box.failed(m, SendError("HTTP 502"))
    assert await box.claim() == []  # backing off
    clock.advance(seconds=backoff(1) * 1.25)
    [m] = await box.claim()
    assert m.attempts == 1
    await box.failed(m, SendError("HTTP 502"))
    clock.advance(seconds=backoff(2) * 1.25)
    [m] = await box.claim()
    await box.failed(m, SendError("HTTP 502"))
    [row] = await box.messages()
    assert row["status"] == "dead" and row["attempts"] == 3 and row["last_error"] == "HTTP 502"


async def test_lease_expiry_hands_the_message_on(store: Store, clock: FakeClock) -> None:
    box = Outbox(store, clock, lease_seconds=30)
    await box.enqueue("mail", "text", "a@example.org", {}, "k")
    [m] = await box.claim()
    clock.advance(seconds=31)  # the first sender died without settling
    [again] = await box.claim()
    assert again.id == m.id and again.attempts == 1


async def test_permanent_error_is_not_retried(store: Store, clock: FakeClock) -> None:
    box = Outbox(store, clock)
    await box.enqueue("wechat", "template", "openid", {}, "k")
    [m] = await box.claim()
    await box.failed(m, SendError("invalid openid (40003)", permanent=True))
    assert (await box.messages())[0]["status"] == "dead"


async def test_worker_sends_settles_and_keeps_failures(store: Store, clock: FakeClock) -> None:
    box = Outbox(store, clock)
    sent: list[OutboundMessage] = []

    async def ok(m: OutboundMessage) -> dict[str, Any]:
        sent.append(m)
        return {"msgid": 42}

    async def down(m: OutboundMessage) -> None:
        raise SendError("connection refused")

    async def buggy(m: OutboundMessage) -> None:
        raise KeyError("oops")

    await box.enqueue("wechat", "text", "o1", {"text": "hi"}, "a")
    await box.enqueue("telegram", "text", "c1", {"text": "hi"}, "b")
    await box.enqueue("mail", "text", "m@x", {"text": "hi"}, "c")
    worker = OutboxWorker(box, {"wechat": ok, "telegram": down, "mail": buggy})
    assert await worker.run_once() == 3
    status = {r["channel"]: r for r in await box.messages()}
    assert status["wechat"]["status"] == "sent" and status["wechat"]["result"] == {"msgid": 42}
    assert (
        status["telegram"]["status"] == "pending" and "refused" in status["telegram"]["last_error"]
    )
    assert status["mail"]["status"] == "pending" and "KeyError" in status["mail"]["last_error"]
    assert [m.recipient for m in sent] == ["o1"]
    assert await worker.run_once() == 0  # nothing due until the backoff passes


async def test_recipients_are_served_at_once_each_in_order_settled_together(
    store: Store, clock: FakeClock
) -> None:
    import asyncio

    box = Outbox(store, clock)
    for i in range(3):
        for who in ("oA", "oB", "oC"):
            await box.enqueue("wechat", "text", who, {"n": i}, f"{who}:{i}")
    in_flight, most, order = 0, 0, []

    async def slow_send(m: OutboundMessage) -> dict[str, Any]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        order.append((m.recipient, m.payload["n"]))
        return {"ok": True}

    writes = 0
    write = store.write

    def counting_write(**options: Any) -> Any:
        nonlocal writes
        writes += 1
        return write(**options)

    store.write = counting_write  # type: ignore[method-assign]
    assert await OutboxWorker(box, {"wechat": slow_send}).run_once() == 9
    store.write = write  # type: ignore[method-assign]
    assert most == 3  # three recipients at once
    for who in ("oA", "oB", "oC"):  # each one's messages in the order they were written
        assert [n for r, n in order if r == who] == [0, 1, 2]
    assert all(m["status"] == "sent" for m in await box.messages())
    assert writes < 1 + 9  # the claim, then fewer commits than messages


async def test_sends_wait_for_the_intake_between_acceptances_but_never_stop(
    store: Store, clock: FakeClock
) -> None:
    """While contacts are being committed, each send waits (a little) for the batch to end:
    a backlog of notices goes out between acceptances; under a load that never pauses it
    still goes out, only slower."""
    box = Outbox(store, clock)
    for i in range(3):
        await box.enqueue("wechat", "text", "o1", {"text": str(i)}, f"k{i}")
    committing = asyncio.Event()  # set: the batch being committed ends

    async def commit(items: Sequence[int]) -> list[int | Exception]:
        await committing.wait()
        return list(items)

    intake: GroupCommit[int, int] = GroupCommit(commit)
    sent_while_busy: list[bool] = []

    async def record(m: OutboundMessage) -> dict[str, Any]:
        sent_while_busy.append(intake.busy)
        return {}

    worker = OutboxWorker(box, {"wechat": record}, paused=intake.paused)
    # A load that never pauses: the pass waits GIVE_WAY_SECONDS, then every send its own
    # short while, and all three are sent.
    held = asyncio.ensure_future(intake.submit(1))
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await worker._give_way()
    assert await worker.run_once() == 3
    took = loop.time() - start
    assert sent_while_busy == [True, True, True]
    assert took >= outbox_module.GIVE_WAY_SECONDS + 3 * outbox_module.SEND_GIVES_WAY_SECONDS
    # The intake pauses a moment after the pass began: the sends wait for that, not longer.
    for i in range(3, 6):
        await box.enqueue("wechat", "text", "o1", {"text": str(i)}, f"k{i}")
    sent_while_busy.clear()

    async def pause_soon() -> None:
        await asyncio.sleep(0.02)
        committing.set()

    pausing = asyncio.create_task(pause_soon())
    start = loop.time()
    assert await worker.run_once() == 3
    await pausing
    assert await held == 1
    assert sent_while_busy == [False, False, False]
    assert loop.time() - start < outbox_module.SEND_GIVES_WAY_SECONDS * 3
