"""Turns AMI event frames into typed, frozen events (Asterisk 13+ model, some Asterisk 11)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.asterisk import dialplan
from connectors.asterisk.frames import Frame

__all__ = [
    "CHANNEL_SNAPSHOT",
    "AgentCalled",
    "AgentComplete",
    "AgentConnect",
    "AgentRingNoAnswer",
    "AmiEvent",
    "AttendedTransfer",
    "BlindTransfer",
    "BridgeEnter",
    "BridgeLeave",
    "Channel",
    "ConfbridgeJoin",
    "ConfbridgeLeave",
    "DialBegin",
    "DialEnd",
    "Hangup",
    "Newchannel",
    "Newstate",
    "OriginateResponse",
    "QueueCallerAbandon",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "UnknownEvent",
    "UserEvent",
    "VarSet",
    "decode",
    "device_of",
    "event_time",
]

_UNKNOWN = "<unknown>"
OUR_VARIABLES = frozenset(dialplan.VARIABLES)
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]+(;\d)?(<\w+>)?$")


def device_of(channel: str) -> str:
    """The endpoint of a channel: `PJSIP/8001-0000000a` -> `PJSIP/8001`.

    `Local/110@transfer-110-00000001;1` -> `Local/110@transfer-110`.
    """
    return _CHANNEL_SUFFIX.sub("", channel)


def _number(value: str | None) -> str | None:
    return None if value in (None, "", _UNKNOWN) else value


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class Channel:
    """The channel snapshot Asterisk 12+ attaches to events (optionally under a prefix)."""

    name: str
    uniqueid: str
    linkedid: str
    caller_num: str | None = None
    caller_name: str | None = None
    connected_num: str | None = None
    context: str = ""
    exten: str = ""
    state: int = 0

    @property
    def device(self) -> str:
        """The endpoint the channel belongs to (`PJSIP/8001`)."""
        return device_of(self.name)


def _channel(frame: Frame, prefix: str = "") -> Channel | None:
    name = frame.get(f"{prefix}Channel")
    uniqueid = frame.get(f"{prefix}Uniqueid")
    if not name or not uniqueid:
        return None
    return Channel(
        name=name,
        uniqueid=uniqueid,
        # Asterisk 11 has no Linkedid; each channel is then its own call until linked.
        linkedid=frame.get(f"{prefix}Linkedid") or uniqueid,
        caller_num=_number(frame.get(f"{prefix}CallerIDNum")),
        caller_name=_number(frame.get(f"{prefix}CallerIDName")),
        connected_num=_number(frame.get(f"{prefix}ConnectedLineNum")),
        context=frame.get(f"{prefix}Context", ""),
        exten=frame.get(f"{prefix}Exten", ""),
        state=_int(frame.get(f"{prefix}ChannelState")),
    )


@dataclass(frozen=True, slots=True)
class AmiEvent:
    """Base of every typed event: its AMI name and the time it happened (UTC)."""

    name: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelEvent(AmiEvent):
    """An event about one channel."""

    channel: Channel


@dataclass(frozen=True, slots=True)
class Newchannel(ChannelEvent):
    """A channel was created."""


@dataclass(frozen=True, slots=True)
class Newstate(ChannelEvent):
    """A channel changed state (Ringing, Up...)."""


@dataclass(frozen=True, slots=True)
class Hangup(ChannelEvent):
    """A channel hung up, with its Q.850 cause."""

    cause: int = 0
    cause_txt: str = ""


@dataclass(frozen=True, slots=True)
class VarSet(ChannelEvent):
    """A dialplan variable was set on a channel."""

    variable: str = ""
    value: str = ""


@dataclass(frozen=True, slots=True)
class QueueCallerJoin(ChannelEvent):
    """A caller entered a queue."""

    queue: str = ""
    position: int = 0


@dataclass(frozen=True, slots=True)
class QueueCallerLeave(ChannelEvent):
    """A caller left a queue (answered or gone)."""

    queue: str = ""
    position: int = 0


@dataclass(frozen=True, slots=True)
class QueueCallerAbandon(ChannelEvent):
    """A caller hung up while waiting in a queue."""

    queue: str = ""
    position: int = 0
    original_position: int = 0
    hold_time: int = 0


@dataclass(frozen=True, slots=True)
class AgentEvent(ChannelEvent):
    """An app_queue member event; `channel` is the caller, `agent_channel` the member's leg."""

    queue: str = ""
    interface: str = ""
    member_name: str = ""
    agent_channel: Channel | None = None


