"""A chat contact's files, fetched after the platform has its answer, stored, and linked.

A WeChat picture or voice (MediaId) or a Telegram photo or document (file_id) arrives as a
placeholder attachment on the committed contact. After the reply, the bytes are fetched
from the platform (retried with backoff while it is unavailable, refused for good when
the file is gone or too big), stored once by their SHA-256 (`tickets/attachments.py`,
with its type and size rules) and put in the placeholder's place on the contact, where
agents see it with the ticket. A placeholder still there after a restart is fetched again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from tickets.attachments import DEFAULT_TYPES, REJECTED, AttachmentRules, FileStore
from tickets.model import Attachment

log = logging.getLogger(__name__)

# (remote id, most bytes wanted) → (content, content type)
Fetch = Callable[[str, int], Awaitable[tuple[bytes, str]]]
# (channel, contact external id, placeholder ref, stored attachment) → linked
Link = Callable[[str, str, str, Attachment], Awaitable[bool]]
# (channel, ref prefix, since) → (contact external id, placeholder) still to fetch
Pending = Callable[[str, str, datetime], Awaitable[list[tuple[str, Attachment]]]]
Sleep = Callable[[float], Awaitable[None]]


# What chat apps record voice in, besides the letters' types: Telegram's OGG/Opus voice
# notes, WeChat's AMR and Speex.
CHAT_RULES = AttachmentRules(allowed=DEFAULT_TYPES | {".ogg", ".oga", ".opus", ".speex"})


class MediaUnavailable(Exception):
    """The platform cannot give the file now (network, 5xx, busy): try again later."""


class MediaRefused(Exception):
    """The platform will never give this file (unknown or expired id, too big)."""

    def __init__(self, message: str, reason: str = "unavailable") -> None:
        super().__init__(message)
        self.reason = reason  # what the contact records: rejected:<reason>


class MediaDownloads:
    """Background fetches of one channel's files; one task per placeholder."""

    def __init__(
        self,
        channel: str,
        ref_prefix: str,
        fetch: Fetch,
        files: FileStore,
        link: Link,
        *,
        attempts: int = 6,
        backoff: float = 1.0,
        cap: float = 60.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.channel = channel
        self.ref_prefix = ref_prefix
        self.fetch = fetch
        self.files = files
        self.link = link
        self.attempts = attempts
        self.backoff = backoff
        self.cap = cap
        self.sleep = sleep
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.stored = 0
        self.refused = 0
        self.failed = 0

    def schedule(self, external_id: str, attachments: tuple[Attachment, ...]) -> int:
        """Fetch the contact's placeholder files in the background; how many were queued."""
        queued = 0
        for a in attachments:
            key = (external_id, a.ref)
            if not a.ref.startswith(self.ref_prefix) or key in self._tasks:
                continue
            task = asyncio.create_task(self._run(external_id, a), name=f"{self.channel}-media")
            self._tasks[key] = task
            task.add_done_callback(functools.partial(self._forget, key))
            queued += 1
        return queued

    def _forget(self, key: tuple[str, str], _task: asyncio.Task[None]) -> None:
        self._tasks.pop(key, None)

    async def resume(self, pending: Pending, since: datetime) -> int:
        """Queue every placeholder a stop left unfetched (received since `since`)."""
        queued = 0
        for external_id, placeholder in await pending(self.channel, self.ref_prefix, since):
            queued += self.schedule(external_id, (placeholder,))
        return queued

    async def _run(self, external_id: str, placeholder: Attachment) -> None:
        remote_id = placeholder.ref.removeprefix(self.ref_prefix)
        for attempt in range(1, self.attempts + 1):
            try:
                body, content_type = await self.fetch(remote_id, self.files.rules.max_bytes)
            except MediaUnavailable as e:
                log.warning("%s file %s, attempt %d: %s", self.channel, remote_id, attempt, e)
                if attempt < self.attempts:
                    await self.sleep(min(self.cap, self.backoff * 2 ** (attempt - 1)))
                continue
            except MediaRefused as e:
                log.error("%s file %s refused: %s", self.channel, remote_id, e)
                self.refused += 1
                kept = Attachment(
                    placeholder.name,
                    placeholder.content_type,
                    placeholder.size,
                    REJECTED + e.reason,
                )
                await self._link(external_id, placeholder, kept)
                return
            content_type = content_type or placeholder.content_type
            (saved,) = await self.files.save_all([(placeholder.name, content_type, body)])
            if saved.ref.startswith(REJECTED):
                self.refused += 1
            else:
                self.stored += 1
            await self._link(external_id, placeholder, saved)
            return
        # Left as a placeholder: the next start tries again (WeChat keeps media 3 days).
        self.failed += 1
        log.error(
            "%s file %s not fetched after %d attempts", self.channel, remote_id, self.attempts
        )

    async def _link(self, external_id: str, placeholder: Attachment, stored: Attachment) -> None:
        if not await self.link(self.channel, external_id, placeholder.ref, stored):
            log.info("%s contact %s: %s linked already", self.channel, external_id, stored.name)

    async def drain(self) -> None:
        """Wait for the fetches in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        """Stop the fetches in flight; their placeholders stay for the next start."""
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# How far back a start looks for unfetched files (WeChat's temporary media live 3 days).
RESUME_WINDOW = timedelta(days=3)
