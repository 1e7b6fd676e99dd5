"""The event bus: in-process fan-out of committed domain events to subscribers.

`EventBus` is the port; `InProcessBus` serves one process. A PostgreSQL
LISTEN/NOTIFY implementation can stand in for several processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from tickets.events import DomainEvent

log = logging.getLogger(__name__)

Handler = Callable[[DomainEvent], Awaitable[None]]
Wanted = Callable[[DomainEvent], bool]  # whether a handler is to have an event at all


InlineHandler = Callable[[DomainEvent], None]


class EventBus(Protocol):
    """Publish committed events; subscribers must never be able to break the publisher."""

    def subscribe(
        self, handler: Handler, *kinds: type[DomainEvent], when: Wanted | None = None
    ) -> Callable[[], None]: ...

    def subscribe_inline(self, handler: InlineHandler) -> Callable[[], None]: ...

    async def publish(self, event: DomainEvent) -> None: ...

    async def publish_many(self, events: Sequence[DomainEvent]) -> None: ...


class InProcessBus:
    """Delivers events to each subscriber in a task of its own, so a slow one delays nobody."""

    def __init__(self) -> None:
        self._handlers: list[tuple[Handler, tuple[type[DomainEvent], ...], Wanted | None]] = []
        self._inline: list[InlineHandler] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(
        self, handler: Handler, *kinds: type[DomainEvent], when: Wanted | None = None
    ) -> Callable[[], None]:
        """Add a handler of the events of these kinds (of every event if none is named),
        and of those only the ones `when` says yes to; the returned function removes it
        again. Naming them spares a task per event the handler would only look at and
        drop (a burst of contacts publishes thousands)."""
        entry = (handler, kinds, when)
        self._handlers.append(entry)

        def unsubscribe() -> None:
            if entry in self._handlers:
                self._handlers.remove(entry)

        return unsubscribe

    def subscribe_inline(self, handler: InlineHandler) -> Callable[[], None]:
        """A handler that only hands the event on (e.g. to a socket's queue) and never waits.

        It runs inside `publish`, before the awaiting handlers: what a screen pop needs.
        """
        self._inline.append(handler)

        def unsubscribe() -> None:
            if handler in self._inline:
                self._inline.remove(handler)

        return unsubscribe

    async def publish(self, event: DomainEvent) -> None:
        """Hand the event to every subscriber without waiting for them."""
        await self.publish_many((event,))

    async def publish_many(self, events: Sequence[DomainEvent]) -> None:
        """Hand events committed together to every subscriber, without waiting for them.

        Each awaiting subscriber gets one task for all the events it wants, in commit
        order (a burst of contacts commits dozens at once: a task per event and per
        subscriber cost the intake more than the subscriber's own work).
        """
        inline_handlers = list(self._inline)  # one may unsubscribe itself meanwhile
        for event in events:
            for inline in inline_handlers:
                try:
                    inline(event)
                except Exception:
                    log.exception("inline event handler %r failed on %s", inline, event.name)
        for handler, kinds, when in list(self._handlers):
            wanted = [
                e
                for e in events
                if (not kinds or isinstance(e, kinds)) and (when is None or when(e))
            ]
            if wanted:
                task = asyncio.create_task(self._deliver(handler, wanted))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _deliver(self, handler: Handler, events: Sequence[DomainEvent]) -> None:
        for event in events:
            try:
                await handler(event)
            except Exception:
                # A failing subscriber is a bug to log, never a reason to lose the event
                # for others, nor the events after it.
                log.exception("event handler %r failed on %s", handler, event.name)

    async def drain(self) -> None:
        """Wait for deliveries in flight (shutdown and tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
