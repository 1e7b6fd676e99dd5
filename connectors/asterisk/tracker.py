"""Turns AMI events into call state, timing marks and finished call records; no I/O, no clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from connectors.asterisk import dialplan
from connectors.asterisk.events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentRingNoAnswer,
    AmiEvent,
    AttendedTransfer,
    BlindTransfer,
    BridgeEnter,
    BridgeLeave,
    Channel,
    ConfbridgeJoin,
    ConfbridgeLeave,
    DialBegin,
    DialEnd,
    Hangup,
    Newchannel,
    OriginateResponse,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    UnknownEvent,
    UserEvent,
    VarSet,
    device_of,
)

__all__ = [
    "CallEnded",
    "CallMerged",
    "CallRecord",
    "CallState",
    "Mark",
    "OriginateFailed",
    "RingAttempt",
    "TrackerState",
    "Transfer",
    "Update",
    "apply",
]

# ConfBridge's announcer/recorder channels live in the conference bridge but are nobody.
_INTERNAL_TECHNOLOGIES = ("CBAnn/", "CBRec/", "Announcer/", "Recorder/")


@dataclass(frozen=True, slots=True)
class RingAttempt:
    """One agent's phone rung for a queue caller, and how it ended."""

    agent: str
    outcome: str = "ringing"
    ring_time: float | None = None
    leg: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Transfer:
    """A transfer of the caller; `outcome` is the target leg's DialStatus, not Asterisk's Result."""

    kind: str
    target: str
    by: str | None
    outcome: str | None = None
    answered_by: str | None = None
    setup_time: float | None = None
    requested_at: datetime | None = field(default=None, compare=False, repr=False)
    leg: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What the center keeps of one finished call."""

    call_id: str
    direction: str
    caller: str | None
    dialed: str | None
    queue: str | None = None
    queue_wait: float | None = None
    abandoned: bool = False
    answered: bool = False
    agent: str | None = None
    agent_name: str | None = None
    ring_time: float | None = None
    talk_time: float | None = None
    rang: tuple[RingAttempt, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    conference: str | None = None
    conference_members: tuple[str, ...] = ()
    hangup_cause: int | None = None
    survey: str | None = None
    ticket: str | None = None
    origin_action: str | None = None


@dataclass(frozen=True, slots=True)
class CallState:
    """A call in progress: the record so far plus what is needed to finish it."""

    record: CallRecord
    first: str
    started_at: datetime
    live: frozenset[str] = frozenset()
    queue_joined_at: datetime | None = None
    answered_at: datetime | None = None
    talk_leg: str | None = None
    talk_ended_at: datetime | None = None
    agent_leg: str | None = None


@dataclass(frozen=True, slots=True)
class TrackerState:
    """Everything the tracker knows: calls by id and the indexes into them."""

    calls: Mapping[str, CallState] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    rooms: Mapping[str, str] = field(default_factory=dict)
    dials: Mapping[str, tuple[str, datetime]] = field(default_factory=dict)
    answers: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    bridges: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Mark:
    """A timing record: `what` happened to call `call_id` at `at` (UTC)."""

    call_id: str
    what: str
    at: datetime
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The last channel of a call hung up; `record` is final."""

    record: CallRecord


@dataclass(frozen=True, slots=True)
class CallMerged:
    """Call `merged` turned out to be part of `into` (e.g. 110 originated into the room)."""

    merged: str
    into: str


@dataclass(frozen=True, slots=True)
class OriginateFailed:
    """An `Originate Async` failed before any channel existed (busy, unreachable...)."""

    action_id: str
    reason: int
    at: datetime


Update = Mark | CallEnded | CallMerged | OriginateFailed
Result = tuple[TrackerState, list[Update]]
Handler = Callable[[TrackerState, Any], Result]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 3)


def _call_of(state: TrackerState, channel: Channel) -> CallState | None:
    call_id = state.channels.get(channel.uniqueid)
    if call_id is None and channel.linkedid in state.calls:
        call_id = channel.linkedid
    return state.calls.get(call_id) if call_id is not None else None


def _put(state: TrackerState, call: CallState) -> TrackerState:
    return replace(state, calls={**state.calls, call.record.call_id: call})


def _rec(call: CallState, **changes: Any) -> CallState:
    return replace(call, record=replace(call.record, **changes))


