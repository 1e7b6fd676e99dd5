"""Every (state, action, role) triple of the lifecycle table, plus its guards and diagram."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tickets.lifecycle import (
    RULES,
    TABLE,
    Action,
    Facts,
    GuardFailed,
    InvalidTransition,
    Request,
    RoleNotAllowed,
    allowed_actions,
    mermaid,
    transition,
)
from tickets.model import RatingLevel, Role, State

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

# A payload and facts that satisfy every guard, so only table and role decide.
GOOD_PAYLOAD: dict[str, Any] = {
    "department": "chengguan",
    "rating": RatingLevel.SATISFIED.value,
    "days": 5,
    "into": "20261123-000001",
    "result": "已处理",
}


def _facts(action: Action) -> Facts:
    pending = action in (Action.APPROVE_EXTENSION, Action.DENY_EXTENSION)
    return Facts(extension_pending=pending)


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_every_state_action_role(state: State, action: Action) -> None:
    rule = TABLE.get((state, action))
    for role in Role:
        req = Request(action, "someone", role, AT, reason="理由", payload=dict(GOOD_PAYLOAD))
        if rule is None:
            with pytest.raises(InvalidTransition):
                transition(state, req, _facts(action))
        elif role not in rule.roles:
            with pytest.raises(RoleNotAllowed):
                transition(state, req, _facts(action))
        else:
            new_state, entry = transition(state, req, _facts(action))
            assert new_state is rule.target
            assert entry.from_state is state and entry.to_state is new_state
            assert entry.at == AT and entry.actor == "someone" and entry.role is role
            assert entry.action == action.value and entry.reason == "理由"


def test_roles_keep_call_handling_and_case_handling_apart() -> None:
    case_actions = {
        Action.SIGN,
        Action.RETURN,
        Action.PASS_ON,
        Action.REQUEST_EXTENSION,
        Action.SUBMIT_RESULT,
    }
    for rule in RULES:
        if rule.action in case_actions:
            assert rule.roles == {Role.DEPARTMENT}
        else:
            assert Role.DEPARTMENT not in rule.roles
        assert Role.ADMIN not in rule.roles


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (RatingLevel.VERY_SATISFIED, State.CLOSED),
        (RatingLevel.SATISFIED, State.CLOSED),
        (RatingLevel.BASICALLY_SATISFIED, State.CLOSED),
        (RatingLevel.DISSATISFIED, State.SUPERVISED),
        (RatingLevel.VERY_DISSATISFIED, State.SUPERVISED),
    ],
)
def test_rating_closes_or_starts_supervision(level: RatingLevel, expected: State) -> None:
    req = Request(Action.RECORD_RATING, "a", Role.AGENT, AT, payload={"rating": level.value})
    assert transition(State.FOLLOW_UP, req)[0] is expected


def test_satisfied_levels_are_configurable() -> None:
    strict = Facts(satisfied_levels=frozenset({RatingLevel.VERY_SATISFIED, RatingLevel.SATISFIED}))
    req = Request(
        Action.RECORD_RATING, "a", Role.AGENT, AT, payload={"rating": "basically_satisfied"}
    )
    assert transition(State.FOLLOW_UP, req, strict)[0] is State.SUPERVISED


@pytest.mark.parametrize(
    ("state", "action", "payload", "facts", "field"),
    [
        (State.FOLLOW_UP, Action.RECORD_RATING, {"rating": "great"}, Facts(), "rating"),
        (State.RECEIVED, Action.DISPATCH, {}, Facts(), "department"),
        (State.HANDLING, Action.REQUEST_EXTENSION, {"days": 0}, Facts(), "days"),
        (State.HANDLING, Action.REQUEST_EXTENSION, {"days": "5"}, Facts(), "days"),
        (State.HANDLING, Action.SUBMIT_RESULT, {"result": "  "}, Facts(), "result"),
        (State.RECEIVED, Action.MERGE, {}, Facts(), "into"),
    ],
)
def test_guards_name_the_missing_field(
    state: State, action: Action, payload: dict[str, Any], facts: Facts, field: str
) -> None:
    role = next(iter(TABLE[(state, action)].roles))
    role = Role.DEPARTMENT if Role.DEPARTMENT in TABLE[(state, action)].roles else role
    with pytest.raises(GuardFailed) as exc:
        transition(state, Request(action, "x", role, AT, reason="r", payload=payload), facts)
    assert exc.value.details.get("field") == field


def test_reason_is_required_where_the_table_says() -> None:
    for rule in RULES:
        if not rule.needs_reason:
            continue
        role = sorted(rule.roles)[0]
        req = Request(rule.action, "x", role, AT, reason="  ", payload=dict(GOOD_PAYLOAD))
        with pytest.raises(GuardFailed, match="reason"):
            transition(rule.source, req, _facts(rule.action))


def test_agent_cannot_dispatch_what_needs_review_but_supervisor_can() -> None:
    facts = Facts(review_required=True)
    agent = Request(Action.DISPATCH, "a", Role.AGENT, AT, payload={"department": "x"})
    with pytest.raises(GuardFailed):
        transition(State.RECEIVED, agent, facts)
    sup = Request(Action.DISPATCH, "s", Role.SUPERVISOR, AT, payload={"department": "x"})
    assert transition(State.RECEIVED, sup, facts)[0] is State.DISPATCHED


def test_department_outside_the_chain_is_refused() -> None:
    req = Request(Action.SIGN, "d", Role.DEPARTMENT, AT)
    with pytest.raises(RoleNotAllowed):
        transition(State.DISPATCHED, req, Facts(acting_department_in_chain=False))


def test_extension_decisions_need_a_pending_request() -> None:
    req = Request(Action.APPROVE_EXTENSION, "s", Role.SUPERVISOR, AT)
    with pytest.raises(GuardFailed):
        transition(State.HANDLING, req, Facts(extension_pending=False))
    again = Request(Action.REQUEST_EXTENSION, "d", Role.DEPARTMENT, AT, "r", {"days": 3})
    with pytest.raises(GuardFailed):
        transition(State.HANDLING, again, Facts(extension_pending=True))


def test_allowed_actions_match_the_table() -> None:
    assert allowed_actions(State.RECEIVED, Role.AGENT) == [
        Action.RESOLVE_ON_SPOT,
        Action.SUBMIT_REVIEW,
        Action.DISPATCH,
        Action.TRANSFER_110,
        Action.MERGE,
    ]
    assert allowed_actions(State.DISPATCHED, Role.DEPARTMENT) == [Action.SIGN, Action.RETURN]
    assert allowed_actions(State.WITH_POLICE, Role.POLICE) == [
        Action.POLICE_ACKNOWLEDGE,
        Action.POLICE_HAND_BACK,
        Action.POLICE_CLOSE,
    ]
    assert allowed_actions(State.CLOSED, Role.AGENT) == []


def test_every_state_is_reachable_and_every_open_state_can_move() -> None:
    reached = {State.RECEIVED}
    frontier = [State.RECEIVED]
    while frontier:
        s = frontier.pop()
        for r in RULES:
            bad = {State.SUPERVISED} if r.action is Action.RECORD_RATING else set()
            targets = {r.target} | bad
            for t in targets:
                if r.source is s and t not in reached:
                    reached.add(t)
                    frontier.append(t)
    assert reached == set(State)
    for s in State:
        if s not in (State.MERGED, State.CANCELLED):
            assert any(r.source is s for r in RULES), s


def test_diagram_beside_the_table_is_current() -> None:
    doc = (Path(__file__).parents[2] / "tickets" / "LIFECYCLE.md").read_text(encoding="utf-8")
    assert "```mermaid\n" + mermaid() + "```" in doc
