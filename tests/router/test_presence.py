"""Agent presence: the state machine, after-call work running out, calls moving agents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from router.presence import AgentState, Presence, PresenceBoard, PresenceError, apply, settle
from tickets.events import CallAnswered, CallFinished

T = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
S = AgentState


def test_state_machine() -> None:
    p = apply(Presence(), "login", T)
    assert p.state is S.READY
    p = apply(p, "pause", T, reason="午休")
    assert (p.state, p.reason) == (S.PAUSED, "午休")
    with pytest.raises(PresenceError):
        apply(p, "chat_started", T)
    p = apply(p, "unpause", T)
    p = apply(p, "chat_started", T)
    p = apply(p, "chat_started", T)
    assert (p.state, p.chats) == (S.CHATTING, 2)
    with pytest.raises(PresenceError):
        apply(p, "chat_started", T, max_chats=2)
    p = apply(apply(p, "chat_ended", T), "chat_ended", T)
    assert (p.state, p.chats) == (S.READY, 0)
    p = apply(p, "call_answered", T)
    with pytest.raises(PresenceError):
        apply(p, "pause", T, reason="x")
    with pytest.raises(PresenceError):
        apply(p, "logout", T)
    p = apply(p, "call_ended", T)
    assert p.state is S.AFTER_CALL
    with pytest.raises(PresenceError):
        apply(apply(p, "login", T), "pause", T, reason=" ")


def test_after_call_work_runs_out() -> None:
    p = Presence(S.AFTER_CALL, T)
    assert settle(p, T + timedelta(seconds=29), 30).state is S.AFTER_CALL
    done = settle(p, T + timedelta(seconds=31), 30)
    assert done.state is S.READY and done.since == T + timedelta(seconds=30)


async def test_board_follows_the_calls() -> None:
    board = PresenceBoard(after_call_seconds=20)
    board.change("zhang", "login", T)
    board.change("li", "login", T)
    board.change("li", "pause", T, "培训")
    await board(
        CallAnswered(
            at=T, call_id="1", agent="PJSIP/8001", agent_username="zhang", ticket_number=None
        )
    )
    assert board.counts(T)["on_call"] == 1 and board.counts(T)["paused"] == 1
    await board(CallFinished(at=T + timedelta(minutes=3), call_id="1", ticket_number=None,
                             agent_username="zhang", abandoned=False))  # fmt: skip
    assert board.now(T + timedelta(minutes=3))["zhang"].state is S.AFTER_CALL
    assert board.now(T + timedelta(minutes=4))["zhang"].state is S.READY
