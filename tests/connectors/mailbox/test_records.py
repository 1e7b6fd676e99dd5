"""Mailbox records: progress by query code, publication with consent and personal data out."""

from __future__ import annotations

import pytest

from tickets.bus import InProcessBus
from tickets.lifecycle import Action
from tickets.mailbox_records import MailboxRecords, redact
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.privacy import Viewer
from tickets.service import TicketService

AGENT = Viewer("agent", Role.AGENT)


def test_redact_removes_personal_data() -> None:
    text = (
        "我叫王小明,电话13800138000,座机028-86123456,邮箱wxm@example.cn,"
        "身份证51010419900101123X,住建设路8号楼2单元301室。工单20261123-000001。"
    )
    assert redact(text, ["王小明"]) == (
        "我叫王**,电话[电话],座机[电话],邮箱[邮箱],身份证[身份证号],住建设路[门牌]。工单[工单号]。"
    )


async def _letter(
    service: TicketService, records: MailboxRecords, consent: bool, n: int = 1
) -> str:
    result = await records.accept(
        InboundContact(
            channel=Channel.MAILBOX,
            external_id=f"form:{n}",
            citizen=CitizenIdentity(name="王小明", phone=f"1380013800{n}", email=f"w{n}@ex.cn"),
            text="王小明反映:建设路8号楼旁工地夜间施工,电话13800138000。",
            subject="夜间施工扰民",
            received_at=service.clock(),
            category="complaint.noise",
            consent_publish=consent,
        )
    )
    return result.ticket_number


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_progress_needs_the_right_code_and_shows_no_personal_data(
    service: TicketService, records: MailboxRecords
) -> None:
    number = await _letter(service, records, consent=False)
    async with service.store.read() as tx:
        code = (await tx.ticket(number=number))["query_code"]  # type: ignore[index]
    assert code and len(code) == 8
    assert await records.progress(number, "WRONGCOD") is None
    assert await records.progress("20991231-000001", code) is None
    seen = await records.progress(number, code.lower())
    assert seen is not None
    assert seen["state"] == "received" and seen["steps"][0]["action"] == "accept"
    flat = repr(seen)
    assert "王小明" not in flat and "13800138000" not in flat and "夜间施工" not in flat


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_closed_letter_is_published_only_with_consent(
    service: TicketService, records: MailboxRecords
) -> None:
    assert isinstance(service.bus, InProcessBus)
    service.bus.subscribe(records)
    yes = await _letter(service, records, consent=True, n=1)
    no = await _letter(service, records, consent=False, n=2)
    for number in (yes, no):
        await service.act(
            number, AGENT, Action.RESOLVE_ON_SPOT,
            payload={"result": "已联系王小明(13800138000),工地夜间停工。"},
        )  # fmt: skip
        await service.act(number, AGENT, Action.RECORD_RATING, payload={"rating": "satisfied"})
    await service.bus.drain()
    rows, total = await records.published()
    assert total == 1
    (p,) = rows
    assert p["number"] == yes and p["title"] == "夜间施工扰民"
    assert (
        "王小明" not in p["letter"] + p["reply"] and "13800138000" not in p["letter"] + p["reply"]
    )
    assert p["reply"] == "已联系王**([电话]),工地夜间停工。"
    assert p["category"] == "complaint.noise"
    month = service.clock().strftime("%Y-%m")
    assert (await records.published(category="complaint", month=month))[1] == 1
    assert (await records.published(month="2001-01"))[1] == 0
