"""Files that come with letters: type and size rules, and a content-addressed store on disk."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tickets.model import Attachment

MIB = 1024 * 1024
REJECTED = "rejected:"  # an Attachment.ref that starts so was refused, not stored

DEFAULT_TYPES = frozenset(
    {
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".heic",
        ".pdf", ".txt", ".doc", ".docx", ".xls", ".xlsx", ".wps", ".ofd",
        ".mp3", ".amr", ".m4a", ".wav", ".mp4", ".mov", ".zip", ".eml",
    }
)  # fmt: skip


@dataclass(frozen=True)
class AttachmentRules:
    """What a letter may carry: file types by extension, sizes, how many."""

    max_bytes: int = 10 * MIB
    max_total_bytes: int = 20 * MIB
    max_count: int = 10
    allowed: frozenset[str] = field(default=DEFAULT_TYPES)

    def rejection(self, name: str, size: int, count_before: int, total_before: int) -> str | None:
        """Why this file is refused (type, size, count, total), or None if it is fine."""
        ext = os.path.splitext(name)[1].lower()
        if ext not in self.allowed:
            return "type"
        if size > self.max_bytes:
            return "size"
        if count_before >= self.max_count:
            return "count"
        if total_before + size > self.max_total_bytes:
            return "total"
        return None


def is_rejected(a: Attachment) -> bool:
    """Whether the attachment was refused (kept on record, never stored)."""
    return a.ref.startswith(REJECTED)


class FileStore:
    """Files kept once by their SHA-256 under one folder; refs are ``sha256:<hex>``."""

    def __init__(self, root: Path, rules: AttachmentRules | None = None) -> None:
        self.root = Path(root)
        self.rules = rules or AttachmentRules()

    def path_of(self, ref: str) -> Path | None:
        """The file behind a ref, if it is one of ours and exists."""
        m = re.fullmatch(r"sha256:([0-9a-f]{64})", ref)
        if not m:
            return None
        path = self.root / m.group(1)[:2] / m.group(1)
        return path if path.is_file() else None

    def _write(self, digest: str, data: bytes) -> None:
        folder = self.root / digest[:2]
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / digest
        if final.exists():
            return
        tmp = folder / f".{digest}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)

    async def save_all(self, files: Sequence[tuple[str, str, bytes]]) -> tuple[Attachment, ...]:
        """Store the files the rules allow; the others come back with a ``rejected:`` ref."""
        out: list[Attachment] = []
        count = total = 0
        for name, content_type, data in files:
            reason = self.rules.rejection(name, len(data), count, total)
            if reason is not None:
                out.append(Attachment(name, content_type, len(data), REJECTED + reason))
                continue
            digest = hashlib.sha256(data).hexdigest()
            await asyncio.to_thread(self._write, digest, data)
            count += 1
            total += len(data)
            out.append(Attachment(name, content_type, len(data), f"sha256:{digest}"))
        return tuple(out)
