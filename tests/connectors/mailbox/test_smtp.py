"""SMTP replies through the outbox to a real aiosmtpd: rendering, threading, retries."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from connectors.mailbox.smtp import SmtpConfig, SmtpSender
from tests.conftest import free_port
from tests.fakes.clock import FakeClock
from tickets.mailbox_records import MailboxRecords
from tickets.model import Channel, CitizenIdentity, InboundContact
from tickets.outbox import Outbox, OutboxWorker
from tickets.service import TicketService


class Inbox:
    """An aiosmtpd handler keeping what it received; refuses recipients it is told to."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        mail = message_from_bytes(data, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        return "250 Message accepted"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    handler = Inbox()
    ctl = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    ctl.start()
    yield handler
    ctl.stop()


def sender_for(records: MailboxRecords, port: int) -> Any:
    cfg = SmtpConfig(
        host="127.0.0.1", port=port, from_addr="mayor@hotline.test", timeout=3,
        site_url="https://12345.example.gov.cn",
    )  # fmt: skip
    return records.sender(SmtpSender(cfg))


async def outbox_kind(outbox: Outbox, kind: str) -> list[dict[str, Any]]:
    """The outbox's messages of one kind (the accept adds its own acknowledgement)."""
    return [m for m in await outbox.messages() if m["kind"] == kind]


async def letter(service: TicketService, records: MailboxRecords) -> tuple[int, str]:
    result = await records.accept(
        InboundContact(
            channel=Channel.MAILBOX,
            external_id="mail:orig-1@example.cn",
            citizen=CitizenIdentity(name="王五", email="wang@example.cn"),
            text="建设路夜间施工噪声扰民。",
            subject="夜间施工噪声",
            received_at=service.clock(),
            extra={"message_id": "orig-1@example.cn", "mailbox": "mayor"},
        )
    )
    return result.ticket_id, result.ticket_number


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_acknowledgement_is_threaded_bilingual_and_sent_once(
    service: TicketService, records: MailboxRecords, inbox: Inbox, smtp_port: int
) -> None:
    ticket_id, number = await letter(service, records)
    outbox = records.outbox
    payload = {"ticket_number": number, "subject": "夜间施工噪声"}
    # The accept wrote the acknowledgement already; enqueueing it again changes nothing.
    key = f"accepted:{ticket_id}"
    await outbox.enqueue("mailbox", "accepted", "wang@example.cn", payload, key, ticket_id)
    await outbox.enqueue("mailbox", "accepted", "wang@example.cn", payload, key, ticket_id)
    worker = OutboxWorker(outbox, {"mailbox": sender_for(records, smtp_port)})
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    (mail,) = inbox.mails
    async with service.store.read() as tx:
        code = (await tx.ticket(ticket_id=ticket_id))["query_code"]  # type: ignore[index]
        threads = await tx.mail_threads_of(ticket_id)
    assert mail["In-Reply-To"] == "<orig-1@example.cn>"
    assert mail["References"] == "<orig-1@example.cn>"
    assert mail["Subject"] == f"[12345 {number}] 您的来信已受理 / Your letter has been received"
    assert mail["Auto-Submitted"] == "auto-replied"
    body = mail.get_content()
    assert "来信已受理" in body and "has been received" in body
    assert f"查询码 / Query code: {code}" in body
    assert f"/mailbox/progress?number={number}" in body
    sent_id = mail["Message-ID"].strip("<>")
    assert {(t["message_id"], t["direction"]) for t in threads} == {
        ("orig-1@example.cn", "in"),
        (sent_id, "out"),
    }


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_smtp_down_then_up_retries_and_delivers(
    service: TicketService, records: MailboxRecords, smtp_port: int, clock: FakeClock
) -> None:
    ticket_id, number = await letter(service, records)
    outbox = records.outbox
    payload = {"ticket_number": number, "result_text": "已责令施工单位夜间停工。"}
    await outbox.enqueue("mailbox", "result", "wang@example.cn", payload, "res:1", ticket_id)
    worker = OutboxWorker(outbox, {"mailbox": sender_for(records, smtp_port)})
    assert await worker.run_once() == 2  # acknowledgement and result; nobody listens
    (m,) = await outbox_kind(outbox, "result")
    assert m["status"] == "pending" and "SMTP unavailable" in m["last_error"]
    assert await worker.run_once() == 0  # backing off
    handler = Inbox()
    ctl = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    ctl.start()
    try:
        clock.advance(seconds=10)
        assert await worker.run_once() == 2
    finally:
        ctl.stop()
    (m,) = await outbox_kind(outbox, "result")
    assert m["status"] == "sent" and m["attempts"] == 2
    assert any("已责令施工单位夜间停工。" in mail.get_content() for mail in handler.mails)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_refused_recipient_is_permanent(
    service: TicketService, records: MailboxRecords, inbox: Inbox, smtp_port: int
) -> None:
    ticket_id, number = await letter(service, records)
    inbox.refuse.add("gone@example.cn")
    outbox = records.outbox
    payload = {"ticket_number": number}
    await outbox.enqueue("mailbox", "rating_request", "gone@example.cn", payload, "r:1", ticket_id)
    worker = OutboxWorker(outbox, {"mailbox": sender_for(records, smtp_port)})
    await worker.run_once()
    (m,) = await outbox_kind(outbox, "rating_request")
    assert m["status"] == "dead" and "550" in m["last_error"]
