"""The durable side of online contacts: conversations waiting for or taken by an agent,
agents' skills, and a conversation's messages (the citizen's contacts and the agents'
replies in the outbox). SQL only; the routing decisions live in `router`.

A conversation row is written in the very transaction that accepts an online contact
(`open_conversations`), so a restart derives the waiting queue from the store and no crash
can leave an accepted contact out of it (offers are not stored: after a restart they are
made again).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from tickets.model import Role, State, TimelineEntry
from tickets.sqlite_direct import Fixed
from tickets.store import Row, Store, Tx
from tickets.tables import agent_skills, contacts, online_conversations, outbox, tickets

if TYPE_CHECKING:  # the outbox imports the ticket service, which opens conversations
    from tickets.outbox import Outbox

WAITING, TAKEN, ENDED = "waiting", "taken", "ended"
QUEUED = "queued"  # what accepting did: the conversation (re)joined the queue now
REPLY_KIND = "reply"
_CHUNK = 500  # ticket ids per IN (…) read
# Contacts of these channels are conversations an agent answers (the online desk's queue).
CHAT_CHANNELS = frozenset({"wechat", "telegram"})
LETTER_CHANNELS = frozenset({"mailbox", "web"})
ONLINE_CHANNELS = CHAT_CHANNELS | LETTER_CHANNELS


def language_of(text: str) -> str | None:
    """The language a citizen wrote in, when the text says: zh for Chinese, en for Latin letters."""
    latin = other = 0
    for ch in text:
        if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
            return "zh"  # any Chinese character: a Chinese writer (usually the first one)
        if ch.isalpha():
            if ch.isascii():
                latin += 1
            else:
                other += 1
    if not latin + other:
        return None
    return "en" if latin >= other else None


@dataclass(frozen=True)
class Arrival:
    """An online contact on its ticket, as accepting it hands it to `open_conversations`."""

    ticket_id: int
    channel: str
    language: str | None
    new_ticket: bool  # a ticket opened in the same transaction has no conversation yet


# built once: every batch of online contacts runs it
_OPEN = Fixed(online_conversations.insert())


async def open_conversations(tx: Tx, arrivals: Iterable[Arrival], at: datetime) -> dict[int, str]:
    """Queue each arrival's conversation, in the caller's transaction: a new one, or one
    that ended, waits from `at`; one waiting or taken already is left as it is.

    Returns, per ticket, QUEUED if it (re)joined the queue now, else its status.
    """
    first: dict[int, Arrival] = {}
    for a in arrivals:
        first.setdefault(a.ticket_id, a)
    if not first:
        return {}
    known = [t for t, a in first.items() if not a.new_ticket]
    rows: dict[int, Row] = {}
    if known:
        q = select(online_conversations).where(online_conversations.c.ticket_id.in_(known))
        rows = {r["ticket_id"]: r for r in await tx.rows(q)}
    fresh = [
        {"ticket_id": t, "channel": a.channel, "language": a.language, "status": WAITING,
         "waiting_since": at, "offers": 0}
        for t, a in first.items() if t not in rows
    ]  # fmt: skip
    if fresh:
        await tx.insert_later(_OPEN, fresh)
    out = {t: QUEUED for t in first}
    for t, row in rows.items():
        if row["status"] != ENDED:
            out[t] = row["status"]
            continue
        await tx.conn.execute(
            update(online_conversations)
            .where(online_conversations.c.ticket_id == t)
            .values(status=WAITING, agent=None, waiting_since=at, taken_at=None, ended_at=None,
                    offers=0, language=first[t].language)
        )  # fmt: skip
    return out


class OnlineRecords:
    """Conversations, skills and messages over the store."""

    def __init__(self, store: Store, outbox: Outbox) -> None:
        self.store = store
        self.outbox = outbox

    # -- conversations -------------------------------------------------------------------

    async def conversation(self, ticket_id: int) -> Row | None:
        """The conversation of a ticket, if it has one."""
        async with self.store.read() as tx:
            return await _conversation(tx, ticket_id)

    async def waiting(self) -> list[Row]:
        """Conversations nobody has taken, longest waiting first (the queue after a restart)."""
        async with self.store.read() as tx:
            q = (
                select(online_conversations)
                .where(online_conversations.c.status == WAITING)
                .order_by(online_conversations.c.waiting_since, online_conversations.c.ticket_id)
            )
            return await tx.rows(q)

    async def taken(self, agent: str | None = None) -> list[Row]:
        """Conversations taken and not ended (one agent's, or everyone's)."""
        async with self.store.read() as tx:
            q = select(online_conversations).where(online_conversations.c.status == TAKEN)
            if agent is not None:
                q = q.where(online_conversations.c.agent == agent)
            return await tx.rows(q.order_by(online_conversations.c.taken_at))

    async def take(self, ticket_id: int, agent: str, at: datetime) -> bool:
        """The agent takes a waiting conversation; False if someone else was first."""
        async with self.store.write() as tx:
            done = await tx.conn.execute(
                update(online_conversations)
                .where(
                    online_conversations.c.ticket_id == ticket_id,
                    online_conversations.c.status == WAITING,
                )
                .values(status=TAKEN, agent=agent, taken_at=at)
            )
            if done.rowcount != 1:
                return False
            await _note(tx, ticket_id, at, agent, "chat_taken", {})
        return True

    async def let_go(self, ticket_ids: Sequence[int]) -> None:
        """Count offers that were declined or timed out (for the figures)."""
        if not ticket_ids:
            return
        async with self.store.write() as tx:
            await tx.conn.execute(
                update(online_conversations)
                .where(online_conversations.c.ticket_id.in_(list(ticket_ids)))
                .values(offers=online_conversations.c.offers + 1)
            )

    async def end(self, ticket_id: int, agent: str, at: datetime) -> bool:
        """The agent ends their conversation; False if it is not theirs or already ended."""
        async with self.store.write() as tx:
            done = await tx.conn.execute(
                update(online_conversations)
                .where(
                    online_conversations.c.ticket_id == ticket_id,
                    online_conversations.c.status == TAKEN,
                    online_conversations.c.agent == agent,
                )
                .values(status=ENDED, ended_at=at)
            )
            if done.rowcount != 1:
                return False
            await _note(tx, ticket_id, at, agent, "chat_ended", {})
        return True

    async def queue_facts(self, ticket_ids: Sequence[int]) -> dict[int, tuple[Row, list[Row]]]:
        """What the queue shows of waiting conversations: each ticket's number, subject and
        category, and its contacts' words and identities, oldest first (reads in chunks)."""
        out: dict[int, tuple[Row, list[Row]]] = {}
        ids = sorted(set(ticket_ids))
        async with self.store.read() as tx:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                q = select(tickets.c.id, tickets.c.number, tickets.c.subject, tickets.c.category)
                for t in await tx.rows(q.where(tickets.c.id.in_(chunk))):
                    out[t["id"]] = (t, [])
                col = contacts.c
                q = select(col.id, col.ticket_id, col.text, col.identity)
                q = q.where(col.ticket_id.in_(chunk)).order_by(col.id)
                for row in await tx.rows(q):
                    if row["ticket_id"] in out:
                        out[row["ticket_id"]][1].append(row)
        return out

    # -- messages ------------------------------------------------------------------------

    async def messages(self, ticket_id: int) -> tuple[list[Row], list[Row]]:
        """The citizen's contacts and the agents' replies of a ticket, each oldest first."""
        async with self.store.read() as tx:
            contact_rows = await tx.contacts_of(ticket_id)
            replies = [r for r in await tx.outbound(ticket_id=ticket_id) if r["kind"] == REPLY_KIND]
        return contact_rows, replies

    async def reply(
        self,
        ticket_id: int,
        agent: str,
        channel: str,
        recipient: str,
        payload: dict[str, Any],
        dedupe_key: str,
        at: datetime,
    ) -> Row:
        """Store the agent's reply in the outbox (sent from there) and write it on the timeline."""
        message_id = await self.outbox.enqueue(
            channel, REPLY_KIND, recipient, payload, dedupe_key, ticket_id
        )
        async with self.store.write() as tx:
            rows = [
                r for r in await tx.outbound(ticket_id=ticket_id) if r["dedupe_key"] == dedupe_key
            ]
            if message_id is not None:  # a repeated request (same key) is written once
                action = "letter_reply" if channel == "mailbox" else "chat_reply"
                await _note(
                    tx, ticket_id, at, agent, action, {"outbox_id": message_id, "channel": channel},
                    reason=str(payload.get("text", "")),
                )  # fmt: skip
        return rows[0]

    async def outbound(self, message_id: int) -> Row | None:
        """One outbox message (a reply's status for the workspace)."""
        async with self.store.read() as tx:
            rows = await tx.rows(select(outbox).where(outbox.c.id == message_id))
        return rows[0] if rows else None

    # -- skills --------------------------------------------------------------------------

    async def skills(self) -> dict[str, Row]:
        """Every agent's skills by username."""
        async with self.store.read() as tx:
            return {r["username"]: r for r in await tx.rows(select(agent_skills))}

    async def put_skills(
        self,
        username: str,
        categories: Sequence[str],
        languages: Sequence[str],
        max_chats: int | None,
        by: str,
        at: datetime,
    ) -> Row:
        """Set one agent's skills."""
        values = {
            "categories": sorted(set(categories)),
            "languages": sorted(set(languages)),
            "max_chats": max_chats,
            "updated_by": by,
            "updated_at": at,
        }
        async with self.store.write() as tx:
            exists = await tx.conn.execute(
                select(agent_skills.c.username).where(agent_skills.c.username == username)
            )
            if exists.first() is None:
                await tx.conn.execute(agent_skills.insert().values(username=username, **values))
            else:
                await tx.conn.execute(
                    update(agent_skills).where(agent_skills.c.username == username).values(**values)
                )
        return {"username": username, **values}


async def _conversation(tx: Tx, ticket_id: int) -> Row | None:
    q = select(online_conversations).where(online_conversations.c.ticket_id == ticket_id)
    rows = await tx.rows(q)
    return rows[0] if rows else None


async def _note(
    tx: Tx,
    ticket_id: int,
    at: datetime,
    agent: str,
    action: str,
    payload: dict[str, Any],
    reason: str = "",
) -> None:
    """A timeline entry that records the conversation without moving the ticket on."""
    row = await tx.ticket(ticket_id=ticket_id)
    state = State(row["state"]) if row else State.RECEIVED
    await tx.add_timeline(
        ticket_id, TimelineEntry(at, agent, Role.AGENT, action, state, state, reason, payload)
    )