@dataclass(frozen=True, slots=True)
class AgentCalled(AgentEvent):
    """A queue member's phone starts ringing for a caller."""


@dataclass(frozen=True, slots=True)
class AgentConnect(AgentEvent):
    """A queue member answered; hold and ring times are Asterisk's own (seconds)."""

    hold_time: int = 0
    ring_time: int = 0


@dataclass(frozen=True, slots=True)
class AgentComplete(AgentEvent):
    """A queue call ended for the member; `reason` is caller, agent or transfer."""

    hold_time: int = 0
    talk_time: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer(AgentEvent):
    """A member did not answer within the member timeout; ring time in milliseconds."""

    ring_time_ms: int = 0


@dataclass(frozen=True, slots=True)
class DialBegin(AmiEvent):
    """A dial attempt started; `caller` is absent for an Originate's first leg."""

    caller: Channel | None
    dest: Channel
    dial_string: str = ""


@dataclass(frozen=True, slots=True)
class DialEnd(AmiEvent):
    """A dial attempt ended: ANSWER, BUSY, NOANSWER, CANCEL, CONGESTION, CHANUNAVAIL..."""

    caller: Channel | None
    dest: Channel
    status: str = ""


@dataclass(frozen=True, slots=True)
class BridgeEnter(ChannelEvent):
    """A channel entered a bridge."""

    bridge: str = ""
    bridge_type: str = ""
    num_channels: int = 0
    swap_uniqueid: str | None = None


@dataclass(frozen=True, slots=True)
class BridgeLeave(ChannelEvent):
    """A channel left a bridge."""

    bridge: str = ""
    bridge_type: str = ""
    num_channels: int = 0


@dataclass(frozen=True, slots=True)
class BlindTransfer(AmiEvent):
    """A blind transfer: Asterisk reports Success even if the target then fails."""

    result: str
    transferer: Channel | None
    transferee: Channel | None
    extension: str = ""
    context: str = ""
    is_external: bool = False


@dataclass(frozen=True, slots=True)
class AttendedTransfer(AmiEvent):
    """An attended (or blonde) transfer joining the transferee with the target."""

    result: str
    transferer: Channel | None
    second_transferer: Channel | None
    transferee: Channel | None
    target: Channel | None
    dest_type: str = ""
    orig_bridge: str = ""
    second_bridge: str = ""
    dest_bridge: str = ""


@dataclass(frozen=True, slots=True)
class ConfbridgeJoin(ChannelEvent):
    """A channel joined a ConfBridge conference."""

    conference: str = ""
    bridge: str = ""


@dataclass(frozen=True, slots=True)
class ConfbridgeLeave(ChannelEvent):
    """A channel left a ConfBridge conference."""

    conference: str = ""
    bridge: str = ""


@dataclass(frozen=True, slots=True)
class UserEvent(AmiEvent):
    """A dialplan `UserEvent()`; custom headers in `headers`."""

    channel: Channel | None
    user_event: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OriginateResponse(AmiEvent):
    """The outcome of an `Originate Async: true` action, correlated by ActionID."""

    action_id: str
    response: str
    channel: str
    uniqueid: str | None
    context: str = ""
    exten: str = ""
    reason: int = 0


@dataclass(frozen=True, slots=True)
class UnknownEvent(AmiEvent):
    """An event we do not model, or one too damaged to read (`problem` says why)."""

    problem: str = ""


