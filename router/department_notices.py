"""Tells department work-order groups about orders sent to them: committed events → outbox.

Each dispatch (and approve, pass-on, rejected return, re-dispatch) posts a notice with the
ticket number, category, deadlines and the citizen's masked data to every chat bound to a
department the order now goes to; the channel's sender adds the 签收/退回 buttons.
"""

from __future__ import annotations

from typing import Any

from tickets.events import DomainEvent, TicketChanged
from tickets.model import Role
from tickets.outbox import Outbox
from tickets.privacy import Viewer, masked_citizen
from tickets.service import TicketService
from tickets.store import Store

SYSTEM = Viewer("department-notices", Role.SUPERVISOR)
DISPATCH_ACTIONS = frozenset({"dispatch", "approve", "pass_on", "reject_return", "redispatch"})
CHANNELS = ("telegram",)


class DepartmentNotices:
    """Bus subscriber: one dispatch notice per bound chat per dispatch (dedupe key)."""

    def __init__(self, tickets: TicketService, store: Store, outbox: Outbox) -> None:
        self.tickets = tickets
        self.store = store
        self.outbox = outbox

    async def __call__(self, event: DomainEvent) -> None:
        if not isinstance(event, TicketChanged) or event.action not in DISPATCH_ACTIONS:
            return
        t = await self.tickets.view(event.ticket_number, SYSTEM)
        # The units the order now goes to: the lead (pass-on target) and co-handlers.
        targets = [d for d in [t["lead_department"], *t["co_departments"]] if d]
        if not targets:
            return
        citizen = masked_citizen(t["citizen"]) if t["citizen"] else {}
        payload: dict[str, Any] = {
            "ticket_number": event.ticket_number,
            "subject": t["subject"],
            "category_name": t["category_name"],
            "sign_due_at": t["sign_due_at"],
            "due_at": t["due_at"],
            "urgency": t["urgency"],
            "citizen": {k: citizen.get(k) for k in ("name", "phone")},
        }
        for channel in CHANNELS:
            async with self.store.read() as tx:
                chats = await tx.chat_bindings(channel, targets)
            for chat in chats:
                role = "lead" if chat["department"] == t["lead_department"] else "co"
                key = f"dept:{channel}:{chat['chat_id']}:{event.ticket_id}:{event.at.isoformat()}"
                await self.outbox.enqueue(
                    channel,
                    "dispatch_notice",
                    str(chat["chat_id"]),
                    {**payload, "department": chat["department"], "role": role},
                    key,
                    event.ticket_id,
                )
