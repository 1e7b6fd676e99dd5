"""A call's figures from its response-timing marks; pure, no I/O.

Marks are (kind, at) in order as the call went: arrived, queued, ringing, answered,
transfer_requested, transfer_answered / transfer_failed, conference_join/leave, hangup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TimingMark:
    """One line of the response-timing log."""

    kind: str
    at: datetime
    detail: str = ""


def _first(marks: Sequence[TimingMark], kind: str) -> datetime | None:
    return next((m.at for m in marks if m.kind == kind), None)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def call_figures(
    marks: Sequence[TimingMark],
    service_level_seconds: float = 15,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Wait, answered within the service level, abandoned, talk and 110 set-up time.

    Asterisk's own hold and talk times (the tracker's `record`) win over the marks when
    given. The set-up time runs from the transfer key press to the line answering; a
    transfer that failed has no set-up time (it is counted as failed, never as fast).
    """
    record = record or {}
    arrived = _first(marks, "arrived")
    queued = _first(marks, "queued") or arrived
    answered = _first(marks, "answered")
    ended = marks[-1].at if marks else None
    abandoned = bool(record.get("abandoned")) or (
        any(m.kind == "abandoned" for m in marks) and answered is None
    )
    wait = record.get("queue_wait")
    if wait is None:
        wait = _seconds(queued, answered if answered else ended)
    talk = record.get("talk_time")
    if talk is None and answered is not None:
        talk = _seconds(answered, ended)
    transfers: list[dict[str, Any]] = []
    pending: TimingMark | None = None
    for m in marks:
        if m.kind == "transfer_requested":
            pending = m
        elif m.kind in ("transfer_answered", "transfer_failed") and pending is not None:
            ok = m.kind == "transfer_answered"
            transfers.append(
                {
                    "line": pending.detail,
                    "ok": ok,
                    "status": m.detail,
                    "setup_seconds": _seconds(pending.at, m.at) if ok else None,
                }
            )
            pending = None
    if pending is not None:
        transfers.append(
            {"line": pending.detail, "ok": False, "status": "no outcome", "setup_seconds": None}
        )
    return {
        "wait_seconds": wait,
        "answered": answered is not None,
        "within_service_level": answered is not None
        and wait is not None
        and wait <= service_level_seconds,
        "abandoned": abandoned,
        "talk_seconds": talk,
        "transfers": transfers,
        "rings": sum(1 for m in marks if m.kind == "ringing"),
    }
