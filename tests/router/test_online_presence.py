"""Presence for chats and after-call work: timed wrap-up back to ready, open chats kept through
calls and pauses, the queue membership paused and unpaused with the wrap-up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import CallControlError
from router.presence import (
    AgentState,
    Presence,
    PresenceBoard,
    PresenceError,
    QueueMirror,
    apply,
    settle,
)
from tickets.events import CallAnswered, CallFinished

T = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
S = AgentState


class FakeTelephony:
    """The queue half of the telephony port, recording what it was asked."""

    def __init__(self, refuse: bool = False) -> None:
        self.asked: list[tuple[str, str]] = []
        self.refuse = refuse

    def lines(self) -> Mapping[str, str]:
        return {}

    def live_call_of_agent(self, agent: str) -> str | None:
        return None

    async def transfer(self, call_id: str, line: str, ticket: str | None = None) -> str:
        raise NotImplementedError

    async def three_way(self, call_id: str, line: str) -> str:
        raise NotImplementedError

    async def hangup(self, call_id: str) -> str:
        raise NotImplementedError

    async def callback(self, agent: str, number: str, ticket: str | None = None) -> str:
        raise NotImplementedError

    async def queue_login(self, agent: str, name: str) -> str:
        self.asked.append(("login", agent))
        return "Added interface to queue"

    async def queue_logout(self, agent: str) -> str:
        self.asked.append(("logout", agent))
        return "Removed interface from queue"

    async def queue_pause(self, agent: str, reason: str) -> str:
        self.asked.append(("pause:" + reason, agent))
        if self.refuse:
            raise CallControlError("not_found", "Interface not found")
        return "Interface paused successfully"

    async def queue_unpause(self, agent: str) -> str:
        self.asked.append(("unpause", agent))
        return "Interface unpaused successfully"


def test_chats_survive_calls_pauses_and_after_call_work() -> None:
    p = apply(apply(Presence(), "login", T), "chat_started", T)
    p = apply(p, "call_answered", T)
    assert (p.state, p.chats) == (S.ON_CALL, 1)
    p = apply(p, "call_ended", T)
    assert (p.state, p.chats) == (S.AFTER_CALL, 1)
    back = settle(p, T + timedelta(seconds=30), 30)
    assert (back.state, back.chats) == (S.CHATTING, 1)  # wrap-up over, the chat goes on
    paused = apply(back, "pause", T, reason="lunch")
    assert (paused.state, paused.chats) == (S.PAUSED, 1)
    with pytest.raises(PresenceError):
        apply(paused, "chat_started", T)
    assert apply(paused, "unpause", T).state is S.CHATTING
    with pytest.raises(PresenceError, match="open chats"):
        apply(paused, "logout", T)
    ended = apply(paused, "chat_ended", T)
    assert (ended.state, ended.chats) == (S.PAUSED, 0)
    assert apply(ended, "logout", T).state is S.LOGGED_OUT


def test_ready_before_after_call_work_is_up() -> None:
    p = apply(apply(Presence(S.READY, T), "call_answered", T), "call_ended", T)
    assert p.state is S.AFTER_CALL
    assert apply(p, "unpause", T + timedelta(seconds=5)) == Presence(
        S.READY, T + timedelta(seconds=5)
    )
    with pytest.raises(PresenceError):
        apply(Presence(S.READY, T), "unpause", T)


def test_the_board_knows_each_agents_own_limit() -> None:
    board = PresenceBoard(max_chats=3)
    board.limits["li"] = 1
    board.change("li", "login", T)
    board.change("li", "chat_started", T)
    with pytest.raises(PresenceError, match="the most is 1"):
        board.change("li", "chat_started", T)
    board.change("zhang", "login", T)
    for _ in range(3):
        board.change("zhang", "chat_started", T)
    assert board.agents["zhang"].chats == 3
    with pytest.raises(PresenceError):
        board.check("zhang", "chat_started", T)


async def test_after_call_work_is_timed_and_mirrored_in_the_queue() -> None:
    board = PresenceBoard(after_call_seconds=20)
    phones = FakeTelephony()
    mirror = QueueMirror(board, lambda: phones)
    heard: list[tuple[str, str, S]] = []
    board.listeners.append(lambda u, change, before, after: heard.append((u, change, after.state)))
    board.change("zhang", "login", T)
    await board(CallAnswered(at=T, call_id="1", agent="PJSIP/8001", agent_username="zhang",
                             ticket_number=None))  # fmt: skip
    await board(CallFinished(at=T + timedelta(minutes=2), call_id="1", ticket_number=None,
                             agent_username="zhang", abandoned=False))  # fmt: skip
    await mirror.drain()
    assert phones.asked == [("pause:after_call", "PJSIP/8001")]
    assert board.tick(T + timedelta(minutes=2, seconds=19)) == []
    assert board.tick(T + timedelta(minutes=2, seconds=20)) == ["zhang"]
    await mirror.drain()
    assert phones.asked[-1] == ("unpause", "PJSIP/8001")
    assert board.agents["zhang"] == Presence(S.READY, T + timedelta(minutes=2, seconds=20))
    assert [h[1:] for h in heard] == [
        ("login", S.READY),
        ("call_answered", S.ON_CALL),
        ("call_ended", S.AFTER_CALL),
        ("after_call_done", S.READY),
    ]
    assert [m[:2] for m in mirror.done] == [("zhang", "pause"), ("zhang", "unpause")]


async def test_a_refused_queue_pause_leaves_the_state_and_says_why() -> None:
    board = PresenceBoard(after_call_seconds=5)
    phones = FakeTelephony(refuse=True)
    mirror = QueueMirror(board, lambda: phones)
    board.interfaces["li"] = "PJSIP/8002"
    board.change("li", "call_answered", T)
    board.change("li", "call_ended", T)
    await mirror.drain()
    assert board.agents["li"].state is S.AFTER_CALL
    assert mirror.done == [("li", "pause", "failed: Interface not found")]


async def test_no_telephony_no_queue_actions() -> None:
    board = PresenceBoard(after_call_seconds=5)
    mirror = QueueMirror(board, lambda: None)
    board.interfaces["li"] = "PJSIP/8002"
    board.change("li", "call_answered", T)
    board.change("li", "call_ended", T)
    board.tick(T + timedelta(seconds=5))
    await mirror.drain()
    assert mirror.done == [] and board.agents["li"].state is S.READY


def test_set_chats_after_a_restart() -> None:
    board = PresenceBoard()
    board.change("li", "login", T)
    assert board.set_chats("li", 2, T).state is S.CHATTING
    assert board.set_chats("li", 0, T).state is S.READY
    board.change("li", "pause", T, "lunch")
    assert board.set_chats("li", 1, T) == Presence(S.PAUSED, T, "lunch", 1)
