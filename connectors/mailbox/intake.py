"""A parsed letter becomes an `InboundContact`: identity, text, stored files, threading ids."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime

from connectors.mailbox.parse import ParsedMail
from tickets.model import Attachment, Channel, CitizenIdentity, InboundContact

# Stores the files a letter allows and returns them as Attachments; refused ones come back
# with a ref starting ``rejected:`` (the composition root passes the ticket file store).
SaveAttachments = Callable[[Sequence[tuple[str, str, bytes]]], Awaitable[tuple[Attachment, ...]]]
REJECTED_TOO_LARGE = "rejected:message_too_large"


def external_id(message_id: str) -> str:
    """The dedupe key of a message: its Message-ID (hashed when too long for the column)."""
    key = "mail:" + message_id
    if len(key) > 200:
        key = "mail:sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    return key


def mailbox_of(to_addrs: Sequence[str], addresses: Mapping[str, str], default: str) -> str:
    """Which leader's mailbox a letter was written to, by its To/Cc addresses."""
    for addr in to_addrs:
        key = addresses.get(addr.lower())
        if key:
            return key
    return default


async def letter_contact(
    mail: ParsedMail,
    *,
    received_at: datetime,
    mailbox: str,
    save: SaveAttachments,
    size: int | None = None,
    too_large: bool = False,
) -> InboundContact:
    """The contact of one citizen letter (mail.kind is LETTER)."""
    if too_large:
        attachments: tuple[Attachment, ...] = (
            Attachment("message.eml", "message/rfc822", size or 0, REJECTED_TOO_LARGE),
        )
        text = mail.text or f"(邮件 {size or 0} 字节,超过大小上限,未收取正文和附件)"
    else:
        attachments = await save([(p.name, p.content_type, p.data) for p in mail.attachments])
        text = mail.text or "(无正文 / no text)"
    return InboundContact(
        channel=Channel.MAILBOX,
        external_id=external_id(mail.message_id),
        citizen=CitizenIdentity(name=mail.from_name or None, email=mail.from_addr or None),
        text=text,
        received_at=received_at,
        attachments=attachments,
        subject=mail.subject[:300] or None,
        extra={
            "source": "email",
            "mailbox": mailbox,
            "message_id": mail.message_id,
            "in_reply_to": list(mail.in_reply_to),
            "references": list(mail.references),
            "html_only": mail.html_only,
            "defects": list(mail.defects),
        },
    )
