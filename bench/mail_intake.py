"""Letters per second from a real Dovecot into committed tickets (IMAP fetch, parse, accept, flag).

Run with no arguments (as root, with Debian dovecot-imapd); the last line printed is one
JSON object. The baseline is the bare IMAP fetch of the same messages, no tickets.
"""

from __future__ import annotations

import asyncio
import json
import platform
import tempfile
import time
from pathlib import Path

import aioimaplib

from connectors.mailbox.imap import ImapConfig, ImapIntake
from hotline.demo import load_reference_data
from tests.fakes.dovecot import Dovecot
from tickets.attachments import FileStore
from tickets.bus import InProcessBus
from tickets.mailbox_records import MailboxRecords
from tickets.outbox import Outbox
from tickets.policy import TicketRules
from tickets.service import TicketService
from tickets.store import create_store

N = 1000


def letter(i: int) -> bytes:
    body = f"市长您好:第{i}号楼门前路灯已坏多日,夜间出行不便,请尽快修复。\r\n" * 5
    return (
        f"From: =?UTF-8?B?5byg5LiJ?= <citizen{i}@example.cn>\r\nTo: mayor@hotline.test\r\n"
        f"Subject: =?UTF-8?B?6Lev54Gv5LiN5Lqu?= {i}\r\nMessage-ID: <bench-{i}@example.cn>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}"
    ).encode()


async def raw_fetch_rate(d: Dovecot) -> float:
    """Bare aioimaplib: one UID FETCH BODY.PEEK[] per message, nothing else."""
    client = aioimaplib.IMAP4(port=d.port, timeout=30)
    await client.wait_hello_from_server()
    await client.login(d.user, d.password)
    await client.select("INBOX")
    start = time.perf_counter()
    for uid in range(1, N + 1):
        await client.uid("fetch", str(uid), "(UID BODY.PEEK[])")
    rate = N / (time.perf_counter() - start)
    await client.logout()
    return rate


async def main() -> None:
    d = Dovecot()
    d.start()
    work = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    try:
        for i in range(N):
            d.deliver(letter(i))
        raw = await raw_fetch_rate(d)
        store = create_store(f"sqlite+aiosqlite:///{work / 'hotline.db'}")
        await store.migrate()
        bus = InProcessBus()
        service = TicketService(store, bus, TicketRules(), b"k" * 32)
        await load_reference_data(service)
        records = MailboxRecords(store, service, Outbox(store))
        files = FileStore(work / "files")
        cfg = ImapConfig(host="127.0.0.1", port=d.port, user=d.user, password=d.password)
        intake = ImapIntake(
            cfg, records.accept, records.load_cursor, records.save_cursor, files.save_all
        )
        start = time.perf_counter()
        await intake.start()
        while intake.stats.letters < N:  # noqa: ASYNC110 (a counter, polled 100×/s)
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - start
        await intake.stop()
        await bus.drain()
        async with store.read() as tx:
            _, tickets = await tx.list_tickets(limit=1)
        await store.close()
        result = {
            "bench": "mail_intake",
            "letters": N,
            "tickets": tickets,
            "letters_per_s": round(N / elapsed, 1),
            "raw_imap_fetch_per_s": round(raw, 1),
            "ratio": round((N / elapsed) / raw, 2),
            "python": platform.python_version(),
        }
        print(json.dumps(result))
    finally:
        d.remove()


if __name__ == "__main__":
    asyncio.run(main())
