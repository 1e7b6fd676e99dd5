"""The center's call figures for a period, from each call's stored facts; pure, no I/O.

Offered, answered, abandoned, service level, average speed of answer (ASA), average handle
time (AHT), and transfers to 110 with their set-up time (key press to 110 answering). The
SQL path in `tickets/figure_queries.py` sums the same from `calls` and `call_marks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

Ratio = tuple[int, int]
TRANSFER_OUTCOMES = ("transfer_answered", "transfer_failed")


def is_110(line: str) -> bool:
    """The tracker names the target as dialed: "110" or "110@transfer-110"."""
    return line.split("@")[0] == "110"


@dataclass(frozen=True)
class CallFacts:
    """One call as the figures see it."""

    call_id: str
    started_at: datetime
    answered: bool
    abandoned: bool
    wait_seconds: float | None
    talk_seconds: float | None
    # (line, answered, set-up seconds or None) per transfer the agent started
    transfers: tuple[tuple[str, bool, float | None], ...] = ()


def transfers_from_marks(
    marks: Sequence[tuple[str, datetime, str]],
) -> tuple[tuple[str, bool, float | None], ...]:
    """Pair each transfer request with the transfer outcome right after it (what, at, detail
    in the order recorded); a request with no outcome is a failed transfer."""
    out: list[tuple[str, bool, float | None]] = []
    relevant = [m for m in marks if m[0] in ("transfer_requested", *TRANSFER_OUTCOMES)]
    for i, (what, at, detail) in enumerate(relevant):
        if what != "transfer_requested":
            continue
        nxt = relevant[i + 1] if i + 1 < len(relevant) else None
        ok = nxt is not None and nxt[0] == "transfer_answered"
        setup = round((nxt[1] - at).total_seconds(), 3) if ok and nxt is not None else None
        out.append((detail, ok, setup))
    return tuple(out)


@dataclass(frozen=True)
class CallFigures:
    """The call figures of a period; averages keep their (total, count)."""

    offered: int
    answered: int
    abandoned: int
    service_level: Ratio  # answered within the threshold, of answered + abandoned
    wait: tuple[float, int]  # seconds waited by answered calls, answered calls (ASA)
    handle: tuple[float, int]  # talk seconds of answered calls with a talk time (AHT)
    transfers_110: int
    transfers_110_ok: int
    setup: tuple[float, int]  # set-up seconds of answered 110 transfers

    @property
    def asa(self) -> float | None:
        return round(self.wait[0] / self.wait[1], 1) if self.wait[1] else None

    @property
    def aht(self) -> float | None:
        return round(self.handle[0] / self.handle[1], 1) if self.handle[1] else None

    @property
    def setup_avg(self) -> float | None:
        return round(self.setup[0] / self.setup[1], 1) if self.setup[1] else None

    @property
    def answer_rate(self) -> Ratio:
        """接通率: answered of offered."""
        return self.answered, self.offered


def call_figures(calls: Iterable[CallFacts], service_level_seconds: float = 15) -> CallFigures:
    """Sum the calls of a period."""
    items = list(calls)
    answered = [c for c in items if c.answered and not c.abandoned]
    abandoned = [c for c in items if c.abandoned]
    within = sum(
        1
        for c in answered
        if c.wait_seconds is not None and c.wait_seconds <= service_level_seconds
    )
    waits = [c.wait_seconds for c in answered if c.wait_seconds is not None]
    talks = [c.talk_seconds for c in answered if c.talk_seconds is not None]
    to_110 = [t for c in items for t in c.transfers if is_110(t[0])]
    setups = [t[2] for t in to_110 if t[1] and t[2] is not None]
    return CallFigures(
        offered=len(items),
        answered=len(answered),
        abandoned=len(abandoned),
        service_level=(within, len(answered) + len(abandoned)),
        wait=(round(sum(waits), 3), len(waits)),
        handle=(round(sum(talks), 3), len(talks)),
        transfers_110=len(to_110),
        transfers_110_ok=sum(1 for t in to_110 if t[1]),
        setup=(round(sum(setups), 3), len(setups)),
    )


CALL_FIGURES = ("offered", "answered", "abandoned", "within", "transfers_110", "transfers_110_ok")


def call_members(
    name: str, calls: Iterable[CallFacts], service_level_seconds: float = 15
) -> list[CallFacts]:
    """The calls behind one call figure (a call with two 110 transfers is listed twice in
    `transfers_110`, as it counts twice)."""
    if name not in CALL_FIGURES:
        raise ValueError(f"unknown call figure {name!r}")
    out: list[CallFacts] = []
    for c in calls:
        answered = c.answered and not c.abandoned
        if name == "within":
            keep = (
                answered and c.wait_seconds is not None and c.wait_seconds <= service_level_seconds
            )
            out += [c] if keep else []
        elif name in ("transfers_110", "transfers_110_ok"):
            out += [
                c for line, ok, _ in c.transfers if is_110(line) and (ok or name == "transfers_110")
            ]
        elif {"offered": True, "answered": answered, "abandoned": c.abandoned}[name]:
            out.append(c)
    return out
