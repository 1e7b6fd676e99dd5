"""Figures for a period, two ways that must agree: pure functions over each ticket's facts
(small sets, tests, drill-down to the orders behind a number) and SQL aggregates (scale)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reports.figures import (
    DepartmentFigures,
    Rules,
    TicketFacts,
    by_department,
    rate,
    service_index,
)
from tickets.model import RatingLevel
from tickets.store import Store


def _facts(row: dict[str, Any]) -> TicketFacts:
    # A call is a contact answered live: its response is the call's service level (call
    # figures), so the ticket itself counts as responded at once.
    first = row["created_at"] if row["channel"] == "phone" else row["first_response_at"]
    return TicketFacts(
        department=row["lead_department"],
        channel=row["channel"],
        created_at=row["created_at"],
        first_response_at=first,
        due_at=row["due_at"],
        result_at=row["result_at"],
        informed_at=row["informed_at"],
        rating=RatingLevel(row["rating"]) if row["rating"] else None,
        returns=int(row["returns"] or 0),
        extensions=int(row["extensions"] or 0),
    )


class FigureService:
    """Reads the store; changes nothing."""

    def __init__(self, store: Store, rules: Rules | None = None) -> None:
        self.store = store
        self.rules = rules or Rules()

    async def facts(self, start: datetime, end: datetime) -> list[TicketFacts]:
        """Each ticket created in [start, end) as the figures see it."""
        async with self.store.read() as tx:
            rows = await tx.figure_facts(start, end)
        for r in rows:
            if r["first_response_at"] is not None and not isinstance(
                r["first_response_at"], datetime
            ):
                r["first_response_at"] = _aware(r["first_response_at"])
        return [_facts(r) for r in rows]

    async def pure(
        self, start: datetime, end: datetime, at: datetime
    ) -> dict[str | None, DepartmentFigures]:
        """Per department, from each ticket's facts."""
        return by_department(await self.facts(start, end), at, self.rules)

    async def sql(
        self, start: datetime, end: datetime, at: datetime
    ) -> dict[str | None, DepartmentFigures]:
        """Per department, summed by the database."""
        rules = self.rules
        async with self.store.read() as tx:
            rows = await tx.figure_aggregates(
                start,
                end,
                at,
                dict(rules.response_seconds),
                rules.default_response_seconds,
                rules.feedback_hours * 3600,
                sorted(level.value for level in rules.satisfied),
            )
        out: dict[str | None, DepartmentFigures] = {}
        for r in rows:
            ratios = {
                "response": (int(r["response_n"] or 0), int(r["tickets"])),
                "on_time": (int(r["on_time_n"] or 0), int(r["on_time_d"] or 0)),
                "feedback": (int(r["feedback_n"] or 0), int(r["feedback_d"] or 0)),
                "satisfaction": (int(r["satisfied_n"] or 0), int(r["rated"] or 0)),
            }
            out[r["department"]] = DepartmentFigures(
                department=r["department"],
                tickets=int(r["tickets"]),
                response=ratios["response"],
                on_time=ratios["on_time"],
                feedback=ratios["feedback"],
                satisfaction=ratios["satisfaction"],
                returns=int(r["returns"] or 0),
                extensions=int(r["extensions"] or 0),
                index=service_index({k: rate(v) for k, v in ratios.items()}, rules.weights),
            )
        return out


def _aware(value: Any) -> datetime:
    from datetime import UTC

    parsed = datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
