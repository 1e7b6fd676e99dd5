"""IMAP intake against a real Dovecot: every fixture handled, replies threaded, kill-restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aioimaplib
import pytest
import pytest_asyncio

from connectors.mailbox.imap import ImapConfig, ImapIntake
from tests.connectors.mailbox.conftest import FIXTURES
from tests.fakes.dovecot import Dovecot
from tickets.attachments import FileStore
from tickets.mailbox_records import MailboxRecords
from tickets.model import AcceptResult, InboundContact
from tickets.service import TicketService

pytestmark = pytest.mark.dovecot

LETTERS = {
    "webklex_gbk_charset.eml",
    "webklex_html_only.eml",
    "webklex_embedded_email_forwarded.eml",
    "enmime_attachment.eml",
    "enmime_html-mime-inline.eml",
    "cpython_msg_10_mixed_cte.eml",
}
NOT_LETTERS = {
    "spamscope_mail_test_12_gb2312_8bit.eml": "spam",
    "cpython_msg_16_dsn_bounce.eml": "bounce",
    "webklex_example_bounce.eml": "bounce",
    "flanker_bounce_gmail-invalid-address.eml": "bounce",
    "flanker_bounce_mailbox-full.eml": "bounce",
    "flanker_bounce_delayed.eml": "bounce",
}


def letter(n: int, sender: str = "wang@example.cn", extra: str = "") -> bytes:
    return (
        f"From: =?UTF-8?B?546L5LqU?= <{sender}>\r\nTo: mayor@hotline.test\r\n"
        f"Subject: =?UTF-8?B?6Lev54Gv?= {n}\r\nMessage-ID: <letter-{n}@example.cn>\r\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"第{n}封:小区路灯坏了。\r\n"
    ).encode()


class Counting:
    """The sink under test, counting what it was handed (and able to fail on demand)."""

    def __init__(self, inner: Callable[[InboundContact], Awaitable[AcceptResult]]) -> None:
        self.inner = inner
        self.seen: list[InboundContact] = []

    async def __call__(self, c: InboundContact) -> AcceptResult:
        self.seen.append(c)
        return await self.inner(c)


@pytest_asyncio.fixture
async def intake_of(
    mailbox_dovecot: Dovecot, records: MailboxRecords, files: FileStore
) -> AsyncIterator[Callable[..., Awaitable[tuple[ImapIntake, Counting]]]]:
    made: list[ImapIntake] = []

    async def make(**kw: Any) -> tuple[ImapIntake, Counting]:
        sink = Counting(records.accept)
        cfg = ImapConfig(
            host="127.0.0.1",
            port=mailbox_dovecot.port,
            user=mailbox_dovecot.user,
            password=kw.pop("password", mailbox_dovecot.password),
            timeout=5,
            poll_seconds=0.2,
            reconnect_max_seconds=0.5,
            addresses={"mayor@hotline.test": "mayor", "jinniu@hotline.test": "jinniu"},
            **kw,
        )
        intake = ImapIntake(
            cfg, sink, records.load_cursor, records.save_cursor, files.save_all,
            clock=records.now,
        )  # fmt: skip
        made.append(intake)
        await intake.start()
        return intake, sink

    yield make
    for i in made:
        await i.stop()


async def until(check: Callable[[], Awaitable[bool] | bool], within: float = 15) -> None:
    async with asyncio.timeout(within):
        while True:
            result = check()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)


async def flags(d: Dovecot) -> dict[int, str]:
    client = aioimaplib.IMAP4(port=d.port, timeout=5)
    try:
        await client.wait_hello_from_server()
        await client.login(d.user, d.password)
        await client.select("INBOX")
        resp = await client.uid("fetch", "1:*", "(UID FLAGS)")
        out = {}
        for line in resp.lines:
            text = bytes(line).decode()
            if "FETCH" in text:
                uid = int(text.split("UID ")[1].split()[0])
                out[uid] = text.split("FLAGS (")[1].split(")")[0]
        await client.logout()
        return out
    finally:
        client.protocol.transport.close()


async def tickets_of(service: TicketService) -> list[dict[str, Any]]:
    async with service.store.read() as tx:
        rows, _ = await tx.list_tickets(limit=500)
    return rows


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_every_fixture_message_is_handled(
    mailbox_dovecot: Dovecot, intake_of: Any, service: TicketService, files: FileStore
) -> None:
    for name in sorted(LETTERS | set(NOT_LETTERS)):
        mailbox_dovecot.deliver((FIXTURES / name).read_bytes())
    intake, sink = await intake_of()
    await until(lambda: intake.stats.letters + sum(intake.stats.ignored.values()) == 12)
    assert intake.stats.letters == len(LETTERS)
    assert intake.stats.ignored == {"bounce": 5, "spam": 1}
    rows = await tickets_of(service)
    # Same writer, no category, nobody worked on it yet: the service threads the second
    # letter of from@there.com and of james@makita.skynet into their first ticket.
    assert sorted(r["subject"] for r in rows) == ["Attachment", "Lyrics", "Nuu", "embedded message"]
    async with service.store.read() as tx:
        contacts = [c for r in rows for c in await tx.contacts_of(r["id"])]
    assert len(contacts) == len(LETTERS)
    by_subject = {c.subject: c for c in sink.seen}
    fwd = by_subject["embedded message"]
    assert {a.name for a in fwd.attachments} == {"testfile.txt", "demo.eml"}
    stored = [a for a in fwd.attachments if a.name == "testfile.txt"][0]
    path = files.path_of(stored.ref)
    assert path is not None and path.read_bytes() == b" this is content of test file"
    html_attachment = by_subject["Attachment"].attachments[0]
    assert (html_attachment.name, html_attachment.ref) == ("test.html", "rejected:type")
    # letters flagged done, others marked and left unread for a person to look at
    marks = await flags(mailbox_dovecot)
    assert sum("$Hotline " in v + " " and "\\Seen" in v for v in marks.values()) == 6
    assert sum("$HotlineIgnored" in v and "\\Seen" not in v for v in marks.values()) == 6
    # the writer of the refused file is told, in the outbox
    notices = await records_outbox(service)
    assert [(m["kind"], m["recipient"]) for m in notices if m["kind"] == "attachment_rejected"] == [
        ("attachment_rejected", "james@makita.skynet")
    ]


async def records_outbox(service: TicketService) -> list[dict[str, Any]]:
    async with service.store.read() as tx:
        return await tx.outbound()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_idle_delivers_new_letters_and_replies_thread(
    mailbox_dovecot: Dovecot, intake_of: Any, service: TicketService, records: MailboxRecords
) -> None:
    intake, sink = await intake_of()
    await until(lambda: intake.idle_ready.is_set())
    mailbox_dovecot.deliver(letter(1))
    await until(lambda: intake.stats.letters == 1)
    (row,) = await tickets_of(service)
    assert row["query_code"] and row["channel"] == "mailbox"
    # An agent works on it (dispatch), then the citizen answers our mail from another address
    # book entry of theirs but the same address: In-Reply-To threads it into the ticket.
    async with service.store.write() as tx:
        await tx.add_mail_thread(
            "hotline.9.accepted@hotline.test", row["id"], "out", service.clock()
        )
    mailbox_dovecot.deliver(
        letter(2, extra="In-Reply-To: <hotline.9.accepted@hotline.test>\r\n").replace(
            b"Subject: =?UTF-8?B?6Lev54Gv?= 2", b"Subject: Re: something else"
        )
    )
    await until(lambda: intake.stats.letters == 2)
    rows = await tickets_of(service)
    assert len(rows) == 1, "the reply joined the ticket"
    async with service.store.read() as tx:
        texts = [c["text"] for c in await tx.contacts_of(row["id"])]
    assert len(texts) == 2 and f"回复工单 {row['number']}" in texts[1]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_polling_fallback(mailbox_dovecot: Dovecot, intake_of: Any) -> None:
    intake, _ = await intake_of(use_idle=False)
    await until(lambda: intake.idle_ready.is_set())
    mailbox_dovecot.deliver(letter(3))
    await until(lambda: intake.stats.letters == 1)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_wrong_password_is_reported_not_fatal(
    mailbox_dovecot: Dovecot, intake_of: Any
) -> None:
    intake, _ = await intake_of(password="wrong")
    await until(lambda: "LOGIN" in intake.health().detail)
    assert not intake.health().connected


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_huge_message_is_kept_as_rejected(
    mailbox_dovecot: Dovecot, intake_of: Any, service: TicketService
) -> None:
    mailbox_dovecot.deliver(letter(4) + b"x" * 300_000 + b"\r\n")
    intake, sink = await intake_of(max_message_bytes=100_000)
    await until(lambda: intake.stats.letters == 1)
    (c,) = sink.seen
    assert [a.ref for a in c.attachments] == ["rejected:message_too_large"]
    assert c.subject == "路灯 4"
    kinds = [m["kind"] for m in await records_outbox(service)]
    assert "attachment_rejected" in kinds


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_uidvalidity_change_rereads_without_doubles(
    mailbox_dovecot: Dovecot, intake_of: Any, service: TicketService, records: MailboxRecords
) -> None:
    for n in range(3):
        mailbox_dovecot.deliver(letter(10 + n, sender=f"u{n}@example.cn"))
    intake, sink = await intake_of()
    await until(lambda: intake.stats.letters == 3)

    async def cursor_saved() -> bool:  # the cursor follows the batch's last letter
        saved = await records.load_cursor(intake.cursor_name)
        return saved is not None and saved["last_uid"] >= 3

    await until(cursor_saved)
    cursor = await records.load_cursor(intake.cursor_name)
    assert cursor is not None
    await intake.stop()
    mailbox_dovecot.stop()
    mailbox_dovecot.reset_uidvalidity()
    mailbox_dovecot.start()
    intake2, _ = await intake_of()
    await until(lambda: intake2.stats.duplicates == 3)
    assert intake2.stats.letters == 0
    assert len(await tickets_of(service)) == 3

    async def cursor_moved() -> bool:  # saved once the batch is through
        new = await records.load_cursor(intake2.cursor_name)
        return new is not None and new["uidvalidity"] != cursor["uidvalidity"]

    await until(cursor_moved)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_kill_restart_of_dovecot_loses_and_doubles_nothing(
    mailbox_dovecot: Dovecot, intake_of: Any, service: TicketService
) -> None:
    intake, sink = await intake_of()
    await until(lambda: intake.idle_ready.is_set())
    for n in range(5):
        mailbox_dovecot.deliver(letter(100 + n, sender=f"k{n}@example.cn"))
    await until(lambda: intake.stats.letters >= 1)
    mailbox_dovecot.kill()  # mid-session, possibly mid-batch
    for n in range(5, 10):  # mail keeps arriving while the server is down
        mailbox_dovecot.deliver(letter(100 + n, sender=f"k{n}@example.cn"))
    await until(lambda: not intake.health().connected)
    mailbox_dovecot.start()
    await until(lambda: len({c.external_id for c in sink.seen}) == 10, within=30)
    await until(lambda: intake.idle_ready.is_set())
    rows = await tickets_of(service)
    assert len(rows) == 10  # nothing lost, nothing doubled
    # A letter committed as the connection died comes round again as a duplicate.
    assert intake.stats.letters + intake.stats.duplicates >= 10
    assert intake.stats.sessions >= 2
    marks = await flags(mailbox_dovecot)
    assert len(marks) == 10 and all("$Hotline" in v for v in marks.values())


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_crash_after_commit_before_flag_is_a_duplicate_not_a_double(
    mailbox_dovecot: Dovecot, intake_of: Any, service: TicketService, records: MailboxRecords
) -> None:
    mailbox_dovecot.deliver(letter(200))
    # The letter was committed by an earlier run that died before flagging it.
    from connectors.mailbox.intake import letter_contact
    from connectors.mailbox.parse import parse_message

    async def no_files(_: Any) -> tuple[()]:
        return ()

    first = await letter_contact(
        parse_message(letter(200)), received_at=service.clock(), mailbox="mayor", save=no_files
    )
    await records.accept(first)
    intake, _ = await intake_of()
    await until(lambda: intake.stats.duplicates == 1)
    assert intake.stats.letters == 0
    assert len(await tickets_of(service)) == 1
    marks = await flags(mailbox_dovecot)
    assert all("$Hotline" in v for v in marks.values())
