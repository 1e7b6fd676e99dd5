"""The callback accepts every shared sample durably and refuses forged, unsafe or huge bodies."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.wechat.crypto import CallbackCrypto, signature
from connectors.wechat.messages import WechatMessage, parse_xml, to_contact
from tests.connectors.wechat.conftest import (
    AES_KEY,
    APP_ID,
    MAX_BODY,
    TOKEN,
    Wechat,
    fixture_bytes,
    safe_mode,
    signed,
)
from tickets.model import AcceptResult, InboundContact

# What each plain sample must become: (external_id, openid, text, extra checks).
EXPECTED_CONTACTS: dict[str, dict[str, Any]] = {
    "wechatpy_text.xml": {"external_id": "1234567890123456", "text": "this is a test"},
    "easywechat_text_plain.xml": {"external_id": "1234567890123456", "text": "this is a test"},
    "wechatpy_image.xml": {
        "external_id": "1234567890123456",
        "text": "[图片]",
        "attachments": [
            {
                "name": "media_id.jpg",
                "content_type": "image/jpeg",
                "size": 0,
                "ref": "wechat-media:media_id",
            }
        ],
    },
    "wechatpy_voice.xml": {"external_id": "1234567890123456", "text": "[语音]"},
    "wechatsdk_voice_recognition.xml": {"external_id": "1234567890123456", "text": "腾讯微信团队"},
    "wechatpy_location.xml": {
        "external_id": "1234567890123456",
        "text": "位置信息",
        "location": {"latitude": 23.134521, "longitude": 113.358803, "address": "位置信息"},
    },
    "wechatpy_link.xml": {
        "external_id": "1234567890123456",
        "text": "公众平台官网链接\n公众平台官网链接\nurl",
    },
}
# Events make no contact; what WeChat gets back instead.
EXPECTED_EVENTS: dict[str, str] = {
    "wechatpy_event_subscribe.xml": "欢迎关注12345政务服务便民热线",
    "wechatpy_event_click.xml": "您好,直接发送您的诉求即可",
    "wechatpy_event_unsubscribe.xml": "success",
    "wechatpy_event_templatesendjobfinish.xml": "success",
}


def test_signature_vector_from_wechatpy() -> None:
    assert signature("test", "1410685589", "test") == "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"
    crypto = CallbackCrypto("test")
    crypto.check("f21891de399b4e33a1a93c9a7b8a8fffb5a443ff", "1410685589", "test")
    from connectors.wechat.errors import SignatureInvalid

    with pytest.raises(SignatureInvalid):
        crypto.check("f21891de399b4e33a1a93c9a7b8a8fffb5a443fe", "1410685589", "test")


@pytest.mark.parametrize("name", sorted(EXPECTED_CONTACTS))
async def test_plain_sample_is_accepted_and_normalized(wechat: Wechat, name: str) -> None:
    body = fixture_bytes(name)
    resp = await wechat.post(body, signed())
    assert resp.status == 200
    assert await resp.text() == "success"
    [row] = await wechat.contacts()
    want = EXPECTED_CONTACTS[name]
    fields = parse_xml(body)
    assert row["channel"] == "wechat"
    assert row["external_id"] == want["external_id"]
    assert row["identity"] == {"wechat_openid": fields["FromUserName"]}
    assert row["text"] == want["text"]
    assert row["received_at"] == datetime.fromtimestamp(int(fields["CreateTime"]), UTC)
    committed = want.get("attachments")
    if committed is not None:
        # The media is fetched after the answer, and the fake API knows no such media: the
        # reference may already read what the download made of it.
        got = row["attachments"]
        assert [{**a, "ref": ""} for a in got] == [{**a, "ref": ""} for a in committed]
        for a, c in zip(got, committed, strict=True):
            assert a["ref"] in (c["ref"], "rejected:unavailable")
    assert row["location"] == want.get("location")
    assert row["ticket_id"] is not None  # committed with its ticket before the 200


def test_voice_samples_keep_recognition_and_media_reference() -> None:
    with_text = to_contact(
        WechatMessage.from_fields(parse_xml(fixture_bytes("wechatsdk_voice_recognition.xml")))
    )
    without = to_contact(WechatMessage.from_fields(parse_xml(fixture_bytes("wechatpy_voice.xml"))))
    assert with_text.extra["recognition"] == "腾讯微信团队"
    assert without.extra["recognition"] is None
    assert [a.ref for a in with_text.attachments] == ["wechat-media:media_id"]
    assert with_text.attachments[0].content_type == "audio/amr"


@pytest.mark.parametrize("name", sorted(EXPECTED_EVENTS))
async def test_event_sample_gets_its_answer_and_makes_no_ticket(wechat: Wechat, name: str) -> None:
    resp = await wechat.post(fixture_bytes(name), signed())
    assert resp.status == 200
    assert EXPECTED_EVENTS[name] in await resp.text()
    assert await wechat.contacts() == []


def test_event_samples_dedupe_on_sender_and_time() -> None:
    msg = WechatMessage.from_fields(parse_xml(fixture_bytes("wechatpy_event_subscribe.xml")))
    assert msg.dedupe_key == "FromUser:123456789"
    done = WechatMessage.from_fields(
        parse_xml(fixture_bytes("wechatpy_event_templatesendjobfinish.xml"))
    )
    assert done.msg_id == "200163836" and done.fields["Status"] == "success"


async def test_template_send_result_is_reported(wechat: Wechat) -> None:
    reports: list[tuple[str, str, str]] = []

    async def report(openid: str, msg_id: str, status: str) -> None:
        reports.append((openid, msg_id, status))

    wechat.callback.on_delivery = report
    await wechat.post(fixture_bytes("wechatpy_event_templatesendjobfinish.xml"), signed())
    assert reports == [("fromuser", "200163836", "success")]


async def test_aes_sample_with_its_own_keys_is_decrypted_and_accepted(wechat: Wechat) -> None:
    # The sample's key set: token QDG6eK (see the fixtures README).
    from connectors.wechat.crypto import CallbackCrypto as C

    wechat.callback.crypto = C("QDG6eK", AES_KEY, APP_ID)
    query = {
        "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
        "timestamp": "1409659813",
        "nonce": "1372623149",
    }
    resp = await wechat.post(fixture_bytes("easywechat_wecom_aes_encrypted_QDG6eK.xml"), query)
    assert resp.status == 200, await resp.text()
    [row] = await wechat.contacts()
    assert (row["external_id"], row["text"], row["identity"]) == (
        "4561255354251345929",
        "hello",
        {"wechat_openid": "mycreate"},
    )
    forged = {**query, "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e7"}
    resp = await wechat.post(fixture_bytes("easywechat_wecom_aes_encrypted_QDG6eK.xml"), forged)
    assert resp.status == 403


async def test_safe_mode_subscribe_gets_an_encrypted_welcome(wechat: Wechat) -> None:
    plain = fixture_bytes("wechatpy_event_subscribe.xml").decode()
    query, body = safe_mode(plain)
    resp = await wechat.post(body, query)
    assert resp.status == 200
    envelope = parse_xml(await resp.text())
    crypto = CallbackCrypto(TOKEN, AES_KEY, APP_ID)
    reply = parse_xml(
        crypto.decrypt(
            envelope["Encrypt"], envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
        )
    )
    assert reply["ToUserName"] == "FromUser" and reply["MsgType"] == "text"
    assert reply["Content"].startswith("欢迎关注12345")


async def test_safe_mode_text_is_accepted(wechat: Wechat) -> None:
    query, body = safe_mode(fixture_bytes("wechatpy_text.xml").decode())
    resp = await wechat.post(body, query)
    assert (resp.status, await resp.text()) == (200, "success")
    [row] = await wechat.contacts()
    assert row["text"] == "this is a test"


@pytest.mark.parametrize(
    "query",
    [
        {},  # no signature at all
        {**signed(), "signature": "0" * 40},
        {**signed(), "timestamp": "1410685590"},  # signed for another timestamp
        {**signed(token="someone-else")},
    ],
    ids=["missing", "forged", "replayed-params", "other-token"],
)
async def test_forged_plain_callback_is_refused_and_nothing_stored(
    wechat: Wechat, query: dict[str, str]
) -> None:
    resp = await wechat.post(fixture_bytes("wechatpy_text.xml"), query)
    assert resp.status == 403
    assert await wechat.contacts() == []


async def test_forged_safe_mode_callbacks_are_refused(wechat: Wechat) -> None:
    query, body = safe_mode(fixture_bytes("wechatpy_text.xml").decode())
    tampered_body = body.replace("<Encrypt><![CDATA[", "<Encrypt><![CDATA[A", 1)
    assert (await wechat.post(tampered_body, query)).status == 403
    no_msg_sig = {k: v for k, v in query.items() if k != "msg_signature"}
    assert (await wechat.post(body, no_msg_sig)).status == 403
    # Encrypted for another account (its AppID at the end of the plaintext): signed, not ours.
    other = CallbackCrypto(TOKEN, AES_KEY, "wx_other_account")
    fields = parse_xml(other.encrypt(fixture_bytes("wechatpy_text.xml").decode(), "n", "1"))
    body2 = f"<xml><Encrypt><![CDATA[{fields['Encrypt']}]]></Encrypt></xml>"
    q2 = {**signed(TOKEN, "1", "n"), "encrypt_type": "aes", "msg_signature": fields["MsgSignature"]}
    assert (await wechat.post(body2, q2)).status == 400
    assert await wechat.contacts() == []


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xml [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<xml><ToUserName>t</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&c;</Content><MsgId>1</MsgId></xml>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>t</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&x;</Content><MsgId>2</MsgId></xml>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE, "<xml><unclosed></xml>", "not xml"],
                         ids=["billion-laughs", "xxe", "malformed", "garbage"])  # fmt: skip
async def test_unsafe_xml_is_refused_with_400(wechat: Wechat, body: str) -> None:
    resp = await wechat.post(body, signed())
    assert resp.status == 400
    assert await wechat.contacts() == []


async def test_xxe_inside_encrypted_body_is_refused(wechat: Wechat) -> None:
    query, body = safe_mode(XXE)
    assert (await wechat.post(body, query)).status == 400
    assert await wechat.contacts() == []


async def test_oversized_body_is_refused_with_413(wechat: Wechat) -> None:
    big = "<xml><Content>" + "x" * (MAX_BODY + 10) + "</Content></xml>"
    resp = await wechat.post(big, signed())
    assert resp.status == 413
    assert await wechat.contacts() == []


async def test_unknown_message_type_is_kept_as_a_raw_contact(wechat: Wechat) -> None:
    body = (
        "<xml><ToUserName>gh_1</ToUserName><FromUserName>o_new</FromUserName>"
        "<CreateTime>1700000000</CreateTime><MsgType>hologram</MsgType>"
        "<Depth>3</Depth><MsgId>777</MsgId></xml>"
    )
    resp = await wechat.post(body, signed())
    assert resp.status == 200
    [row] = await wechat.contacts()
    assert (row["external_id"], row["text"]) == ("777", "[hologram]")


async def test_missing_required_fields_is_a_400(wechat: Wechat) -> None:
    resp = await wechat.post("<xml><MsgType>text</MsgType></xml>", signed())
    assert resp.status == 400


async def test_retries_of_one_message_make_one_contact_and_one_ticket(wechat: Wechat) -> None:
    body = fixture_bytes("wechatpy_text.xml")
    # WeChat's three retries, some of them concurrent with the first delivery.
    answers = await asyncio.gather(*(wechat.post(body, signed()) for _ in range(4)))
    assert [r.status for r in answers] == [200] * 4
    rows = await wechat.contacts()
    assert len(rows) == 1


async def test_commit_then_crash_before_reply_then_retry_makes_no_duplicate(
    wechat: Wechat,
) -> None:
    # The first delivery was committed, then the process died before it answered:
    # the contact is in the store, WeChat saw no answer and sends the message again.
    msg = WechatMessage.from_fields(parse_xml(fixture_bytes("wechatpy_text.xml")))
    first = await wechat.service.accept(to_contact(msg))
    seen: list[AcceptResult] = []

    async def sink(c: InboundContact) -> AcceptResult:
        r = await wechat.service.accept(c)
        seen.append(r)
        return r

    wechat.callback.sink = sink
    resp = await wechat.post(fixture_bytes("wechatpy_text.xml"), signed())
    assert resp.status == 200
    assert seen[0].duplicate and seen[0].ticket_number == first.ticket_number
    assert len(await wechat.contacts()) == 1


async def test_store_down_answers_500_so_wechat_retries(wechat: Wechat) -> None:
    async def broken(c: InboundContact) -> AcceptResult:
        raise OSError("database is gone")

    wechat.callback.sink = broken
    resp = await wechat.post(fixture_bytes("wechatpy_text.xml"), signed())
    assert resp.status == 500
    wechat.callback.sink = wechat.service.accept
    resp = await wechat.post(fixture_bytes("wechatpy_text.xml"), signed())
    assert resp.status == 200
    assert len(await wechat.contacts()) == 1


async def test_the_reply_waits_for_the_commit(wechat: Wechat) -> None:
    gate = asyncio.Event()
    committed: list[str] = []

    async def slow(c: InboundContact) -> AcceptResult:
        await gate.wait()
        r = await wechat.service.accept(c)
        committed.append(c.external_id)
        return r

    wechat.callback.sink = slow
    post = asyncio.create_task(wechat.post(fixture_bytes("wechatpy_text.xml"), signed()))
    await asyncio.sleep(0.05)
    assert not post.done()  # no answer while the contact is not durable
    gate.set()
    resp = await post
    assert resp.status == 200 and committed == ["1234567890123456"]


async def test_url_verification_echoes_echostr_only_when_signed(wechat: Wechat) -> None:
    url = wechat.url + "/wechat/callback"
    async with wechat.http.get(url, params={**signed(), "echostr": "abcdefghijklmn"}) as resp:
        assert (resp.status, await resp.text()) == (200, "abcdefghijklmn")
    bad = {**signed(), "signature": "f" * 40, "echostr": "abcdefghijklmn"}
    async with wechat.http.get(url, params=bad) as resp:
        assert resp.status == 403
    async with wechat.http.get(url, params={"echostr": "abcdefghijklmn"}) as resp:
        assert resp.status == 403


def test_token_is_required() -> None:
    with pytest.raises(ValueError):
        CallbackCrypto("")
    with pytest.raises(ValueError):
        CallbackCrypto(TOKEN, "short", APP_ID)


async def test_progress_menu_lists_the_citizens_own_tickets(wechat: Wechat) -> None:
    from router.progress import CitizenProgress

    wechat.callback.progress = CitizenProgress(wechat.service)
    click = fixture_bytes("wechatpy_event_click.xml").decode()
    import re as _re

    progress_click = _re.sub(r"<EventKey><!\[CDATA\[[^\]]*\]\]></EventKey>",
                             "<EventKey><![CDATA[PROGRESS]]></EventKey>", click)  # fmt: skip
    sender = _re.search(r"<FromUserName><!\[CDATA\[([^\]]*)\]\]>", progress_click)
    assert sender is not None
    empty = await wechat.post(progress_click, signed())
    assert "暂未查到您的工单" in await empty.text()
    text = fixture_bytes("wechatpy_text.xml").decode()
    mine = _re.sub(r"<FromUserName><!\[CDATA\[[^\]]*\]\]>",
                   f"<FromUserName><![CDATA[{sender.group(1)}]]>", text)  # fmt: skip
    await wechat.post(mine, signed())
    (contact,) = await wechat.contacts()
    async with wechat.service.store.read() as tx:
        ticket = await tx.ticket(ticket_id=contact["ticket_id"])
    assert ticket is not None
    answer = await (await wechat.post(progress_click, signed())).text()
    assert ticket["number"] in answer and "已受理" in answer
