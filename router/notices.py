"""Tells citizens how their request goes: committed ticket events → outbox messages.

Which events make a notice, and of which kind, is the table below; each channel's
sender renders a kind its own way (WeChat template, Telegram message, e-mail). The
"accepted" notice is not here: the ticket service writes it to the outbox in the very
transaction that opens the ticket (a crash cannot separate them, and no read is needed).
"""

from __future__ import annotations

import logging

from tickets.events import DomainEvent, TicketChanged
from tickets.outbox import Outbox
from tickets.service import TicketService

log = logging.getLogger(__name__)

# ticket action → notice kind sent to the citizen
NOTICE_OF_ACTION = {
    "dispatch": "dispatched",
    "approve": "dispatched",
    "resolve_on_spot": "result",
    "inform_citizen": "result",
    "police_hand_back": "dispatched",
}
# these also ask for a rating right after the result
RATING_AFTER = {"resolve_on_spot", "inform_citizen"}

KINDS = ("accepted", "dispatched", "result", "rating_request", "text")


class CitizenNotices:
    """Bus subscriber: enqueue the notice each committed event calls for (once each)."""

    def __init__(self, tickets: TicketService, outbox: Outbox) -> None:
        self.tickets = tickets
        self.outbox = outbox

    async def __call__(self, event: DomainEvent) -> None:
        if isinstance(event, TicketChanged):
            kind = NOTICE_OF_ACTION.get(event.action)
            if kind is None:
                return
            key = f"{kind}:{event.ticket_id}:{event.at.isoformat()}"
            await self._notify(event.ticket_id, event.ticket_number, kind, key)
            if event.action in RATING_AFTER:
                await self._notify(
                    event.ticket_id,
                    event.ticket_number,
                    "rating_request",
                    f"rate:{event.ticket_id}",
                )

    async def _notify(self, ticket_id: int, number: str, kind: str, dedupe_key: str) -> None:
        facts = await self.tickets.notice_facts(ticket_id)
        if facts is None:
            return
        await self.outbox.enqueue(
            facts["channel"], kind, facts["recipient"], facts["payload"], dedupe_key, ticket_id
        )