def _attach(state: TrackerState, call: CallState, channel: Channel) -> TrackerState:
    call = replace(call, live=call.live | {channel.uniqueid})
    state = replace(
        state,
        channels={**state.channels, channel.uniqueid: call.record.call_id},
        names={**state.names, channel.name: channel.uniqueid},
    )
    return _put(state, call)


def _is_internal(channel: Channel) -> bool:
    return channel.name.startswith(_INTERNAL_TECHNOLOGIES)


def _sibling(name: str) -> str | None:
    """The other half of a Local channel pair (`;1` <-> `;2`)."""
    if name.startswith("Local/") and name[-2:] in (";1", ";2"):
        return name[:-1] + ("2" if name.endswith("1") else "1")
    return None


def _resolve_leg(state: TrackerState, dest: Channel) -> tuple[str, str]:
    """The real device (and its leg) behind a Local channel: whatever its other half reached."""
    sibling = _sibling(dest.name)
    if sibling is not None:
        sibling_id = state.names.get(sibling)
        if sibling_id is not None and sibling_id in state.answers:
            return state.answers[sibling_id]
    return dest.device, dest.uniqueid


def _resolve(state: TrackerState, dest: Channel) -> str:
    return _resolve_leg(state, dest)[0]


def _merge(state: TrackerState, merged_id: str, into_id: str) -> Result:
    if merged_id == into_id or merged_id not in state.calls or into_id not in state.calls:
        return state, []
    merged, into = state.calls[merged_id], state.calls[into_id]
    into = replace(into, live=into.live | merged.live)
    calls = {k: v for k, v in state.calls.items() if k != merged_id}
    calls[into_id] = into
    channels = {k: (into_id if v == merged_id else v) for k, v in state.channels.items()}
    rooms = {k: (into_id if v == merged_id else v) for k, v in state.rooms.items()}
    return replace(state, calls=calls, channels=channels, rooms=rooms), [
        CallMerged(merged_id, into_id)
    ]


def _on_newchannel(state: TrackerState, event: Newchannel) -> Result:
    channel = event.channel
    if _is_internal(channel):
        return state, []
    call = _call_of(state, channel)
    if call is None:
        sibling = _sibling(channel.name)
        sibling_id = state.names.get(sibling) if sibling else None
        if sibling_id is not None and sibling_id in state.channels:
            call = state.calls.get(state.channels[sibling_id])
    if call is not None:
        return _attach(state, call, channel), []
    record = CallRecord(
        call_id=channel.linkedid,
        direction="inbound",
        caller=channel.caller_num,
        dialed=channel.exten or None,
    )
    call = CallState(record=record, first=channel.uniqueid, started_at=event.at)
    return _attach(state, call, channel), [Mark(record.call_id, "arrived", event.at)]


def _on_queue_join(state: TrackerState, event: QueueCallerJoin) -> Result:
    call = _call_of(state, event.channel)
    if call is None:
        return state, []
    call = replace(_rec(call, queue=event.queue), queue_joined_at=event.at)
    return _put(state, call), [Mark(call.record.call_id, "queue_join", event.at, event.queue)]


def _on_queue_leave(state: TrackerState, event: QueueCallerLeave) -> Result:
    call = _call_of(state, event.channel)
    if call is None:
        return state, []
    return state, [Mark(call.record.call_id, "queue_leave", event.at, event.queue)]


def _on_queue_abandon(state: TrackerState, event: QueueCallerAbandon) -> Result:
    call = _call_of(state, event.channel)
    if call is None:
        return state, []
    call = _rec(call, abandoned=True, queue=event.queue, queue_wait=float(event.hold_time))
    return _put(state, call), [Mark(call.record.call_id, "queue_abandon", event.at, event.queue)]


def _set_attempt(call: CallState, leg: str, **changes: Any) -> CallState:
    rang = tuple(
        replace(a, **changes) if a.leg == leg and a.outcome == "ringing" else a
        for a in call.record.rang
    )
    return _rec(call, rang=rang)


def _on_agent_called(state: TrackerState, event: AgentCalled) -> Result:
    call = _call_of(state, event.channel)
    if call is None:
        return state, []
    leg = event.agent_channel.uniqueid if event.agent_channel else event.interface
    attempt = RingAttempt(agent=event.interface, leg=leg)
    call = _rec(call, rang=(*call.record.rang, attempt), queue=call.record.queue or event.queue)
    return _put(state, call), [Mark(call.record.call_id, "agent_ring", event.at, event.interface)]


