"""WeChat callback XML → typed message → InboundContact, and passive reply XML; no I/O.

Parsing goes through defusedxml with DTDs forbidden, so entity bombs and external
entities (XXE) are refused before anything expands them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import ParseError, fromstring  # type: ignore[import-untyped]

from connectors.wechat.errors import BadPayload
from tickets.model import Attachment, Channel, CitizenIdentity, InboundContact, Location

MEDIA_REF_PREFIX = "wechat-media:"

# Media kinds: (content type, file suffix) of what WeChat stores for a MediaId.
MEDIA_TYPES: dict[str, tuple[str, str]] = {
    "image": ("image/jpeg", "jpg"),
    "voice": ("audio/amr", "amr"),
    "video": ("video/mp4", "mp4"),
    "shortvideo": ("video/mp4", "mp4"),
}
_VOICE_FORMATS = {"amr": "audio/amr", "speex": "audio/speex", "mp3": "audio/mpeg"}
# What a contact without words says on the ticket, so an agent sees what came in.
_PLACEHOLDER = {
    "image": "[图片]",
    "voice": "[语音]",
    "video": "[视频]",
    "shortvideo": "[小视频]",
    "location": "[位置]",
}


def parse_xml(body: bytes | str) -> dict[str, str]:
    """The children of a WeChat `<xml>` document as a flat dict of text; BadPayload if unsafe."""
    try:
        root: Element = fromstring(body.strip(), forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as e:
        raise BadPayload(f"refused XML: {type(e).__name__}: {e}") from e
    if root.tag != "xml":
        raise BadPayload(f"root element is <{root.tag}>, not <xml>")
    out: dict[str, str] = {}
    for child in root:
        if len(child):  # nested (e.g. ScanCodeInfo): keep the leaves with a prefixed name
            for leaf in child.iter():
                if leaf is not child and not len(leaf):
                    out[f"{child.tag}.{leaf.tag}"] = (leaf.text or "").strip()
        else:
            out[child.tag] = (child.text or "").strip()
    return out


@dataclass(frozen=True)
class WechatMessage:
    """One decrypted callback message or event, as WeChat sent it."""

    msg_type: str
    from_user: str
    to_user: str
    create_time: int
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> WechatMessage:
        """Validate the fields every callback carries; BadPayload if one is missing."""
        try:
            return cls(
                msg_type=fields["MsgType"].lower(),
                from_user=fields["FromUserName"],
                to_user=fields["ToUserName"],
                create_time=int(fields["CreateTime"]),
                fields=dict(fields),
            )
        except (KeyError, ValueError) as e:
            raise BadPayload(f"callback lacks a valid {e}") from e

    @property
    def event(self) -> str:
        """The event name in lower case ("subscribe", "click", …), "" for messages."""
        return self.fields.get("Event", "").lower() if self.msg_type == "event" else ""

    @property
    def msg_id(self) -> str:
        """WeChat's message id ("MsgId"; template results spell it "MsgID"), or ""."""
        return self.fields.get("MsgId") or self.fields.get("MsgID") or ""

    @property
    def dedupe_key(self) -> str:
        """MsgId for messages; FromUserName+CreateTime for events (WeChat's own rule)."""
        if self.msg_type != "event" and self.fields.get("MsgId"):
            return self.fields["MsgId"]
        return f"{self.from_user}:{self.create_time}"

    @property
    def received_at(self) -> datetime:
        """When WeChat says the citizen sent it."""
        return datetime.fromtimestamp(self.create_time, UTC)


def to_contact(msg: WechatMessage) -> InboundContact:
    """The contact a message makes; an unknown type becomes a raw contact, never an error."""
    f = msg.fields
    text = ""
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    extra: dict[str, Any] = {"msg_type": msg.msg_type, "to": msg.to_user}
    kind = msg.msg_type
    if kind == "text":
        text = f.get("Content", "")
    elif kind in MEDIA_TYPES:
        content_type, suffix = MEDIA_TYPES[kind]
        media_id = f.get("MediaId", "")
        if kind == "voice":
            fmt = f.get("Format", "amr").lower()
            if fmt in _VOICE_FORMATS:
                content_type, suffix = _VOICE_FORMATS[fmt], fmt
            # Speech-to-text, when the account has it on: the words are what agents read.
            text = f.get("Recognition", "")
            extra["recognition"] = f.get("Recognition") or None
        if kind == "image":
            extra["pic_url"] = f.get("PicUrl", "")
        if f.get("ThumbMediaId"):
            extra["thumb_media_id"] = f["ThumbMediaId"]
        if media_id:
            attachments = (
                Attachment(
                    name=f"{media_id}.{suffix}",
                    content_type=content_type,
                    size=0,
                    ref=MEDIA_REF_PREFIX + media_id,
                ),
            )
        text = text or _PLACEHOLDER[kind]
    elif kind == "location":
        label = f.get("Label", "")
        location = Location(
            latitude=_float(f.get("Location_X")),
            longitude=_float(f.get("Location_Y")),
            address=label or None,
        )
        extra["scale"] = f.get("Scale", "")
        text = label or _PLACEHOLDER["location"]
    elif kind == "link":
        parts = [f.get("Title", ""), f.get("Description", ""), f.get("Url", "")]
        text = "\n".join(p for p in parts if p)
        extra["url"] = f.get("Url", "")
    else:
        # Unknown type (or an event we have no handler for): kept whole for a person to read.
        text = f"[{kind}{(':' + msg.event) if msg.event else ''}]"
        extra["raw"] = dict(f)
    return InboundContact(
        channel=Channel.WECHAT,
        external_id=msg.dedupe_key,
        citizen=CitizenIdentity(wechat_openid=msg.from_user),
        text=text,
        received_at=msg.received_at,
        attachments=attachments,
        location=location,
        extra=extra,
    )


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def text_reply(msg: WechatMessage, content: str, now: float | None = None) -> str:
    """A passive text reply to `msg` (sender and receiver swapped), as WeChat expects it."""
    created = int(now if now is not None else time.time())
    return (
        "<xml>"
        f"<ToUserName><![CDATA[{_cdata(msg.from_user)}]]></ToUserName>"
        f"<FromUserName><![CDATA[{_cdata(msg.to_user)}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{_cdata(content)}]]></Content>"
        "</xml>"
    )


def _cdata(value: str) -> str:
    # "]]>" would end the section early; split it across two sections.
    return value.replace("]]>", "]]]]><![CDATA[>")


def encrypted_envelope(encrypt: str, signature: str, timestamp: str, nonce: str) -> str:
    """The safe-mode reply wrapper around an encrypted passive reply."""
    return (
        "<xml>"
        f"<Encrypt><![CDATA[{_cdata(encrypt)}]]></Encrypt>"
        f"<MsgSignature><![CDATA[{escape(signature)}]]></MsgSignature>"
        f"<TimeStamp>{escape(timestamp)}</TimeStamp>"
        f"<Nonce><![CDATA[{_cdata(nonce)}]]></Nonce>"
        "</xml>"
    )
