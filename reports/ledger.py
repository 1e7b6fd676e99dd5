"""The person ledger (首问/首办责任): valid complaints against a staff member over a rolling
two years, and the consequence their count earns; pure, no I/O.

A complaint counts on day D when it is valid and happened on a local date in
(D − 2 years, D]: on the second anniversary of its date it no longer counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

__all__ = [
    "DEFAULT_CONSEQUENCES",
    "Complaint",
    "Consequences",
    "PersonLine",
    "Verdict",
    "consequence",
    "counts",
    "ledger",
    "window_start",
]

WINDOW_YEARS = 2


class Verdict(StrEnum):
    """The outcome of verifying a complaint: still being checked, valid, not valid."""

    PENDING = "pending"
    VALID = "valid"
    INVALID = "invalid"


# Jiangmen's ledger: the first valid complaint earns an admonishing talk, and so on up to
# dismissal at five within two years. Keys are catalog keys (ledger.c.*), so the table
# speaks both languages; a city sets its own thresholds in settings.
DEFAULT_CONSEQUENCES: dict[int, str] = {
    1: "talk",
    2: "criticism",
    3: "reassign",
    4: "suspend",
    5: "dismiss",
}


@dataclass(frozen=True)
class Complaint:
    """One complaint against one person."""

    person_id: str
    person_name: str
    department: str | None
    occurred_on: date
    verdict: Verdict


def window_start(day: date) -> date:
    """The first local date still inside the two-year window that ends on `day`."""
    try:
        anniversary = day.replace(year=day.year - WINDOW_YEARS)
    except ValueError:  # 29 February: two years before, the 28th is the anniversary
        anniversary = day.replace(year=day.year - WINDOW_YEARS, day=28)
    return date.fromordinal(anniversary.toordinal() + 1)


def counts(complaints: Iterable[Complaint], on: date) -> dict[str, int]:
    """Valid complaints per person inside the window ending on `on` (later ones ignored)."""
    lo = window_start(on)
    out: dict[str, int] = {}
    for c in complaints:
        if c.verdict is Verdict.VALID and lo <= c.occurred_on <= on:
            out[c.person_id] = out.get(c.person_id, 0) + 1
    return out


@dataclass(frozen=True)
class Consequences:
    """The consequences table: at this many valid complaints, this consequence."""

    table: Mapping[int, str]

    def __post_init__(self) -> None:
        if not self.table:
            raise ValueError("the consequences table is empty")
        if any(not isinstance(k, int) or k < 1 for k in self.table):
            raise ValueError("thresholds are whole numbers from 1")

    def rows(self) -> list[tuple[int, str]]:
        """The table in threshold order."""
        return sorted(self.table.items())


def consequence(table: Consequences, count: int) -> str | None:
    """The consequence of the highest threshold `count` reaches; None below the first."""
    reached = [key for threshold, key in table.rows() if count >= threshold]
    return reached[-1] if reached else None


@dataclass(frozen=True)
class PersonLine:
    """One person's line in the ledger."""

    person_id: str
    person_name: str
    department: str | None
    valid: int  # inside the window
    recorded: int  # all complaints ever recorded, any verdict
    consequence: str | None


def ledger(complaints: Iterable[Complaint], on: date, table: Consequences) -> list[PersonLine]:
    """Every person with a recorded complaint, most valid complaints first.

    Name and department are those of the person's latest complaint.
    """
    items = list(complaints)
    valid = counts(items, on)
    latest: dict[str, Complaint] = {}
    recorded: dict[str, int] = {}
    for c in items:
        if c.occurred_on > on:
            continue
        recorded[c.person_id] = recorded.get(c.person_id, 0) + 1
        known = latest.get(c.person_id)
        if known is None or c.occurred_on >= known.occurred_on:
            latest[c.person_id] = c
    lines = [
        PersonLine(
            pid,
            c.person_name,
            c.department,
            valid.get(pid, 0),
            recorded[pid],
            consequence(table, valid.get(pid, 0)),
        )
        for pid, c in latest.items()
    ]
    return sorted(lines, key=lambda line: (-line.valid, -line.recorded, line.person_id))
