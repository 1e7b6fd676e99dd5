"""The mayor's mailbox's records: threads, query codes, progress, publication and the mail sink.

It wraps `TicketService.accept` for letters (threading replies by Message-ID, giving new
tickets a query code, telling the writer about refused files) and the SMTP sender (threading
headers, the query code, outgoing Message-IDs remembered). SQL stays in the store.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tickets.attachments import is_rejected
from tickets.events import DomainEvent, TicketChanged
from tickets.model import AcceptResult, InboundContact, OutboundMessage, State
from tickets.outbox import Outbox, Sender
from tickets.privacy import ticket_numbers_in
from tickets.service import TicketService
from tickets.store import Row, Store

log = logging.getLogger(__name__)

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read over the phone
PUBLIC_ACTIONS = frozenset(
    {
        "accept",
        "dispatch",
        "approve",
        "sign",
        "return",
        "pass_on",
        "approve_extension",
        "submit_result",
        "inform_citizen",
        "resolve_on_spot",
        "record_rating",
        "close",
        "supervise",
    }
)


@dataclass(frozen=True)
class MailboxEntry:
    """One leader's mailbox: the mayor, a district head, a department head."""

    key: str
    name_zh: str
    name_en: str
    address: str | None = None  # its e-mail address, if letters also come by e-mail
    district: str | None = None  # letters to a district head belong to that district
    department: str | None = None


DEFAULT_MAILBOXES = (MailboxEntry("mayor", "市长信箱", "Mayor's mailbox"),)