def _on_agent_connect(state: TrackerState, event: AgentConnect) -> Result:
    call = _call_of(state, event.channel)
    if call is None:
        return state, []
    leg = event.agent_channel.uniqueid if event.agent_channel else event.interface
    call = _set_attempt(call, leg, outcome="answered", ring_time=float(event.ring_time))
    call = _rec(
        call,
        answered=True,
        agent=event.interface,
        agent_name=event.member_name,
        queue_wait=float(event.hold_time),
        ring_time=float(event.ring_time),
    )
    call = replace(call, answered_at=event.at, agent_leg=leg)
    return _put(state, call), [Mark(call.record.call_id, "answered", event.at, event.interface)]


def _on_agent_ring_no_answer(state: TrackerState, event: AgentRingNoAnswer) -> Result:
    call = _call_of(state, event.channel)
    if call is None:
        return state, []
    leg = event.agent_channel.uniqueid if event.agent_channel else event.interface
    call = _set_attempt(call, leg, outcome="no_answer", ring_time=event.ring_time_ms / 1000)
    return _put(state, call), [
        Mark(call.record.call_id, "agent_no_answer", event.at, event.interface)
    ]


def _on_agent_complete(state: TrackerState, event: AgentComplete) -> Result:
    call = _call_of(state, event.channel)
    if call is None:
        return state, []
    call = _rec(call, talk_time=float(event.talk_time))
    return _put(state, call), [Mark(call.record.call_id, "agent_complete", event.at, event.reason)]


def _pending_transfer(call: CallState, *legs: str) -> int | None:
    for index in range(len(call.record.transfers) - 1, -1, -1):
        transfer = call.record.transfers[index]
        if transfer.outcome is None and transfer.leg in legs:
            return index
    return None


def _set_transfer(call: CallState, index: int, **changes: Any) -> CallState:
    transfers = list(call.record.transfers)
    transfers[index] = replace(transfers[index], **changes)
    return _rec(call, transfers=tuple(transfers))


def _on_dial_begin(state: TrackerState, event: DialBegin) -> Result:
    caller_id = event.caller.uniqueid if event.caller else ""
    state = replace(state, dials={**state.dials, event.dest.uniqueid: (caller_id, event.at)})
    if event.caller is None:
        # Originate: the first leg is dialled by nobody; the call is ours, outbound.
        call = _call_of(state, event.dest)
        if call is None or call.first != event.dest.uniqueid:
            return state, []
        call = _rec(call, direction="outbound", dialed=None)
        return _put(state, call), [Mark(call.record.call_id, "originate_dial", event.at)]
    call = _call_of(state, event.caller)
    if call is None:
        return state, []
    updates: list[Update] = []
    dest_call_id = state.channels.get(event.dest.uniqueid)
    if dest_call_id is None:
        state = _attach(state, call, event.dest)
    elif dest_call_id != call.record.call_id:
        # Asterisk 11 has no Linkedid, so the callee started a "call" of its own; the Dial
        # is what ties it to the caller. Only a call the callee itself started, and that
        # nothing has happened to yet, is folded in.
        other = state.calls[dest_call_id]
        untouched = not other.record.answered and other.record.queue is None
        if other.first == event.dest.uniqueid and untouched:
            state, updates = _merge(state, dest_call_id, call.record.call_id)
            call = state.calls[call.record.call_id]
    return _dial_begin_marks(state, call, event, updates)


def _dial_begin_marks(
    state: TrackerState, call: CallState, event: DialBegin, updates: list[Update]
) -> Result:
    assert event.caller is not None
    index = _pending_transfer(call, event.caller.uniqueid)
    if index is not None:
        updates = [
            *updates,
            Mark(call.record.call_id, "transfer_dial", event.at, event.dest.device),
        ]
        return _put(state, call), updates
    if call.record.direction == "outbound" and _is_first(call, event.caller):
        call = _rec(call, dialed=event.dest.caller_num or event.dest.exten or call.record.dialed)
        updates = [*updates, Mark(call.record.call_id, "callee_dial", event.at, event.dest.device)]
        return _put(state, call), updates
    return state, updates


def _is_first(call: CallState, channel: Channel) -> bool:
    return channel.uniqueid == call.first


