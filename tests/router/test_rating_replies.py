"""A "5" sent back to a rating request rates the ticket, once; it opens no new ticket."""

from __future__ import annotations

from collections.abc import Callable

from router.rating_replies import RatingReplies, rating_digit
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.privacy import Viewer
from tickets.service import TicketService

WHO = CitizenIdentity(wechat_openid="oWx_rater")
SUP = Viewer("sup", Role.SUPERVISOR)


def test_rating_digit() -> None:
    assert [rating_digit(t) for t in ("5", " 1 ", "５", "6", "55", "好", "")] == [
        5, 1, 5, None, None, None, None,
    ]  # fmt: skip


async def test_digit_reply_rates_the_waiting_ticket(
    service: TicketService, make_contact: Callable[..., InboundContact]
) -> None:
    first = await service.accept(
        make_contact(channel=Channel.WECHAT, citizen=WHO, category="complaint.noise")
    )
    n = first.ticket_number
    agent = Viewer("a", Role.AGENT)
    dept = Viewer("d", Role.DEPARTMENT, "chengguan", service.scope_of("chengguan"))
    await service.act(n, agent, Action.DISPATCH, payload={"department": "chengguan"})
    await service.act(n, dept, Action.SIGN)
    await service.act(n, dept, Action.SUBMIT_RESULT, payload={"result": "已处理"})
    await service.act(n, agent, Action.INFORM_CITIZEN)
    replies = RatingReplies(service, service.accept)
    reply = make_contact(channel=Channel.WECHAT, citizen=WHO, text="5", external_id="wx-rate-1")
    result = await replies(reply)
    assert result.ticket_number == n and result.joined_existing
    t = await service.view(n, SUP)
    assert t["state"] == "closed" and t["rating"] == "very_satisfied"
    assert t["timeline"][-1]["payload"]["source"] == "wechat"
    # the citizen's own rating, recorded as them (the same path as Telegram's buttons)
    assert t["timeline"][-1]["role"] == "citizen"
    async with service.store.read() as tx:
        (rating,) = await tx.ratings_of(first.ticket_id)
        row = await tx.ticket(ticket_id=first.ticket_id)
    assert row is not None and rating["actor"] == f"citizen:{row['citizen_id']}"
    assert t["timeline"][-1]["actor"] == rating["actor"]
    again = await replies(reply)  # WeChat retries: still one contact, one rating
    assert again.duplicate and again.ticket_number == n
    t = await service.view(n, SUP)
    assert len(t["ratings"]) == 1 and len(t["contacts"]) == 2
    # nothing waits for this citizen's rating any more: a "3" is a message like any other
    other = await replies(
        make_contact(channel=Channel.WECHAT, citizen=WHO, text="3", external_id="wx-3")
    )
    assert other.ticket_number != n
