"""The department tree (city department → district → 街道/乡镇); pure lookups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Department:
    """One unit that can receive orders."""

    code: str
    name_zh: str
    name_en: str
    parent_code: str | None
    kind: str


class DepartmentTree:
    """Parent/child relations of all departments, for scopes and pass-on checks."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        rows_list = list(rows)
        self.by_code: dict[str, Department] = {
            r["code"]: Department(
                r["code"], r["name_zh"], r.get("name_en") or "", r["parent_code"], r["kind"]
            )
            for r in rows_list
        }
        # Deactivated units keep their names (old orders show them) but take no new orders.
        self.inactive = frozenset(r["code"] for r in rows_list if not r.get("active", True))
        self.children: dict[str, list[str]] = {}
        for d in self.by_code.values():
            if d.parent_code:
                self.children.setdefault(d.parent_code, []).append(d.code)

    def __contains__(self, code: object) -> bool:
        return code in self.by_code

    def descendants(self, code: str) -> frozenset[str]:
        """The unit itself and everything below it."""
        out, todo = set(), [code]
        while todo:
            c = todo.pop()
            if c not in out:
                out.add(c)
                todo.extend(self.children.get(c, ()))
        return frozenset(out)

    def is_below(self, code: str, ancestor: str) -> bool:
        """True if `code` is a strict descendant of `ancestor`."""
        return code != ancestor and code in self.descendants(ancestor)

    def name(self, code: str | None, locale: str = "zh") -> str:
        """The display name, or the code if unknown."""
        if code is None:
            return ""
        d = self.by_code.get(code)
        if d is None:
            return code
        return d.name_en if locale == "en" and d.name_en else d.name_zh

    def of_kind(self, kind: str) -> list[Department]:
        """All active units of a kind (e.g. every ``police`` unit)."""
        return [d for d in self.by_code.values() if d.kind == kind and d.code not in self.inactive]
