"""Who gets the next online contact (WeChat, Telegram, letter, web form); pure, no I/O.

The queue is a tuple of `Contact`s waiting for an agent, some of them offered to one.
`route` offers every waiting contact, oldest first, to the agent who should take it:
skill match (category, language) required when any agent able to take it has the skill,
else anyone able; among those the least busy, then the longest idle. An offer not taken
in time (`expire`), declined (`decline`) or left behind by an agent who signs out or pauses
(`hand_back`) goes back to waiting and on to the next agent. `take` removes a contact from
the queue for the agent who takes it. Time comes from the caller, never from a clock.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from operator import attrgetter

from router.presence import AgentState

# States in which an agent may be offered a contact (after-call work, calls and pauses not).
TAKING = frozenset({AgentState.READY, AgentState.CHATTING})
_NEVER = datetime.max.replace(tzinfo=UTC)
# A burst with nobody to answer it leaves thousands waiting: what runs per arrival or per
# queue message reads the queue at C speed (map over an attrgetter), not in a Python loop.
TICKET_ID = attrgetter("ticket_id")
SINCE = attrgetter("since")


@dataclass(frozen=True)
class Contact:
    """One conversation waiting for an agent (keyed by its ticket)."""

    ticket_id: int
    channel: str
    since: datetime
    category: str | None = None
    language: str | None = None
    offered_to: str | None = None
    offered_at: datetime | None = None
    passed: frozenset[str] = frozenset()  # agents who let it go (declined, timed out)


@dataclass(frozen=True)
class Agent:
    """What routing needs to know of one agent."""

    username: str
    state: AgentState
    categories: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    chats: int = 0  # conversations taken and not ended
    max_chats: int = 3
    idle_since: datetime | None = None  # since when the agent has had nothing to do


@dataclass(frozen=True)
class Offer:
    """A contact offered to an agent at a moment."""

    ticket_id: int
    username: str
    at: datetime


class NotYours(Exception):
    """The contact is not waiting for this agent (taken, offered to another, or gone)."""


def covers(skill: str, category: str) -> bool:
    """A skill covers its category and every one below it (`consult` → `consult.school`)."""
    return category == skill or category.startswith(skill + ".")


def skilled(agent: Agent, c: Contact) -> bool:
    """The agent has what the contact asks for (no category or language asks for nothing)."""
    if c.category and not any(covers(s, c.category) for s in agent.categories):
        return False
    return not (c.language and c.language not in agent.languages)


def offered_load(queue: Iterable[Contact]) -> dict[str, int]:
    """How many contacts are offered to each agent right now."""
    load: dict[str, int] = {}
    for c in queue:
        if c.offered_to is not None:
            load[c.offered_to] = load.get(c.offered_to, 0) + 1
    return load


def can_take(agent: Agent, offered: int = 0) -> bool:
    """Available and below the most concurrent conversations, counting open offers."""
    return agent.state in TAKING and agent.chats + offered < agent.max_chats


def choose(c: Contact, agents: Sequence[Agent], offered: Mapping[str, int]) -> Agent | None:
    """The agent `c` goes to, or None when nobody can take it now."""
    able = [a for a in agents if can_take(a, offered.get(a.username, 0))]
    # Someone who let it go gets it again only when nobody else can take it.
    fresh = [a for a in able if a.username not in c.passed] or able
    pool = [a for a in fresh if skilled(a, c)] or fresh
    if not pool:
        return None
    return min(
        pool,
        key=lambda a: (
            a.chats + offered.get(a.username, 0),
            a.idle_since or _NEVER,
            a.username,
        ),
    )


def route(
    queue: Sequence[Contact], agents: Sequence[Agent], now: datetime
) -> tuple[tuple[Contact, ...], list[Offer]]:
    """Offer every waiting contact, oldest first; the queue keeps its order."""
    if not any(can_take(a) for a in agents):
        return tuple(queue), []  # nobody can take one: a burst waits, untouched
    load = offered_load(queue)
    if not any(can_take(a, load.get(a.username, 0)) for a in agents):
        return tuple(queue), []
    decided: dict[int, Contact] = {}
    offers: list[Offer] = []
    for c in sorted((c for c in queue if c.offered_to is None), key=lambda c: c.since):
        agent = choose(c, agents, load)
        if agent is None:
            break  # nobody can take one more, and offers only add load
        load[agent.username] = load.get(agent.username, 0) + 1
        decided[c.ticket_id] = replace(c, offered_to=agent.username, offered_at=now)
        offers.append(Offer(c.ticket_id, agent.username, now))
    return tuple(decided.get(c.ticket_id, c) for c in queue), offers


def _back(c: Contact, passed: bool) -> Contact:
    seen = c.passed | {c.offered_to} if passed and c.offered_to else c.passed
    return replace(c, offered_to=None, offered_at=None, passed=seen)


def expire(
    queue: Sequence[Contact], now: datetime, offer_seconds: float
) -> tuple[tuple[Contact, ...], list[Offer]]:
    """Offers older than `offer_seconds` go back to waiting; returns them too."""
    limit = timedelta(seconds=offer_seconds)
    gone: list[Offer] = []
    out = list(queue)
    for i, c in enumerate(queue):
        if c.offered_to is not None and c.offered_at is not None and now - c.offered_at >= limit:
            gone.append(Offer(c.ticket_id, c.offered_to, c.offered_at))
            out[i] = _back(c, passed=True)
    if not gone:
        return tuple(queue), []  # the same tuple: nothing changed (thousands may wait)
    return tuple(out), gone


def decline(queue: Sequence[Contact], ticket_id: int, username: str) -> tuple[Contact, ...]:
    """The agent turns the offer down: back to waiting, on to someone else."""
    for c in queue:
        if c.ticket_id == ticket_id and c.offered_to == username:
            return tuple(_back(x, passed=True) if x is c else x for x in queue)
    raise NotYours(f"contact {ticket_id} is not offered to {username}")


def hand_back(queue: Sequence[Contact], username: str) -> tuple[tuple[Contact, ...], list[int]]:
    """An agent signs out or pauses: their open offers go back to waiting."""
    back = [c.ticket_id for c in queue if c.offered_to == username]
    return tuple(_back(c, passed=False) if c.offered_to == username else c for c in queue), back


def take(
    queue: Sequence[Contact], ticket_id: int, agent: Agent
) -> tuple[tuple[Contact, ...], Contact]:
    """The agent takes the contact offered to them, or one nobody is offered (a letter from
    the list); it leaves the queue. NotYours if it is someone else's or gone, or the agent
    cannot take one more."""
    for c in queue:
        if c.ticket_id != ticket_id:
            continue
        if c.offered_to not in (None, agent.username):
            raise NotYours(f"contact {ticket_id} is offered to another agent")
        others = offered_load(x for x in queue if x is not c).get(agent.username, 0)
        if agent.state not in TAKING or agent.chats + others >= agent.max_chats:
            raise NotYours(f"{agent.username} cannot take another conversation now")
        return tuple(x for x in queue if x is not c), c
    raise NotYours(f"contact {ticket_id} is not waiting")


def add(
    queue: Sequence[Contact], *cs: Contact, queued: AbstractSet[int] | None = None
) -> tuple[Contact, ...]:
    """Put contacts at the end of the queue, each conversation once (a second message of the
    same conversation adds nothing). `queued`, the queue's ticket ids if the caller keeps
    them, spares the pass over the queue."""
    have = set(map(TICKET_ID, queue)) if queued is None else queued
    fresh: dict[int, Contact] = {}
    for c in cs:
        if c.ticket_id not in have and c.ticket_id not in fresh:
            fresh[c.ticket_id] = c
    return (*queue, *fresh.values())


def oldest(queue: Iterable[Contact], n: int) -> list[Contact]:
    """The `n` longest waiting, oldest first (equal times in queue order). The `n` oldest
    of a queue and contacts added to its end are the `n` oldest of the `n` oldest and the
    added: a caller that keeps them need not read the whole queue again for an arrival."""
    return heapq.nsmallest(n, queue, key=SINCE)


def waiting_figures(
    waiting: int, oldest_first: Sequence[Contact], now: datetime
) -> tuple[int, float]:
    """How many contacts wait (offered or not) and the longest wait in seconds, from the
    queue's length and its longest waiting (`oldest`)."""
    if not oldest_first:
        return waiting, 0.0
    return waiting, max(0.0, (now - oldest_first[0].since).total_seconds())