def new_query_code() -> str:
    """Eight characters a citizen can type and read aloud (≈ 8·10¹¹ possibilities)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "[邮箱]"),
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"), "[身份证号]"),
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"), "[电话]"),
    (re.compile(r"(?<!\d)0\d{2,3}[- ]?\d{7,8}(?!\d)"), "[电话]"),
    (re.compile(r"(?<![\d-])\d{8}-\d{6}(?![\d-])"), "[工单号]"),
    (re.compile(r"\d+\s*(?:号楼|栋|幢)\s*(?:\d+\s*单元)?\s*\d*\s*(?:室|号)?"), "[门牌]"),
    (re.compile(r"\d+\s*单元\s*\d+\s*(?:室|号)?"), "[门牌]"),
)


def redact(text: str, names: Sequence[str] = ()) -> str:
    """Text fit for publication: phones, e-mails, ID numbers, door numbers and names removed."""
    for pattern, mark in _REDACTIONS:
        text = pattern.sub(mark, text)
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        text = text.replace(name, name[0] + "*" * (len(name) - 1))
    return text


class MailboxRecords:
    """Service-level logic of the mailbox over the store, the ticket service and the outbox."""

    def __init__(
        self,
        store: Store,
        tickets: TicketService,
        outbox: Outbox,
        mailboxes: Sequence[MailboxEntry] = DEFAULT_MAILBOXES,
        *,
        mail_domain: str = "hotline.local",
    ) -> None:
        self.store = store
        self.tickets = tickets
        self.outbox = outbox
        self.mailboxes = {m.key: m for m in (mailboxes or DEFAULT_MAILBOXES)}
        self.mail_domain = mail_domain

    def now(self) -> datetime:
        """The service's clock (UTC)."""
        return self.tickets.clock()

    # -- cursors (the IMAP connector's durable position) -----------------------------------

    async def load_cursor(self, name: str) -> dict[str, Any] | None:
        """A channel cursor by name."""
        async with self.store.read() as tx:
            return await tx.channel_cursor(name)

    async def save_cursor(self, name: str, value: dict[str, Any]) -> None:
        """Store a channel cursor."""
        async with self.store.write() as tx:
            await tx.put_channel_cursor(name, value, self.now())

    # -- intake --------------------------------------------------------------------------

    async def accept(self, contact: InboundContact) -> AcceptResult:
        """The mail sink: thread, accept durably, remember the Message-ID, give a query code."""
        contact = await self._threaded(contact)
        result = await self.tickets.accept(contact)
        message_id = contact.extra.get("message_id")
        async with self.store.write() as tx:
            if message_id:
                await tx.add_mail_thread(str(message_id), result.ticket_id, "in", self.now())
            if result.created_ticket:
                await tx.set_query_code(result.ticket_id, new_query_code())
        if not result.duplicate:
            await self._notify_rejected(contact, result)
        return result

    async def _threaded(self, contact: InboundContact) -> InboundContact:
        """A reply names its ticket: by In-Reply-To/References, or the number in the subject.

        The service threads by a ticket number quoted in the text (for the same citizen, on
        an open ticket), so the reference is written into the contact's text.
        """
        ids = [str(x) for x in contact.extra.get("in_reply_to", [])] + [
            str(x) for x in contact.extra.get("references", [])
        ]
        number: str | None = None
        if ids:
            async with self.store.read() as tx:
                row = await tx.ticket_of_messages(ids)
            number = row["number"] if row else None
        if number is None:
            quoted = ticket_numbers_in(contact.subject or "")
            number = quoted[0] if quoted else None
        if number is None or number in ticket_numbers_in(contact.text):
            return contact
        return replace(
            contact, text=f"{contact.text}\n\n〔回复工单 {number} / re ticket {number}〕"
        )

    async def _notify_rejected(self, contact: InboundContact, result: AcceptResult) -> None:
        refused = [a for a in contact.attachments if is_rejected(a)]
        if not refused or not contact.citizen.email:
            return
        payload = {
            "ticket_number": result.ticket_number,
            "subject": contact.subject or "",
            "rejected": [
                {"name": a.name, "size": a.size, "reason": a.ref.partition(":")[2]} for a in refused
            ],
        }
        await self.outbox.enqueue(
            "mailbox",
            "attachment_rejected",
            contact.citizen.email,
            payload,
            f"rejected:{contact.channel.value}:{contact.external_id}"[:200],
            result.ticket_id,
        )

    async def query_code(self, ticket_id: int) -> str:
        """The ticket's query code, made now if it has none."""
        async with self.store.write() as tx:
            return await tx.set_query_code(ticket_id, new_query_code())

    async def progress(self, number: str, code: str, locale: str = "zh") -> Row | None:
        """A ticket's progress for whoever holds its number and query code; no personal data."""
        async with self.store.read() as tx:
            row = await tx.ticket(number=number.strip())
            if row is None or not row["query_code"]:
                return None
            if not secrets.compare_digest(
                str(row["query_code"]).encode(), code.strip().upper().encode()
            ):
                return None
            tl = await tx.timeline_of(row["id"])
        steps = [
            {"action": e["action"], "to_state": e["to_state"], "at": e["at"].isoformat()}
            for e in tl
            if e["action"] in PUBLIC_ACTIONS
        ]
        return {
            "number": row["number"],
            "state": row["state"],
            "created_at": row["created_at"].isoformat(),
            "due_at": row["due_at"].isoformat() if row["due_at"] else None,
            "department_name": self.tickets.tree.name(row["lead_department"], locale)
            if row["lead_department"]
            else "",
            "category_name": self.tickets.category_name(row["category"], locale),
            "result_at": row["result_at"].isoformat() if row["result_at"] else None,
            "closed_at": row["closed_at"].isoformat() if row["closed_at"] else None,
            "steps": steps,
        }

    # -- replies -------------------------------------------------------------------------

    def message_id_for(self, message: OutboundMessage) -> str:
        """The Message-ID of an outbox message: the same on every retry (receivers dedupe)."""
        return f"hotline.{message.id}.{message.kind}@{self.mail_domain}"

    def sender(self, inner: Sender) -> Sender:
        """Wrap the SMTP sender: add threading ids and the query code, remember what went out."""

        async def send(message: OutboundMessage) -> dict[str, Any] | None:
            payload = dict(message.payload)
            payload["message_id"] = self.message_id_for(message)
            if message.ticket_id is not None:
                async with self.store.read() as tx:
                    threads = await tx.mail_threads_of(message.ticket_id)
                    row = await tx.ticket(ticket_id=message.ticket_id)
                incoming = [t["message_id"] for t in threads if t["direction"] == "in"]
                if incoming:
                    payload["in_reply_to"] = incoming[-1]
                payload["references"] = [
                    t["message_id"] for t in threads if t["message_id"] != payload["message_id"]
                ][-20:]
                if row is not None:
                    payload["query_code"] = row["query_code"] or await self.query_code(row["id"])
            result = await inner(replace(message, payload=payload))
            sent_id = str((result or {}).get("message_id") or payload["message_id"])
            if message.ticket_id is not None:
                async with self.store.write() as tx:
                    await tx.add_mail_thread(sent_id, message.ticket_id, "out", self.now())
            return result

        return send

    # -- publication ---------------------------------------------------------------------

    def mailbox_of_ticket(self, row: Row) -> str:
        """Which mailbox a ticket's letter went to, as far as the ticket tells."""
        for m in self.mailboxes.values():
            if m.district and m.district == row.get("district"):
                return m.key
        return next(iter(self.mailboxes))

    async def publish(self, ticket_id: int) -> bool:
        """Publish a closed letter and its reply if the writer consented; personal data out."""
        async with self.store.read() as tx:
            row = await tx.ticket(ticket_id=ticket_id)
            citizen = await tx.get_citizen(row["citizen_id"]) if row and row["citizen_id"] else None
        if (
            row is None
            or not row["consent_publish"]
            or row["confidential"]
            or row["channel"] not in ("mailbox", "web")
            or not row["result_text"]
        ):
            return False
        names = [citizen["name"]] if citizen and citizen.get("name") else []
        async with self.store.write() as tx:
            await tx.upsert_publication(
                {
                    "ticket_id": ticket_id,
                    "title": redact(row["subject"] or "", names)[:300],
                    "letter": redact(row["description"] or "", names),
                    "reply": redact(row["result_text"] or "", names),
                    "category": row["category"],
                    "district": row["district"],
                    "mailbox": self.mailbox_of_ticket(row),
                    "published_at": self.now(),
                }
            )
        return True

    async def __call__(self, event: DomainEvent) -> None:
        """Bus subscriber: a letter whose ticket closed is published (with consent)."""
        if isinstance(event, TicketChanged) and event.to_state == State.CLOSED.value:
            await self.publish(event.ticket_id)

    async def published(
        self,
        *,
        category: str | None = None,
        month: str | None = None,
        page: int = 1,
        page_size: int = 20,
        timezone: str = "Asia/Shanghai",
    ) -> tuple[list[Row], int]:
        """Published letters, newest first; `month` is YYYY-MM in the city's time zone."""
        since = until = None
        if month:
            m = re.fullmatch(r"(\d{4})-(\d{2})", month)
            if m and 1 <= int(m.group(2)) <= 12:
                y, mo = int(m.group(1)), int(m.group(2))
                tz = ZoneInfo(timezone)
                since = datetime(y, mo, 1, tzinfo=tz).astimezone(UTC)
                until = datetime(y + mo // 12, mo % 12 + 1, 1, tzinfo=tz).astimezone(UTC)
        async with self.store.read() as tx:
            return await tx.list_publications(
                category=category or None,
                since=since,
                until=until,
                limit=page_size,
                offset=max(0, page - 1) * page_size,
            )