def _on_dial_end(state: TrackerState, event: DialEnd) -> Result:
    started = state.dials.get(event.dest.uniqueid)
    if event.status == "ANSWER" and event.caller is not None:
        state = replace(
            state, answers={**state.answers, event.caller.uniqueid: _resolve_leg(state, event.dest)}
        )
    if event.caller is None:
        return _originate_leg_answered(state, event)
    call = _call_of(state, event.caller)
    if call is None:
        return state, []
    call_id = call.record.call_id
    updates: list[Update] = []
    index = _pending_transfer(call, event.caller.uniqueid, event.dest.uniqueid)
    if index is not None and event.status not in ("", "PROGRESS", "RINGING", "PROCEEDING"):
        transfer = call.record.transfers[index]
        answered = event.status == "ANSWER"
        call = _set_transfer(
            call,
            index,
            outcome=event.status,
            answered_by=_resolve(state, event.dest) if answered else transfer.answered_by,
            setup_time=_seconds(transfer.requested_at, event.at) if answered else None,
        )
        what = "transfer_answered" if answered else "transfer_failed"
        return _put(state, call), [Mark(call_id, what, event.at, event.status)]
    if call.record.rang:
        outcome = {"BUSY": "busy", "CANCEL": "cancelled", "NOANSWER": "no_answer"}.get(
            event.status, ""
        )
        if outcome:
            ring = _seconds(started[1], event.at) if started else None
            call = _set_attempt(call, event.dest.uniqueid, outcome=outcome, ring_time=ring)
        return _put(state, call), updates
    if event.status != "ANSWER" or call.record.answered:
        return state, updates
    if call.record.direction == "outbound":
        if not _is_first(call, event.caller):
            return state, updates
        call = _rec(call, answered=True)
        call = replace(call, answered_at=event.at, talk_leg=event.dest.uniqueid)
        return _put(state, call), [Mark(call_id, "callee_answered", event.at, event.dest.device)]
    if event.caller.uniqueid != call.first:
        return state, updates
    agent, leg = _resolve_leg(state, event.dest)
    ring = _seconds(started[1], event.at) if started else None
    call = _rec(call, answered=True, agent=agent, ring_time=ring)
    call = replace(call, answered_at=event.at, talk_leg=leg)
    return _put(state, call), [Mark(call_id, "answered", event.at, agent)]


def _originate_leg_answered(state: TrackerState, event: DialEnd) -> Result:
    call = _call_of(state, event.dest)
    if call is None or event.status != "ANSWER" or call.first != event.dest.uniqueid:
        return state, []
    agent = _resolve(state, event.dest)
    call = _rec(call, agent=agent)
    return _put(state, call), [Mark(call.record.call_id, "agent_answered", event.at, agent)]


def _on_hangup(state: TrackerState, event: Hangup) -> Result:
    call = _call_of(state, event.channel)
    if call is None:
        return state, []
    uniqueid = event.channel.uniqueid
    call_id = call.record.call_id
    updates: list[Update] = [
        Mark(call_id, "hangup", event.at, f"{event.channel.device} {event.cause}")
    ]
    if uniqueid == call.first:
        call = _rec(call, hangup_cause=event.cause)
    ends_talk = uniqueid == call.talk_leg or (
        call.record.direction == "inbound" and uniqueid == call.first
    )
    if ends_talk and call.talk_ended_at is None:
        call = replace(call, talk_ended_at=event.at)
    call = replace(call, live=call.live - {uniqueid})
    state = replace(
        state,
        channels={k: v for k, v in state.channels.items() if k != uniqueid},
        names={k: v for k, v in state.names.items() if v != uniqueid},
        dials={k: v for k, v in state.dials.items() if k != uniqueid},
    )
    if call.live:
        return _put(state, call), updates
    record = call.record
    if record.talk_time is None and call.answered_at is not None:
        record = replace(
            record, talk_time=_seconds(call.answered_at, call.talk_ended_at or event.at)
        )
    calls = {k: v for k, v in state.calls.items() if k != call_id}
    rooms = {k: v for k, v in state.rooms.items() if v != call_id}
    answers = {k: v for k, v in state.answers.items() if k in state.channels}
    state = replace(state, calls=calls, rooms=rooms, answers=answers)
    return state, [*updates, CallEnded(record)]


