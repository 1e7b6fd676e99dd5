"""The ticket lifecycle as one transition table; pure functions, no I/O.

Every change of a ticket goes through `transition()`, which checks the table, the
acting role and the guards, and returns the new state with its timeline entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tickets.model import RatingLevel, Role, State, TimelineEntry


class Action(StrEnum):
    """Everything a person or the system can do to a ticket."""

    RESOLVE_ON_SPOT = "resolve_on_spot"
    SUBMIT_REVIEW = "submit_review"
    APPROVE = "approve"
    SEND_BACK = "send_back"
    DISPATCH = "dispatch"
    SIGN = "sign"
    RETURN = "return"
    ACCEPT_RETURN = "accept_return"
    REJECT_RETURN = "reject_return"
    PASS_ON = "pass_on"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    DENY_EXTENSION = "deny_extension"
    SUBMIT_RESULT = "submit_result"
    SEND_BACK_RESULT = "send_back_result"
    INFORM_CITIZEN = "inform_citizen"
    RECORD_RATING = "record_rating"
    CLOSE_NO_ANSWER = "close_no_answer"
    SUPERVISE = "supervise"
    REDISPATCH = "redispatch"
    TRANSFER_110 = "transfer_110"
    POLICE_ACKNOWLEDGE = "police_acknowledge"
    POLICE_HAND_BACK = "police_hand_back"
    POLICE_CLOSE = "police_close"
    MERGE = "merge"
    CANCEL = "cancel"
    REOPEN = "reopen"


A, S = Action, State
AGENT, SUP, DEPT, POLICE, SYS, CIT = (
    Role.AGENT,
    Role.SUPERVISOR,
    Role.DEPARTMENT,
    Role.POLICE,
    Role.SYSTEM,
    Role.CITIZEN,
)


@dataclass(frozen=True)
class Rule:
    """One row of the table: from `source`, `action` by one of `roles` leads to `target`."""

    source: State
    action: Action
    target: State
    roles: frozenset[Role]
    needs_reason: bool = False


def _r(source: State, action: Action, target: State, *roles: Role, reason: bool = False) -> Rule:
    return Rule(source, action, target, frozenset(roles), reason)


# The one table. RECORD_RATING's target is decided by the rating (see _rating_target).
RULES: tuple[Rule, ...] = (
    _r(S.RECEIVED, A.RESOLVE_ON_SPOT, S.FOLLOW_UP, AGENT, SUP),
    _r(S.RECEIVED, A.SUBMIT_REVIEW, S.PENDING_REVIEW, AGENT),
    _r(S.PENDING_REVIEW, A.APPROVE, S.DISPATCHED, SUP),
    _r(S.PENDING_REVIEW, A.SEND_BACK, S.RECEIVED, SUP, reason=True),
    _r(S.RECEIVED, A.DISPATCH, S.DISPATCHED, AGENT, SUP, SYS),  # SYS: urgent, by rule
    _r(S.DISPATCHED, A.SIGN, S.HANDLING, DEPT),
    _r(S.DISPATCHED, A.RETURN, S.RETURNED, DEPT, reason=True),
    _r(S.RETURNED, A.ACCEPT_RETURN, S.RECEIVED, SUP),
    _r(S.RETURNED, A.REJECT_RETURN, S.DISPATCHED, SUP, reason=True),
    _r(S.HANDLING, A.PASS_ON, S.DISPATCHED, DEPT),
    _r(S.HANDLING, A.REQUEST_EXTENSION, S.HANDLING, DEPT, reason=True),
    _r(S.HANDLING, A.APPROVE_EXTENSION, S.HANDLING, SUP),
    _r(S.HANDLING, A.DENY_EXTENSION, S.HANDLING, SUP, reason=True),
    _r(S.HANDLING, A.SUBMIT_RESULT, S.RESULT_SUBMITTED, DEPT),
    _r(S.RESULT_SUBMITTED, A.SEND_BACK_RESULT, S.HANDLING, AGENT, SUP, reason=True),
    _r(S.RESULT_SUBMITTED, A.INFORM_CITIZEN, S.FOLLOW_UP, AGENT, SUP, SYS),
    _r(S.FOLLOW_UP, A.RECORD_RATING, S.CLOSED, AGENT, SUP, SYS, CIT),
    _r(S.FOLLOW_UP, A.CLOSE_NO_ANSWER, S.CLOSED, AGENT, SUP, SYS),
    _r(S.DISPATCHED, A.SUPERVISE, S.DISPATCHED, SUP, reason=True),
    _r(S.HANDLING, A.SUPERVISE, S.HANDLING, SUP, reason=True),
    _r(S.SUPERVISED, A.REDISPATCH, S.DISPATCHED, SUP),
    # Reassignment from the wallboard: the order moves to another department, new clocks.
    _r(S.DISPATCHED, A.REDISPATCH, S.DISPATCHED, SUP),
    _r(S.HANDLING, A.REDISPATCH, S.DISPATCHED, SUP),
    _r(S.RECEIVED, A.TRANSFER_110, S.WITH_POLICE, AGENT, SUP),
    _r(S.WITH_POLICE, A.POLICE_ACKNOWLEDGE, S.WITH_POLICE, POLICE),
    _r(S.WITH_POLICE, A.POLICE_HAND_BACK, S.RECEIVED, POLICE, reason=True),
    _r(S.WITH_POLICE, A.POLICE_CLOSE, S.CLOSED, POLICE),
    _r(S.RECEIVED, A.MERGE, S.MERGED, AGENT, SUP),
    _r(S.PENDING_REVIEW, A.MERGE, S.MERGED, SUP),
    _r(S.RECEIVED, A.CANCEL, S.CANCELLED, SUP, reason=True),
    _r(S.PENDING_REVIEW, A.CANCEL, S.CANCELLED, SUP, reason=True),
    _r(S.RETURNED, A.CANCEL, S.CANCELLED, SUP, reason=True),
    _r(S.CLOSED, A.REOPEN, S.SUPERVISED, SUP, reason=True),
)

TABLE: Mapping[tuple[State, Action], Rule] = {(r.source, r.action): r for r in RULES}


class LifecycleError(Exception):
    """A transition that the rules do not allow; `code` is stable for API clients."""

    code = "invalid_transition"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class InvalidTransition(LifecycleError):
    """The action does not exist from this state."""

    code = "invalid_transition"


class RoleNotAllowed(LifecycleError):
    """The action exists here, but not for this role."""

    code = "role_not_allowed"


class GuardFailed(LifecycleError):
    """The action is allowed but a precondition is missing (a reason, a rating, ...)."""

    code = "precondition_failed"


@dataclass(frozen=True)
class Facts:
    """What the guards need to know about the ticket beyond its state."""

    review_required: bool = False
    extension_pending: bool = False
    acting_department_in_chain: bool = True
    satisfied_levels: frozenset[RatingLevel] = frozenset(
        {
            RatingLevel.VERY_SATISFIED,
            RatingLevel.SATISFIED,
            RatingLevel.BASICALLY_SATISFIED,
        }
    )


@dataclass(frozen=True)
class Request:
    """One attempt to act on a ticket."""

    action: Action
    actor: str
    role: Role
    at: datetime
    reason: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


def _rating_target(req: Request, facts: Facts) -> State:
    try:
        level = RatingLevel(str(req.payload.get("rating")))
    except ValueError:
        raise GuardFailed("a rating of one of five levels is required", field="rating") from None
    return State.CLOSED if level in facts.satisfied_levels else State.SUPERVISED


def _guard_agent_dispatch(req: Request, facts: Facts) -> None:
    if req.role is Role.AGENT and facts.review_required:
        raise GuardFailed("this ticket must be reviewed by a supervisor before dispatch")


def _guard_department_target(req: Request, facts: Facts) -> None:
    if not req.payload.get("department"):
        raise GuardFailed("a lead department is required", field="department")


def _guard_in_chain(req: Request, facts: Facts) -> None:
    if not facts.acting_department_in_chain:
        raise RoleNotAllowed("this order is not dispatched to your department")


def _guard_extension_pending(req: Request, facts: Facts) -> None:
    if not facts.extension_pending:
        raise GuardFailed("there is no pending extension request")


def _guard_no_extension_pending(req: Request, facts: Facts) -> None:
    if facts.extension_pending:
        raise GuardFailed("an extension request is already pending")
    days = req.payload.get("days")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 60:
        raise GuardFailed("extension days must be a whole number from 1 to 60", field="days")


def _guard_merge_target(req: Request, facts: Facts) -> None:
    if not req.payload.get("into"):
        raise GuardFailed("the ticket to merge into is required", field="into")


def _guard_result(req: Request, facts: Facts) -> None:
    if not str(req.payload.get("result", "")).strip():
        raise GuardFailed("the result text is required", field="result")


Guard = Callable[[Request, Facts], None]

# Extra preconditions per action, beyond role and reason.
GUARDS: Mapping[Action, tuple[Guard, ...]] = {
    A.DISPATCH: (_guard_agent_dispatch, _guard_department_target),
    A.APPROVE: (_guard_department_target,),
    A.REJECT_RETURN: (),
    A.REDISPATCH: (_guard_department_target,),
    A.PASS_ON: (_guard_in_chain, _guard_department_target),
    A.SIGN: (_guard_in_chain,),
    A.RETURN: (_guard_in_chain,),
    A.REQUEST_EXTENSION: (_guard_in_chain, _guard_no_extension_pending),
    A.APPROVE_EXTENSION: (_guard_extension_pending,),
    A.DENY_EXTENSION: (_guard_extension_pending,),
    A.SUBMIT_RESULT: (_guard_in_chain, _guard_result),
    A.MERGE: (_guard_merge_target,),
}


def allowed_actions(state: State, role: Role) -> list[Action]:
    """The actions `role` may attempt from `state`, in table order (for the console)."""
    return [r.action for r in RULES if r.source is state and role in r.roles]


def transition(state: State, req: Request, facts: Facts = Facts()) -> tuple[State, TimelineEntry]:
    """Apply one request to a ticket in `state`; raise a LifecycleError for anything else."""
    rule = TABLE.get((state, req.action))
    if rule is None:
        raise InvalidTransition(
            f"cannot {req.action.value} a ticket that is {state.value}",
            state=state.value,
            action=req.action.value,
        )
    if req.role not in rule.roles:
        raise RoleNotAllowed(
            f"role {req.role.value} may not {req.action.value}",
            role=req.role.value,
            action=req.action.value,
        )
    if rule.needs_reason and not req.reason.strip():
        raise GuardFailed(f"{req.action.value} needs a reason", field="reason")
    for guard in GUARDS.get(req.action, ()):
        guard(req, facts)
    target = _rating_target(req, facts) if req.action is A.RECORD_RATING else rule.target
    entry = TimelineEntry(
        at=req.at,
        actor=req.actor,
        role=req.role,
        action=req.action.value,
        from_state=state,
        to_state=target,
        reason=req.reason,
        payload=dict(req.payload),
    )
    return target, entry


def mermaid() -> str:
    """The state diagram generated from the table (kept beside it in LIFECYCLE.md)."""
    lines = ["stateDiagram-v2", "    [*] --> received: accept (any channel)"]
    for r in RULES:
        roles = "/".join(sorted(x.value for x in r.roles))
        lines.append(f"    {r.source.value} --> {r.target.value}: {r.action.value} ({roles})")
    lines.append("    follow_up --> supervised: record_rating, dissatisfied (3-5-15 clock)")
    return "\n".join(lines) + "\n"
