"""A citizen who answers a rating request with just a digit rates their ticket.

The rating request (WeChat, Telegram) asks for 1–5; without this, a reply of "5" would
open a new ticket. The reply is still kept, as a contact on the rated ticket, and is
committed before the rating is recorded; a redelivered reply rates at most once.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from connectors.base import ContactSink
from tickets.lifecycle import LifecycleError
from tickets.model import AcceptResult, Channel, InboundContact
from tickets.service import TicketService

log = logging.getLogger(__name__)
CHAT_CHANNELS = frozenset({Channel.WECHAT, Channel.TELEGRAM})
FULLWIDTH = str.maketrans("１２３４５", "12345")


def rating_digit(text: str) -> int | None:
    """1–5 when the whole message is one such digit (full-width digits too)."""
    t = text.strip()
    if len(t) != 1:  # most messages: no need to translate a whole complaint
        return None
    t = t.translate(FULLWIDTH)
    return int(t) if t in "12345" else None


class RatingReplies:
    """Wraps the channel's contact sink."""

    def __init__(self, tickets: TicketService, sink: ContactSink) -> None:
        self.tickets = tickets
        self.sink = sink

    async def __call__(self, contact: InboundContact) -> AcceptResult:
        digit = rating_digit(contact.text) if contact.channel in CHAT_CHANNELS else None
        number = await self.tickets.awaiting_rating(contact.citizen) if digit else None
        if digit is None or number is None:
            return await self.sink(contact)
        # Quoting the number threads the reply onto the ticket it rates.
        text = f"{contact.text.strip()}〔评价工单 {number}〕"
        result = await self.sink(replace(contact, text=text))
        try:
            await self.tickets.rate_as_citizen(
                number, contact.citizen, digit, contact.channel.value
            )
        except LifecycleError as e:  # rated already (a redelivery): the first one counts
            log.info("rating reply on %s not recorded: %s", number, e)
        return result
