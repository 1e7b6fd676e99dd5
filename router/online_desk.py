"""The online desk: WeChat, Telegram, letter and web-form contacts routed to agents.

It keeps the queue from the committed `ContactAccepted` events of online channels (and,
at start, from the store, so a restart loses no waiting citizen), offers each contact to
the agent `online_routing` chooses, and takes the agent's accept, decline and the offer's
timeout. A taken conversation counts as a chat in the agent's presence; the citizen's
next messages go straight to that agent's workspace, and the agent's replies go out
through the durable outbox, their status (pending → sent / failed) following live.
Everything a workspace must show is published as `DeskNews` on the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from router import online_routing as routing
from router.online_routing import Agent, Contact, NotYours
from router.presence import AgentState, Presence, PresenceBoard, PresenceError
from tickets.bus import EventBus
from tickets.events import ContactAccepted, DomainEvent
from tickets.model import OutboundMessage, SendError
from tickets.online_contacts import (
    LETTER_CHANNELS,
    ONLINE_CHANNELS,
    QUEUED,
    REPLY_KIND,
    TAKEN,
    OnlineRecords,
)
from tickets.outbox import Sender
from tickets.privacy import Viewer, mask_email, mask_opaque
from tickets.service import TicketService
from tickets.store import Row

log = logging.getLogger(__name__)

MAX_REPLY_CHARS = 2000  # a WeChat customer-service text takes at most 2048 bytes of words
# Changes this close together share one queue message: four a second at most, which a
# person reads no worse, and each message lists the queue (thousands wait in a surge).
QUEUE_NEWS_SECONDS = 0.25
QUEUE_SHOWN = 100  # the longest waiting a workspace lists (the figures count them all)


@dataclass(frozen=True)
class DeskNews(DomainEvent):
    """Something workspaces show now: an offer, a citizen's message, a reply's status, the
    queue; `to` names the agent it is for, None for every agent and supervisor."""

    to: str | None
    message: dict[str, Any]


class OnlineError(Exception):
    """An agent's request the desk refuses; `code` is stable (catalog key `error.<code>`)."""

    def __init__(self, code: str, status: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.status = status
        self.detail = detail


class OnlineDesk:
    """The queue of online contacts and the agents' conversations."""

    def __init__(
        self,
        tickets: TicketService,
        records: OnlineRecords,
        bus: EventBus,
        presence: PresenceBoard,
        *,
        offer_seconds: float = 30.0,
        tick_seconds: float = 1.0,
        reachable: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.tickets = tickets
        self.records = records
        self.bus = bus
        self.presence = presence
        self.offer_seconds = offer_seconds
        self.tick_seconds = tick_seconds
        # Who has a workspace open right now: nobody is offered a chat they cannot see.
        self.reachable = reachable
        self._queue: tuple[Contact, ...] = ()
        self._queued: set[int] | None = None  # the queue's ticket ids, made when asked
        self._oldest: list[Contact] | None = None  # its QUEUE_SHOWN oldest, made when asked
        self.taken: dict[int, str] = {}  # ticket id → the agent who has the conversation
        self.skills: dict[str, Row] = {}
        self._lock = asyncio.Lock()  # one routing decision at a time
        self._tasks: set[asyncio.Task[None]] = set()
        # What the queue shows of each waiting contact, read once when it joins (a burst of
        # arrivals must not re-read every waiting contact for every newcomer).
        self._summaries: dict[int, dict[str, Any]] = {}
        self._queue_news_due = False
        self._arrivals: list[Contact] = []  # queued by accepting, not yet in `queue`
        presence.listeners.append(self._presence_changed)

    @property
    def queue(self) -> tuple[Contact, ...]:
        """The online contacts waiting, offered or not, in the order they came."""
        return self._queue

    @queue.setter
    def queue(self, queue: Iterable[Contact]) -> None:
        # Routing hands back the very same tuple when it changed nothing (a burst nobody
        # can take yet): the ids of the waiting stay known, and arrivals cost their own
        # number, not a pass over thousands waiting.
        if queue is not self._queue:
            self._queue, self._queued, self._oldest = tuple(queue), None, None

    def oldest(self) -> list[Contact]:
        """The QUEUE_SHOWN longest waiting, oldest first."""
        if self._oldest is None:
            self._oldest = routing.oldest(self._queue, QUEUE_SHOWN)
        return self._oldest

    def queued_ids(self) -> set[int]:
        """The ticket ids in the queue."""
        if self._queued is None:
            self._queued = set(map(routing.TICKET_ID, self._queue))
        return self._queued

    def clock(self) -> datetime:
        """The ticket service's clock (UTC)."""
        return self.tickets.clock()

    # -- start and the clock ---------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild the queue and the taken conversations from the store."""
        self.skills = await self.records.skills()
        for username, skill in self.skills.items():
            if skill.get("max_chats"):
                self.presence.limits[username] = int(skill["max_chats"])
        rows = await self.records.waiting()
        facts = await self.records.queue_facts([r["ticket_id"] for r in rows])
        self.queue = tuple(
            Contact(
                ticket_id=row["ticket_id"],
                channel=row["channel"],
                since=row["waiting_since"],
                category=facts.get(row["ticket_id"], ({"category": None}, []))[0]["category"],
                language=row["language"],
            )
            for row in rows
        )
        self.taken = {row["ticket_id"]: row["agent"] for row in await self.records.taken()}

    async def tick(self) -> None:
        """Once a second: after-call work that ran out, offers not taken in time, routing."""
        now = self.clock()
        self.presence.tick(now)
        await self.drain()  # an agent hears they are ready again before any offer
        async with self._lock:
            self.queue, gone = routing.expire(self.queue, now, self.offer_seconds)
        for offer in gone:
            gone_news = {
                "type": "chat_offer_gone",
                "ticket_id": offer.ticket_id,
                "reason": "timeout",
            }
            await self._news(offer.username, gone_news)
        if gone:
            await self.records.let_go([o.ticket_id for o in gone])
        if not await self.route() and gone:
            await self._queue_news()

    async def run(self) -> None:
        """Forever: tick (the center's background task)."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("online desk tick failed")
            await asyncio.sleep(self.tick_seconds)

    # -- contacts arriving -----------------------------------------------------------------

    @staticmethod
    def wants(event: DomainEvent) -> bool:
        """Only contacts of the online channels (a call needs no task here)."""
        return isinstance(event, ContactAccepted) and event.channel in ONLINE_CHANNELS

    async def __call__(self, event: DomainEvent) -> None:
        """Bus subscriber: an online channel's contact joins the queue or its conversation."""
        if self.wants(event):
            assert isinstance(event, ContactAccepted)
            await self.arrived(event)

    async def arrived(self, e: ContactAccepted) -> None:
        """Queue a new conversation, or hand the citizen's message to the agent who has it.

        Accepting the contact queued its conversation in the store already (in the same
        transaction); the event says what that did, so a burst of arrivals reads nothing.
        """
        if e.conversation == QUEUED:
            c = Contact(
                ticket_id=e.ticket_id,
                channel=e.channel,
                since=e.at,
                category=e.category,
                language=e.language,
            )
            # Contacts committed together arrive together: they join the queue together,
            # with one routing pass (a burst costs one pass per batch, not per contact).
            self._arrivals.append(c)
            if len(self._arrivals) == 1:
                self._soon(self._queue_arrivals())
        elif e.conversation == TAKEN:
            agent = self.taken.get(e.ticket_id)
            if agent is None:
                row = await self.records.conversation(e.ticket_id)
                agent = row["agent"] if row else None
            contacts, _ = await self.records.messages(e.ticket_id)
            contact = next((c for c in contacts if c["id"] == e.contact_id), None)
            if agent is not None and contact is not None:
                said = {"type": "chat_message", "ticket_id": e.ticket_id}
                await self._news(agent, {**said, "message": _citizen(contact)})
        elif self._summaries.pop(e.ticket_id, None) is not None:
            await self._queue_news()  # a listed conversation's newest words

    async def _queue_arrivals(self) -> None:
        arrivals, self._arrivals = self._arrivals, []
        async with self._lock:
            ids = self.queued_ids()
            before = len(self._queue)
            self._queue = routing.add(self._queue, *arrivals, queued=ids)
            ids.update(c.ticket_id for c in arrivals)  # every one of them waits now
            if self._oldest is not None:
                added = self._queue[before:]
                self._oldest = routing.oldest([*self._oldest, *added], QUEUE_SHOWN)
        for c in arrivals:
            self.taken.pop(c.ticket_id, None)
            self._summaries.pop(c.ticket_id, None)
        if not await self.route():
            await self._queue_news()

    # -- routing ---------------------------------------------------------------------------

    def agents(self, now: datetime, *, reachable_only: bool = True) -> list[Agent]:
        """Every agent with a presence, as routing sees them (one whose workspace is closed
        counts as signed out for offers; taking a contact proves they are there)."""
        out = []
        seen = set(self.reachable()) if self.reachable and reachable_only else None
        for username, p in self.presence.now(now).items():
            skill = self.skills.get(username) or {}
            away = seen is not None and username not in seen
            out.append(
                Agent(
                    username=username,
                    state=AgentState.LOGGED_OUT if away else p.state,
                    categories=frozenset(skill.get("categories") or ()),
                    languages=frozenset(skill.get("languages") or ()),
                    chats=p.chats,
                    max_chats=self.presence.max_chats_of(username),
                    idle_since=p.since,
                )
            )
        return out

    async def route(self) -> list[routing.Offer]:
        """Offer what waits to whoever should take it; each offer goes to its agent's screen."""
        now = self.clock()
        async with self._lock:
            self.queue, offers = routing.route(self.queue, self.agents(now), now)
        if not offers:
            return offers
        offered = {o.ticket_id for o in offers}
        summaries = await self._summaries_of([c for c in self.queue if c.ticket_id in offered])
        for offer in offers:
            summary = summaries.get(offer.ticket_id)
            if summary is not None:
                await self._news(offer.username, {"type": "chat_offer", **summary})
        await self._queue_news()
        return offers

    async def _summaries_of(self, cs: Sequence[Contact]) -> dict[int, dict[str, Any]]:
        """What a workspace shows of each of these waiting contacts, by ticket; the fixed
        part is read once per contact, all missing ones in one read."""
        missing = [c.ticket_id for c in cs if c.ticket_id not in self._summaries]
        if missing:
            facts = await self.records.queue_facts(missing)
            for c in cs:
                if c.ticket_id not in missing:
                    continue
                ticket, contacts = facts.get(c.ticket_id, (None, []))
                last = contacts[-1] if contacts else None
                self._summaries[c.ticket_id] = {
                    "ticket_id": c.ticket_id,
                    "number": ticket["number"] if ticket else "",
                    "channel": c.channel,
                    "kind": "letter" if c.channel in LETTER_CHANNELS else "chat",
                    "subject": (ticket["subject"] if ticket else "") or "",
                    "preview": (last["text"] if last else "")[:140],
                    "citizen": _who(contacts),
                }
        return {
            c.ticket_id: {
                **self._summaries[c.ticket_id],
                "language": c.language,
                "category": c.category,
                "since": c.since.isoformat(),
                "offered_at": c.offered_at.isoformat() if c.offered_at else None,
                "offer_seconds": self.offer_seconds,
            }
            for c in cs
            if c.ticket_id in self._summaries
        }

    # -- the agent's actions ---------------------------------------------------------------

    def _agent(self, username: str, now: datetime) -> Agent:
        mine = self.agents(now, reachable_only=False)
        found = next((a for a in mine if a.username == username), None)
        return found or Agent(username, AgentState.LOGGED_OUT)

    async def accept(self, viewer: Viewer, ticket_id: int) -> dict[str, Any]:
        """The agent takes a conversation offered to them (or a letter nobody is offered)."""
        now = self.clock()
        async with self._lock:
            try:
                queue, _ = routing.take(self.queue, ticket_id, self._agent(viewer.username, now))
            except NotYours as e:
                raise OnlineError("not_offered", 409, str(e)) from None
            try:
                self.presence.check(viewer.username, "chat_started", now)
            except PresenceError as e:
                raise OnlineError("presence", 409, str(e)) from None
            if not await self.records.take(ticket_id, viewer.username, now):
                self.queue = tuple(c for c in self.queue if c.ticket_id != ticket_id)
                raise OnlineError("not_offered", 409, f"contact {ticket_id} was taken already")
            del queue  # the queue may have moved while the store was asked
            self.queue = tuple(c for c in self.queue if c.ticket_id != ticket_id)
            self.taken[ticket_id] = viewer.username
            self.presence.change(viewer.username, "chat_started", now)
        await self._queue_news()
        return await self.conversation(viewer, ticket_id)

    async def decline(self, viewer: Viewer, ticket_id: int) -> None:
        """The agent turns an offer down: it goes on to the next agent."""
        async with self._lock:
            try:
                self.queue = routing.decline(self.queue, ticket_id, viewer.username)
            except NotYours as e:
                raise OnlineError("not_offered", 409, str(e)) from None
        await self.records.let_go([ticket_id])
        if not await self.route():
            await self._queue_news()

    async def end(self, viewer: Viewer, ticket_id: int) -> None:
        """The agent ends the conversation; their chat slot is free again."""
        now = self.clock()
        self._own(viewer, ticket_id)
        if not await self.records.end(ticket_id, viewer.username, now):
            raise OnlineError("not_yours", 409, f"conversation {ticket_id} is not open for you")
        self.taken.pop(ticket_id, None)
        with contextlib.suppress(PresenceError):
            self.presence.change(viewer.username, "chat_ended", now)
        await self.route()

    def _own(self, viewer: Viewer, ticket_id: int) -> None:
        if self.taken.get(ticket_id) != viewer.username:
            raise OnlineError("not_yours", 409, f"conversation {ticket_id} is not yours")

    async def reply(self, viewer: Viewer, ticket_id: int, text: str, key: str) -> dict[str, Any]:
        """The agent's answer, stored in the outbox and sent from there (once, by `key`)."""
        self._own(viewer, ticket_id)
        text = text.strip()
        if not text:
            raise OnlineError("empty_reply", 400, "write the answer first")
        if len(text) > MAX_REPLY_CHARS:
            raise OnlineError("reply_too_long", 400, f"at most {MAX_REPLY_CHARS} characters")
        point = await self.tickets.reply_point(ticket_id)
        ticket = await self.tickets.ticket_row(ticket_id)
        if point is None or ticket is None:
            raise OnlineError("no_reply_point", 409, "the citizen left no way to answer them")
        channel, recipient = point
        payload = {
            "text": text,
            "ticket_number": ticket["number"],
            "subject": ticket["subject"] or "",
            "agent": viewer.username,
        }
        row = await self.records.reply(
            ticket_id, viewer.username, channel, recipient, payload,
            f"reply:{ticket_id}:{key}"[:200], self.clock(),
        )  # fmt: skip
        return _reply(row)

    # -- views -----------------------------------------------------------------------------

    async def conversation(self, viewer: Viewer, ticket_id: int) -> dict[str, Any]:
        """A conversation as its agent sees it: the citizen's messages and the replies."""
        ticket = await self.tickets.ticket_row(ticket_id)
        row = await self.records.conversation(ticket_id)
        if ticket is None or row is None:
            raise OnlineError("not_found", 404, f"no conversation {ticket_id}")
        if viewer.role.value == "agent" and row["agent"] not in (None, viewer.username):
            raise OnlineError("not_yours", 403, f"conversation {ticket_id} is another agent's")
        contacts, replies = await self.records.messages(ticket_id)
        messages = [_citizen(c) for c in contacts] + [_reply(r) for r in replies]
        messages.sort(key=message_order)
        return {
            "ticket_id": ticket_id,
            "number": ticket["number"],
            "state": ticket["state"],
            "subject": ticket["subject"] or "",
            "channel": row["channel"],
            "kind": "letter" if row["channel"] in LETTER_CHANNELS else "chat",
            "status": row["status"],
            "agent": row["agent"],
            "citizen": _who(contacts),
            "taken_at": row["taken_at"].isoformat() if row["taken_at"] else None,
            "messages": messages,
        }

    async def mine(self, viewer: Viewer) -> list[dict[str, Any]]:
        """The agent's open conversations (a reload or a restart brings them back)."""
        ids = sorted(t for t, agent in self.taken.items() if agent == viewer.username)
        return [await self.conversation(viewer, t) for t in ids]

    async def waiting(self, viewer: Viewer | None = None) -> list[dict[str, Any]]:
        """The queue as the workspace lists it: the QUEUE_SHOWN longest waiting, oldest first."""
        shown = self.oldest()
        summaries = await self._summaries_of(shown)
        return [
            {
                **summaries[c.ticket_id],
                "offered": c.offered_to is not None,
                "offered_to": c.offered_to,
                "offered_to_me": viewer is not None and c.offered_to == viewer.username,
            }
            for c in shown
            if c.ticket_id in summaries
        ]

    def figures(self, now: datetime) -> dict[str, Any]:
        """Online contacts waiting and the longest wait (the wallboard)."""
        count, longest = routing.waiting_figures(len(self.queue), self.oldest(), now)
        return {
            "waiting": count,
            "longest_wait_seconds": longest,
            "chatting": len(self.taken),
        }

    # -- skills ----------------------------------------------------------------------------

    async def set_skills(
        self,
        username: str,
        categories: Sequence[str],
        languages: Sequence[str],
        max_chats: int | None,
        by: str,
    ) -> Row:
        """Set an agent's skills and own limit of concurrent chats."""
        row = await self.records.put_skills(
            username, categories, languages, max_chats, by, self.clock()
        )
        self.skills[username] = row
        if max_chats is None:
            self.presence.limits.pop(username, None)
        else:
            self.presence.limits[username] = max_chats
        await self.route()
        return row

    # -- presence and outbox -----------------------------------------------------------------

    def _presence_changed(
        self, username: str, change: str, before: Presence, after: Presence
    ) -> None:
        steps: list[Callable[[], Awaitable[Any]]] = []
        if change == "login":
            mine = sum(1 for agent in self.taken.values() if agent == username)
            if mine:
                after = self.presence.set_chats(username, mine, after.since or self.clock())
        if change == "after_call_done":
            # No key was pressed: the agent's workspace learns it from the desk.
            state = {
                "type": "presence",
                "state": after.state.value,
                "chats": after.chats,
                "max_chats": self.presence.max_chats_of(username),
            }
            steps.append(lambda: self._news(username, state))
        if after.state not in routing.TAKING:
            self.queue, back = routing.hand_back(self.queue, username)
            for ticket_id in back:
                news = {
                    "type": "chat_offer_gone",
                    "ticket_id": ticket_id,
                    "reason": after.state.value,
                }
                steps.append(functools.partial(self._news, username, news))
            if back:
                steps.append(self._queue_news)
        if after.state in routing.TAKING or before.state in routing.TAKING:
            steps.append(self.route)
        if steps:
            # In order: the agent hears they are ready before the offer that follows.
            self._soon(_in_order(steps))

    def _soon(self, work: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no loop (a synchronous test of the board): nothing to push
            work.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def watch(self, sender: Sender) -> Sender:
        """Wrap a channel's outbox sender: a reply's outcome goes to its agent's screen."""

        async def send(message: OutboundMessage) -> dict[str, Any] | None:
            if message.kind != REPLY_KIND:
                return await sender(message)
            agent = str(message.payload.get("agent") or "") or None
            try:
                result = await sender(message)
            except SendError as e:
                final = e.permanent or message.attempts + 1 >= self._max_attempts()
                await self._news(agent, {"type": "reply_status", "id": message.id,
                                         "ticket_id": message.ticket_id,
                                         "status": "dead" if final else "retrying",
                                         "error": str(e)[:300]})  # fmt: skip
                raise
            await self._news(agent, {"type": "reply_status", "id": message.id,
                                     "ticket_id": message.ticket_id, "status": "sent",
                                     "error": ""})  # fmt: skip
            return result

        return send

    def _max_attempts(self) -> int:
        return self.records.outbox.max_attempts

    async def _news(self, to: str | None, message: dict[str, Any]) -> None:
        await self.bus.publish(DeskNews(at=self.clock(), to=to, message=message))

    async def _queue_news(self) -> None:
        # The whole queue in one message: no workspace has to ask for it. Changes close
        # together (a burst of arrivals) share one message a moment later.
        if self._queue_news_due:
            return
        self._queue_news_due = True
        self._soon(self._send_queue_news())

    async def _send_queue_news(self) -> None:
        await asyncio.sleep(QUEUE_NEWS_SECONDS)
        self._queue_news_due = False
        waiting = self.queued_ids()
        for gone in [t for t in self._summaries if t not in waiting]:
            del self._summaries[gone]
        queue = await self.waiting()
        await self._news(
            None, {"type": "online_queue", "figures": self.figures(self.clock()), "queue": queue}
        )

    async def drain(self) -> None:
        """Wait for pushes in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def _in_order(steps: Sequence[Callable[[], Awaitable[Any]]]) -> None:
    for step in steps:
        await step()


def message_order(m: Mapping[str, Any]) -> tuple[str, str, int]:
    """Where a message stands in its conversation: by time, then as stored (`c12` before
    `c103`; the console orders messages that arrive late the same way)."""
    return m["at"], m["id"][0], int(m["id"][1:])


def _citizen(c: Row) -> dict[str, Any]:
    """One contact as a chat message from the citizen."""
    attachments = [
        {
            "name": a.get("name", ""),
            "content_type": a.get("content_type", ""),
            "size": a.get("size", 0),
            "kind": _media_kind(str(a.get("content_type", ""))),
        }
        for a in (c["attachments"] or [])
    ]
    loc = c["location"] or None
    return {
        "id": f"c{c['id']}",
        "from": "citizen",
        "at": c["received_at"].isoformat(),
        "text": c["text"] or "",
        "attachments": attachments,
        "location": loc,
    }


def _reply(r: Row) -> dict[str, Any]:
    """One reply of an agent, with its outbox status (pending, sent, dead)."""
    payload = r["payload"] or {}
    return {
        "id": f"r{r['id']}",
        "outbox_id": r["id"],
        "from": "agent",
        "agent": payload.get("agent", ""),
        "at": r["created_at"].isoformat(),
        "text": payload.get("text", ""),
        "status": r["status"],
        "attempts": r["attempts"],
        "error": r["last_error"] or "",
    }


def _media_kind(content_type: str) -> str:
    for prefix, kind in (("image/", "image"), ("audio/", "voice"), ("video/", "video")):
        if content_type.startswith(prefix):
            return kind
    return "file"


def _who(contacts: Sequence[Row]) -> str:
    """How the agent addresses the citizen: a name they gave, else a masked identity."""
    for c in contacts:
        identity = c["identity"] or {}
        if identity.get("name"):
            return str(identity["name"])
    for c in contacts:
        identity = c["identity"] or {}
        if identity.get("email"):
            return mask_email(str(identity["email"])) or ""
        for key in ("wechat_openid", "telegram_id"):
            if identity.get(key):
                return mask_opaque(str(identity[key])) or ""
    return ""