def _on_blind_transfer(state: TrackerState, event: BlindTransfer) -> Result:
    transferee = event.transferee
    if transferee is None:
        return state, []
    call = _call_of(state, transferee)
    if call is None:
        return state, []
    success = event.result == "Success"
    transfer = Transfer(
        kind="blind",
        target=f"{event.extension}@{event.context}" if event.context else event.extension,
        by=event.transferer.device if event.transferer else None,
        outcome=None if success else f"failed:{event.result}",
        requested_at=event.at,
        leg=transferee.uniqueid,
    )
    call = _rec(call, transfers=(*call.record.transfers, transfer))
    if call.talk_ended_at is None and call.record.direction == "inbound":
        call = replace(call, talk_ended_at=event.at)
    return _put(state, call), [
        Mark(call.record.call_id, "transfer_requested", event.at, transfer.target)
    ]


def _name_of(state: TrackerState, uniqueid: str) -> str | None:
    return next((name for name, uid in state.names.items() if uid == uniqueid), None)


def _on_attended_transfer(state: TrackerState, event: AttendedTransfer) -> Result:
    anchor = event.transferee or event.transferer
    if anchor is None:
        return state, []
    call = _call_of(state, anchor)
    if call is None:
        return state, []
    second = event.second_transferer
    target_name: str | None = event.target.name if event.target else None
    target_id: str | None = event.target.uniqueid if event.target else None
    if target_id is None and second is not None:
        bridge = event.dest_bridge or event.second_bridge
        others = state.bridges.get(bridge, frozenset()) - {second.uniqueid, anchor.uniqueid}
        # Whoever is in the destination bridge but not yet part of this call is the target.
        foreign = sorted(u for u in others if state.channels.get(u) != call.record.call_id)
        if foreign or others:
            target_id = (foreign or sorted(others))[0]
        else:
            # Blonde transfer: the consultation is still ringing the target.
            target_id = next((d for d, (c, _) in state.dials.items() if c == second.uniqueid), None)
        target_name = _name_of(state, target_id) if target_id else None
    updates: list[Update] = []
    if second is not None:
        # The consultation may have been its own call (its own Linkedid): it is this call now.
        other = _call_of(state, second)
        if other is not None and other.record.call_id != call.record.call_id:
            state, updates = _merge(state, other.record.call_id, call.record.call_id)
            call = state.calls[call.record.call_id]
    outcome: str | None = None
    answered_by: str | None = None
    leg: str | None = None
    if target_name is not None and target_id is not None:
        target = Channel(target_name, target_id, call.record.call_id)
        sibling = _sibling(target_name)
        sibling_id = state.names.get(sibling) if sibling else None
        if sibling_id is not None and sibling_id in state.answers:
            outcome, answered_by = "ANSWER", state.answers[sibling_id][0]
        elif any(target_id in members for members in state.bridges.values()):
            outcome, answered_by = "ANSWER", _resolve(state, target)
        elif target_id in state.dials:
            leg = target_id
        else:
            outcome, answered_by = "ANSWER", _resolve(state, target)
    if event.result != "Success":
        outcome = f"failed:{event.result}"
    label = device_of(target_name).removeprefix("Local/") if target_name else ""
    transfer = Transfer(
        kind="attended",
        target=label,
        by=event.transferer.device if event.transferer else None,
        outcome=outcome,
        answered_by=answered_by,
        requested_at=event.at,
        leg=leg,
    )
    call = _rec(call, transfers=(*call.record.transfers, transfer))
    if call.talk_ended_at is None and call.record.direction == "inbound":
        call = replace(call, talk_ended_at=event.at)
    mark = Mark(call.record.call_id, "transfer_requested", event.at, label)
    return _put(state, call), [*updates, mark]


def _on_bridge_enter(state: TrackerState, event: BridgeEnter) -> Result:
    members = state.bridges.get(event.bridge, frozenset()) | {event.channel.uniqueid}
    if event.swap_uniqueid:
        members -= {event.swap_uniqueid}
    return replace(state, bridges={**state.bridges, event.bridge: members}), []


def _on_bridge_leave(state: TrackerState, event: BridgeLeave) -> Result:
    members = state.bridges.get(event.bridge, frozenset()) - {event.channel.uniqueid}
    bridges = {k: v for k, v in state.bridges.items() if k != event.bridge}
    if members:
        bridges[event.bridge] = members
    return replace(state, bridges=bridges), []


