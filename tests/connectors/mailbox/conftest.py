"""Mailbox fixtures: one real Dovecot per session, a mail service over the ticket service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aioimaplib
import pytest
import pytest_asyncio

from tests.fakes.dovecot import Dovecot
from tickets.attachments import FileStore
from tickets.mailbox_records import MailboxEntry, MailboxRecords
from tickets.outbox import Outbox
from tickets.service import TicketService

FIXTURES = Path(__file__).parents[3].parent / "shared" / "fixtures" / "email"
MAILBOXES = (
    MailboxEntry("mayor", "市长信箱", "Mayor's mailbox", address="mayor@hotline.test"),
    MailboxEntry(
        "jinniu", "金牛区区长信箱", "Jinniu district head", address="jinniu@hotline.test",
        district="jinniu",
    ),
)  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    """The marker of tests that run a real Dovecot (pyproject lists the others)."""
    config.addinivalue_line("markers", "dovecot: runs a throwaway Dovecot (Debian dovecot-imapd)")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A Dovecot of our own for the session (started again by tests that kill it)."""
    server = Dovecot()
    server.start()
    yield server
    server.remove()


@pytest_asyncio.fixture
async def mailbox_dovecot(dovecot: Dovecot) -> AsyncIterator[Dovecot]:
    """The session's Dovecot, running, with an empty INBOX and fresh UIDs."""
    if dovecot.proc is None or dovecot.proc.poll() is not None:
        dovecot.start()
    client = aioimaplib.IMAP4(port=dovecot.port, timeout=5)
    try:
        await client.wait_hello_from_server()
        assert (await client.login(dovecot.user, dovecot.password)).result == "OK"
        assert (await client.select("INBOX")).result == "OK"
        await client.store("1:*", "+FLAGS (\\Deleted)")
        await client.expunge()
        await client.logout()
    finally:
        client.protocol.transport.close()
    await asyncio.sleep(0)
    yield dovecot


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    """Attachments on disk under the test's temp folder."""
    return FileStore(tmp_path / "attachments")


@pytest.fixture
def records(service: TicketService) -> MailboxRecords:
    """The mailbox records over the test's ticket service."""
    return MailboxRecords(
        service.store, service, Outbox(service.store, service.clock), MAILBOXES,
        mail_domain="hotline.test",
    )  # fmt: skip