def event_time(frame: Frame, received_at: datetime) -> datetime:
    """The event's own `Timestamp:` (timestampevents = yes) if usable, else `received_at`."""
    stamp = frame.get("Timestamp")
    if stamp:
        try:
            return datetime.fromtimestamp(float(stamp), UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return received_at


def _agent(cls: type[AgentEvent], frame: Frame, at: datetime, caller: Channel) -> AgentEvent:
    # Asterisk 11 says Member/AgentCalled where 12+ says Interface.
    interface = frame.get("Interface") or frame.get("Member") or frame.get("AgentCalled") or ""
    common: dict[str, object] = {
        "queue": frame.get("Queue", ""),
        "interface": interface,
        "member_name": frame.get("MemberName") or frame.get("AgentName") or interface,
        "agent_channel": _channel(frame, "Dest"),
    }
    if cls is AgentConnect:
        common |= {
            "hold_time": _int(frame.get("HoldTime")),
            "ring_time": _int(frame.get("RingTime")),
        }
    elif cls is AgentComplete:
        common |= {
            "hold_time": _int(frame.get("HoldTime")),
            "talk_time": _int(frame.get("TalkTime")),
            "reason": frame.get("Reason", ""),
        }
    elif cls is AgentRingNoAnswer:
        common |= {"ring_time_ms": _int(frame.get("RingTime"))}
    return cls(frame.name, at, caller, **common)  # type: ignore[arg-type]


def _legacy_caller(frame: Frame) -> Channel | None:
    # Asterisk 11 AgentCalled names the caller ChannelCalling and has no channel snapshot.
    name = frame.get("Channel") or frame.get("ChannelCalling")
    uniqueid = frame.get("Uniqueid")
    if not name or not uniqueid:
        return None
    return Channel(name, uniqueid, uniqueid, caller_num=_number(frame.get("CallerIDNum")))


Decoder = Callable[[Frame, datetime], AmiEvent]


def _channel_event(cls: type[ChannelEvent], **extra: Callable[[Frame], object]) -> Decoder:
    def decode_it(frame: Frame, at: datetime) -> AmiEvent:
        channel = _channel(frame)
        if channel is None:
            return UnknownEvent(frame.name, at, "no Channel/Uniqueid")
        values = {key: get(frame) for key, get in extra.items()}
        return cls(frame.name, at, channel, **values)

    return decode_it


def _agent_event(cls: type[AgentEvent]) -> Decoder:
    def decode_it(frame: Frame, at: datetime) -> AmiEvent:
        caller = _channel(frame) if "Linkedid" in frame else _legacy_caller(frame)
        if caller is None:
            return UnknownEvent(frame.name, at, "no caller channel")
        return _agent(cls, frame, at, caller)

    return decode_it


def _dial(frame: Frame, at: datetime) -> AmiEvent:
    dest = _channel(frame, "Dest")
    if dest is None:
        return UnknownEvent(frame.name, at, "no DestChannel/DestUniqueid")
    caller = _channel(frame)
    if frame.name == "DialBegin":
        return DialBegin(frame.name, at, caller, dest, frame.get("DialString", ""))
    return DialEnd(frame.name, at, caller, dest, frame.get("DialStatus", ""))


def _legacy_dial(frame: Frame, at: datetime) -> AmiEvent:
    # Asterisk 11 "Dial" with SubEvent Begin/End; only Begin names the destination.
    caller = _legacy_caller(frame)
    if frame.get("SubEvent") == "Begin" and caller is not None:
        dest_name, dest_id = frame.get("Destination"), frame.get("DestUniqueID")
        if dest_name and dest_id:
            dest = Channel(dest_name, dest_id, caller.linkedid)
            return DialBegin("DialBegin", at, caller, dest, frame.get("Dialstring", ""))
    return UnknownEvent(frame.name, at, "Asterisk 11 Dial without destination")


def _blind(frame: Frame, at: datetime) -> AmiEvent:
    return BlindTransfer(
        frame.name,
        at,
        result=frame.get("Result", ""),
        transferer=_channel(frame, "Transferer"),
        transferee=_channel(frame, "Transferee"),
        extension=frame.get("Extension", ""),
        context=frame.get("Context", ""),
        is_external=frame.get("IsExternal", "").lower() == "yes",
    )


def _attended(frame: Frame, at: datetime) -> AmiEvent:
    return AttendedTransfer(
        frame.name,
        at,
        result=frame.get("Result", ""),
        transferer=_channel(frame, "OrigTransferer"),
        second_transferer=_channel(frame, "SecondTransferer"),
        transferee=_channel(frame, "Transferee"),
        target=_channel(frame, "TransferTarget"),
        dest_type=frame.get("DestType", ""),
        orig_bridge=frame.get("OrigBridgeUniqueid", ""),
        second_bridge=frame.get("SecondBridgeUniqueid", ""),
        dest_bridge=frame.get("DestBridgeUniqueid", ""),
    )


# The headers of a channel snapshot (Asterisk 12+), in the order Asterisk writes them;
# Newchannel, CoreShowChannel items and most channel events carry them.
CHANNEL_SNAPSHOT: tuple[str, ...] = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)
# Headers every UserEvent carries besides the custom ones.
_SNAPSHOT_KEYS = frozenset(
    k.lower() for k in ("Event", "Privilege", *CHANNEL_SNAPSHOT, "UserEvent", "Timestamp")
)


