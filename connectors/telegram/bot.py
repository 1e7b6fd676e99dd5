"""The Telegram bot: webhook (secret header, update_id dedupe, durable before the 200) or polling.

Citizens' private messages become contacts through the sink; in department groups
`/bind CODE` binds the group and the 签收/退回 buttons act through the action sink, as
the pressing user. Chat replies (answers to buttons, welcome texts) go out after the
commit, in the background; notices go through the durable outbox (see sender.py). A
citizen's photos, voice and documents are fetched once the 200 is written (files.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from connectors.base import ActionSink, ChannelAction, ConnectorHealth, ContactSink
from connectors.media import RESUME_WINDOW, MediaDownloads, Pending
from connectors.telegram.updates import (
    FILE_REF_PREFIX,
    GROUPS,
    PRIVATE,
    BadUpdate,
    Command,
    Contact,
    Ignore,
    Press,
    parse,
    reason_data,
    route,
)
from connectors.texts import RETURN_REASONS
from tickets.model import Channel, CitizenIdentity, InboundContact

log = logging.getLogger(__name__)

PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
WELCOME = (
    "您好,这里是12345政务服务便民热线。直接发送文字、图片、语音或位置即可反映诉求,"
    "我们会告诉您工单号和办理进度。紧急警情请拨打110。"
)
GROUP_HELP = "在控制台为本单位生成绑定码后,在本群发送 /bind 绑定码 即可接收派单通知。"


class TelegramBot:
    """One bot: the connector the center starts and stops, and its webhook routes."""

    name = "telegram"

    def __init__(
        self,
        bot: Bot,
        sink: ContactSink,
        actions: ActionSink,
        *,
        webhook_secret: str = "",
        webhook_url: str = "",
        polling: bool = False,
        poll_timeout: int = 25,
        remember: int = 10_000,
        media: MediaDownloads | None = None,
        pending: Pending | None = None,
    ) -> None:
        self.bot = bot
        self.sink = sink
        self.actions = actions
        self.media = media  # photos, voice, documents: fetched after the 200
        self.pending = pending
        self._secret = webhook_secret
        self.webhook_url = webhook_url
        self.polling = polling
        self.poll_timeout = poll_timeout
        self._remember = remember
        self._done: OrderedDict[int, None] = OrderedDict()
        self._inflight: dict[int, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._offset: int | None = None
        self._connected = False
        self._detail = ""
        self._since: datetime | None = None
        self.processed = 0

    # -- lifetime --------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in (getMe); set the webhook, or start polling; never fail the center's start."""
        try:
            await self.bot.initialize()
            if self.polling:
                await self.bot.delete_webhook()
            elif self.webhook_url:
                await self.bot.set_webhook(
                    self.webhook_url, secret_token=self._secret or None,
                    allowed_updates=ALLOWED_UPDATES,
                )  # fmt: skip
            self._connected, self._detail = True, ""
        except TelegramError as e:
            self._connected, self._detail = False, f"{type(e).__name__}: {e}"
            log.warning("telegram bot could not start: %s", e)
        self._since = datetime.now(UTC)
        if self.media is not None and self.pending is not None:
            await self.media.resume(self.pending, self._since - RESUME_WINDOW)
        if self.polling:
            self._poller = asyncio.create_task(self._poll(), name="telegram-poll")

    async def stop(self) -> None:
        """Stop polling and background replies, close the HTTP client."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        await self.drain()
        if self.media is not None:
            await self.media.close()
        try:
            await self.bot.shutdown()
        except TelegramError:
            pass

    def health(self) -> ConnectorHealth:
        """Logged in or not, and the last problem."""
        return ConnectorHealth(self.name, True, self._connected, self._detail, self._since)

    async def drain(self) -> None:
        """Wait for background replies in flight."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- webhook ---------------------------------------------------------------------------

    def routes(self) -> web.RouteTableDef:
        """The webhook route to add to the web application."""
        routes = web.RouteTableDef()
        routes.post(PATH)(self.webhook)
        return routes

    async def webhook(self, request: web.Request) -> web.Response:
        """403 without our secret header; 200 only once the update's effect is committed."""
        sent = request.headers.get(SECRET_HEADER, "")
        if not self._secret or not hmac.compare_digest(sent.encode(), self._secret.encode()):
            log.warning("telegram webhook without the right secret from %s", request.remote)
            return web.Response(status=403, text="forbidden")
        raw = await request.read()  # over client_max_size: 413 from aiohttp
        try:
            data = json.loads(raw)
            with_files = await self.process(data, fetch_files=False)
        except (ValueError, BadUpdate) as e:
            log.warning("telegram webhook: not an update: %s", e)
            return web.Response(status=400, text="bad request")
        response = web.Response(text="")
        if with_files is not None and self.media is not None:
            # The 200 goes out first; only then does the slow download start.
            await response.prepare(request)
            await response.write_eof()
            self.media.schedule(with_files.external_id, with_files.attachments)
        return response

    async def process(self, data: Any, *, fetch_files: bool = True) -> InboundContact | None:
        """Handle one update once; raises if its effect could not be committed (retry it).

        Returns the new contact whose files are still to be fetched (queued here unless
        `fetch_files` is false: the webhook queues them once its answer is written).
        """
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise BadUpdate("an update is a JSON object with an integer update_id")
        update_id: int = data["update_id"]
        if update_id in self._done:
            return None
        running = self._inflight.get(update_id)
        if running is not None:  # the same update delivered twice at once: wait for the first
            await asyncio.shield(running)
            return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[update_id] = future
        try:
            with_files = await self._handle(data)
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: the waiter (if any) re-raises it
            raise
        else:
            future.set_result(None)
            self._done[update_id] = None
            while len(self._done) > self._remember:
                self._done.popitem(last=False)
            self.processed += 1
        finally:
            del self._inflight[update_id]
        if with_files is not None and fetch_files and self.media is not None:
            self.media.schedule(with_files.external_id, with_files.attachments)
        return with_files

    async def _handle(self, data: dict[str, Any]) -> InboundContact | None:
        """Commit what the update means; the new contact if it has files to fetch."""
        try:
            _, update = parse(data)
        except BadUpdate as e:
            raw = _raw_private_contact(data)
            if raw is None:
                log.warning("telegram update %s ignored: %s", data.get("update_id"), e)
                return None
            await self.sink(raw)  # kept whole for a person to read, never lost
            return None
        r = route(update)
        if isinstance(r, Contact):
            result = await self.sink(r.contact)
            has_files = any(a.ref.startswith(FILE_REF_PREFIX) for a in r.contact.attachments)
            return r.contact if has_files and not result.duplicate else None
        if isinstance(r, Command):
            await self._command(r)
        elif isinstance(r, Press):
            await self._press(r)
        elif isinstance(r, Ignore):
            log.debug("telegram update %s ignored: %s", data["update_id"], r.why)
        return None

    async def _command(self, c: Command) -> None:
        if c.chat_type == PRIVATE and c.name in ("start", "help"):
            self._later(self.bot.send_message(c.chat_id, WELCOME))
        elif c.chat_type in GROUPS and c.name in ("bind", "start") and c.args:
            outcome = await self.actions(
                ChannelAction(
                    channel="telegram", kind="bind", actor_id=str(c.user_id),
                    chat_id=str(c.chat_id), code=c.args.split()[0],
                )
            )  # fmt: skip
            self._later(self.bot.send_message(c.chat_id, outcome.message))
        elif c.chat_type in GROUPS and c.name in ("bind", "help"):
            self._later(self.bot.send_message(c.chat_id, GROUP_HELP))

    async def _press(self, p: Press) -> None:
        if p.ask_reason_for:
            keyboard = InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(label, callback_data=reason_data(p.ask_reason_for, code))]
                    for code, label in RETURN_REASONS.items()
                ]
            )
            self._later(self.bot.answer_callback_query(p.query_id, "请选择退回原因"))
            self._later(
                self.bot.send_message(
                    p.chat_id, f"工单 {p.ask_reason_for} 的退回原因:", reply_markup=keyboard
                )
            )
            return
        if p.action is None:
            self._later(self.bot.answer_callback_query(p.query_id, "该按钮已失效。"))
            return
        outcome = await self.actions(p.action)  # committed (or refused) before the 200
        self._later(
            self.bot.answer_callback_query(
                p.query_id, outcome.message[:200], show_alert=not outcome.ok
            )
        )
        if outcome.ok:
            self._later(self.bot.send_message(p.chat_id, outcome.message))
            if p.message_id is not None and p.action.kind in ("sign", "rate", "return"):
                self._later(
                    self.bot.edit_message_reply_markup(p.chat_id, p.message_id, reply_markup=None)
                )

    def _later(self, call: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(_quietly(call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- polling (development) ---------------------------------------------------------------

    async def _poll(self) -> None:
        delay = 1.0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=self._offset, timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES
                )
                for u in updates:
                    await self.process(u.to_dict())
                    self._offset = u.update_id + 1
                self._connected, delay = True, 1.0
            except asyncio.CancelledError:
                raise
            except Exception as e:  # API down or our store down: wait and ask again
                self._connected, self._detail = False, f"{type(e).__name__}: {e}"
                log.warning("telegram polling: %s", e)
                await asyncio.sleep(delay)
                delay = min(60.0, delay * 2)


async def _quietly(call: Coroutine[Any, Any, Any]) -> None:
    try:
        await call
    except TelegramError as e:
        log.warning("telegram reply failed: %s", e)


def _raw_private_contact(data: dict[str, Any]) -> InboundContact | None:
    """A private message PTB cannot read, kept as a raw contact rather than dropped."""
    m = data.get("message")
    if not isinstance(m, dict):
        return None
    chat = m.get("chat") or {}
    if chat.get("type") != PRIVATE or "id" not in chat or "message_id" not in m:
        return None
    user = m.get("from") or {}
    return InboundContact(
        channel=Channel.TELEGRAM,
        external_id=f"{chat['id']}:{m['message_id']}",
        citizen=CitizenIdentity(telegram_id=str(user.get("id", chat["id"]))),
        text=str(m.get("text") or m.get("caption") or "[无法识别的消息]"),
        received_at=datetime.fromtimestamp(int(m.get("date", 0)), UTC),
        extra={"raw": m},
    )