def _on_conf_join(state: TrackerState, event: ConfbridgeJoin) -> Result:
    if _is_internal(event.channel):
        return state, []
    call = _call_of(state, event.channel)
    if call is None:
        return state, []
    updates: list[Update] = []
    room_call = state.rooms.get(event.conference)
    if room_call is None:
        state = replace(state, rooms={**state.rooms, event.conference: call.record.call_id})
    elif room_call != call.record.call_id:
        state, updates = _merge(state, call.record.call_id, room_call)
        call = state.calls[room_call]
    members = call.record.conference_members
    if event.channel.device not in members:
        members = (*members, event.channel.device)
    call = _rec(call, conference=event.conference, conference_members=members)
    mark = Mark(call.record.call_id, "conference_join", event.at, event.channel.device)
    return _put(state, call), [*updates, mark]


def _on_conf_leave(state: TrackerState, event: ConfbridgeLeave) -> Result:
    call = _call_of(state, event.channel)
    if call is None or _is_internal(event.channel):
        return state, []
    return state, [Mark(call.record.call_id, "conference_leave", event.at, event.channel.device)]


def _on_user_event(state: TrackerState, event: UserEvent) -> Result:
    if event.user_event != dialplan.SURVEY_EVENT:
        return state, []
    call_id = event.headers.get(dialplan.SURVEY_CALL_HEADER)
    call = state.calls.get(call_id) if call_id else None
    if call is None and event.channel is not None:
        call = _call_of(state, event.channel)
    if call is None:
        return state, []
    rating = event.headers.get(dialplan.SURVEY_RATING_HEADER, dialplan.SURVEY_NO_RATING)
    call = _rec(call, survey=rating)
    return _put(state, call), [Mark(call.record.call_id, "survey", event.at, rating)]


def _on_originate_response(state: TrackerState, event: OriginateResponse) -> Result:
    call_id = state.channels.get(event.uniqueid or "")
    if event.response != "Success" or call_id is None:
        if event.response != "Success":
            return state, [OriginateFailed(event.action_id, event.reason, event.at)]
        return state, []
    call = state.calls[call_id]
    if call.record.origin_action is None and call.first == event.uniqueid:
        call = _rec(call, origin_action=event.action_id)
        return _put(state, call), [Mark(call_id, "originated", event.at, event.action_id)]
    return state, []


def _on_varset(state: TrackerState, event: VarSet) -> Result:
    if event.variable.lstrip("_") != dialplan.TICKET_VARIABLE:
        return state, []
    call = _call_of(state, event.channel)
    if call is None or call.record.ticket == event.value:
        return state, []
    return _put(state, _rec(call, ticket=event.value)), []


HANDLERS: Mapping[str, Handler] = {
    "Newchannel": _on_newchannel,
    "QueueCallerJoin": _on_queue_join,
    "QueueCallerLeave": _on_queue_leave,
    "QueueCallerAbandon": _on_queue_abandon,
    "AgentCalled": _on_agent_called,
    "AgentConnect": _on_agent_connect,
    "AgentRingNoAnswer": _on_agent_ring_no_answer,
    "AgentComplete": _on_agent_complete,
    "DialBegin": _on_dial_begin,
    "DialEnd": _on_dial_end,
    "Hangup": _on_hangup,
    "BlindTransfer": _on_blind_transfer,
    "AttendedTransfer": _on_attended_transfer,
    "BridgeEnter": _on_bridge_enter,
    "BridgeLeave": _on_bridge_leave,
    "ConfbridgeJoin": _on_conf_join,
    "ConfbridgeLeave": _on_conf_leave,
    "UserEvent": _on_user_event,
    "OriginateResponse": _on_originate_response,
    "VarSet": _on_varset,
}


def apply(state: TrackerState, event: AmiEvent) -> Result:
    """Fold one event into the state; events the tracker does not use change nothing."""
    if isinstance(event, UnknownEvent):
        return state, []
    handler = HANDLERS.get(event.name)
    if handler is None:
        return state, []
    return handler(state, event)


def channels_of(state: TrackerState, call_id: str) -> tuple[str | None, str | None]:
    """The caller's and the answering agent's channel names of a live call (None if unknown)."""
    call = state.calls.get(call_id)
    if call is None:
        return None, None
    by_uniqueid = {u: name for name, u in state.names.items()}
    caller = by_uniqueid.get(call.first)
    agent = by_uniqueid.get(call.agent_leg) if call.agent_leg else None
    return caller, agent


def call_of_agent(state: TrackerState, interface: str) -> str | None:
    """The live call an agent's interface answered, if any."""
    for call_id, call in state.calls.items():
        if call.record.agent == interface and call.live:
            return call_id
    return None
