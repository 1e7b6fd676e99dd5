"""The call log: each call's record, its timing marks and missed-call callbacks (store side)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tickets.group_commit import GroupCommit
from tickets.model import CitizenIdentity
from tickets.service import Clock, TicketService, system_clock
from tickets.store import Row, Store


class CallLog:
    """What the router records about calls, and what the console reads back."""

    def __init__(self, store: Store, tickets: TicketService, clock: Clock = system_clock) -> None:
        self.store = store
        self.tickets = tickets
        self.clock = clock
        self._extensions: dict[str, str | None] = {}
        self._saves: GroupCommit[tuple[dict[str, Any], list[dict[str, Any]]], None] = GroupCommit(
            self._save_group
        )

    async def save(self, values: dict[str, Any], marks: Sequence[dict[str, Any]] = ()) -> None:
        """Write a call (insert or update by call id) and append its timing marks.

        Saves that arrive together share one transaction (group commit).
        """
        await self._saves.submit((values, list(marks)))

    async def _save_group(
        self, items: Sequence[tuple[dict[str, Any], list[dict[str, Any]]]]
    ) -> list[None | Exception]:
        async with self.store.write() as tx:
            for values, _ in items:
                await tx.save_call(values)
            await tx.add_call_marks([m for _, marks in items for m in marks])
        return [None] * len(items)

    async def get(self, call_id: str) -> Row | None:
        """One call."""
        async with self.store.read() as tx:
            return await tx.call(call_id)

    async def marks(self, call_id: str) -> list[Row]:
        """A call's response-timing log."""
        async with self.store.read() as tx:
            return await tx.call_marks_of(call_id)

    async def between(self, start: datetime, end: datetime) -> list[Row]:
        """Calls that started in [start, end)."""
        async with self.store.read() as tx:
            return await tx.calls_between(start, end)

    async def missed(self, done: bool = False) -> list[Row]:
        """Missed calls still to call back (or already called back)."""
        async with self.store.read() as tx:
            return await tx.missed_calls(done)

    async def callback_done(self, call_id: str, by: str) -> bool:
        """An agent called the citizen back; False for an unknown call."""
        values = {"callback_done_at": self.clock(), "callback_by": by}
        async with self.store.write() as tx:
            return await tx.update_call(call_id, values)

    async def history(self, caller: str | None, locale: str = "zh") -> tuple[dict[str, Any], ...]:
        """The caller's previous and open tickets, newest first, for the screen pop."""
        if not caller:
            return ()
        rows = await self.tickets.tickets_of(CitizenIdentity(phone=caller), limit=10)
        return tuple(
            {
                "number": r["number"],
                "state": r["state"],
                "subject": r["subject"],
                "category_name": self.tickets.category_name(r["category"], locale),
                "created_at": r["created_at"].isoformat(),
                "rating": r["rating"],
            }
            for r in rows
        )

    async def agent_username(self, interface: str | None) -> str | None:
        """The staff account whose phone is `interface` (PJSIP/8001 → users.extension 8001)."""
        if not interface:
            return None
        extension = interface.rsplit("/", 1)[-1]
        if extension not in self._extensions:
            async with self.store.read() as tx:
                row = await tx.user_by_extension(extension)
            self._extensions[extension] = row["username"] if row else None
        return self._extensions[extension]

    def forget_extensions(self) -> None:
        """Staff phones changed: look them up again."""
        self._extensions.clear()
