"""Replays a captured AMI stream (`.ami` file) through parser and tracker: `hotline ami replay`."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from connectors.asterisk.events import AmiEvent, decode
from connectors.asterisk.frames import Banner, Frame, FrameError, FrameParser, Message
from connectors.asterisk.tracker import CallEnded, CallRecord, TrackerState, Update, apply

__all__ = ["ReplayResult", "TraceClock", "replay_bytes", "replay_file", "replay_messages"]

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNIQUEID_EPOCH = re.compile(r"(\d{9,11})\.\d+$")
CHUNK = 64 * 1024


class TraceClock:
    """Best estimate of wall time inside a capture that has no `Timestamp:` headers.

    Captures made with `timestampevents = no` carry time only in a few places: `EventTV`
    (security events), `SentNTP` (RTCP reports) and the creation second encoded in each new
    channel's Uniqueid. The clock takes the latest of these, so it never runs backwards and
    has about one second of resolution; the tracker prefers Asterisk's own HoldTime, RingTime
    and TalkTime where the event carries them.
    """

    def __init__(self, start: datetime = EPOCH) -> None:
        self.now = start

    def observe(self, frame: Frame) -> datetime:
        """Advance from whatever time the frame reveals and return the current estimate."""
        seen = self._time_in(frame)
        if seen is not None and seen > self.now:
            self.now = seen
        return self.now

    @staticmethod
    def _time_in(frame: Frame) -> datetime | None:
        try:
            if "Timestamp" in frame:
                return datetime.fromtimestamp(float(frame["Timestamp"]), UTC)
            if "EventTV" in frame:
                return datetime.strptime(frame["EventTV"], "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)
            if "SentNTP" in frame:
                return datetime.fromtimestamp(float(frame["SentNTP"]), UTC)
            if frame.get("Event") == "Newchannel":
                match = _UNIQUEID_EPOCH.search(frame.get("Uniqueid", ""))
                if match:
                    return datetime.fromtimestamp(int(match.group(1)), UTC)
        except (ValueError, OverflowError, OSError):
            return None
        return None


@dataclass(slots=True)
class ReplayResult:
    """What a replay produced: finished calls, every update, and what was skipped."""

    records: list[CallRecord] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    errors: list[FrameError] = field(default_factory=list)
    banners: list[Banner] = field(default_factory=list)
    responses: list[Frame] = field(default_factory=list)
    events: int = 0
    state: TrackerState = field(default_factory=TrackerState)

    @property
    def unfinished(self) -> list[CallRecord]:
        """Calls still in progress when the capture ended."""
        return [call.record for call in self.state.calls.values()]


def replay_messages(messages: Iterable[Message], clock: TraceClock | None = None) -> ReplayResult:
    """Feed parsed messages through decode and the tracker."""
    clock = clock or TraceClock()
    result = ReplayResult()
    state = result.state
    for message in messages:
        if isinstance(message, FrameError):
            log.warning("skipped AMI input: %s: %s", message.reason, message.excerpt)
            result.errors.append(message)
            continue
        if isinstance(message, Banner):
            result.banners.append(message)
            continue
        received_at = clock.observe(message)
        if message.kind != "event":
            if message.kind == "response":
                result.responses.append(message)
            continue
        result.events += 1
        event: AmiEvent = decode(message, received_at)
        state, updates = apply(state, event)
        result.updates.extend(updates)
        result.records.extend(u.record for u in updates if isinstance(u, CallEnded))
    result.state = state
    return result


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def _parse(chunks: Iterable[bytes]) -> Iterator[Message]:
    parser = FrameParser()
    for chunk in chunks:
        yield from parser.feed(chunk)
    yield from parser.close()


def replay_bytes(data: bytes, clock: TraceClock | None = None) -> ReplayResult:
    """Replay a capture held in memory."""
    return replay_messages(_parse([data]), clock)


def replay_file(path: str | Path, clock: TraceClock | None = None) -> ReplayResult:
    """Replay a capture file, reading it in chunks as a socket would deliver it."""
    return replay_messages(_parse(_chunks(Path(path))), clock)
