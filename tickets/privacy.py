"""Who may see a citizen's identity, and how it looks when they may not; pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from tickets.model import Role

_TICKET_NUMBER = re.compile(r"(?<![\d-])(\d{8}-\d{6})(?![\d-])")


def normalize_phone(raw: str | None, region: str = "CN") -> str | None:
    """E.164 for a valid number, else the digits alone (a caller ID may be anything)."""
    if not raw:
        return None
    try:
        parsed = phonenumbers.parse(raw, region)
        if phonenumbers.is_valid_number(parsed):
            return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    except phonenumbers.NumberParseException:
        pass
    digits = re.sub(r"[^\d+]", "", raw)
    return digits or None


def display_phone(e164: str | None) -> str | None:
    """A Chinese number without +86, as agents dial and read it."""
    if e164 and e164.startswith("+86"):
        return e164[3:]
    return e164


def mask_phone(phone: str | None) -> str | None:
    """138****5678: enough to recognise, not to call."""
    if not phone:
        return phone
    p = display_phone(phone) or ""
    if len(p) <= 4:
        return "*" * len(p)
    keep = 3 if len(p) >= 11 else 1
    return p[:keep] + "*" * (len(p) - keep - 4) + p[-4:]


def mask_name(name: str | None) -> str | None:
    """张* / 欧阳** : the family name only."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_email(email: str | None) -> str | None:
    """z***@example.org."""
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return local[:1] + "***@" + domain


def mask_opaque(value: str | None) -> str | None:
    """An OpenID or Telegram id: the last four characters."""
    if not value:
        return value
    return "****" + value[-4:]


def ticket_numbers_in(text: str) -> list[str]:
    """Ticket numbers a citizen quoted in a message (threading by reference)."""
    return _TICKET_NUMBER.findall(text)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: role, and for departments/police the units they may see."""

    username: str
    role: Role
    department: str | None = None
    scope: frozenset[str] = field(default_factory=frozenset)


def identity_visible(viewer: Viewer, *, confidential: bool, handlers: frozenset[str]) -> bool:
    """Call-floor staff see identities; a confidential ticket only to its own handlers.

    Departments and police always see a masked identity (they unmask with a reason).
    """
    if viewer.role is Role.SUPERVISOR:
        return True
    if viewer.role is Role.AGENT:
        return not confidential or viewer.username in handlers
    return False


def masked_citizen(citizen: dict[str, Any]) -> dict[str, Any]:
    """The citizen as a department sees it before unmasking."""
    return {
        **citizen,
        "name": mask_name(citizen.get("name")),
        "phone": mask_phone(citizen.get("phone")),
        "email": mask_email(citizen.get("email")),
        "wechat_openid": mask_opaque(citizen.get("wechat_openid")),
        "telegram_id": mask_opaque(citizen.get("telegram_id")),
        "masked": True,
    }
