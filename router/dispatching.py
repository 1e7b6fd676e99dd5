"""Where orders go: the admins' dispatch rules applied to tickets, and urgent orders
(特事特办、急事急办) dispatched by the system the moment they are accepted."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from router.dispatch_rules import DispatchRule, Suggestion, suggest
from tickets.admin_store import all_dispatch_rules
from tickets.events import ContactAccepted, DomainEvent
from tickets.lifecycle import Action, LifecycleError
from tickets.model import Role
from tickets.privacy import Viewer
from tickets.service import InvalidField, TicketError, TicketService

log = logging.getLogger(__name__)
SYSTEM = Viewer("dispatch-rules", Role.SYSTEM)


class DispatchDesk:
    """Reads and saves the rule table; suggests; dispatches urgent orders at once."""

    def __init__(self, tickets: TicketService) -> None:
        self.tickets = tickets
        self.store = tickets.store

    async def rules(self, *, include_inactive: bool = False) -> list[DispatchRule]:
        """The active rules (with `include_inactive`, the whole table the editor shows)."""
        async with self.store.read() as tx:
            rows = await (all_dispatch_rules(tx) if include_inactive else tx.dispatch_rules())
        return [
            DispatchRule(
                id=r["id"],
                lead_department=r["lead_department"],
                category=r["category"],
                district=r["district"],
                keywords=tuple(r["keywords"] or ()),
                co_departments=tuple(r["co_departments"] or ()),
                auto_dispatch=bool(r["auto_dispatch"]),
                priority=r["priority"],
                active=bool(r["active"]),
            )
            for r in rows
        ]

    async def save(self, viewer: Viewer, rows: list[dict[str, Any]], at: datetime) -> int:
        """Replace the table with `rows` after checking every field names something real."""
        if viewer.role not in (Role.ADMIN, Role.SUPERVISOR):
            raise InvalidField("only admins and supervisors edit dispatch rules", field="role")
        clean = []
        for i, r in enumerate(rows):
            where = f"rules[{i}]"
            lead = r.get("lead_department")
            if lead not in self.tickets.tree:
                raise InvalidField(
                    f"{where}: unknown lead department", field=f"{where}.lead_department"
                )
            co = r.get("co_departments") or []
            if not isinstance(co, list) or any(c not in self.tickets.tree for c in co):
                raise InvalidField(
                    f"{where}: unknown co-handling department", field=f"{where}.co_departments"
                )
            category = r.get("category")
            if category is not None and category not in self.tickets.category_rows:
                raise InvalidField(f"{where}: unknown category", field=f"{where}.category")
            district = r.get("district")
            if district is not None and district not in self.tickets.tree:
                raise InvalidField(f"{where}: unknown district", field=f"{where}.district")
            keywords = r.get("keywords") or []
            if not isinstance(keywords, list) or not all(
                isinstance(k, str) and k for k in keywords
            ):
                raise InvalidField(f"{where}: keywords are words", field=f"{where}.keywords")
            priority = r.get("priority") or 0
            if isinstance(priority, bool) or not isinstance(priority, int):
                raise InvalidField(
                    f"{where}: priority is a whole number", field=f"{where}.priority"
                )
            for flag in ("auto_dispatch", "active"):
                if flag in r and not isinstance(r[flag], bool):
                    raise InvalidField(f"{where}: {flag} is true or false", field=f"{where}.{flag}")
            clean.append(
                {
                    "category": category,
                    "district": district,
                    "keywords": keywords,
                    "lead_department": lead,
                    "co_departments": co,
                    "auto_dispatch": bool(r.get("auto_dispatch")),
                    "priority": priority,
                    "active": r.get("active", True),
                    "updated_by": viewer.username,
                    "updated_at": at,
                }
            )
        async with self.store.write() as tx:
            await tx.replace_dispatch_rules(clean)
        return len(clean)

    async def suggestion(self, number: str, viewer: Viewer) -> Suggestion | None:
        """The rule's choice for a ticket the viewer can see."""
        t = await self.tickets.view(number, viewer)
        return await self._suggest(t)

    async def _suggest(self, t: dict[str, Any]) -> Suggestion | None:
        return suggest(
            await self.rules(),
            category=t["category"],
            district=t["district"],
            text=f"{t['subject']}\n{t['description']}",
            parents={c: r["parent_code"] for c, r in self.tickets.category_rows.items()},
        )

    @staticmethod
    def wants(event: DomainEvent) -> bool:
        """Only a contact that opened an urgent ticket (most need no task of their own)."""
        return isinstance(event, ContactAccepted) and event.created_ticket and event.urgent

    async def __call__(self, event: DomainEvent) -> None:
        """On a new urgent ticket whose rule says so, dispatch at once (as the system)."""
        if not self.wants(event):
            return
        assert isinstance(event, ContactAccepted)
        t = await self.tickets.ticket_row(event.ticket_id)
        if t is None or t["urgency"] != "urgent" or t["state"] != "received":
            return
        if t["review_required"] or t["accepted_by"]:
            # An agent took it (on the phone, say): they dispatch it, perhaps to 110 instead.
            return
        s = await self._suggest(t)
        if s is None or not s.auto_dispatch:
            return
        try:
            await self.tickets.act(
                event.ticket_number,
                SYSTEM,
                Action.DISPATCH,
                reason="急事急办:按派单规则即时交办",
                payload={
                    "department": s.lead_department,
                    "co_departments": list(s.co_departments),
                    "rule": s.rule_id,
                },
            )
        except (LifecycleError, TicketError) as e:  # an agent was quicker: nothing to do
            log.info("urgent ticket %s not auto-dispatched: %s", event.ticket_number, e)
