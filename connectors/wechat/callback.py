"""The official-account callback at /wechat/callback: verify, parse, commit, then reply.

WeChat waits five seconds for the answer and retries three times. A message is handed
to the contact sink and committed before we answer (a retry is a duplicate by MsgId,
or FromUserName+CreateTime for events, and makes nothing new); media downloads start
once the answer is written (`connectors/media.py`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from connectors.base import ContactSink, ProgressLookup
from connectors.media import Fetch, MediaDownloads, MediaRefused, MediaUnavailable
from connectors.texts import progress_text
from connectors.wechat.client import TOKEN_ERRORS, TRANSIENT_ERRORS, WechatApi
from connectors.wechat.crypto import CallbackCrypto, new_nonce
from connectors.wechat.errors import (
    ApiError,
    BadPayload,
    MediaTooLarge,
    SignatureInvalid,
    WechatError,
)
from connectors.wechat.messages import (
    MEDIA_REF_PREFIX,
    WechatMessage,
    parse_xml,
    text_reply,
    to_contact,
)
from tickets.model import AcceptResult, CitizenIdentity, InboundContact

log = logging.getLogger(__name__)

PATH = "/wechat/callback"
SUCCESS = "success"  # what WeChat wants when we have nothing to say

WELCOME = (
    "欢迎关注12345政务服务便民热线!\n"
    "直接发送文字、图片、语音或位置即可反映诉求,我们会生成工单并告诉您办理进度;"
    "办结后请为我们的服务评价。紧急警情请拨打110。"
)
# Menu CLICK keys → the passive reply (configured menus use these keys).
MENU_REPLIES: Mapping[str, str] = {
    "REPORT": "请直接发送文字、图片、语音或位置描述您的诉求,我们收到后会告诉您工单号。",
    "PROGRESS": "办理进度会通过本公众号通知您;也可回复工单号查询,或拨打12345。",
    "RATE": "工单办结后我们会请您评价:回复1-5(5 非常满意 … 1 非常不满意)。",
}
MENU_DEFAULT = "您好,直接发送您的诉求即可;紧急情况请拨打110。"

# Events that make no contact: event name → passive reply ("" = just "success").
EVENT_REPLIES: Mapping[str, str] = {
    "subscribe": WELCOME,
    "unsubscribe": "",
    "view": "",
    "templatesendjobfinish": "",
    "location": "",
    "scan": "",
    "view_miniprogram": "",
}

DeliveryReport = Callable[[str, str, str], Awaitable[None]]  # (openid, msg_id, status)


def media_fetch(api: WechatApi) -> Fetch:
    """`MediaDownloads`' fetch for WeChat: /cgi-bin/media/get, its errors sorted into
    try-again-later (busy, unreachable) and never (expired or unknown MediaId, too big)."""

    async def fetch(media_id: str, max_bytes: int) -> tuple[bytes, str]:
        try:
            return await api.get_media(media_id, max_bytes)
        except MediaTooLarge as e:
            raise MediaRefused(str(e), "size") from e
        except ApiError as e:
            if e.errcode in TRANSIENT_ERRORS or e.errcode in TOKEN_ERRORS:
                raise MediaUnavailable(str(e)) from e
            raise MediaRefused(str(e)) from e  # e.g. 40007: expired or unknown media
        except WechatError as e:
            raise MediaUnavailable(str(e)) from e

    return fetch


@dataclass
class WechatCallback:
    """The callback handler of one official account."""

    crypto: CallbackCrypto
    sink: ContactSink
    media: MediaDownloads | None = None  # pictures, voice, video: fetched after the reply
    on_delivery: DeliveryReport | None = None
    menu_replies: Mapping[str, str] = field(default_factory=lambda: dict(MENU_REPLIES))
    progress: ProgressLookup | None = None  # answers the 查询进度 (PROGRESS) menu
    accepted: int = 0
    refused: int = 0

    def routes(self) -> web.RouteTableDef:
        """GET (URL verification) and POST (messages) at /wechat/callback."""
        routes = web.RouteTableDef()
        routes.get(PATH)(self.verify_url)
        routes.post(PATH)(self.receive)
        return routes

    async def verify_url(self, request: web.Request) -> web.Response:
        """Answer WeChat's URL check: echostr back, verbatim, if the signature is ours."""
        q = request.query
        try:
            if q.get("msg_signature"):
                echo = self.crypto.decrypt(
                    q.get("echostr", ""), q["msg_signature"], q.get("timestamp", ""),
                    q.get("nonce", ""),
                )  # fmt: skip
            else:
                self.crypto.check(
                    q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", "")
                )
                echo = q.get("echostr", "")
        except SignatureInvalid:
            self.refused += 1
            return web.Response(status=403, text="forbidden")
        except BadPayload:
            return web.Response(status=400, text="bad request")
        return web.Response(text=echo, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """One message or event: 403 if not signed by us, 400 if unsafe, else commit and reply."""
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        msg_signature = q.get("msg_signature", "")
        encrypted = bool(msg_signature) or q.get("encrypt_type", "raw").lower() == "aes"
        try:
            # The plain signature covers no body: check it before reading anything.
            if q.get("signature") or not encrypted:
                self.crypto.check(q.get("signature", ""), timestamp, nonce)
            body = await request.read()  # over client_max_size: 413 from aiohttp
            fields = parse_xml(body)
            if encrypted:
                if "Encrypt" not in fields:
                    raise BadPayload("safe mode without <Encrypt>")
                if not msg_signature:
                    raise SignatureInvalid("safe mode needs msg_signature")
                fields = parse_xml(
                    self.crypto.decrypt(fields["Encrypt"], msg_signature, timestamp, nonce)
                )
            msg = WechatMessage.from_fields(fields)
        except SignatureInvalid as e:
            self.refused += 1
            log.warning("wechat callback refused from %s: %s", request.remote, e)
            return web.Response(status=403, text="forbidden")
        except BadPayload as e:
            log.warning("wechat callback bad payload from %s: %s", request.remote, e)
            return web.Response(status=400, text="bad request")
        reply, fetch_later = await self._handle(msg)
        if not reply:
            response = web.Response(text=SUCCESS, content_type="text/plain")
        else:
            xml = text_reply(msg, reply)
            if encrypted:
                xml = self.crypto.encrypt(xml, new_nonce(), str(int(time.time())))
            response = web.Response(text=xml, content_type="application/xml")
        if fetch_later is not None and self.media is not None:
            # The answer goes out first; only then does the slow download start.
            await response.prepare(request)
            await response.write_eof()
            self.media.schedule(fetch_later.external_id, fetch_later.attachments)
        return response

    async def handle(self, msg: WechatMessage) -> str:
        """What one verified message does; returns the passive reply text ("" for none).

        Raising here (the store is down) answers 500, and WeChat tries again. Outside a
        request (no reply to wait for), media downloads are queued at once.
        """
        reply, fetch_later = await self._handle(msg)
        if fetch_later is not None and self.media is not None:
            self.media.schedule(fetch_later.external_id, fetch_later.attachments)
        return reply

    async def _handle(self, msg: WechatMessage) -> tuple[str, InboundContact | None]:
        """The passive reply, and the new contact whose media are to be fetched, if any."""
        event = msg.event
        if event:
            if event == "click":
                key = msg.fields.get("EventKey", "")
                if key == "PROGRESS" and self.progress is not None:
                    lines = await self.progress(CitizenIdentity(wechat_openid=msg.from_user))
                    return progress_text(lines), None
                return self.menu_replies.get(key, MENU_DEFAULT), None
            if event in EVENT_REPLIES:
                if event == "templatesendjobfinish" and self.on_delivery is not None:
                    await self.on_delivery(msg.from_user, msg.msg_id, msg.fields.get("Status", ""))
                return EVENT_REPLIES[event], None
        contact = to_contact(msg)
        result = await self.commit(contact)
        self.accepted += 1
        # A redelivery fetches nothing: the first delivery's download runs, or, if it died
        # with the process, the connector's start queues it again.
        has_media = any(a.ref.startswith(MEDIA_REF_PREFIX) for a in contact.attachments)
        return "", contact if has_media and not result.duplicate else None

    async def commit(self, contact: InboundContact) -> AcceptResult:
        """Hand the contact to the sink: back only once it is durable."""
        return await self.sink(contact)
