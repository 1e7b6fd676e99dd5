"""Anti-forgery codes on dispatch sheets: a keyed HMAC over ticket number and hop."""

from __future__ import annotations

import base64
import hashlib
import hmac


def dispatch_code(key: bytes, number: str, hop: int, department: str) -> str:
    """A 12-character code printed on the sheet, e.g. ``K7QD-M2XA-9PLF``."""
    mac = hmac.new(key, f"{number}|{hop}|{department}".encode(), hashlib.sha256).digest()
    raw = base64.b32encode(mac[:10]).decode().rstrip("=")[:12]
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def code_matches(key: bytes, number: str, hop: int, department: str, code: str) -> bool:
    """Constant-time check of a code someone typed in (case and spaces forgiven)."""
    given = code.strip().upper().replace(" ", "")
    return hmac.compare_digest(dispatch_code(key, number, hop, department), given)
