"""A fake Telegram Bot API on loopback that records every request python-telegram-bot makes.

It answers as api.telegram.org does (`{"ok": true, "result": …}`, or `ok: false` with
`error_code`/`description`, 401 for a wrong token, 429 with `retry_after`) for getMe,
sendMessage, answerCallbackQuery, editMessageReplyMarkup, setWebhook, deleteWebhook,
getUpdates and getFile, and serves the files at /file/bot<token>/<file_path>. Requests
arrive form-encoded; JSON-valued fields are decoded for the record. Back door: `requests`,
`calls(method)`, `fail_next()`, `blocked`, `push_updates()`, `files`, `fail_downloads()`.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "12345热线", "username": "hotline12345_bot"}
_JSON_FIELDS = frozenset({"reply_markup", "allowed_updates", "entities", "link_preview_options"})


@dataclass
class Call:
    """One Bot API request as the fake received it."""

    token: str
    method: str
    params: dict[str, Any]
    content_type: str


@dataclass
class TelegramApiFake:
    """The fake's state and its aiohttp application."""

    token: str = TOKEN
    requests: list[Call] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)  # chats that answer 403
    updates: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # file_id → content
    _download_failures: list[int] = field(default_factory=list)
    _failures: list[tuple[int, str, dict[str, Any] | None]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        """The aiohttp application serving the fake API."""
        app = web.Application()
        app.router.add_route("*", r"/bot{token:[^/]+}/{method}", self._handle)
        app.router.add_get(r"/file/bot{token:[^/]+}/{path:.+}", self._download)
        return app

    def base_url(self, root: str) -> str:
        """What to give python-telegram-bot as `base_url` (it appends the token)."""
        return root.rstrip("/") + "/bot"

    def base_file_url(self, root: str) -> str:
        """What to give python-telegram-bot as `base_file_url`."""
        return root.rstrip("/") + "/file/bot"

    # -- back door ---------------------------------------------------------------------------

    def calls(self, method: str) -> list[Call]:
        """The requests of one method, in order."""
        return [c for c in self.requests if c.method.lower() == method.lower()]

    def fail_next(
        self, count: int = 1, *, status: int = 502, retry_after: int | None = None
    ) -> None:
        """The next `count` calls other than getMe fail with `status` (429 with retry_after)."""
        params = {"retry_after": retry_after} if retry_after is not None else None
        desc = {429: "Too Many Requests: retry later", 502: "Bad Gateway"}.get(status, "error")
        self._failures.extend([(status, desc, params)] * count)

    def fail_downloads(self, count: int = 1, status: int = 502) -> None:
        """The next `count` file downloads answer `status`."""
        self._download_failures.extend([status] * count)

    def push_updates(self, *updates: dict[str, Any]) -> None:
        """Updates the next getUpdates returns."""
        self.updates.extend(updates)

    # -- handler -------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params: dict[str, Any] = {}
        if request.content_type == "application/json":
            params = dict(await request.json())
        else:
            for k, v in (await request.post()).items():
                value: Any = v if isinstance(v, str) else str(v)
                if k in _JSON_FIELDS:
                    value = json.loads(value)
                params[k] = value
        self.requests.append(Call(token, method, params, request.content_type))
        if token != self.token:
            return _error(401, "Unauthorized")
        if method.lower() != "getme" and self._failures:
            status, desc, extra = self._failures.pop(0)
            if status >= 500:
                return web.Response(status=status, text="Bad Gateway")
            return _error(status, desc, extra)
        handler = getattr(self, "_m_" + method.lower(), None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        result = handler(params)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    def _m_getme(self, p: dict[str, Any]) -> Any:
        return BOT_USER

    def _m_sendmessage(self, p: dict[str, Any]) -> Any:
        chat_id = int(p["chat_id"])
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if not str(p.get("text", "")).strip():
            return _error(400, "Bad Request: message text is empty")
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        if chat_id < 0:
            chat["title"] = "work orders"
        msg: dict[str, Any] = {
            "message_id": next(self._ids),
            "from": BOT_USER,
            "chat": chat,
            "date": int(time.time()),
            "text": p["text"],
        }
        if "reply_markup" in p:
            msg["reply_markup"] = p["reply_markup"]
        return msg

    def _m_answercallbackquery(self, p: dict[str, Any]) -> Any:
        return True

    def _m_editmessagereplymarkup(self, p: dict[str, Any]) -> Any:
        return True

    def _m_setwebhook(self, p: dict[str, Any]) -> Any:
        return True

    def _m_deletewebhook(self, p: dict[str, Any]) -> Any:
        return True

    def _m_getfile(self, p: dict[str, Any]) -> Any:
        file_id = str(p.get("file_id", ""))
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        size = len(self.files[file_id])
        if size > 20 * 1024 * 1024:  # what the Bot API hands out
            return _error(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": "u" + file_id,
            "file_size": size,
            "file_path": f"files/{file_id}.bin",
        }

    async def _download(self, request: web.Request) -> web.Response:
        token, path = request.match_info["token"], request.match_info["path"]
        self.requests.append(Call(token, "download", {"path": path}, ""))
        if token != self.token:
            return web.Response(status=401, text="Unauthorized")
        if self._download_failures:
            return web.Response(status=self._download_failures.pop(0), text="Bad Gateway")
        file_id = path.removeprefix("files/").removesuffix(".bin")
        if file_id not in self.files:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    def _m_getupdates(self, p: dict[str, Any]) -> Any:
        offset = int(p.get("offset", 0) or 0)
        out = [u for u in self.updates if u["update_id"] >= offset]
        self.updates = out
        return out


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)
