"""Group commit: work items that arrive together are handled as one batch.

The first submitter starts a drain task; everything queued while a batch runs goes into
the next batch, which starts once the callers of the last one have gone on with their
outcomes. Each submitter waits for its own outcome only; a caller that gives up does not
cancel the batch its item is in. Background work can wait for a pause between batches
(`paused`) without polling for one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Runs one batch: one outcome (a result or the exception for that item) per item, in order.
BatchRunner = Callable[[Sequence[T]], Awaitable[Sequence[R | Exception]]]


class GroupCommit(Generic[T, R]):
    """Batches concurrent submissions to `run`, at most `max_batch` at a time."""

    def __init__(self, run: BatchRunner[T, R], max_batch: int = 64) -> None:
        self._run = run
        self._max = max_batch
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self._pause_waiters: list[asyncio.Future[None]] = []

    @property
    def busy(self) -> bool:
        """Items are waiting or a batch is running."""
        return bool(self._queue) or (self._drainer is not None and not self._drainer.done())

    async def paused(self, longest: float) -> None:
        """Return once nothing is queued or running, or after `longest` seconds at most.

        One future and one timer per wait: polling `busy` every few milliseconds instead
        cost the event loop thousands of wake-ups a second during a burst.
        """
        if not self.busy:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(longest, _settle, waiter)
        self._pause_waiters.append(waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if waiter in self._pause_waiters:
                self._pause_waiters.remove(waiter)

    async def submit(self, item: T) -> R:
        """Queue `item` and wait for its outcome."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        # A caller cancelled here cancels its own future only (no shield needed): the
        # drainer skips an outcome nobody waits for, and the batch runs as planned.
        return await future

    async def _drain(self) -> None:
        try:
            await self._drain_batches()
        finally:
            waiters, self._pause_waiters = self._pause_waiters, []
            for waiter in waiters:
                _settle(waiter)

    async def _drain_batches(self) -> None:
        while self._queue:
            batch = self._queue[: self._max]
            del self._queue[: self._max]
            try:
                outcomes: Sequence[R | Exception] = await self._run([item for item, _ in batch])
            except Exception as exc:  # the runner itself failed: every item hears why
                outcomes = [exc] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
            if self._queue:
                # The callers just answered go first: a runner works up to its first real
                # wait without giving the loop back (the intake binds a whole batch so),
                # and their answers would wait for all of it.
                await asyncio.sleep(0)


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
