"""The public letter form's guards: a signed arithmetic challenge and per-IP/per-phone limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tickets.attachments import FileStore
from tickets.mailbox_records import MailboxRecords

MIB = 1024 * 1024


class ChallengeError(Exception):
    """The challenge failed: ``forged`` (bad signature), ``wrong`` answer or ``expired``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Challenge:
    """One signed question: the page carries it, so the server keeps no state."""

    a: int
    op: str  # "plus" or "minus"
    b: int
    nonce: str  # also the submission's idempotency key
    expires: datetime
    token: str

    @property
    def answer(self) -> int:
        """The right answer."""
        return self.a + self.b if self.op == "plus" else self.a - self.b


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RateLimiter:
    """Sliding windows of submission times per key, in this process's memory."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._hits: dict[str, deque[datetime]] = {}

    def _window(self, key: str, window: timedelta, now: datetime) -> deque[datetime]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        return hits

    def take(self, rules: Sequence[tuple[str, int, timedelta]], now: datetime) -> str | None:
        """Count one submission under every (key, limit, window), or name the key that is full.

        Check and count happen without an await in between, so concurrent posts cannot both
        slip under a limit.
        """
        for key, limit, window in rules:
            if len(self._window(key, window, now)) >= limit:
                return key
        if len(self._hits) >= self.max_keys:
            self._hits = {k: v for k, v in self._hits.items() if v}
        for key, _, _ in rules:
            self._hits.setdefault(key, deque()).append(now)
        return None

    def used(self, key: str, window: timedelta, now: datetime) -> int:
        """How many times `key` was counted within `window` before `now`."""
        return len(self._window(key, window, now))

    def give_back(self, keys: Sequence[str], at: datetime) -> None:
        """Undo `take` for a submission that turned out to be a repeat (or failed)."""
        for key in keys:
            hits = self._hits.get(key)
            if hits and at in hits:
                hits.remove(at)


@dataclass
class MailboxDesk:
    """What the public mailbox pages use: records, the file store, the key and the limits."""

    records: MailboxRecords
    files: FileStore
    key: bytes
    per_ip_per_hour: int = 10
    per_phone_per_day: int = 5
    failed_lookups_per_hour: int = 30  # wrong number/code pairs per IP on the progress page
    max_body_bytes: int = 21 * MIB
    challenge_ttl: timedelta = timedelta(hours=2)
    limiter: RateLimiter = field(default_factory=RateLimiter)

    def now(self) -> datetime:
        """The service's clock."""
        return self.records.now()

    def _sign(self, payload: bytes) -> str:
        mac = hmac.new(self.key, b"mailbox-challenge\x00" + payload, hashlib.sha256)
        return _b64(mac.digest())

    def issue(self, nonce: str | None = None) -> Challenge:
        """A fresh question, keeping `nonce` when the same letter is being re-submitted."""
        op = secrets.choice(("plus", "minus"))
        a, b = secrets.randbelow(20) + 1, secrets.randbelow(9) + 1
        if op == "minus" and b > a:
            a, b = b, a
        nonce = nonce or secrets.token_urlsafe(18)
        expires = (self.now() + self.challenge_ttl).replace(microsecond=0)
        body = {"a": a, "op": op, "b": b, "n": nonce, "x": int(expires.timestamp())}
        payload = json.dumps(body, separators=(",", ":")).encode()
        token = f"{_b64(payload)}.{self._sign(payload)}"
        return Challenge(a, op, b, nonce, expires, token)

    def read(self, token: str) -> Challenge:
        """The challenge a token carries, or ChallengeError('forged')."""
        try:
            head, mac = token.split(".", 1)
            payload = _unb64(head)
            if not hmac.compare_digest(mac, self._sign(payload)):
                raise ChallengeError("forged")
            body = json.loads(payload)
            return Challenge(
                int(body["a"]),
                str(body["op"]),
                int(body["b"]),
                str(body["n"]),
                datetime.fromtimestamp(int(body["x"]), UTC),
                token,
            )
        except ChallengeError:
            raise
        except (ValueError, KeyError, TypeError):
            raise ChallengeError("forged") from None

    def check(self, challenge: Challenge, answer: str) -> None:
        """Raise ChallengeError('wrong') unless `answer` (digits, full-width allowed) is right."""
        text = answer.strip().translate({0xFF10 + i: 0x30 + i for i in range(10)})
        text = text.replace("\uff0d", "-")
        try:
            given = int(text)
        except ValueError:
            raise ChallengeError("wrong") from None
        if given != challenge.answer:
            raise ChallengeError("wrong")

    def expired(self, challenge: Challenge) -> bool:
        """Whether the page that carried the challenge is too old."""
        return challenge.expires <= self.now()
