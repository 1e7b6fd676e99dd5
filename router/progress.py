"""A citizen asks how their requests stand: their own recent tickets, nothing else."""

from __future__ import annotations

from connectors.base import ProgressLine
from tickets.model import CitizenIdentity
from tickets.service import TicketService


class CitizenProgress:
    """Implements the ProgressLookup port for the chat channels."""

    def __init__(self, tickets: TicketService, limit: int = 3) -> None:
        self.tickets = tickets
        self.limit = limit

    async def __call__(self, who: CitizenIdentity) -> list[ProgressLine]:
        rows = await self.tickets.tickets_of(who, self.limit)
        return [ProgressLine(r["number"], r["state"], r["subject"], r["due_at"]) for r in rows]
