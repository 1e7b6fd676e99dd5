"""The official-account callback at /wechat/callback: verify, parse, commit, then reply.

WeChat waits five seconds for the answer and retries three times. A message is handed
to the contact sink and committed before we answer (a retry is a duplicate by MsgId,
or FromUserName+CreateTime for events, and makes nothing new); media downloads run
after the answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from connectors.base import ContactSink, ProgressLookup
from connectors.texts import progress_text
from connectors.wechat.client import TRANSIENT_ERRORS, WechatApi
from connectors.wechat.crypto import CallbackCrypto, new_nonce
from connectors.wechat.errors import ApiError, BadPayload, SignatureInvalid, WechatError
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


class MediaFetcher:
    """Downloads a contact's pictures and voice after the reply, into `directory`."""

    def __init__(
        self, api: WechatApi, directory: Path, attempts: int = 3, backoff: float = 0.5
    ) -> None:
        self.api = api
        self.backoff = backoff
        self.directory = directory
        self.attempts = attempts
        self._tasks: set[asyncio.Task[None]] = set()
        self.done: dict[str, Path] = {}

    def schedule(self, media_id: str, filename: str) -> None:
        """Fetch one media file in the background (idempotent per media id)."""
        task = asyncio.create_task(self._fetch(media_id, filename), name=f"wechat-media-{media_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, media_id: str, filename: str) -> None:
        target = self.directory / Path(filename).name
        if target.exists():
            self.done[media_id] = target
            return
        for attempt in range(1, self.attempts + 1):
            try:
                body, _ctype = await self.api.get_media(media_id)
            except ApiError as e:
                if e.errcode not in TRANSIENT_ERRORS:  # e.g. 40007: expired or unknown media
                    log.error("wechat media %s refused: %s", media_id, e)
                    return
                log.warning("wechat media %s attempt %d: %s", media_id, attempt, e)
                await asyncio.sleep(min(30.0, self.backoff * 2**attempt))
                continue
            except WechatError as e:
                log.warning("wechat media %s attempt %d: %s", media_id, attempt, e)
                await asyncio.sleep(min(30.0, self.backoff * 2**attempt))
                continue
            await asyncio.to_thread(_write_atomically, target, body)
            self.done[media_id] = target
            return
        log.error("wechat media %s not fetched after %d attempts", media_id, self.attempts)

    async def drain(self) -> None:
        """Wait for downloads in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop downloads in flight."""
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _write_atomically(target: Path, body: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_bytes(body)
    tmp.replace(target)


@dataclass
class WechatCallback:
    """The callback handler of one official account."""

    crypto: CallbackCrypto
    sink: ContactSink
    media: MediaFetcher | None = None
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
        reply = await self.handle(msg)
        if not reply:
            return web.Response(text=SUCCESS, content_type="text/plain")
        xml = text_reply(msg, reply)
        if encrypted:
            xml = self.crypto.encrypt(xml, new_nonce(), str(int(time.time())))
        return web.Response(text=xml, content_type="application/xml")

    async def handle(self, msg: WechatMessage) -> str:
        """What one verified message does; returns the passive reply text ("" for none).

        Raising here (the store is down) answers 500, and WeChat tries again.
        """
        event = msg.event
        if event:
            if event == "click":
                key = msg.fields.get("EventKey", "")
                if key == "PROGRESS" and self.progress is not None:
                    lines = await self.progress(CitizenIdentity(wechat_openid=msg.from_user))
                    return progress_text(lines)
                return self.menu_replies.get(key, MENU_DEFAULT)
            if event in EVENT_REPLIES:
                if event == "templatesendjobfinish" and self.on_delivery is not None:
                    await self.on_delivery(msg.from_user, msg.msg_id, msg.fields.get("Status", ""))
                return EVENT_REPLIES[event]
        contact = to_contact(msg)
        result = await self.commit(contact)
        self.accepted += 1
        if self.media is not None and not result.duplicate:
            for a in contact.attachments:
                if a.ref.startswith(MEDIA_REF_PREFIX):
                    self.media.schedule(a.ref.removeprefix(MEDIA_REF_PREFIX), a.name)
        return ""

    async def commit(self, contact: InboundContact) -> AcceptResult:
        """Hand the contact to the sink: back only once it is durable."""
        return await self.sink(contact)
