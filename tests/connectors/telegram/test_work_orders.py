"""Department groups: one-time code binding, dispatch notices with buttons, sign/return."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from router.notices import CitizenNotices
from tests.connectors.telegram.conftest import GROUP, Telegram
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.privacy import Viewer

AGENT = Viewer("agent", Role.AGENT)
HANDLER_TG = 5550001


def _group_message(update_id: int, text: str, user_id: int = HANDLER_TG) -> dict[str, Any]:
    entities = [{"type": "bot_command", "offset": 0, "length": text.split()[0].__len__()}]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {"id": user_id, "is_bot": False, "first_name": "王"},
            "chat": {"id": GROUP, "type": "supergroup", "title": "城管工单群"},
            "date": 1763863200,
            "text": text,
            "entities": entities,
        },
    }


def _press(
    update_id: int, data: str, user_id: int = HANDLER_TG, message_id: int = 1
) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cq{update_id}",
            "from": {"id": user_id, "is_bot": False, "first_name": "王"},
            "chat_instance": "42",
            "data": data,
            "message": {
                "message_id": message_id,
                "from": {"id": 123456, "is_bot": True, "first_name": "bot"},
                "chat": {"id": GROUP, "type": "supergroup", "title": "城管工单群"},
                "date": 1763863200,
                "text": "【新工单】",
            },
        },
    }


async def _bound_and_dispatched(
    telegram: Telegram, make_contact: Callable[..., InboundContact]
) -> str:
    code = await telegram.actions.new_link_code("telegram", "chengguan", "admin")
    await telegram.post(_group_message(100, f"/bind {code}"))
    r = await telegram.service.accept(make_contact(category="complaint.noise"))
    await telegram.service.act(
        r.ticket_number, AGENT, Action.DISPATCH, payload={"department": "chengguan"}
    )
    assert hasattr(telegram.service.bus, "drain")
    await telegram.service.bus.drain()
    await telegram.worker.run_once()
    return r.ticket_number


async def test_a_bound_group_gets_the_dispatch_notice_with_buttons(
    telegram: Telegram, make_contact: Callable[..., InboundContact]
) -> None:
    number = await _bound_and_dispatched(telegram, make_contact)
    bound, notice = telegram.fake.calls("sendMessage")
    assert bound.params["chat_id"] == str(GROUP) and "已绑定 市城市管理局" in bound.params["text"]
    assert notice.params["chat_id"] == str(GROUP)
    text = notice.params["text"]
    assert f"【新工单】{number}" in text and "噪声" in text
    assert "138****8000" in text and "张*" in text  # masked citizen
    assert "13800138000" not in text
    assert "办理时限:2026-" in text and "签收时限:2026-" in text
    assert notice.params["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "签收", "callback_data": f"sign:{number}"},
                {"text": "退回", "callback_data": f"ret:{number}"},
            ]
        ]
    }


async def test_the_link_code_works_once(telegram: Telegram) -> None:
    code = await telegram.actions.new_link_code("telegram", "chengguan", "admin")
    await telegram.post(_group_message(100, f"/bind {code}"))
    await telegram.post(_group_message(101, f"/bind {code}"))
    first, second = telegram.fake.calls("sendMessage")
    assert "已绑定" in first.params["text"] and "无效" in second.params["text"]


async def test_an_expired_link_code_binds_nothing(telegram: Telegram) -> None:
    code = await telegram.actions.new_link_code(
        "telegram", "chengguan", "admin", ttl=timedelta(minutes=5)
    )
    telegram.clock.advance(minutes=6)
    await telegram.post(_group_message(100, f"/bind {code}"))
    assert "无效" in telegram.fake.calls("sendMessage")[0].params["text"]
    async with telegram.service.store.read() as tx:
        assert await tx.chat_bindings("telegram") == []


async def test_sign_by_the_departments_handler_signs_as_them(
    telegram: Telegram, make_contact: Callable[..., InboundContact]
) -> None:
    await telegram.add_staff("cg_wang", HANDLER_TG, Role.DEPARTMENT, "chengguan")
    number = await _bound_and_dispatched(telegram, make_contact)
    assert (await telegram.post(_press(200, f"sign:{number}"))).status == 200
    t = await telegram.service.view(number, AGENT)
    assert t["state"] == "handling"
    assert t["timeline"][-1]["actor"] == "cg_wang" and t["timeline"][-1]["role"] == "department"
    answer = telegram.fake.calls("answerCallbackQuery")[-1]
    assert "已由 cg_wang 签收" in answer.params["text"]
    assert telegram.fake.calls("editMessageReplyMarkup")  # buttons gone after the sign


async def test_presses_by_strangers_or_other_roles_are_refused(
    telegram: Telegram, make_contact: Callable[..., InboundContact]
) -> None:
    await telegram.add_staff("eco_li", 5550002, Role.DEPARTMENT, "eco")
    await telegram.add_staff("agent_zhao", 5550003, Role.AGENT, None)
    number = await _bound_and_dispatched(telegram, make_contact)
    await telegram.post(_press(201, f"sign:{number}", user_id=9999))  # no account
    await telegram.post(_press(202, f"sign:{number}", user_id=5550002))  # other department
    await telegram.post(_press(203, f"sign:{number}", user_id=5550003))  # call-floor agent
    answers = telegram.fake.calls("answerCallbackQuery")
    assert "未登记" in answers[0].params["text"]
    assert "找不到工单" in answers[1].params["text"]
    assert "无权" in answers[2].params["text"]
    assert {a.params.get("show_alert") for a in answers} == {"true"}
    assert (await telegram.service.view(number, AGENT))["state"] == "dispatched"


async def test_return_asks_for_the_reason_then_returns_with_it(
    telegram: Telegram, make_contact: Callable[..., InboundContact]
) -> None:
    await telegram.add_staff("cg_wang", HANDLER_TG, Role.DEPARTMENT, "chengguan")
    number = await _bound_and_dispatched(telegram, make_contact)
    await telegram.post(_press(210, f"ret:{number}"))
    reasons = telegram.fake.calls("sendMessage")[-1]
    buttons = [row[0] for row in reasons.params["reply_markup"]["inline_keyboard"]]
    assert {
        "text": "不属本单位职责",
        "callback_data": f"rr:{number}:not_our_jurisdiction",
    } in buttons
    assert (await telegram.service.view(number, AGENT))["state"] == "dispatched"
    await telegram.post(_press(211, f"rr:{number}:not_our_jurisdiction"))
    t = await telegram.service.view(number, AGENT)
    assert t["state"] == "returned"
    last = t["timeline"][-1]
    assert (last["actor"], last["reason"], last["payload"]["reason_code"]) == (
        "cg_wang",
        "不属本单位职责",
        "not_our_jurisdiction",
    )


async def test_citizen_rates_with_the_inline_keyboard(
    telegram: Telegram, make_contact: Callable[..., InboundContact]
) -> None:
    from tickets.bus import InProcessBus

    assert isinstance(telegram.service.bus, InProcessBus)
    telegram.service.bus.subscribe(CitizenNotices(telegram.service, telegram.outbox))
    contact = make_contact(
        channel=Channel.TELEGRAM,
        citizen=CitizenIdentity(telegram_id="777", name="李四"),
        category="complaint.noise",
    )
    r = await telegram.service.accept(contact)
    await telegram.service.act(
        r.ticket_number, AGENT, Action.RESOLVE_ON_SPOT, payload={"result": "已答复"}
    )
    await telegram.service.bus.drain()
    await telegram.worker.run_once()
    kinds = [c.params["text"][:8] for c in telegram.fake.calls("sendMessage")]
    assert len(kinds) == 3  # accepted, result, rating request
    rating = telegram.fake.calls("sendMessage")[-1]
    keyboard = rating.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == [
        f"rate:{r.ticket_number}:{s}" for s in (5, 4, 3, 2, 1)
    ]
    assert keyboard[0][0]["text"] == "5 非常满意"
    # someone else pressing the citizen's button changes nothing
    other = _press(300, f"rate:{r.ticket_number}:1", user_id=888)
    other["callback_query"]["message"]["chat"] = {"id": 888, "type": "private"}
    await telegram.post(other)
    assert (await telegram.service.view(r.ticket_number, AGENT))["state"] == "follow_up"
    mine = _press(301, f"rate:{r.ticket_number}:5", user_id=777)
    mine["callback_query"]["message"]["chat"] = {"id": 777, "type": "private"}
    await telegram.post(mine)
    t = await telegram.service.view(r.ticket_number, AGENT)
    assert (t["state"], t["rating"]) == ("closed", "very_satisfied")
    # recorded as the citizen themself, not a stand-in desk
    rated = t["timeline"][-1]
    assert (rated["action"], rated["role"]) == ("record_rating", "citizen")
    async with telegram.service.store.read() as tx:
        (rating,) = await tx.ratings_of(r.ticket_id)
        mine_row = await tx.ticket(ticket_id=r.ticket_id)
    assert mine_row is not None
    assert (rating["actor"], rating["source"]) == (f"citizen:{mine_row['citizen_id']}", "telegram")
    assert rated["actor"] == rating["actor"]
