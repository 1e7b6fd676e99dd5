"""The ticket service: accepts contacts, applies lifecycle actions, builds views.

It is the only way into the store for people and connectors. Every write is one
unit of work; events go on the bus only after it committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tickets.bus import EventBus
from tickets.departments import DepartmentTree
from tickets.events import (
    ContactAccepted,
    DeadlinesRecomputed,
    DeadlineWarning,
    TicketChanged,
)
from tickets.forgery import code_matches, dispatch_code
from tickets.group_commit import GroupCommit
from tickets.lifecycle import Action, Facts, Request, RoleNotAllowed, allowed_actions, transition
from tickets.model import (
    TERMINAL_STATES,
    AcceptResult,
    Attachment,
    CitizenIdentity,
    Complexity,
    InboundContact,
    RatingLevel,
    Role,
    State,
    TimelineEntry,
    Urgency,
)
from tickets.online_contacts import ONLINE_CHANNELS, Arrival, language_of, open_conversations
from tickets.policy import TicketRules
from tickets.privacy import (
    Viewer,
    display_phone,
    identity_visible,
    mask_phone,
    masked_citizen,
    normalize_phone,
    ticket_numbers_in,
)
from tickets.sla import (
    CalendarOverride,
    Deadline,
    WorkCalendar,
    add_working_days_to,
    bad_review_deadlines,
    extend_for_pause,
    hours_deadline,
    working_days_deadline,
)
from tickets.store import Row, StaleTicket, Store, Tx

Clock = Callable[[], datetime]
MAX_INTAKE_BATCH = 64
_ID_KINDS = ("phone", "wechat_openid", "telegram_id", "email")
_NO_KEYS: dict[str, str | None] = dict.fromkeys(_ID_KINDS)

CALL_FLOOR = ("agent", "supervisor")  # who can be the agent of a ticket
OPEN_STATES = tuple(s.value for s in State if s not in TERMINAL_STATES)
EDITABLE_STATES = {State.RECEIVED, State.PENDING_REVIEW, State.RETURNED, State.WITH_POLICE}
EDITABLE_FIELDS = {
    "category",
    "district",
    "urgency",
    "complexity",
    "subject",
    "description",
    "consent_publish",
    "confidential",
}


class TicketError(Exception):
    """A service-level refusal with a stable code for the API."""

    code = "ticket_error"
    status = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class TicketNotFound(TicketError):
    """No ticket with that number (or not one the viewer may see)."""

    code = "ticket_not_found"
    status = 404


class InvalidField(TicketError):
    """A field value the service cannot use."""

    code = "invalid_field"
    status = 400


class Conflict(TicketError):
    """The ticket changed under the request; retry with fresh data."""

    code = "conflict"
    status = 409


class _CarefulPath(Exception):
    """This batch needs the one-by-one path."""


def _pick_thread(candidates: Sequence[Row], category: str | None) -> Row | None:
    """Same matter: the same category; or, with none given, a ticket nobody worked on yet."""
    for row in candidates:
        if category and row["category"] == category:
            return row
        if not category and row["state"] == State.RECEIVED.value:
            return row
    return None


def _contact_values(
    c: InboundContact, ticket_id: int, citizen_id: int | None, now: datetime
) -> dict[str, Any]:
    return {
        "channel": c.channel.value,
        "external_id": c.external_id,
        "ticket_id": ticket_id,
        "citizen_id": citizen_id,
        "text": c.text,
        "identity": {k: v for k, v in vars(c.citizen).items() if v},
        "attachments": [vars(a) for a in c.attachments],
        "location": vars(c.location) if c.location else None,
        "received_at": c.received_at,
        "accepted_at": now,
    }


# What a connector may add to the timeline about where a contact came from.
TIMELINE_EXTRAS = ("call_id", "recording", "line", "message_id", "mailbox")


def _contact_payload(c: InboundContact, contact_id: int) -> dict[str, Any]:
    return {
        "contact_id": contact_id,
        "channel": c.channel.value,
        "received_at": c.received_at.isoformat(),
        **{k: str(c.extra[k]) for k in TIMELINE_EXTRAS if c.extra.get(k)},
    }


def _accept_entry(c: InboundContact, contact_id: int, now: datetime) -> TimelineEntry:
    agent = c.extra.get("agent")
    return TimelineEntry(
        at=now,
        actor=str(agent or c.channel.value),
        role=Role.AGENT if agent else Role.SYSTEM,
        action="accept",
        from_state=None,
        to_state=State.RECEIVED,
        payload=_contact_payload(c, contact_id),
    )


def _note(
    at: datetime,
    actor: str,
    role: Role,
    action: str,
    state: State,
    payload: dict[str, Any],
    reason: str = "",
) -> TimelineEntry:
    """A timeline entry that records something without moving the ticket on."""
    return TimelineEntry(at, actor, role, action, state, state, reason, payload)


def _join_entry(c: InboundContact, contact_id: int, state: State, now: datetime) -> TimelineEntry:
    return TimelineEntry(
        at=now,
        actor=c.channel.value,
        role=Role.SYSTEM,
        action="add_contact",
        from_state=state,
        to_state=state,
        payload=_contact_payload(c, contact_id),
    )


def system_clock() -> datetime:
    """The wall clock in UTC (the shell's only source of time)."""
    return datetime.now(UTC)


def pending_outbound(
    channel: str,
    kind: str,
    recipient: str,
    payload: dict[str, Any],
    dedupe_key: str,
    ticket_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    """An outbox row waiting for its first send (the outbox and the accept path write these)."""
    return {
        "channel": channel,
        "kind": kind,
        "recipient": recipient,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "ticket_id": ticket_id,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


@dataclass
class TicketService:
    """Use cases on tickets; SQL is in `Store`, rules in `lifecycle` and `sla`."""

    store: Store
    bus: EventBus
    rules: TicketRules
    forgery_key: bytes
    clock: Clock = system_clock
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        self._intake: GroupCommit[InboundContact, AcceptResult] = GroupCommit(
            self._accept_group, MAX_INTAKE_BATCH
        )
        self.calendar = WorkCalendar(tz=self.timezone)
        self.tree = DepartmentTree([])
        self.category_rows: dict[str, Row] = {}

    # -- reference data ----------------------------------------------------------------

    async def load_reference(self) -> None:
        """(Re)load departments, categories and the holiday override table."""
        async with self.store.read() as tx:
            self.tree = DepartmentTree(await tx.departments())
            self.category_rows = {r["code"]: r for r in await tx.categories()}
            overrides = await tx.calendar_overrides()
        self.calendar = WorkCalendar(
            [CalendarOverride(r["day"], r["is_workday"], r["name"]) for r in overrides],
            tz=self.timezone,
        )

    def scope_of(self, department: str | None) -> frozenset[str]:
        """The units a department user may see: their own and those below it."""
        return self.tree.descendants(department) if department else frozenset()

    # -- accept ------------------------------------------------------------------------

    async def intake_paused(self, longest: float) -> None:
        """Return once no contact is being committed, or after `longest` seconds: when
        background work gives way to the intake."""
        await self._intake.paused(longest)

    async def accept(self, contact: InboundContact) -> AcceptResult:
        """Make the contact durable, once: a repeat (channel, external_id) changes nothing.

        Contacts arriving together are committed together (group commit): the first
        caller's task drains the queue in batches, each one transaction, and every caller
        gets its own result once its batch is on disk.
        """
        if contact.received_at.tzinfo is None:
            raise InvalidField("received_at must carry a time zone", field="received_at")
        if contact.category and contact.category not in self.category_rows:
            raise InvalidField(f"unknown category {contact.category}", field="category")
        if contact.district and contact.district not in self.tree:
            raise InvalidField(f"unknown district {contact.district}", field="district")
        phone = normalize_phone(contact.citizen.phone)
        if phone != contact.citizen.phone:  # most online contacts carry no phone
            contact = replace(contact, citizen=replace(contact.citizen, phone=phone))
        return await self._intake.submit(contact)

    async def _accept_group(
        self, contacts: Sequence[InboundContact]
    ) -> list[AcceptResult | Exception]:
        outcomes: list[AcceptResult | Exception]
        try:
            outcomes = list(await self._accept_batch(contacts))
        except Exception:
            # Something in the batch needs the careful path (or failed): one by one,
            # so one bad contact never costs the others their acceptance.
            outcomes = []
            for c in contacts:
                try:
                    outcomes.append(await self._accept_single(c))
                except Exception as exc:
                    outcomes.append(exc)
        at = self.clock()
        await self.bus.publish_many(
            [
                ContactAccepted(
                    at=at,
                    ticket_id=outcome.ticket_id,
                    ticket_number=outcome.ticket_number,
                    contact_id=outcome.contact_id,
                    channel=c.channel.value,
                    created_ticket=outcome.created_ticket,
                    urgent=outcome.created_ticket and self._urgent(c),
                    conversation=outcome.conversation,
                    category=outcome.category,
                    language=language_of(c.text) if outcome.conversation else None,
                )
                for c, outcome in zip(contacts, outcomes, strict=True)
                if isinstance(outcome, AcceptResult) and not outcome.duplicate
            ]
        )
        return outcomes

    async def _accept_single(self, contact: InboundContact) -> AcceptResult:
        """One contact in its own transaction, handling every identity and threading case."""
        now = self.clock()
        async with self.store.write(short=True) as tx:
            contact_id = await tx.claim_contact(contact, now)
            if contact_id is None:
                existing = await tx.contact_by_external_id(
                    contact.channel.value, contact.external_id
                )
                assert existing is not None and existing["ticket_id"] is not None
                row = await tx.ticket(ticket_id=existing["ticket_id"])
                assert row is not None
                return AcceptResult(row["id"], row["number"], existing["id"], False, True)
            citizen_id = await self._citizen_for(tx, contact.citizen, now)
            target = await self._thread_target(tx, citizen_id, contact, now)
            if target is not None:
                await tx.link_contact(contact_id, target["id"], citizen_id)
                await tx.touch_ticket(target["id"], now)
                await tx.add_timeline(
                    target["id"], _join_entry(contact, contact_id, State(target["state"]), now)
                )
                talk = await self._open_conversations(tx, [(contact, target["id"], False)], now)
                return AcceptResult(
                    target["id"], target["number"], contact_id, False, False, joined_existing=True,
                    conversation=talk.get(target["id"], ""), category=target["category"],
                )  # fmt: skip
            day = self.calendar.local_date(now).strftime("%Y%m%d")
            number = f"{day}-{await tx.next_ticket_sequence(day):06d}"
            values = self._ticket_values(contact, number, citizen_id, now)
            ticket_id = await tx.insert_ticket(values)
            await tx.link_contact(contact_id, ticket_id, citizen_id)
            await tx.add_timeline(ticket_id, _accept_entry(contact, contact_id, now))
            await tx.enqueue_outbound_many(
                self._accepted_notices([(contact, ticket_id, values)], now)
            )
            talk = await self._open_conversations(tx, [(contact, ticket_id, True)], now)
            return AcceptResult(
                ticket_id, number, contact_id, True, False,
                conversation=talk.get(ticket_id, ""), category=values["category"],
            )  # fmt: skip

    async def _accept_batch(self, batch: Sequence[InboundContact]) -> list[AcceptResult]:
        """The common case for many contacts at once, in a handful of statements.

        Raises _CarefulPath for what only `_accept_single` handles (a citizen record that
        learns a new identity, a quoted ticket number); a race on PostgreSQL raises an
        IntegrityError; either way the batch rolls back and goes one by one.
        """
        now = self.clock()
        since = now - timedelta(hours=self.rules.threading_window_hours)
        async with self.store.write(short=True) as tx:
            keys = [(c.channel.value, c.external_id) for c in batch]
            first_of: dict[tuple[str, str], int] = {}
            for i, k in enumerate(keys):
                first_of.setdefault(k, i)
            existing = await tx.contacts_by_keys(list(first_of))
            fresh = [i for k, i in first_of.items() if k not in existing]
            by_pos, new_pos = await self._batch_citizens(tx, [batch[i] for i in fresh], now)
            citizen_of = {fresh[j]: cid for j, cid in by_pos.items()}
            new_ones = {fresh[j] for j in new_pos}
            # Threading: open tickets of known citizens, plus those this batch opens.
            open_rows: dict[int, list[dict[str, Any]]] = {}
            known_ids = [c for j, c in citizen_of.items() if c is not None and j not in new_ones]
            for r in await tx.open_tickets_of_citizens(known_ids, since, OPEN_STATES):
                open_rows.setdefault(r["citizen_id"], []).append(r)
            plan: list[tuple[int, dict[str, Any]]] = []
            opened: list[int] = []  # batch indexes whose contact opens a ticket
            for i in fresh:
                c, who = batch[i], citizen_of[i]
                if ticket_numbers_in(c.text):
                    raise _CarefulPath("the citizen quoted a ticket number")
                target = _pick_thread(open_rows.get(who, []) if who else [], c.category)
                if target is None:
                    target = {
                        "slot": len(opened),
                        "state": State.RECEIVED.value,
                        "category": c.category,
                    }
                    opened.append(i)
                    if who is not None:
                        open_rows.setdefault(who, []).insert(0, target)
                plan.append((i, target))
            day = self.calendar.local_date(now).strftime("%Y%m%d")
            last = await tx.next_ticket_sequence(day, len(opened)) if opened else 0
            numbers = [f"{day}-{last - len(opened) + 1 + n:06d}" for n in range(len(opened))]
            new_tickets = [
                self._ticket_values(batch[i], numbers[n], citizen_of[i], now)
                for n, i in enumerate(opened)
            ]
            inserted = await tx.insert_many("tickets", new_tickets, keys=["number"])
            id_of_number = {r["number"]: int(r["id"]) for r in inserted}
            ticket_ids = [id_of_number[n] for n in numbers]
            placed = [
                (i, ticket_ids[t["slot"]], numbers[t["slot"]], t)
                if "slot" in t
                else (i, int(t["id"]), str(t["number"]), t)
                for i, t in plan
            ]
            inserted = await tx.insert_many(
                "contacts",
                [_contact_values(batch[i], tid, citizen_of[i], now) for i, tid, _, _ in placed],
                keys=["channel", "external_id"],
            )
            id_of_key = {(r["channel"], r["external_id"]): int(r["id"]) for r in inserted}
            contact_ids = [id_of_key[keys[i]] for i, _, _, _ in placed]
            talk = await self._open_conversations(
                tx, [(batch[i], tid, "slot" in t) for i, tid, _, t in placed], now
            )
            entries: list[tuple[int, TimelineEntry]] = []
            joined: list[int] = []
            made: dict[int, AcceptResult] = {}
            for (i, tid, number, t), cid in zip(placed, contact_ids, strict=True):
                c = batch[i]
                if "slot" in t and opened[t["slot"]] == i:
                    entries.append((tid, _accept_entry(c, cid, now)))
                    made[i] = AcceptResult(
                        tid, number, cid, True, False,
                        conversation=talk.get(tid, ""), category=t["category"],
                    )  # fmt: skip
                else:
                    entries.append((tid, _join_entry(c, cid, State(t["state"]), now)))
                    joined.append(tid)
                    made[i] = AcceptResult(
                        tid, number, cid, False, False, joined_existing=True,
                        conversation=talk.get(tid, ""), category=t["category"],
                    )  # fmt: skip
            await tx.add_timeline_many(entries)
            await tx.touch_tickets(joined, now)
            # The citizen's "accepted" notice commits with the ticket: no crash between
            # the two can lose it, and nobody has to read the ticket back to send it.
            await tx.enqueue_outbound_many(
                self._accepted_notices(
                    [(batch[i], ticket_ids[n], new_tickets[n]) for n, i in enumerate(opened)], now
                )
            )
        results: list[AcceptResult] = []
        for i, k in enumerate(keys):
            if k in existing:
                e = existing[k]
                results.append(AcceptResult(e["ticket_id"], e["number"], e["id"], False, True))
            elif first_of[k] != i:
                first = made[first_of[k]]
                results.append(
                    replace(first, created_ticket=False, duplicate=True, joined_existing=False)
                )
            else:
                results.append(made[i])
        return results

    async def _batch_citizens(
        self, tx: Tx, contacts: Sequence[InboundContact], now: datetime
    ) -> tuple[dict[int, int | None], set[int]]:
        """Citizen id per contact (by position): known ones looked up, new ones made at once."""
        pairs = [p for c in contacts for p in c.citizen.identity_keys()]
        known = {(k, r[k]): r for r in await tx.citizens_by_keys(pairs) for k in _ID_KINDS if r[k]}
        citizen_of: dict[int, int | None] = {}
        rows: list[dict[str, Any]] = []
        slot_of: dict[int, int] = {}
        made: dict[tuple[str, str], int] = {}
        for j, c in enumerate(contacts):
            ks = c.citizen.identity_keys()
            if not ks:
                citizen_of[j] = None
                continue
            row = next((known[k] for k in ks if k in known), None)
            if row is not None:
                if any(not row[k] for k, _ in ks) or (c.citizen.name and not row["name"]):
                    raise _CarefulPath("a citizen record learns a new identity")
                citizen_of[j] = int(row["id"])
                continue
            slot = next((made[k] for k in ks if k in made), None)
            if slot is None:
                slot = len(rows)
                # every kind named (None where it has none): one insert takes them all
                rows.append({**_NO_KEYS, **dict(ks), "name": c.citizen.name, "created_at": now})
            elif any(rows[slot].get(k) not in (None, v) for k, v in ks):
                raise _CarefulPath("two new identities overlap in one batch")
            for k in ks:
                made[k] = slot
            slot_of[j] = slot
        inserted = await tx.insert_many("citizens", rows, keys=_ID_KINDS)
        id_of_key = {(k, r[k]): int(r["id"]) for r in inserted for k in _ID_KINDS if r[k]}
        for j, slot in slot_of.items():
            first_kind = next(k for k in _ID_KINDS if rows[slot].get(k))
            citizen_of[j] = id_of_key[(first_kind, rows[slot][first_kind])]
        return citizen_of, set(slot_of)

    def _ticket_values(
        self, c: InboundContact, number: str, citizen_id: int | None, now: datetime
    ) -> dict[str, Any]:
        cat = self.category_rows.get(c.category or "")
        urgent = self._urgent(c)
        review = (
            bool(cat and cat["review_required"]) or c.channel.value in self.rules.review_channels
        )
        text_line = c.text.strip().splitlines()[0] if c.text.strip() else ""
        return {
            "number": number,
            "state": State.RECEIVED.value,
            "channel": c.channel.value,
            "citizen_id": citizen_id,
            "category": c.category,
            "district": c.district,
            "urgency": (Urgency.URGENT if urgent else Urgency.NORMAL).value,
            "complexity": (cat["complexity"] if cat else Complexity.SIMPLE.value),
            "subject": (c.subject or text_line)[:300],
            "description": c.text,
            "consent_publish": c.consent_publish,
            "confidential": c.confidential,
            "review_required": review,
            "accepted_by": c.extra.get("agent"),
            "created_at": now,
            "updated_at": now,
            "last_contact_at": now,
        }

    def _urgent(self, c: InboundContact) -> bool:
        """Whether the ticket this contact opens is urgent (its category says so)."""
        cat = self.category_rows.get(c.category or "")
        return bool(cat and cat["urgent"])

    def _accepted_notices(
        self, opened: Iterable[tuple[InboundContact, int, Row]], now: datetime
    ) -> list[dict[str, Any]]:
        """Outbox rows telling each citizen who can be written to that their ticket exists."""
        rows = []
        for c, ticket_id, values in opened:
            identity = {k: v for k, v in vars(c.citizen).items() if v}
            point = _reply_point([{"channel": c.channel.value, "identity": identity}])
            if point is not None:
                payload = self._notice_payload(values)
                # When the citizen wrote: a sender whose channel lets it answer only for a
                # while after that (WeChat's 48 hours) need not look it up.
                payload["wrote_at"] = c.received_at.isoformat()
                key = f"accepted:{ticket_id}"
                rows.append(
                    pending_outbound(point[0], "accepted", point[1], payload, key, ticket_id, now)
                )
        return rows

    async def _open_conversations(
        self, tx: Tx, placed: Iterable[tuple[InboundContact, int, bool]], now: datetime
    ) -> dict[int, str]:
        """Online contacts' conversations queued with their acceptance (same transaction):
        a crash can never leave an accepted chat or letter out of the agents' queue."""
        arrivals = [
            Arrival(ticket_id, c.channel.value, language_of(c.text), new_ticket)
            for c, ticket_id, new_ticket in placed
            if c.channel.value in ONLINE_CHANNELS
        ]
        return await open_conversations(tx, arrivals, now)

    async def _citizen_for(self, tx: Tx, who: CitizenIdentity, now: datetime) -> int | None:
        keys = who.identity_keys()
        if not keys:
            return None
        found = await tx.find_citizen(keys)
        if found is None:
            values: dict[str, Any] = dict(keys)
            values.update(name=who.name, created_at=now)
            return await tx.insert_citizen(values)
        # Learn identities we did not know yet, unless another citizen already holds them.
        updates: dict[str, Any] = {}
        for kind, value in keys:
            if not found.get(kind) and not await tx.citizen_key_taken(kind, value):
                updates[kind] = value
        if who.name and not found.get("name"):
            updates["name"] = who.name
        await tx.update_citizen(found["id"], updates)
        return int(found["id"])

    async def _thread_target(
        self, tx: Tx, citizen_id: int | None, c: InboundContact, now: datetime
    ) -> Row | None:
        """The open ticket this contact continues, if any.

        Same matter means: the citizen quoted the ticket's number; or, within the
        threading window, the same category; or, with no category given, a ticket of
        theirs that nobody has worked on yet (still `received`).
        """
        if citizen_id is None:
            return None
        since = now - timedelta(hours=self.rules.threading_window_hours)
        quoted = set(ticket_numbers_in(c.text))
        if quoted:
            for number in quoted:
                row = await tx.ticket(number=number)
                if row and row["citizen_id"] == citizen_id and row["state"] in OPEN_STATES:
                    return row
        candidates = await tx.open_ticket_of_citizen(citizen_id, since, OPEN_STATES)
        return _pick_thread(candidates, c.category)

    # -- lifecycle actions -------------------------------------------------------------

    async def act(
        self,
        number: str,
        viewer: Viewer,
        action: Action,
        *,
        reason: str = "",
        payload: dict[str, Any] | None = None,
    ) -> Row:
        """Apply one lifecycle action for `viewer`; returns the ticket as they now see it."""
        now = self.clock()
        payload = dict(payload or {})
        req = Request(action, viewer.username, viewer.role, now, reason.strip(), payload)
        for _attempt in range(3):
            try:
                async with self.store.write() as tx:
                    row = await self._visible_row(tx, number, viewer)
                    facts = await self._facts(tx, row, viewer)
                    req = await self._review_first(tx, row, req, facts)
                    new_state, entry = transition(State(row["state"]), req, facts)
                    changes, extra = await self._effects(tx, row, req, new_state, now)
                    entry = replace(entry, payload={**entry.payload, **extra})
                    await tx.update_ticket(
                        row["id"],
                        row["version"],
                        {"state": new_state.value, "updated_at": now, **changes},
                    )
                    await tx.add_timeline(row["id"], entry)
                    departments = tuple(
                        d["department"] for d in await tx.ticket_departments(row["id"])
                    )
                break
            except StaleTicket:
                continue
        else:
            raise Conflict("the ticket is being changed by someone else; try again")
        await self.bus.publish(
            TicketChanged(
                at=now,
                ticket_id=row["id"],
                ticket_number=number,
                action=req.action.value,
                from_state=row["state"],
                to_state=new_state.value,
                actor=viewer.username,
                role=viewer.role.value,
                departments=departments,
                payload=entry.payload,
            )
        )
        try:
            return await self.view(number, viewer)
        except TicketNotFound:
            # The action handed the ticket on (110 handing back, a return accepted): done,
            # and no longer the actor's to see.
            return {"number": number, "state": new_state.value, "handed_on": True}

    async def _facts(self, tx: Tx, row: Row, viewer: Viewer) -> Facts:
        in_chain = True
        if viewer.role is Role.DEPARTMENT:
            lead = row["lead_department"]
            in_chain = bool(lead and lead in viewer.scope)
        return Facts(
            review_required=bool(row["review_required"]),
            extension_pending=row["extension_pending_days"] is not None,
            acting_department_in_chain=in_chain,
            satisfied_levels=frozenset(self.rules.satisfied_levels),
        )

    def _deadline_row(self, row: Row) -> Deadline | None:
        if row["due_at"] is None:
            return None
        return Deadline(
            due=row["due_at"],
            warn_at=row["warn_at"] or row["due_at"],
            provisional=bool(row["deadline_provisional"]),
            start=row["dispatched_at"],
            warn_share=self.rules.warn_share,
        )

    async def _review_first(self, tx: Tx, row: Row, req: Request, facts: Facts) -> Request:
        """先审后派: in a category that needs review, an agent's dispatch becomes a proposal
        that waits in 待审核; the supervisor's approval sends it where the agent proposed."""
        if (
            req.action is Action.DISPATCH
            and req.role is Role.AGENT
            and facts.review_required
            and row["state"] == State.RECEIVED.value
        ):
            if req.payload.get("department"):
                self._department(req.payload["department"], "department")
            return replace(req, action=Action.SUBMIT_REVIEW)
        if req.action is Action.APPROVE and not req.payload.get("department"):
            for e in reversed(await tx.timeline_of(row["id"])):
                if e["action"] == Action.SUBMIT_REVIEW.value:
                    proposal = {
                        k: e["payload"][k]
                        for k in ("department", "co_departments")
                        if e["payload"].get(k)
                    }
                    return replace(req, payload={**proposal, **req.payload})
        return req

    def _deadlines(self, row: Row, start: datetime) -> tuple[Deadline, Deadline]:
        """Sign and handling deadlines for an order dispatched at `start`.

        A category's own limit (set by admins) beats the center's default for its complexity.
        """
        r, cal = self.rules, self.calendar
        cat = self.category_rows.get(row["category"] or "") or {}
        if row["urgency"] == Urgency.URGENT.value:
            sign = hours_deadline(cal, start, r.urgent_sign_hours, r.warn_share)
            hours = cat.get("limit_hours") or r.urgent_hours
            due = hours_deadline(cal, start, hours, r.warn_share)
        elif cat.get("limit_hours"):
            sign = working_days_deadline(cal, start, r.sign_working_days, r.warn_share)
            due = hours_deadline(cal, start, cat["limit_hours"], r.warn_share)
        else:
            days = (
                r.complex_working_days
                if row["complexity"] == Complexity.COMPLEX.value
                else r.simple_working_days
            )
            if cat.get("limit_days") and row["complexity"] == cat.get("complexity"):
                days = cat["limit_days"]
            sign = working_days_deadline(cal, start, r.sign_working_days, r.warn_share)
            due = working_days_deadline(cal, start, days, r.warn_share)
        return sign, due

    def _department(self, code: Any, field: str) -> str:
        if not isinstance(code, str) or code not in self.tree:
            raise InvalidField(f"unknown department {code!r}", field=field)
        if code in self.tree.inactive:
            raise InvalidField(f"department {code} is deactivated", field=field)
        return code

    async def _dispatch_to(
        self,
        tx: Tx,
        row: Row,
        lead: str,
        co: Sequence[str],
        by: str,
        now: datetime,
        from_department: str | None = None,
        keep_due: bool = False,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        hop = await tx.next_hop(row["id"])
        sign, due = self._deadlines(row, now)
        codes = {}
        for dept, kind in [(lead, "lead"), *((d, "co") for d in co if d != lead)]:
            code = dispatch_code(self.forgery_key, row["number"], hop, dept)
            codes[dept] = code
            await tx.add_dispatch(
                {
                    "ticket_id": row["id"],
                    "hop": hop,
                    "department": dept,
                    "from_department": from_department,
                    "kind": kind,
                    "dispatched_at": now,
                    "dispatched_by": by,
                    "sign_due_at": sign.due,
                    "code": code,
                }
            )
        if from_department is not None:
            existing = [
                d["department"] for d in await tx.ticket_departments(row["id"]) if d["role"] == "co"
            ]
            co = existing
        await tx.set_ticket_departments(row["id"], lead, co)
        changes: dict[str, Any] = {"lead_department": lead, "sign_due_at": sign.due}
        if not (keep_due and row["due_at"]):
            changes.update(
                dispatched_at=now,
                due_at=due.due,
                warn_at=due.warn_at,
                deadline_provisional=due.provisional or sign.provisional,
            )
        extra = {
            "hop": hop,
            "department": lead,
            "co_departments": [d for d in co if d != lead],
            "codes": codes,
            "sign_due_at": sign.due.isoformat(),
            "due_at": (changes.get("due_at") or row["due_at"]).isoformat(),
        }
        return changes, extra

    async def _effects(
        self, tx: Tx, row: Row, req: Request, new_state: State, now: datetime
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """What an allowed action writes besides the state: hops, deadlines, ratings."""
        a, p = req.action, req.payload
        if a in (Action.DISPATCH, Action.APPROVE, Action.REDISPATCH):
            lead = self._department(p.get("department"), "department")
            co_raw = p.get("co_departments") or []
            if not isinstance(co_raw, list):
                raise InvalidField("co_departments must be a list", field="co_departments")
            co = [self._department(d, "co_departments") for d in co_raw]
            return await self._dispatch_to(tx, row, lead, co, req.actor, now)
        if a is Action.REJECT_RETURN:
            lead = row["lead_department"]
            return await self._dispatch_to(tx, row, lead, [], req.actor, now, keep_due=True)
        if a is Action.PASS_ON:
            target = self._department(p.get("department"), "department")
            acting = row["lead_department"]
            if not self.tree.is_below(target, acting):
                raise InvalidField(
                    "an order can only be passed on to one's own sub-units", field="department"
                )
            return await self._dispatch_to(
                tx, row, target, [], req.actor, now, from_department=acting, keep_due=True
            )
        if a is Action.SIGN:
            d = await tx.open_dispatch(row["id"], row["lead_department"])
            if d:
                await tx.update_dispatch(d["id"], {"signed_at": now})
            return {}, {"hop": d["hop"] if d else None}
        if a is Action.RETURN:
            code = str(p.get("reason_code") or "other")
            if code not in self.rules.return_reasons:
                raise InvalidField(f"unknown return reason {code!r}", field="reason_code")
            d = await tx.open_dispatch(row["id"], row["lead_department"])
            if d:
                await tx.update_dispatch(d["id"], {"returned_at": now, "return_reason": code})
            return {}, {"reason_code": code, "department": row["lead_department"]}
        if a is Action.ACCEPT_RETURN:
            await tx.set_ticket_departments(row["id"], None, [])
            return {"lead_department": None, "sign_due_at": None}, {}
        if a is Action.REQUEST_EXTENSION:
            paused = now if self.rules.pause_clock_while_extension_pending else None
            return {"extension_pending_days": p["days"], "extension_paused_at": paused}, {}
        if a in (Action.APPROVE_EXTENSION, Action.DENY_EXTENSION):
            deadline = self._deadline_row(row)
            changes: dict[str, Any] = {"extension_pending_days": None, "extension_paused_at": None}
            if deadline is not None:
                if row["extension_paused_at"] is not None:
                    deadline = extend_for_pause(
                        self.calendar, deadline, row["extension_paused_at"], now
                    )
                if a is Action.APPROVE_EXTENSION:
                    deadline = add_working_days_to(
                        self.calendar, deadline, int(row["extension_pending_days"])
                    )
                    changes["extension_days_granted"] = row["extension_days_granted"] + int(
                        row["extension_pending_days"]
                    )
                changes.update(
                    due_at=deadline.due,
                    warn_at=deadline.warn_at,
                    deadline_provisional=deadline.provisional,
                )
            ext_extra: dict[str, Any] = {"days": row["extension_pending_days"]}
            if deadline is not None:
                ext_extra["due_at"] = deadline.due.isoformat()
            return changes, ext_extra
        if a is Action.SUBMIT_RESULT:
            return {"result_text": str(p["result"]).strip(), "result_at": now}, {}
        if a is Action.RESOLVE_ON_SPOT:
            answer = str(p.get("result") or p.get("answer") or "").strip()
            if not answer:
                raise InvalidField("the answer given to the citizen is required", field="result")
            return {"result_text": answer, "result_at": now, "informed_at": now}, {}
        if a is Action.INFORM_CITIZEN:
            return {"informed_at": now}, {}
        if a is Action.RECORD_RATING:
            level = RatingLevel(p["rating"])
            await tx.add_rating(
                {
                    "ticket_id": row["id"],
                    "level": level.value,
                    "score": level.score,
                    "department": row["lead_department"],
                    "source": str(p.get("source") or req.role.value),
                    "actor": req.actor,
                    "rated_at": now,
                }
            )
            changes = {"rating": level.value, "rated_at": now}
            extra: dict[str, Any] = {"score": level.score}
            if new_state is State.CLOSED:
                changes["closed_at"] = now
            else:
                steps = bad_review_deadlines(self.calendar, now)
                extra["bad_review_deadlines"] = {k: v.due.isoformat() for k, v in steps.items()}
            return changes, extra
        if a in (Action.CLOSE_NO_ANSWER, Action.POLICE_CLOSE):
            return {"closed_at": now}, {}
        if a is Action.TRANSFER_110:
            police = p.get("department") or next(
                (d.code for d in self.tree.of_kind("police")), None
            )
            if police is None:
                raise InvalidField("no police unit is configured", field="department")
            police = self._department(police, "department")
            hop = await tx.next_hop(row["id"])
            await tx.add_dispatch(
                {
                    "ticket_id": row["id"],
                    "hop": hop,
                    "department": police,
                    "kind": "lead",
                    "dispatched_at": now,
                    "dispatched_by": req.actor,
                    "code": dispatch_code(self.forgery_key, row["number"], hop, police),
                }
            )
            await tx.set_ticket_departments(row["id"], police, [])
            return {"lead_department": police}, {"department": police, "hop": hop}
        if a is Action.POLICE_HAND_BACK:
            await tx.set_ticket_departments(row["id"], None, [])
            return {"lead_department": None}, {"department": row["lead_department"]}
        if a is Action.MERGE:
            return await self._merge_into(tx, row, str(p["into"]), req, now)
        if a is Action.REOPEN:
            return {"closed_at": None}, {}
        if a is Action.SUPERVISE and p.get("due_date"):
            return self._supervised_deadline(p["due_date"], now)
        return {}, {}

    def _supervised_deadline(
        self, raw: Any, now: datetime
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """督办 with a new handling deadline: the end (24:00 local) of the day named."""
        try:
            day = date.fromisoformat(str(raw))
        except ValueError:
            raise InvalidField(
                "the new deadline must be a date (YYYY-MM-DD)", field="due_date"
            ) from None
        due = self.calendar.end_of_day(day)
        if due <= now:
            raise InvalidField("the new deadline must be in the future", field="due_date")
        warn = now + (due - now) * self.rules.warn_share
        changes = {"due_at": due, "warn_at": warn, "deadline_provisional": False}
        return changes, {"due_at": due.isoformat()}

    async def _merge_into(
        self, tx: Tx, row: Row, into: str, req: Request, now: datetime
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        target = await tx.ticket(number=into)
        if target is None or target["id"] == row["id"]:
            raise InvalidField(f"no other ticket {into}", field="into")
        if target["state"] not in OPEN_STATES:
            raise InvalidField(f"ticket {into} is no longer open", field="into")
        moved = [c["id"] for c in await tx.contacts_of(row["id"])]
        await tx.move_contacts(moved, target["id"])
        await tx.copy_timeline(row["id"], target["id"], row["number"])
        state = State(target["state"])
        await tx.add_timeline(
            target["id"],
            _note(
                now,
                req.actor,
                req.role,
                "merge_in",
                state,
                {"from": row["number"], "contacts": moved},
                reason=req.reason,
            ),
        )
        await tx.touch_ticket(target["id"], now)
        return {"merged_into": target["id"]}, {"into": into, "contacts": moved}

    async def split(
        self, number: str, viewer: Viewer, contact_ids: Sequence[int], reason: str
    ) -> Row:
        """Move some contacts of a ticket into a new ticket of their own (both timelines say so)."""
        if viewer.role not in (Role.AGENT, Role.SUPERVISOR):
            raise _refuse(viewer.role, "split")
        now = self.clock()
        async with self.store.write() as tx:
            row = await self._visible_row(tx, number, viewer)
            if State(row["state"]) in TERMINAL_STATES:
                raise Conflict("a closed ticket cannot be split")
            own = await tx.contacts_of(row["id"])
            own_ids = {c["id"] for c in own}
            chosen = [int(c) for c in contact_ids]
            if not chosen or not set(chosen) <= own_ids or set(chosen) == own_ids:
                raise InvalidField(
                    "choose some, but not all, of this ticket's contacts", field="contact_ids"
                )
            first = next(c for c in own if c["id"] == chosen[0])
            day = self.calendar.local_date(now).strftime("%Y%m%d")
            new_number = f"{day}-{await tx.next_ticket_sequence(day):06d}"
            new_id = await tx.insert_ticket(
                {
                    "number": new_number,
                    "state": State.RECEIVED.value,
                    "channel": first["channel"],
                    "citizen_id": row["citizen_id"],
                    "subject": (first["text"].strip().splitlines() or [""])[0][:300],
                    "description": "\n\n".join(c["text"] for c in own if c["id"] in chosen),
                    "confidential": row["confidential"],
                    "consent_publish": row["consent_publish"],
                    "accepted_by": viewer.username,
                    "split_from": row["id"],
                    "created_at": now,
                    "updated_at": now,
                    "last_contact_at": now,
                }
            )
            await tx.move_contacts(chosen, new_id)
            point = _reply_point([c for c in own if c["id"] in chosen])
            new_row = await tx.ticket(ticket_id=new_id) if point else None
            if point is not None and new_row is not None:
                payload = self._notice_payload(new_row)
                await tx.enqueue_outbound_many(
                    [
                        pending_outbound(
                            point[0], "accepted", point[1], payload, f"accepted:{new_id}",
                            new_id, now,
                        )
                    ]
                )  # fmt: skip
            for tid, action, state, other in (
                (new_id, "split_in", State.RECEIVED, number),
                (row["id"], "split_out", State(row["state"]), new_number),
            ):
                await tx.add_timeline(
                    tid,
                    TimelineEntry(
                        at=now,
                        actor=viewer.username,
                        role=viewer.role,
                        action=action,
                        from_state=None if action == "split_in" else state,
                        to_state=state,
                        reason=reason,
                        payload={"other": other, "contacts": chosen},
                    ),
                )
            await tx.touch_ticket(row["id"], now)
            language = language_of(first["text"])
            talk = await open_conversations(
                tx, [Arrival(new_id, first["channel"], language, True)], now
            ) if first["channel"] in ONLINE_CHANNELS else {}  # fmt: skip
        await self.bus.publish(
            ContactAccepted(
                at=now,
                ticket_id=new_id,
                ticket_number=new_number,
                contact_id=chosen[0],
                channel=first["channel"],
                created_ticket=True,
                conversation=talk.get(new_id, ""),
                language=language if talk else None,
            )
        )
        return await self.view(new_number, viewer)

    async def update_fields(self, number: str, viewer: Viewer, fields: dict[str, Any]) -> Row:
        """The agent's ticket form: category, district, urgency, description, …"""
        if viewer.role not in (Role.AGENT, Role.SUPERVISOR):
            raise _refuse(viewer.role, "edit")
        unknown = set(fields) - EDITABLE_FIELDS
        if unknown:
            raise InvalidField(
                f"field {sorted(unknown)[0]} cannot be edited", field=sorted(unknown)[0]
            )
        clean = self._clean_fields(fields)
        now = self.clock()
        async with self.store.write() as tx:
            row = await self._visible_row(tx, number, viewer)
            state = State(row["state"])
            if state not in EDITABLE_STATES:
                raise Conflict(f"a ticket that is {state.value} can no longer be edited")
            if "category" in clean and clean["category"]:
                cat = self.category_rows[clean["category"]]
                clean.setdefault("complexity", cat["complexity"])
                if cat["urgent"]:
                    clean.setdefault("urgency", Urgency.URGENT.value)
                clean["review_required"] = bool(cat["review_required"]) or bool(
                    row["review_required"]
                )
            changed = {k: v for k, v in clean.items() if row.get(k) != v}
            if changed:
                await tx.update_ticket(row["id"], row["version"], {**changed, "updated_at": now})
                await tx.add_timeline(
                    row["id"],
                    _note(
                        now,
                        viewer.username,
                        viewer.role,
                        "edit",
                        state,
                        {"changed": {k: _jsonable(v) for k, v in changed.items()}},
                    ),
                )
        return await self.view(number, viewer)

    def _clean_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in fields.items():
            if k == "category":
                if v is not None and v not in self.category_rows:
                    raise InvalidField(f"unknown category {v!r}", field=k)
            elif k == "district":
                if v is not None and v not in self.tree:
                    raise InvalidField(f"unknown district {v!r}", field=k)
            elif k == "urgency":
                if v not in {u.value for u in Urgency}:
                    raise InvalidField("urgency must be normal or urgent", field=k)
            elif k == "complexity":
                if v not in {c.value for c in Complexity}:
                    raise InvalidField("complexity must be simple or complex", field=k)
            elif k in ("consent_publish", "confidential"):
                if not isinstance(v, bool):
                    raise InvalidField(f"{k} must be true or false", field=k)
            elif not isinstance(v, str) or len(v) > (300 if k == "subject" else 20000):
                raise InvalidField(f"{k} must be text of reasonable length", field=k)
            out[k] = v
        return out

    # -- holidays ----------------------------------------------------------------------

    async def set_calendar_override(
        self, viewer: Viewer, day: date, is_workday: bool, name: str
    ) -> list[str]:
        """Enter one day of the official holiday notice; recompute provisional deadlines.

        Returns the numbers of the tickets whose deadlines changed.
        """
        if viewer.role not in (Role.ADMIN, Role.SUPERVISOR):
            raise _refuse(viewer.role, "calendar")
        now = self.clock()
        async with self.store.write() as tx:
            await tx.upsert_calendar_override(day, is_workday, name, now)
        await self.load_reference()
        return await self.recompute_deadlines(viewer, day)

    async def calendar_notice(self) -> Row | None:
        """Years the clock only guesses (within the next 60 days' reach), with how many open
        tickets carry a provisional deadline: what admins must enter from the official notice.
        """
        today = self.calendar.local_date(self.clock())
        years = self.calendar.unknown_years(today, today + timedelta(days=60))
        async with self.store.read() as tx:
            provisional = await tx.count_provisional(OPEN_STATES)
        if not years and not provisional:
            return None
        return {"years": years, "provisional_tickets": provisional}

    async def recompute_deadlines(self, viewer: Viewer, day: date) -> list[str]:
        """Recompute deadlines that were guessed or that run over `day`, whose status changed.

        Each change goes on the ticket's timeline. Approved extensions are kept.
        """
        now = self.clock()
        changed: list[tuple[int, str]] = []
        start, end = self.calendar.start_of_day(day), self.calendar.end_of_day(day)
        async with self.store.write() as tx:
            for row in await tx.tickets_with_running_deadlines(OPEN_STATES, start, end):
                if row["urgency"] == Urgency.URGENT.value:
                    continue  # hour deadlines run on the wall clock, holidays or not
                _, due = self._deadlines(row, row["dispatched_at"])
                if row["extension_days_granted"]:
                    due = add_working_days_to(self.calendar, due, row["extension_days_granted"])
                if due.due == row["due_at"] and due.provisional == row["deadline_provisional"]:
                    continue
                await tx.update_ticket(
                    row["id"],
                    row["version"],
                    {
                        "due_at": due.due,
                        "warn_at": due.warn_at,
                        "deadline_provisional": due.provisional,
                    },
                )
                state = State(row["state"])
                await tx.add_timeline(
                    row["id"],
                    _note(
                        now,
                        viewer.username,
                        Role.SYSTEM,
                        "deadline_recomputed",
                        state,
                        {
                            "old_due_at": row["due_at"].isoformat(),
                            "due_at": due.due.isoformat(),
                            "provisional": due.provisional,
                        },
                        reason="official holiday notice entered",
                    ),
                )
                changed.append((row["id"], row["number"]))
        if changed:
            await self.bus.publish(
                DeadlinesRecomputed(at=now, ticket_ids=tuple(i for i, _ in changed))
            )
        return [n for _, n in changed]

    # -- reads -------------------------------------------------------------------------

    async def _visible_row(self, tx: Tx, number: str, viewer: Viewer) -> Row:
        row = await tx.ticket(number=number)
        if row is None or not await self._may_see(tx, row, viewer):
            raise TicketNotFound(f"no ticket {number}", number=number)
        return row

    async def _may_see(self, tx: Tx, row: Row, viewer: Viewer) -> bool:
        if viewer.role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.SYSTEM):
            return True
        if viewer.role is Role.CITIZEN:  # their own tickets only (see rate_as_citizen)
            return viewer.username == f"citizen:{row['citizen_id']}"
        if viewer.role in (Role.DEPARTMENT, Role.POLICE):
            # The departments handling it now: one it was taken from (reassigned, or its
            # return accepted) no longer sees it.
            handlers = await tx.ticket_departments(row["id"])
            return any(d["department"] in viewer.scope for d in handlers)
        return False

    async def give_deadline_warnings(
        self,
        now: datetime,
        rule: Callable[[Row, datetime, Iterable[str]], list[str]],
    ) -> list[DeadlineWarning]:
        """Warn each open order once per kind `rule` says it earned; on its timeline."""
        given: list[DeadlineWarning] = []
        async with self.store.write() as tx:
            rows = await tx.deadline_candidates(now)
            seen = await tx.warnings_given([r["id"] for r in rows])
            for row in rows:
                for kind in rule(row, now, seen.get(row["id"], set())):
                    state = State(row["state"])
                    due = row["sign_due_at"] if kind == "sign_overdue" else row["due_at"]
                    await tx.add_timeline(
                        row["id"],
                        _note(
                            now,
                            "deadline-watch",
                            Role.SYSTEM,
                            "deadline_warning",
                            state,
                            {"kind": kind, "due_at": due.isoformat() if due else None},
                        ),
                    )
                    depts = tuple(d["department"] for d in await tx.ticket_departments(row["id"]))
                    given.append(
                        DeadlineWarning(
                            at=now,
                            ticket_id=row["id"],
                            ticket_number=row["number"],
                            kind=kind,
                            due_at=due.isoformat() if due else None,
                            departments=depts,
                        )
                    )
        return given

    async def reply_point(self, ticket_id: int) -> tuple[str, str] | None:
        """Where the citizen can be told about this ticket: (channel, recipient).

        The channel of their first contact that can carry a reply, else any identity
        of theirs that can; None for a caller known only by phone (agents call back).
        """
        async with self.store.read() as tx:
            contact_rows = await tx.contacts_of(ticket_id)
        return _reply_point(contact_rows)

    async def assign_agent(self, number: str, viewer: Viewer, agent: str) -> Row:
        """A supervisor hands an open ticket to another agent, who becomes its handler."""
        if viewer.role is not Role.SUPERVISOR:
            raise _refuse(viewer.role, "reassign_agent")
        now = self.clock()
        try:
            async with self.store.write() as tx:
                row = await self._visible_row(tx, number, viewer)
                if row["state"] not in OPEN_STATES:
                    raise Conflict(f"ticket {number} is {row['state']}; only open tickets move")
                user = await tx.user(username=agent)
                staff = user is not None and user["active"] and user["role"] in CALL_FLOOR
                if not staff:
                    raise InvalidField(f"no agent {agent!r}", field="agent")
                if row["accepted_by"] == agent:
                    raise InvalidField("the ticket is already with this agent", field="agent")
                await tx.update_ticket(
                    row["id"], row["version"], {"accepted_by": agent, "updated_at": now}
                )
                payload = {"agent": agent, "from_agent": row["accepted_by"]}
                state = State(row["state"])
                await tx.add_timeline(
                    row["id"],
                    _note(now, viewer.username, viewer.role, "reassign_agent", state, payload),
                )
                departments = tuple(d["department"] for d in await tx.ticket_departments(row["id"]))
        except StaleTicket:
            raise Conflict("the ticket is being changed by someone else; try again") from None
        await self.bus.publish(
            TicketChanged(
                at=now,
                ticket_id=row["id"],
                ticket_number=number,
                action="reassign_agent",
                from_state=state.value,
                to_state=state.value,
                actor=viewer.username,
                role=viewer.role.value,
                departments=departments,
                payload=payload,
            )
        )
        return await self.view(number, viewer)

    async def link_phone(self, number: str, viewer: Viewer, phone: str) -> Row:
        """An agent adds the phone number a WeChat/Telegram citizen gave to their record."""
        if viewer.role not in (Role.AGENT, Role.SUPERVISOR):
            raise _refuse(viewer.role, "link a phone number")
        e164 = normalize_phone(phone)
        if not e164 or not e164.startswith("+"):
            raise InvalidField("a valid phone number is required", field="phone")
        now = self.clock()
        async with self.store.write() as tx:
            row = await self._visible_row(tx, number, viewer)
            if row["citizen_id"] is None:
                raise InvalidField("this ticket has no citizen record", field="phone")
            holder = await tx.find_citizen([("phone", e164)])
            if holder is not None and holder["id"] != row["citizen_id"]:
                raise InvalidField("this number belongs to another citizen record", field="phone")
            await tx.update_citizen(row["citizen_id"], {"phone": e164})
            state = State(row["state"])
            await tx.add_timeline(
                row["id"],
                _note(
                    now,
                    viewer.username,
                    viewer.role,
                    "link_phone",
                    state,
                    {"phone": mask_phone(e164)},
                ),
            )
        return await self.view(number, viewer)

    async def tickets_of(self, who: CitizenIdentity, limit: int = 5) -> list[Row]:
        """A citizen's own newest tickets, found by any identity of theirs."""
        async with self.store.read() as tx:
            citizen_id = await self._known_citizen(tx, who)
            return await tx.tickets_of_citizen(citizen_id, limit) if citizen_id else []

    async def _known_citizen(self, tx: Tx, who: CitizenIdentity) -> int | None:
        keys = replace(who, phone=normalize_phone(who.phone)).identity_keys()
        found = await tx.find_citizen(keys) if keys else None
        return int(found["id"]) if found else None

    async def awaiting_rating(self, who: CitizenIdentity) -> str | None:
        """The number of this citizen's newest ticket that waits for their rating, if any."""
        async with self.store.read() as tx:
            citizen_id = await self._known_citizen(tx, who)
            if citizen_id is None:
                return None
            rows = await tx.open_ticket_of_citizen(
                citizen_id, datetime.min.replace(tzinfo=UTC), [State.FOLLOW_UP.value]
            )
        return str(rows[0]["number"]) if rows else None

    async def rate_as_citizen(
        self, number: str, who: CitizenIdentity, score: int, source: str
    ) -> Row:
        """A citizen rates their own ticket (a digit reply, a rating button): on the
        timeline as that citizen; TicketNotFound if the ticket is not theirs."""
        async with self.store.read() as tx:
            citizen_id = await self._known_citizen(tx, who)
        if citizen_id is None:
            raise TicketNotFound(f"no ticket {number} of this citizen")
        return await self.act(
            number,
            Viewer(f"citizen:{citizen_id}", Role.CITIZEN),
            Action.RECORD_RATING,
            payload={"rating": RatingLevel.from_score(score).value, "source": source},
        )

    async def attach_file(
        self, channel: str, external_id: str, placeholder: str, stored: Attachment
    ) -> bool:
        """A file fetched after the reply takes its placeholder's place on the contact, and so
        on the ticket; False if the contact no longer holds that placeholder (done already)."""
        async with self.store.write() as tx:
            row = await tx.contact_by_external_id(channel, external_id)
            files = [dict(a) for a in (row["attachments"] if row else None) or ()]
            at = next((i for i, a in enumerate(files) if a.get("ref") == placeholder), None)
            if row is None or at is None:
                return False
            files[at] = vars(stored)
            await tx.set_contact_attachments(row["id"], files)
        return True

    async def files_to_fetch(
        self, channel: str, ref_prefix: str, since: datetime
    ) -> list[tuple[str, Attachment]]:
        """(external id, placeholder) of every file of `channel` still waiting to be fetched."""
        async with self.store.read() as tx:
            rows = await tx.contacts_with_file_refs(channel, ref_prefix, since)
        return [
            (r["external_id"], Attachment(**a))
            for r in rows
            for a in r["attachments"]
            if str(a.get("ref", "")).startswith(ref_prefix)
        ]

    async def ticket_row(self, ticket_id: int) -> Row | None:
        """The ticket's own row, for subscribers that need a field or two, not the view."""
        async with self.store.read() as tx:
            return await tx.ticket(ticket_id=ticket_id)

    async def notice_facts(self, ticket_id: int) -> Row | None:
        """What a progress notice to the citizen needs, read lightly: where, and about what."""
        async with self.store.read() as tx:
            contact_rows = await tx.contacts_of(ticket_id)
            point = _reply_point(contact_rows)
            row = await tx.ticket(ticket_id=ticket_id) if point else None
        if point is None or row is None:
            return None
        return {"channel": point[0], "recipient": point[1], "payload": self._notice_payload(row)}

    def _notice_payload(self, row: Row) -> dict[str, Any]:
        """The ticket facts a progress notice shows (from a stored row or one being inserted)."""
        return {
            "ticket_number": row["number"],
            "subject": row["subject"],
            "category_name": self.category_name(row["category"]),
            "department_name": self.tree.name(row.get("lead_department")),
            "due_at": _jsonable(row.get("due_at")),
            "result_text": row.get("result_text"),
            "at": _jsonable(row["updated_at"]),
        }

    async def view(self, number: str, viewer: Viewer, *, locale: str = "zh") -> Row:
        """The whole ticket as `viewer` may see it: masked identity, timeline, hops."""
        async with self.store.read() as tx:
            row = await self._visible_row(tx, number, viewer)
            tl = await tx.timeline_of(row["id"])
            hops = await tx.dispatches_of(row["id"])
            contact_rows = await tx.contacts_of(row["id"])
            depts = await tx.ticket_departments(row["id"])
            rating_rows = await tx.ratings_of(row["id"])
            citizen = await tx.get_citizen(row["citizen_id"]) if row["citizen_id"] else None
            call_floor = viewer.role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
            outbound = await tx.outbound(ticket_id=row["id"]) if call_floor else []
        handlers = frozenset(e["actor"] for e in tl) | {row["accepted_by"] or ""}
        visible = identity_visible(
            viewer, confidential=bool(row["confidential"]), handlers=handlers
        )
        data = self._render(
            row, viewer, tl, hops, contact_rows, depts, rating_rows, citizen, visible, locale
        )
        # What the citizen was (or is still to be) told, and whether it went out.
        data["outbound"] = [
            {
                "channel": m["channel"],
                "kind": m["kind"],
                "status": m["status"],
                "attempts": m["attempts"],
                "last_error": m["last_error"],
                "created_at": _jsonable(m["created_at"]),
                "sent_at": _jsonable(m["sent_at"]),
            }
            for m in outbound
        ]
        return data

    def _render(
        self,
        row: Row,
        viewer: Viewer,
        tl: list[Row],
        hops: list[Row],
        contact_rows: list[Row],
        depts: list[Row],
        rating_rows: list[Row],
        citizen: Row | None,
        visible: bool,
        locale: str,
    ) -> Row:
        person: dict[str, Any] | None = None
        if citizen is not None:
            person = {
                k: citizen.get(k)
                for k in ("name", "phone", "wechat_openid", "telegram_id", "email")
            }
            person["phone"] = display_phone(person["phone"])
            person = {**person, "masked": False} if visible else masked_citizen(person)
        data: Row = {
            k: _jsonable(row[k])
            for k in (
                "number",
                "state",
                "channel",
                "category",
                "district",
                "urgency",
                "complexity",
                "subject",
                "description",
                "lead_department",
                "consent_publish",
                "confidential",
                "review_required",
                "extension_pending_days",
                "accepted_by",
                "created_at",
                "updated_at",
                "dispatched_at",
                "sign_due_at",
                "due_at",
                "warn_at",
                "deadline_provisional",
                "result_text",
                "result_at",
                "informed_at",
                "rating",
                "rated_at",
                "closed_at",
            )
        }
        data["category_name"] = self.category_name(row["category"], locale)
        data["district_name"] = self.tree.name(row["district"], locale)
        data["lead_department_name"] = self.tree.name(row["lead_department"], locale)
        data["co_departments"] = [d["department"] for d in depts if d["role"] == "co"]
        data["citizen"] = person
        data["contacts"] = [
            {
                "id": c["id"],
                "channel": c["channel"],
                "external_id": c["external_id"] if visible else None,
                "text": c["text"],
                "attachments": c["attachments"],
                "location": c["location"],
                "received_at": _jsonable(c["received_at"]),
            }
            for c in contact_rows
        ]
        data["timeline"] = [
            {
                k: _jsonable(e[k])
                for k in (
                    "at",
                    "actor",
                    "role",
                    "action",
                    "from_state",
                    "to_state",
                    "reason",
                    "payload",
                )
            }
            for e in tl
        ]
        show_codes = viewer.role is not Role.CITIZEN
        data["dispatches"] = [
            {
                "hop": h["hop"],
                "department": h["department"],
                "department_name": self.tree.name(h["department"], locale),
                "from_department": h["from_department"],
                "kind": h["kind"],
                "dispatched_at": _jsonable(h["dispatched_at"]),
                "sign_due_at": _jsonable(h["sign_due_at"]),
                "signed_at": _jsonable(h["signed_at"]),
                "returned_at": _jsonable(h["returned_at"]),
                "return_reason": h["return_reason"],
                "code": h["code"] if show_codes else None,
            }
            for h in hops
        ]
        data["ratings"] = [
            {"level": r["level"], "score": r["score"], "rated_at": _jsonable(r["rated_at"])}
            for r in rating_rows
        ]
        data["actions"] = [a.value for a in allowed_actions(State(row["state"]), viewer.role)]
        return data

    def category_name(self, code: str | None, locale: str = "zh") -> str:
        """A category's display name (the code if unknown)."""
        if not code:
            return ""
        cat = self.category_rows.get(code)
        if cat is None:
            return code
        return str(cat["name_en"] if locale == "en" and cat["name_en"] else cat["name_zh"])

    async def list(
        self,
        viewer: Viewer,
        *,
        states: Sequence[str] = (),
        channel: str | None = None,
        category: str | None = None,
        district: str | None = None,
        search: str | None = None,
        overdue: bool = False,
        limit: int = 50,
        offset: int = 0,
        locale: str = "zh",
    ) -> tuple[list[Row], int]:
        """Ticket summaries the viewer may see, newest first, with the total count."""
        for s in states:
            if s not in {x.value for x in State}:
                raise InvalidField(f"unknown state {s!r}", field="state")
        scope: Sequence[str] | None = None
        if viewer.role in (Role.DEPARTMENT, Role.POLICE):
            scope = sorted(viewer.scope)
        elif viewer.role not in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN):
            return [], 0
        async with self.store.read() as tx:
            rows, total = await tx.list_tickets(
                states=states,
                department_scope=scope,
                channel=channel,
                category=category,
                district=district,
                search=search,
                overdue_at=self.clock() if overdue else None,
                limit=max(1, min(limit, 500)),
                offset=max(0, offset),
            )
        summaries = [
            {
                **{
                    k: _jsonable(r[k])
                    for k in (
                        "number",
                        "state",
                        "channel",
                        "category",
                        "district",
                        "urgency",
                        "subject",
                        "lead_department",
                        "created_at",
                        "due_at",
                        "sign_due_at",
                        "warn_at",
                        "extension_pending_days",
                        "accepted_by",
                        "deadline_provisional",
                        "rating",
                        "confidential",
                    )
                },
                "category_name": self.category_name(r["category"], locale),
                "district_name": self.tree.name(r["district"], locale),
                "lead_department_name": self.tree.name(r["lead_department"], locale),
            }
            for r in rows
        ]
        return summaries, total

    async def verify_code(self, number: str, code: str, locale: str = "zh") -> Row | None:
        """Check a dispatch sheet's anti-forgery code; public, so no personal data."""
        async with self.store.read() as tx:
            hop = await tx.dispatch_by_code(number.strip(), code.strip().upper())
        if hop is None or not code_matches(
            self.forgery_key, hop["number"], hop["hop"], hop["department"], code
        ):
            return None
        return {
            "number": hop["number"],
            "hop": hop["hop"],
            "department": hop["department"],
            "department_name": self.tree.name(hop["department"], locale),
            "dispatched_at": _jsonable(hop["dispatched_at"]),
        }


_REPLY_KEYS = {"wechat": "wechat_openid", "telegram": "telegram_id", "mailbox": "email"}


def _reply_point(contact_rows: Sequence[Row]) -> tuple[str, str] | None:
    for c in contact_rows:
        key = _REPLY_KEYS.get(c["channel"])
        if key and (c["identity"] or {}).get(key):
            return c["channel"], str(c["identity"][key])
    for c in contact_rows:
        for channel, key in _REPLY_KEYS.items():
            if (c["identity"] or {}).get(key):
                return channel, str(c["identity"][key])
    return None


def _refuse(role: Role, what: str) -> RoleNotAllowed:
    return RoleNotAllowed(f"role {role.value} may not {what}", role=role.value, action=what)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value
