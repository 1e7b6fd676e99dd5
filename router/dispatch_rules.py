"""Dispatch rules: category + district (+ keywords) → lead department and co-handlers; pure.

The most specific rule that matches wins: an exact category beats its parent category,
a named district beats any district, more keywords beat fewer; then the higher priority.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class DispatchRule:
    """One row of the admins' rule table."""

    id: int
    lead_department: str
    category: str | None = None
    district: str | None = None
    keywords: tuple[str, ...] = ()
    co_departments: tuple[str, ...] = ()
    auto_dispatch: bool = False
    priority: int = 0
    active: bool = True  # a switched-off rule stays in the table but never matches


@dataclass(frozen=True)
class Suggestion:
    """Where a ticket should go, and which rule said so."""

    rule_id: int
    lead_department: str
    co_departments: tuple[str, ...]
    auto_dispatch: bool


def _specificity(
    rule: DispatchRule, category: str | None, parent: str | None
) -> tuple[int, int, int, int] | None:
    if rule.category is not None:
        if rule.category == category:
            cat = 2
        elif parent is not None and rule.category == parent:
            cat = 1
        else:
            return None
    else:
        cat = 0
    return (cat, 1 if rule.district else 0, len(rule.keywords), rule.priority)


def suggest(
    rules: Iterable[DispatchRule],
    *,
    category: str | None,
    district: str | None,
    text: str,
    parents: Mapping[str, str | None],
) -> Suggestion | None:
    """The best rule for a ticket, or None when no rule applies."""
    parent = parents.get(category) if category else None
    best: tuple[tuple[int, int, int, int], DispatchRule] | None = None
    for rule in rules:
        if not rule.active:
            continue
        if rule.district is not None and rule.district != district:
            continue
        if any(k not in text for k in rule.keywords):
            continue
        score = _specificity(rule, category, parent)
        if score is None:
            continue
        if best is None or score > best[0] or (score == best[0] and rule.id < best[1].id):
            best = (score, rule)
    if best is None:
        return None
    rule = best[1]
    return Suggestion(rule.id, rule.lead_department, rule.co_departments, rule.auto_dispatch)
