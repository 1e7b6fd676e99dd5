"""The durable outbox: every outbound message is stored before it is sent, then retried.

A message is enqueued once (its dedupe key), leased to one sender at a time, and
settled as sent, retried later with exponential backoff, or given up as dead. The worker
sends to different recipients at once (one recipient's messages stay in order), and the
settlements that finish together share one commit, so a burst of notices does not cost
the intake one fsynced transaction per message.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from tickets.group_commit import GroupCommit
from tickets.model import OutboundMessage, SendError
from tickets.service import Clock, pending_outbound, system_clock
from tickets.store import Row, Store

log = logging.getLogger(__name__)

Sender = Callable[[OutboundMessage], Awaitable[dict[str, Any] | None]]
CLAIM_LIMIT = 100  # messages leased per pass
# Sends in flight at once (to different recipients): enough to hide an API's round trip,
# few enough that a pass never holds the event loop long away from the intake.
SENDING_AT_ONCE = 16
GIVE_WAY_SECONDS = 1.0  # the longest a pass waits for the intake to pause
# Within a pass, each send waits this long at most for a batch being committed: a backlog
# of notices (after a burst) goes out between acceptances, not through them, and still
# goes out under a load that never pauses.
SEND_GIVES_WAY_SECONDS = 0.05


def backoff(attempts: int, base: float = 5.0, cap: float = 3600.0) -> float:
    """Seconds to wait after the `attempts`-th failure: 5 s, 10 s, 20 s, … up to an hour."""
    return float(min(cap, base * (2 ** max(0, attempts - 1))))


class Outbox:
    """Enqueue, lease, settle; the SQL is in the store."""

    def __init__(
        self,
        store: Store,
        clock: Clock = system_clock,
        *,
        lease_seconds: float = 60,
        max_attempts: int = 12,
    ) -> None:
        self.store = store
        self.clock = clock
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.wakeup = asyncio.Event()
        self._enqueues: GroupCommit[dict[str, Any], int | None] = GroupCommit(self._enqueue_group)
        self._settles: GroupCommit[tuple[int, dict[str, Any]], None] = GroupCommit(
            self._settle_group
        )

    async def enqueue(
        self,
        channel: str,
        kind: str,
        recipient: str,
        payload: dict[str, Any],
        dedupe_key: str,
        ticket_id: int | None = None,
    ) -> int | None:
        """Store a message for sending; the same dedupe key twice stores it once."""
        row = pending_outbound(
            channel, kind, recipient, payload, dedupe_key, ticket_id, self.clock()
        )
        message_id = await self._enqueues.submit(row)
        self.wakeup.set()
        return message_id

    async def _enqueue_group(self, rows: Sequence[dict[str, Any]]) -> list[int | None | Exception]:
        # Messages enqueued together share one commit (a burst of new tickets' notices).
        async with self.store.write(short=True) as tx:
            return [await tx.enqueue_outbound(row) for row in rows]

    async def claim(
        self, limit: int = CLAIM_LIMIT, channels: frozenset[str] | None = None
    ) -> list[OutboundMessage]:
        """Messages due now, leased to this caller."""
        now = self.clock()
        async with self.store.write(short=True) as tx:
            wanted = sorted(channels) if channels is not None else None
            rows = await tx.claim_outbound(now, now + self.lease, limit, wanted)
        return [_message(r) for r in rows]

    async def sent(self, message: OutboundMessage, result: dict[str, Any] | None = None) -> None:
        """The channel accepted the message."""
        values = {"status": "sent", "sent_at": self.clock(), "result": result or {}}
        await self._settles.submit((message.id, values))

    async def failed(self, message: OutboundMessage, error: SendError) -> None:
        """Retry later, or give up if retrying cannot help or has been tried enough."""
        attempts = message.attempts + 1
        dead = error.permanent or attempts >= self.max_attempts
        values: dict[str, Any] = {"last_error": str(error)[:2000]}
        if dead:
            values["status"] = "dead"
        else:
            # Jitter, so a recovering API is not hit by every message in the same second.
            delay = backoff(attempts) * random.uniform(0.8, 1.2)
            values["next_attempt_at"] = self.clock() + timedelta(seconds=delay)
        await self._settles.submit((message.id, values))

    async def _settle_group(self, items: Sequence[tuple[int, dict[str, Any]]]) -> list[None]:
        async with self.store.write(short=True) as tx:
            await tx.settle_outbound(items)
        return [None] * len(items)

    async def messages(
        self, *, status: str | None = None, ticket_id: int | None = None
    ) -> list[Row]:
        """What the outbox holds (for the console and tests)."""
        async with self.store.read() as tx:
            return await tx.outbound(status=status, ticket_id=ticket_id)


class OutboxWorker:
    """Sends due messages through the sender of their channel, one lease at a time.

    `paused(longest)` waits, at most that long, for the center to stop accepting
    contacts: a pass waits (up to GIVE_WAY_SECONDS) so the answers WeChat and the others
    wait for go first, and the notices follow a moment later instead of slowing every
    acceptance down.
    """

    def __init__(
        self,
        outbox: Outbox,
        senders: Mapping[str, Sender],
        poll_seconds: float = 2.0,
        paused: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.outbox = outbox
        self.senders = senders
        self.poll_seconds = poll_seconds
        self.paused = paused

    async def _give_way(self, longest: float = GIVE_WAY_SECONDS) -> None:
        if self.paused is not None:
            await self.paused(longest)

    async def run_once(self) -> int:
        """Send what is due now; returns how many were attempted."""
        messages = await self.outbox.claim(channels=frozenset(self.senders))
        by_recipient: dict[tuple[str, str], list[OutboundMessage]] = {}
        for m in messages:
            by_recipient.setdefault((m.channel, m.recipient), []).append(m)
        slots = asyncio.Semaphore(SENDING_AT_ONCE)
        await asyncio.gather(*(self._in_order(ms, slots) for ms in by_recipient.values()))
        return len(messages)

    async def _in_order(
        self, messages: Sequence[OutboundMessage], slots: asyncio.Semaphore
    ) -> None:
        async with slots:
            for m in messages:
                await self._give_way(SEND_GIVES_WAY_SECONDS)
                await self._send(m)

    async def _send(self, m: OutboundMessage) -> None:
        try:
            result = await self.senders[m.channel](m)
        except SendError as e:
            log.warning("outbox %s #%d failed (attempt %d): %s", m.channel, m.id, m.attempts + 1, e)
            await self.outbox.failed(m, e)
        except Exception as e:  # a sender bug: keep the message, retry later
            log.exception("outbox %s #%d: sender crashed", m.channel, m.id)
            await self.outbox.failed(m, SendError(f"{type(e).__name__}: {e}"))
        else:
            await self.outbox.sent(m, result)

    async def run(self) -> None:
        """Forever: send what is due, then sleep until woken or the poll interval passes."""
        while True:
            try:
                await self._give_way()
                if await self.run_once():
                    continue
            except Exception:
                log.exception("outbox worker pass failed")
            self.outbox.wakeup.clear()
            try:
                await asyncio.wait_for(self.outbox.wakeup.wait(), self.poll_seconds)
            except TimeoutError:
                pass


def _message(row: Row) -> OutboundMessage:
    return OutboundMessage(
        id=row["id"],
        channel=row["channel"],
        kind=row["kind"],
        recipient=row["recipient"],
        payload=dict(row["payload"] or {}),
        dedupe_key=row["dedupe_key"],
        attempts=row["attempts"],
        ticket_id=row["ticket_id"],
    )
