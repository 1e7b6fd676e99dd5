"""Deadline watch: early warnings, overdue flags and escalation of unsigned orders.

`warnings_due` is the pure rule; `DeadlineWatcher` runs it over open orders every minute,
writes each warning once on the ticket's timeline and announces it on the bus (the
wallboard, the department's chat and the supervisors react to that).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tickets.events import DeadlineWarning
from tickets.service import Clock, TicketService

log = logging.getLogger(__name__)

# sign_overdue: not signed in time → escalated to the supervisors (督办 may follow);
# due_warning: the warning share of the handling time has passed; overdue: past due.
KINDS = ("sign_overdue", "due_warning", "overdue")


@dataclass(frozen=True)
class OpenOrder:
    """What the rule needs of an open order."""

    state: str
    sign_due_at: datetime | None
    warn_at: datetime | None
    due_at: datetime | None
    extension_pending: bool = False


def warnings_due(order: OpenOrder, now: datetime, already: Iterable[str] = ()) -> list[str]:
    """The warnings this order has earned by `now` and not yet been given."""
    seen = set(already)
    out: list[str] = []
    if order.state == "dispatched" and order.sign_due_at is not None and order.sign_due_at <= now:
        out.append("sign_overdue")
    if order.state in ("dispatched", "handling") and order.due_at is not None:
        if order.due_at <= now:
            # A pending extension pauses the clock where the city's rules say so; the
            # decision on it comes first.
            if not order.extension_pending:
                out.append("overdue")
        elif order.warn_at is not None and order.warn_at <= now:
            out.append("due_warning")
    return [k for k in out if k not in seen]


class DeadlineWatcher:
    """Every `interval` seconds: find open orders past a line, warn once, announce."""

    def __init__(self, tickets: TicketService, clock: Clock, interval: float = 60.0) -> None:
        self.tickets = tickets
        self.clock = clock
        self.interval = interval

    async def run_once(self) -> list[DeadlineWarning]:
        """One pass; returns the warnings given (each also on its ticket's timeline)."""
        now = self.clock()
        given = await self.tickets.give_deadline_warnings(now, warnings_due_for)
        for w in given:
            await self.tickets.bus.publish(w)
        return given

    async def run(self) -> None:
        """Forever (a background task of `hotline serve`)."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("deadline watch pass failed")
            await asyncio.sleep(self.interval)


def warnings_due_for(row: dict[str, object], now: datetime, already: Iterable[str]) -> list[str]:
    """`warnings_due` over a store row."""
    order = OpenOrder(
        state=str(row["state"]),
        sign_due_at=row["sign_due_at"],  # type: ignore[arg-type]
        warn_at=row["warn_at"],  # type: ignore[arg-type]
        due_at=row["due_at"],  # type: ignore[arg-type]
        extension_pending=row["extension_pending_days"] is not None,
    )
    return warnings_due(order, now, already)
