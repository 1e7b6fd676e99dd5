"""Figures for a period, two ways that must agree: pure functions over each ticket's facts
(small sets, tests, drill-down to the orders behind a number) and SQL aggregates (scale:
the period's whole days from the maintained roll-up, `tickets.figure_rollups`, plus what the
clock alone changes and any partial days, summed from the tickets)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from reports.call_figures import CallFacts, CallFigures, call_figures, transfers_from_marks
from reports.figures import (
    RATE_NAMES,
    DepartmentFigures,
    Rules,
    TicketFacts,
    by_department,
    by_district,
    figures,
    rate,
    service_index,
)
from reports.scoring import Adjustment, DepartmentClass
from tickets import figure_queries as fq
from tickets import figure_rollups as fr
from tickets.model import RatingLevel
from tickets.store import Store, Tx

Path = Literal["pure", "sql"]
# What the SQL path sums per department or district.
_SUMS = (
    "tickets",
    "response_n",
    "on_time_n",
    "on_time_d",
    "feedback_n",
    "feedback_d",
    "satisfied_n",
    "rated",
    "excluded",
    "cycle_seconds",
    "cycle_n",
    "extensions",
    "hops",
    "returns",
)


def _aware(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
    parsed = datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _facts(row: Mapping[str, Any], returned_by: tuple[str, ...]) -> TicketFacts:
    # A call is a contact answered live: its response is the call's service level (call
    # figures), so the ticket itself counts as responded at once.
    first = row["created_at"] if row["channel"] == "phone" else _aware(row["first_response_at"])
    return TicketFacts(
        department=row["lead_department"],
        channel=row["channel"],
        created_at=row["created_at"],
        first_response_at=first,
        due_at=row["due_at"],
        result_at=row["result_at"],
        informed_at=row["informed_at"],
        rating=RatingLevel(row["rating"]) if row["rating"] else None,
        extensions=int(row["extensions"] or 0),
        id=int(row["id"]),
        number=row["number"],
        district=row["district"],
        rating_excluded=bool(row["rating_excluded"]),
        returned_by=returned_by,
        hops=int(row["hops"] or 0),
    )


@dataclass(frozen=True)
class Report:
    """Every figure of a period: per department, per district, the center, the calls."""

    start: datetime
    end: datetime
    at: datetime
    departments: dict[str | None, DepartmentFigures]
    districts: dict[str | None, DepartmentFigures]
    center: DepartmentFigures
    calls: CallFigures


def _total(parts: Iterable[DepartmentFigures], weights: Mapping[str, float]) -> DepartmentFigures:
    items = list(parts)

    def add(name: str) -> tuple[int, int]:
        values = [getattr(p, name) for p in items]
        return sum(v[0] for v in values), sum(v[1] for v in values)

    ratios = {name: add(name) for name in RATE_NAMES}
    return DepartmentFigures(
        department=None,
        tickets=sum(p.tickets for p in items),
        response=ratios["response"],
        on_time=ratios["on_time"],
        feedback=ratios["feedback"],
        satisfaction=ratios["satisfaction"],
        returns=sum(p.returns for p in items),
        extensions=sum(p.extensions for p in items),
        index=service_index({k: rate(v) for k, v in ratios.items()}, weights),
        cycle=add("cycle"),
        hops=sum(p.hops for p in items),
        excluded=sum(p.excluded for p in items),
    )


class FigureService:
    """Reads the store; changes nothing (except classes and adjustments, on request)."""

    def __init__(
        self, store: Store, rules: Rules | None = None, service_level_seconds: float = 15
    ) -> None:
        self.store = store
        self.rules = rules or Rules()
        self.service_level_seconds = service_level_seconds

    # -- pure path ------------------------------------------------------------------------

    async def facts(
        self, start: datetime, end: datetime, department: str | None = None
    ) -> list[TicketFacts]:
        """Each ticket created in [start, end) as the figures see it."""
        async with self.store.read() as tx:
            rows = await fq.ticket_facts(tx, start, end, department)
            returns = await fq.returns_in(tx, start, end)
        returned: dict[int, list[str]] = {}
        for r in returns:
            returned.setdefault(int(r["ticket_id"]), []).append(r["department"])
        return [_facts(r, tuple(returned.get(int(r["id"]), ()))) for r in rows]

    async def pure(
        self, start: datetime, end: datetime, at: datetime
    ) -> dict[str | None, DepartmentFigures]:
        """Per department, from each ticket's facts."""
        return by_department(await self.facts(start, end), at, self.rules)

    async def call_facts(self, start: datetime, end: datetime) -> list[CallFacts]:
        """Each call started in [start, end) as the call figures see it."""
        async with self.store.read() as tx:
            rows, marks = await fq.call_facts(tx, start, end)
        by_call: dict[str, list[tuple[str, datetime, str]]] = {}
        for m in marks:
            by_call.setdefault(m["call_id"], []).append((m["what"], m["at"], m["detail"]))
        return [
            CallFacts(
                call_id=r["call_id"],
                started_at=r["started_at"],
                answered=r["answered_at"] is not None,
                abandoned=bool(r["abandoned"]),
                wait_seconds=r["queue_wait"],
                talk_seconds=r["talk_time"],
                transfers=transfers_from_marks(by_call.get(r["call_id"], [])),
            )
            for r in rows
        ]

    # -- SQL path -------------------------------------------------------------------------

    def rollup_rules(self) -> fr.RollupRules:
        """The limits the roll-up must be counted under to serve these figures."""
        rules = self.rules
        return fr.RollupRules(
            {ch: float(sec) for ch, sec in rules.response_seconds.items()},
            float(rules.default_response_seconds),
            float(rules.feedback_hours * 3600),
        )

    async def rollups_built(self) -> bool:
        """Whether the roll-up is built under these limits (else figures sum the tickets)."""
        async with self.store.read() as tx:
            built = await fr.rules_of(tx)
        return built is not None and built.same(self.rollup_rules())

    async def rebuild_rollups(self, at: datetime) -> int:
        """Recount the figure roll-ups from the tickets under these limits (after a migration,
        or when the limits change); returns the roll-up rows written."""
        async with self.store.write() as tx:
            return await fr.rebuild(tx, self.rollup_rules(), at)

    async def sql(
        self,
        start: datetime,
        end: datetime,
        at: datetime,
        group: Literal["department", "district"] = "department",
    ) -> dict[str | None, DepartmentFigures]:
        """Per department (or district), summed by the database: whole days from the
        roll-up when it is built under these limits, the rest from the tickets."""
        async with self.store.read() as tx:
            return await self._sql(tx, start, end, at, group)

    async def _sql(
        self,
        tx: Tx,
        start: datetime,
        end: datetime,
        at: datetime,
        group: Literal["department", "district"],
    ) -> dict[str | None, DepartmentFigures]:
        built = await fr.rules_of(tx)
        if built is not None and built.same(self.rollup_rules()):
            sums = await self._rolled_up(tx, start, end, at, group)
        else:
            sums = await self._summed(tx, start, end, at, group)
        return {key: self._figures(key, s) for key, s in sums.items() if s["tickets"]}

    def _figures(self, key: str | None, s: Mapping[str, int]) -> DepartmentFigures:
        ratios = {
            "response": (s["response_n"], s["tickets"]),
            "on_time": (s["on_time_n"], s["on_time_d"]),
            "feedback": (s["feedback_n"], s["feedback_d"]),
            "satisfaction": (s["satisfied_n"], s["rated"]),
        }
        return DepartmentFigures(
            department=key,
            tickets=s["tickets"],
            response=ratios["response"],
            on_time=ratios["on_time"],
            feedback=ratios["feedback"],
            satisfaction=ratios["satisfaction"],
            returns=s["returns"],
            extensions=s["extensions"],
            index=service_index({k: rate(v) for k, v in ratios.items()}, self.rules.weights),
            cycle=(s["cycle_seconds"], s["cycle_n"]),
            hops=s["hops"],
            excluded=s["excluded"],
        )

    async def _summed(
        self,
        tx: Tx,
        start: datetime,
        end: datetime,
        at: datetime,
        group: Literal["department", "district"],
    ) -> dict[str | None, dict[str, int]]:
        """The sums straight from the period's tickets."""
        rules = self.rules
        rows = await fq.aggregates(
            tx,
            start,
            end,
            at,
            dict(rules.response_seconds),
            rules.default_response_seconds,
            rules.feedback_hours * 3600,
            sorted(level.value for level in rules.satisfied),
            group=group,
        )
        returned = await fq.returns_by_department(tx, start, end) if group == "department" else {}
        out: dict[str | None, dict[str, int]] = {}
        for r in rows:
            s = {name: int(r[name]) for name in _SUMS if name in r}
            s["response_n"] = int(r["response_n"])
            # a department's returns are those it made; a district's, those on its orders
            s["returns"] = (
                returned.get(r["key"] or "", 0) if group == "department" else int(r["returns"])
            )
            out[r["key"]] = s
        # a department may return orders of this span while leading none of them
        for dept, n in returned.items():
            if dept not in out:
                out[dept] = {**dict.fromkeys(_SUMS, 0), "returns": n}
        return out

    async def _rolled_up(
        self,
        tx: Tx,
        start: datetime,
        end: datetime,
        at: datetime,
        group: Literal["department", "district"],
    ) -> dict[str | None, dict[str, int]]:
        """The roll-up's whole days, the orders of those days due and still without a
        result, and the partial days at either end from the tickets."""
        # A partial first or last day is whole as far as the tickets go when nobody
        # contacted the center in its part outside the period.
        first = fr.local_day(start)
        lo = fr.day_start(first)
        if lo < start and await fr.any_created(tx, lo, start):
            first += timedelta(days=1)
            lo = fr.day_start(first)
        last = fr.local_day(end)
        hi = fr.day_start(last)
        if hi < end and not await fr.any_created(tx, end, fr.day_start(last + timedelta(days=1))):
            last += timedelta(days=1)
            hi = fr.day_start(last)
        if lo >= hi:
            return await self._summed(tx, start, end, at, group)
        satisfied = {level.value for level in self.rules.satisfied}
        out: dict[str | None, dict[str, int]] = {}
        for key, c in (await fr.sums(tx, first, last, group)).items():
            out[key] = {
                "tickets": c["tickets"],
                "response_n": c["responded"],
                "on_time_n": c["on_time_n"],
                "on_time_d": c["on_time_d"],
                "feedback_n": c["feedback_n"],
                "feedback_d": c["feedback_d"],
                "satisfied_n": sum(c[level] for level in fr.LEVELS if level in satisfied),
                "rated": sum(c[level] for level in fr.LEVELS),
                "excluded": c["excluded"],
                "cycle_seconds": c["cycle_seconds"],
                "cycle_n": c["cycle_n"],
                "extensions": c["extensions"],
                "hops": c["hops"],
                "returns": c["returns_made"] if group == "department" else c["returns"],
            }
        for key, n in (await fr.unsettled_due(tx, lo, hi, at, group)).items():
            out.setdefault(key, dict.fromkeys(_SUMS, 0))["on_time_d"] += n
        edges = [(start, lo)] if start < lo else []
        edges += [(hi, end)] if hi < end else []
        for a, b in edges:
            for key, s in (await self._summed(tx, a, b, at, group)).items():
                into = out.setdefault(key, dict.fromkeys(_SUMS, 0))
                for name in _SUMS:
                    into[name] += s[name]
        return out

    async def sql_calls(self, start: datetime, end: datetime) -> CallFigures:
        """The call figures, summed by the database."""
        async with self.store.read() as tx:
            r = await fq.call_aggregates(tx, start, end, self.service_level_seconds)
        return CallFigures(
            offered=int(r["offered"]),
            answered=int(r["answered"]),
            abandoned=int(r["abandoned"]),
            service_level=(int(r["within"]), int(r["answered"]) + int(r["abandoned"])),
            wait=(round(float(r["wait_total"]), 3), int(r["wait_n"])),
            handle=(round(float(r["talk_total"]), 3), int(r["talk_n"])),
            transfers_110=int(r["transfers_110"]),
            transfers_110_ok=int(r["transfers_ok"]),
            setup=(round(float(r["setup_total"]), 3), int(r["transfers_ok"])),
        )

    # -- the whole report -----------------------------------------------------------------

    async def report(
        self, start: datetime, end: datetime, at: datetime, path: Path = "sql"
    ) -> Report:
        """Every figure of [start, end), by the database (default) or ticket by ticket."""
        if path == "pure":
            facts = await self.facts(start, end)
            depts = by_department(facts, at, self.rules)
            districts = by_district(facts, at, self.rules)
            center = replace(figures(facts, at, self.rules), department=None)
            calls = call_figures(await self.call_facts(start, end), self.service_level_seconds)
        else:
            async with self.store.read() as tx:
                depts = await self._sql(tx, start, end, at, "department")
                districts = await self._sql(tx, start, end, at, "district")
            # every return counts for the center, even by a department leading nothing here:
            # the districts' returns are all those made on the period's orders
            center = _total(districts.values(), self.rules.weights)
            calls = await self.sql_calls(start, end)
        return Report(start, end, at, depts, districts, center, calls)

    async def timeline_of(
        self, ticket_ids: list[int], actions: tuple[str, ...]
    ) -> dict[int, list[dict[str, Any]]]:
        """The drill-down's timeline entries per ticket (at as ISO text)."""
        async with self.store.read() as tx:
            rows = await fq.timeline_entries(tx, ticket_ids, actions)
        return {
            tid: [
                {
                    "at": r["at"].isoformat(),
                    "action": r["action"],
                    "actor": r["actor"],
                    "role": r["role"],
                    "to_state": r["to_state"],
                    "reason": r["reason"],
                }
                for r in entries
            ]
            for tid, entries in rows.items()
        }

    # -- classes and adjustments ------------------------------------------------------------

    async def classes(self) -> tuple[list[DepartmentClass], dict[str, str | None]]:
        """The department classes and each department's class."""
        async with self.store.read() as tx:
            rows = await fq.classes(tx)
            assigned = await fq.class_assignments(tx)
        return [
            DepartmentClass(r["code"], r["name_zh"], r["name_en"], dict(r["weights"])) for r in rows
        ], assigned

    async def adjustments(self, first: date, last: date) -> list[Adjustment]:
        """Deductions, bonus points and veto items whose day is in [first, last)."""
        async with self.store.read() as tx:
            rows = await fq.adjustments(tx, first, last)
        return [
            Adjustment(
                department=r["department"],
                kind=r["kind"],
                points=float(r["points"]),
                reason=r["reason"],
                day=r["day"],
                recorded_by=r["recorded_by"],
                id=int(r["id"]),
            )
            for r in rows
        ]

    async def save_class(
        self,
        code: str,
        name_zh: str,
        name_en: str,
        weights: Mapping[str, float],
        position: int,
        by: str,
        at: datetime,
    ) -> None:
        """Create or replace a department class (weights already checked)."""
        async with self.store.write() as tx:
            await fq.put_class(
                tx,
                {
                    "code": code,
                    "name_zh": name_zh,
                    "name_en": name_en,
                    "weights": dict(weights),
                    "position": position,
                    "updated_by": by,
                    "updated_at": at,
                },
            )

    async def remove_class(self, code: str) -> None:
        """Remove a class; its departments go back to the default weights."""
        async with self.store.write() as tx:
            await fq.delete_class(tx, code)

    async def assign(self, department: str, class_code: str | None) -> bool:
        """Put a department in a class; False if there is no such department."""
        async with self.store.write() as tx:
            return await fq.assign_class(tx, department, class_code)

    async def record_adjustment(self, a: Adjustment, at: datetime) -> int:
        """Record a supervisor's deduction, bonus or veto item."""
        async with self.store.write() as tx:
            return await fq.add_adjustment(
                tx,
                {
                    "department": a.department,
                    "kind": a.kind,
                    "points": a.points,
                    "reason": a.reason,
                    "day": a.day,
                    "recorded_by": a.recorded_by,
                    "recorded_at": at,
                },
            )
