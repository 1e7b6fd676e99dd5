"""Every shared real message parses as its source suite says; bad input never crashes."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest

from connectors.mailbox.parse import (
    MailKind,
    decode_bytes,
    html_to_text,
    parse_message,
    safe_filename,
)
from tests.connectors.mailbox.conftest import FIXTURES


def _mail(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_fixtures_are_the_published_bytes() -> None:
    for entry in json.loads((FIXTURES / "manifest.json").read_text()):
        data = (FIXTURES / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["name"]


def test_spamscope_gb2312_8bit_mislabelled_utf8_is_spam() -> None:
    m = parse_message(_mail("spamscope_mail_test_12_gb2312_8bit.eml"))
    assert m.from_name == "张先生" and m.from_addr == "baoguan@hotmail.com"
    assert m.subject == "代开各地增值税发票"
    assert m.text.startswith("你好！我公司可代开各类增值税发票")
    assert "danglüe@email.com" in m.to_addrs
    assert m.kind is MailKind.SPAM


def test_webklex_gbk_charset_x_gbk_label() -> None:
    m = parse_message(_mail("webklex_gbk_charset.eml"))
    assert (m.subject, m.text, m.from_addr, m.to_addrs) == (
        "Nuu",
        "Hi",
        "from@there.com",
        ("to@here.com",),
    )
    assert m.date == datetime(2017, 9, 13, 11, 5, 45, tzinfo=UTC)
    assert m.kind is MailKind.LETTER and not m.html_only and m.attachments == ()


def test_webklex_html_only() -> None:
    m = parse_message(_mail("webklex_html_only.eml"))
    assert m.text == "Hi" and m.html_only and m.kind is MailKind.LETTER


def test_webklex_embedded_email_forwarded() -> None:
    m = parse_message(_mail("webklex_embedded_email_forwarded.eml"))
    assert m.text.startswith("email that contains embedded message")
    assert "Subject: demo" in m.text and "From: demo-from@cerstor.cz" in m.text
    assert m.text.endswith("demo text")
    names = {a.name: a for a in m.attachments}
    assert names["testfile.txt"].data == b" this is content of test file"
    assert names["demo.eml"].content_type == "message/rfc822"
    assert m.message_id == "7e5798da5747415e5b82fdce042ab2a6@cerstor.cz"
    assert m.kind is MailKind.LETTER


def test_enmime_attachment() -> None:
    m = parse_message(_mail("enmime_attachment.eml"))
    assert m.text == "A text section"
    assert [(a.name, a.content_type, a.data) for a in m.attachments] == [
        ("test.html", "text/html", b"<html>\n")
    ]


def test_enmime_html_mime_inline_prefers_plain_and_keeps_the_image() -> None:
    m = parse_message(_mail("enmime_html-mime-inline.eml"))
    assert m.text == "Test of text section"
    (img,) = m.attachments
    assert (img.name, img.content_type, img.inline) == ("favicon.png", "image/png", True)
    assert img.data.startswith(b"\x89PNG") and img.content_id is not None


def test_cpython_msg_10_mixed_cte() -> None:
    m = parse_message(_mail("cpython_msg_10_mixed_cte.eml"))
    assert m.text.split("\n\n") == [
        "This is a 7bit encoded message.",
        "\xa1This is a Quoted Printable encoded message!",
        "This is a Base64 encoded message.",
        "This is a Base64 encoded message.",
        "This has no Content-Transfer-Encoding: header.",
    ]


@pytest.mark.parametrize(
    ("name", "recipients", "permanent", "original"),
    [
        ("cpython_msg_16_dsn_bounce.eml", ("jangel1@cougar.noc.ucla.edu",), True,
         "002001c144a6$8752e060$56104586@oxy.edu"),
        ("webklex_example_bounce.eml", ("ding@ding.de",), True, None),
        ("flanker_bounce_gmail-invalid-address.eml", ("awfawfawfawfawfaw@someserverhere.com",),
         True, None),
        ("flanker_bounce_mailbox-full.eml", ("user@aol.com",), True,
         "4E326A95.3010907@example.com"),
        ("flanker_bounce_delayed.eml", ("foo@example.com",), False, None),
    ],
)  # fmt: skip
def test_bounces_are_recognised(
    name: str, recipients: tuple[str, ...], permanent: bool, original: str | None
) -> None:
    m = parse_message(_mail(name))
    assert m.kind is MailKind.BOUNCE
    assert m.bounce is not None
    assert m.bounce.recipients == recipients
    assert m.bounce.permanent is permanent
    if original:
        assert m.bounce.original_message_id == original


def test_missing_close_boundary_is_a_defect_not_a_crash() -> None:
    m = parse_message(_mail("webklex_example_bounce.eml"))
    assert "CloseBoundaryNotFoundDefect" in m.defects


def test_chinese_charsets_and_rfc2047() -> None:
    def word(text: str, charset: str) -> bytes:
        return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?=".encode()

    raw = (
        b"From: " + word("李四", "GBK") + b" <li@example.cn>\r\n"
        b"Subject: " + word("路灯", "gb2312") + b"\r\nTo: mayor@hotline.test\r\n"
        b"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "市长您好:小区门口的路灯坏了三个月。".encode("gbk")
    )
    m = parse_message(raw)
    assert m.from_name == "李四" and m.subject == "路灯"
    assert m.text == "市长您好:小区门口的路灯坏了三个月。"
    assert decode_bytes("路燈壞了".encode("big5"), "big5") == "路燈壞了"
    assert decode_bytes("𠮷".encode("gb18030"), "gb2312") == "𠮷"  # only GB18030 has it
    qp = b"Subject: =?UTF-8?Q?=E4=BF=A1?=\r\nContent-Transfer-Encoding: quoted-printable\r\n"
    assert (
        parse_message(qp + b"Content-Type: text/plain; charset=utf-8\r\n\r\n=E4=BF=A1").text == "信"
    )


def test_html_with_scripts_becomes_clean_text() -> None:
    html = (
        "<html><head><title>t</title><style>p{}</style><script>alert('x')</script></head>"
        "<body><p>路灯不亮&amp;无人管</p><script>document.cookie</script>"
        "<div>第二段<br>第三行</div><img src=x onerror=alert(1)></body></html>"
    )
    assert html_to_text(html) == "路灯不亮&无人管\n\n第二段\n第三行"


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("/abs/path/照片.jpg", "照片.jpg"),
        ("..", "attachment"),
        ("CON.txt", "attachment_CON.txt"),
        ("a\x00b\u202egnp.exe", "abgnp.exe"),
        ("", "attachment"),
    ],
)
def test_attachment_names_with_path_tricks(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe


def test_rfc2231_and_rfc2047_attachment_names_are_decoded() -> None:
    raw = (
        b"From: a@example.cn\r\nTo: mayor@hotline.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n--b\r\n"
        b"Content-Type: image/jpeg\r\n"
        b"Content-Disposition: attachment; filename*=UTF-8''%E7%8E%B0%E5%9C%BA.jpg\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n/9j/\r\n--b\r\n"
        b'Content-Type: application/pdf; name="=?GBK?B?yOe8/i5wZGY=?="\r\n'
        b'Content-Disposition: attachment; filename="=?GBK?B?yOe8/i5wZGY=?="\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="../../../root/.ssh/authorized_keys"\r\n\r\n'
        b"x\r\n--b--\r\n"
    )
    m = parse_message(raw)
    assert [a.name for a in m.attachments] == ["现场.jpg", "如件.pdf", "authorized_keys"]


def test_auto_replies_and_lists_are_not_letters() -> None:
    base = b"From: someone@example.cn\r\nTo: mayor@hotline.test\r\n"
    auto = parse_message(base + b"Auto-Submitted: auto-replied\r\nSubject: Re: x\r\n\r\nI am away")
    ooo = parse_message(base + "Subject: 自动回复: 来信".encode() + b"\r\n\r\naway")
    lst = parse_message(base + b"List-Id: <news.example.cn>\r\nSubject: news\r\n\r\nweekly")
    null = parse_message(b"Return-Path: <>\r\n" + base + b"Subject: note\r\n\r\nsomething")
    letter = parse_message(base + b"Auto-Submitted: no\r\nSubject: hi\r\n\r\nreal")
    assert (auto.kind, ooo.kind, lst.kind, null.kind, letter.kind) == (
        MailKind.AUTO_REPLY, MailKind.AUTO_REPLY, MailKind.LIST, MailKind.AUTO_REPLY,
        MailKind.LETTER,
    )  # fmt: skip


def test_garbage_never_raises() -> None:
    for raw in (
        b"",
        b"\x00\xff" * 100,
        b"Content-Type: multipart/mixed\r\n\r\n--",
        b"From:\r\n\r\n",
    ):
        m = parse_message(raw)
        assert m.message_id.startswith("sha256-")


def test_reply_ids_are_read() -> None:
    m = parse_message(
        b"From: a@b.cn\r\nSubject: Re: x\r\nMessage-ID: <r1@b.cn>\r\n"
        b"In-Reply-To: <hotline.1.accepted@hotline.test>\r\n"
        b"References: <orig@b.cn> <hotline.1.accepted@hotline.test>\r\n\r\nthanks"
    )
    assert m.in_reply_to == ("hotline.1.accepted@hotline.test",)
    assert m.references == ("orig@b.cn", "hotline.1.accepted@hotline.test")
