"""Routing of online contacts: skills, load, idle time, timeouts, hand-backs; and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.online_routing import (
    TAKING,
    Agent,
    Contact,
    NotYours,
    add,
    choose,
    covers,
    decline,
    expire,
    hand_back,
    oldest,
    route,
    skilled,
    take,
    waiting_figures,
)
from router.presence import AgentState
from tickets.online_contacts import language_of

T = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
S = AgentState


def agent(name: str, state: S = S.READY, **kw: object) -> Agent:
    return Agent(name, state, **kw)  # type: ignore[arg-type]


def contact(ticket_id: int, minutes_ago: float = 0, **kw: object) -> Contact:
    return Contact(ticket_id, "wechat", T - timedelta(minutes=minutes_ago), **kw)  # type: ignore[arg-type]


def test_a_skill_covers_its_subcategories() -> None:
    assert covers("consult", "consult.school") and covers("consult", "consult")
    assert not covers("consult", "consultation") and not covers("consult.school", "consult")
    a = agent("zhang", categories=frozenset({"complaint"}), languages=frozenset({"zh"}))
    assert skilled(a, contact(1, category="complaint.noise", language="zh"))
    assert not skilled(a, contact(1, category="consult.school"))
    assert not skilled(a, contact(1, language="en"))
    assert skilled(a, contact(1))  # asks for nothing


def test_skill_is_required_when_a_ready_agent_has_it() -> None:
    english = agent("li", categories=frozenset(), languages=frozenset({"en"}), chats=2)
    chinese = agent("zhang", languages=frozenset({"zh"}))
    c = contact(1, language="en")
    # li is busier, but the only one who speaks English.
    assert choose(c, [chinese, english], {}) == english
    # li full: anyone able takes it rather than nobody.
    full = agent("li", languages=frozenset({"en"}), chats=3, max_chats=3)
    assert choose(c, [chinese, full], {}) == chinese


def test_least_busy_then_longest_idle() -> None:
    busy = agent("a", S.CHATTING, chats=1, idle_since=T - timedelta(hours=1))
    fresh = agent("b", idle_since=T - timedelta(minutes=1))
    longest = agent("c", idle_since=T - timedelta(minutes=5))
    assert choose(contact(1), [busy, fresh, longest], {}) == longest
    # Offers count as load: c holds one offer already, so b is less busy.
    assert choose(contact(2), [busy, fresh, longest], {"c": 1}) == fresh


def test_never_to_paused_logged_out_on_call_or_after_call() -> None:
    for state in (S.PAUSED, S.LOGGED_OUT, S.ON_CALL, S.AFTER_CALL):
        assert choose(contact(1), [agent("a", state)], {}) is None
    assert {S.READY, S.CHATTING} == TAKING


def test_route_offers_oldest_first_and_keeps_the_queue_order() -> None:
    queue = (contact(1, 1), contact(2, 5), contact(3, 3))
    one = [agent("a", max_chats=1)]
    queue, offers = route(queue, one, T)
    assert [o.ticket_id for o in offers] == [2]  # the longest waiting goes first
    assert [c.ticket_id for c in queue] == [1, 2, 3]
    assert queue[1].offered_to == "a" and queue[1].offered_at == T
    # Nothing more for a (full with the offer); nothing offered twice.
    assert route(queue, one, T)[1] == []


def test_offer_times_out_and_goes_to_the_next_agent() -> None:
    agents = [agent("a", idle_since=T - timedelta(minutes=9)), agent("b", idle_since=T)]
    queue, [offer] = route((contact(1),), agents, T)
    assert offer.username == "a"
    same, gone = expire(queue, T + timedelta(seconds=29), 30)
    assert gone == [] and same == queue
    queue, gone = expire(queue, T + timedelta(seconds=30), 30)
    assert [(g.ticket_id, g.username) for g in gone] == [(1, "a")]
    assert queue[0].offered_to is None and queue[0].passed == {"a"}
    queue, [again] = route(queue, agents, T + timedelta(seconds=30))
    assert again.username == "b"
    # b lets it go too: it comes back to a rather than waiting for nobody.
    queue = decline(queue, 1, "b")
    queue, [third] = route(queue, agents, T + timedelta(seconds=31))
    assert third.username == "a"


def test_decline_only_what_is_offered_to_you() -> None:
    queue, _ = route((contact(1),), [agent("a")], T)
    with pytest.raises(NotYours):
        decline(queue, 1, "b")
    with pytest.raises(NotYours):
        decline(queue, 2, "a")


def test_signing_out_or_pausing_hands_back_offers() -> None:
    queue, _ = route((contact(1), contact(2)), [agent("a"), agent("b")], T)
    queue, back = hand_back(queue, "a")
    assert back == [1] and all(c.offered_to != "a" for c in queue)
    assert queue[0].passed == frozenset()  # leaving is not declining
    queue, offers = route(queue, [agent("a", S.PAUSED), agent("b", S.CHATTING, chats=1)], T)
    assert [(o.ticket_id, o.username) for o in offers] == [(1, "b")]


def test_take_an_offer_or_an_unoffered_letter() -> None:
    queue, _ = route((contact(1), contact(2)), [agent("a", max_chats=1)], T)
    with pytest.raises(NotYours):  # offered to a
        take(queue, queue[0].ticket_id if queue[0].offered_to else 2, agent("b"))
    offered = next(c for c in queue if c.offered_to == "a")
    rest, taken = take(queue, offered.ticket_id, agent("a", max_chats=1))
    assert taken.ticket_id == offered.ticket_id and len(rest) == 1
    left = rest[0]
    # b picks the other one from the list although nobody offered it to b.
    assert take(rest, left.ticket_id, agent("b"))[0] == ()
    with pytest.raises(NotYours):  # a full agent cannot take one more
        take(rest, left.ticket_id, agent("a", S.CHATTING, chats=1, max_chats=1))
    with pytest.raises(NotYours):
        take(rest, left.ticket_id, agent("c", S.PAUSED))
    with pytest.raises(NotYours):
        take(rest, 99, agent("b"))


def test_add_is_once_per_conversation_and_figures() -> None:
    queue = add(add((), contact(1, 2)), contact(1))
    assert len(queue) == 1 and queue[0].since == T - timedelta(minutes=2)
    assert waiting_figures(len(queue), oldest(queue, 100), T) == (1, 120.0)
    assert waiting_figures(0, [], T) == (0, 0.0)


def test_the_oldest_of_a_queue_and_its_additions_are_the_oldest_of_both() -> None:
    queue = tuple(contact(i, minutes_ago=(i * 7) % 11) for i in range(1, 30))
    kept = oldest(queue, 5)
    assert [c.ticket_id for c in kept] == [
        c.ticket_id for c in sorted(queue, key=lambda c: c.since)[:5]
    ]
    added = (contact(40, minutes_ago=20), contact(41, minutes_ago=0), contact(42, 10))
    grown = add(queue, *added)
    assert oldest([*kept, *added], 5) == oldest(grown, 5)


def test_nothing_changed_is_the_same_tuple_and_add_trusts_the_known_ids() -> None:
    # The desk keeps the queue's ids while the tuple stays the same one: a burst nobody
    # can take yet must not cost a pass over everyone waiting per arrival.
    queue = add((), contact(1, 2), contact(2, 1))
    paused = [Agent("a", S.PAUSED)]
    assert route(queue, paused, T)[0] is queue
    assert expire(queue, T, 30)[0] is queue
    grown = add(queue, contact(2), contact(3), contact(3), queued={1, 2})
    assert [c.ticket_id for c in grown] == [1, 2, 3]
    offered = route(grown, [Agent("b", S.READY)], T)[0]
    assert offered is not grown and offered[0].offered_to == "b"
    assert expire(offered, T + timedelta(seconds=29), 30)[0] is offered  # none ran out yet


def test_language_of_the_text() -> None:
    assert language_of("小区门口夜间施工噪声扰民") == "zh"
    assert language_of("The street light is broken") == "en"
    assert language_of("路灯 broken") == "zh"
    assert language_of("12345 !!") is None
    assert language_of("Привет") is None


# -- properties ------------------------------------------------------------------------

NAMES = [f"a{i}" for i in range(5)]
CATS = ["consult", "consult.school", "complaint", "complaint.noise", None]

agents_st = st.lists(
    st.builds(
        lambda name, state, cats, langs, max_chats, chats, idle: Agent(
            name,
            state,
            frozenset(cats),
            frozenset(langs),
            min(chats, max_chats),
            max_chats,
            T - timedelta(seconds=idle),
        ),
        st.sampled_from(NAMES),
        st.sampled_from(list(S)),
        st.lists(st.sampled_from(["consult", "complaint", "complaint.noise"]), max_size=2),
        st.lists(st.sampled_from(["zh", "en"]), max_size=2),
        st.integers(1, 4),
        st.integers(0, 4),
        st.integers(0, 3600),
    ),
    max_size=5,
    unique_by=lambda a: a.username,
)
contacts_st = st.lists(
    st.builds(
        lambda i, minutes, cat, lang: contact(i, minutes, category=cat, language=lang),
        st.integers(1, 40),
        st.integers(0, 120),
        st.sampled_from(CATS),
        st.sampled_from(["zh", "en", None]),
    ),
    max_size=25,
    unique_by=lambda c: c.ticket_id,
)
ops_st = st.lists(
    st.tuples(
        st.sampled_from(["route", "expire", "decline", "hand_back", "take", "add"]),
        st.sampled_from(NAMES),
        st.integers(1, 45),
        st.integers(0, 90),
    ),
    max_size=30,
)


def _check(queue: tuple[Contact, ...], agents: list[Agent]) -> None:
    load: dict[str, int] = {}
    for c in queue:
        if c.offered_to is not None:
            load[c.offered_to] = load.get(c.offered_to, 0) + 1
    by_name = {a.username: a for a in agents}
    for name, n in load.items():
        a = by_name[name]
        assert a.state in TAKING, (name, a.state)  # never a paused or signed-out agent
        assert a.chats + n <= a.max_chats  # never over the most chats


@settings(max_examples=300, deadline=None)
@given(agents_st, contacts_st, ops_st)
def test_properties_hold_under_any_sequence(
    agents: list[Agent], initial: list[Contact], ops: list[tuple[str, str, int, int]]
) -> None:
    queue = tuple(initial)
    expected = {c.ticket_id for c in initial}
    taken: set[int] = set()
    now = T
    for op, name, ticket_id, seconds in ops:
        now += timedelta(seconds=seconds)
        if op == "route":
            queue, offers = route(queue, agents, now)
            assert len({o.ticket_id for o in offers}) == len(offers)
        elif op == "expire":
            queue, _ = expire(queue, now, 30)
        elif op == "decline":
            try:
                queue = decline(queue, ticket_id, name)
            except NotYours:
                pass
        elif op == "hand_back":
            queue, _ = hand_back(queue, name)
            # The agent leaves: their state changes, so routing sees them out.
            agents = [a if a.username != name else Agent(name, S.PAUSED, chats=a.chats,
                      max_chats=a.max_chats) for a in agents]  # fmt: skip
        elif op == "take":
            who = next((a for a in agents if a.username == name), None)
            if who is not None:
                try:
                    queue, c = take(queue, ticket_id, who)
                except NotYours:
                    pass
                else:
                    taken.add(c.ticket_id)
                    agents = [
                        a if a is not who else Agent(
                            a.username, S.CHATTING, a.categories, a.languages, a.chats + 1,
                            a.max_chats, a.idle_since,
                        )
                        for a in agents
                    ]  # fmt: skip
        elif op == "add" and ticket_id not in taken:  # a taken one goes to its agent
            queue = add(queue, Contact(ticket_id, "telegram", now))
            expected.add(ticket_id)
        _check(queue, agents)
        ids = [c.ticket_id for c in queue]
        assert len(ids) == len(set(ids))  # nothing twice
        # Nothing dropped: every contact is waiting or was taken.
        assert set(ids) | taken == expected | taken and not set(ids) & taken


@settings(max_examples=200, deadline=None)
@given(agents_st, contacts_st)
def test_route_offers_whenever_someone_can_take(
    agents: list[Agent], initial: list[Contact]
) -> None:
    queue, _ = route(tuple(initial), agents, T)
    waiting = [c for c in queue if c.offered_to is None]
    load: dict[str, int] = {}
    for c in queue:
        if c.offered_to:
            load[c.offered_to] = load.get(c.offered_to, 0) + 1
    if waiting:  # whoever is left over waits because nobody is able to take it
        assert all(
            a.state not in TAKING or a.chats + load.get(a.username, 0) >= a.max_chats
            for a in agents
        )