def _user(frame: Frame, at: datetime) -> AmiEvent:
    headers = {k: v for k, v in frame.pairs if k.lower() not in _SNAPSHOT_KEYS}
    return UserEvent(frame.name, at, _channel(frame), frame.get("UserEvent", ""), headers)


def _originate(frame: Frame, at: datetime) -> AmiEvent:
    return OriginateResponse(
        frame.name,
        at,
        action_id=frame.get("ActionID", ""),
        response=frame.get("Response", ""),
        channel=frame.get("Channel", ""),
        uniqueid=_number(frame.get("Uniqueid")),
        context=frame.get("Context", ""),
        exten=frame.get("Exten", ""),
        reason=_int(frame.get("Reason")),
    )


DECODERS: Mapping[str, Decoder] = {
    "Newchannel": _channel_event(Newchannel),
    "Newstate": _channel_event(Newstate),
    "Hangup": _channel_event(
        Hangup,
        cause=lambda f: _int(f.get("Cause")),
        cause_txt=lambda f: f.get("Cause-txt", ""),
    ),
    "VarSet": _channel_event(
        VarSet, variable=lambda f: f.get("Variable", ""), value=lambda f: f.get("Value", "")
    ),
    "QueueCallerJoin": _channel_event(
        QueueCallerJoin,
        queue=lambda f: f.get("Queue", ""),
        position=lambda f: _int(f.get("Position")),
    ),
    "QueueCallerLeave": _channel_event(
        QueueCallerLeave,
        queue=lambda f: f.get("Queue", ""),
        position=lambda f: _int(f.get("Position")),
    ),
    "QueueCallerAbandon": _channel_event(
        QueueCallerAbandon,
        queue=lambda f: f.get("Queue", ""),
        position=lambda f: _int(f.get("Position")),
        original_position=lambda f: _int(f.get("OriginalPosition")),
        hold_time=lambda f: _int(f.get("HoldTime")),
    ),
    "AgentCalled": _agent_event(AgentCalled),
    "AgentConnect": _agent_event(AgentConnect),
    "AgentComplete": _agent_event(AgentComplete),
    "AgentRingNoAnswer": _agent_event(AgentRingNoAnswer),
    "DialBegin": _dial,
    "DialEnd": _dial,
    "Dial": _legacy_dial,
    "BridgeEnter": _channel_event(
        BridgeEnter,
        bridge=lambda f: f.get("BridgeUniqueid", ""),
        bridge_type=lambda f: f.get("BridgeType", ""),
        num_channels=lambda f: _int(f.get("BridgeNumChannels")),
        swap_uniqueid=lambda f: f.get("SwapUniqueid"),
    ),
    "BridgeLeave": _channel_event(
        BridgeLeave,
        bridge=lambda f: f.get("BridgeUniqueid", ""),
        bridge_type=lambda f: f.get("BridgeType", ""),
        num_channels=lambda f: _int(f.get("BridgeNumChannels")),
    ),
    "BlindTransfer": _blind,
    "AttendedTransfer": _attended,
    "ConfbridgeJoin": _channel_event(
        ConfbridgeJoin,
        conference=lambda f: f.get("Conference", ""),
        bridge=lambda f: f.get("BridgeUniqueid", ""),
    ),
    "ConfbridgeLeave": _channel_event(
        ConfbridgeLeave,
        conference=lambda f: f.get("Conference", ""),
        bridge=lambda f: f.get("BridgeUniqueid", ""),
    ),
    "UserEvent": _user,
    "OriginateResponse": _originate,
}


def decode(frame: Frame, received_at: datetime) -> AmiEvent:
    """Typed event for an `Event:` frame; never raises (damaged input gives `UnknownEvent`)."""
    name = frame.get("Event", "")
    if name == "VarSet" and frame.get("Variable", "").lstrip("_") not in OUR_VARIABLES:
        # Most of a call's events are VarSets of the dialplan's own variables: skip them cheaply.
        return UnknownEvent(name, received_at, "not modelled")
    at = event_time(frame, received_at)
    decoder = DECODERS.get(name)
    if decoder is None:
        return UnknownEvent(frame.get("Event", ""), at, "not modelled")
    return decoder(frame, at)
