"""The event bus: in-process fan-out of committed domain events to subscribers.

`EventBus` is the port; `InProcessBus` serves one process. A PostgreSQL
LISTEN/NOTIFY implementation can stand in for several processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from tickets.events import DomainEvent

log = logging.getLogger(__name__)

Handler = Callable[[DomainEvent], Awaitable[None]]


class EventBus(Protocol):
    """Publish committed events; subscribers must never be able to break the publisher."""

    def subscribe(self, handler: Handler) -> Callable[[], None]: ...

    async def publish(self, event: DomainEvent) -> None: ...


class InProcessBus:
    """Delivers each event to every subscriber as its own task, so a slow one delays nobody."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Add a handler; the returned function removes it again."""
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    async def publish(self, event: DomainEvent) -> None:
        """Hand the event to every subscriber without waiting for them."""
        for handler in list(self._handlers):
            task = asyncio.create_task(self._deliver(handler, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, handler: Handler, event: DomainEvent) -> None:
        try:
            await handler(event)
        except Exception:
            # A failing subscriber is a bug to log, never a reason to lose the event for others.
            log.exception("event handler %r failed on %s", handler, event.name)

    async def drain(self) -> None:
        """Wait for deliveries in flight (shutdown and tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
