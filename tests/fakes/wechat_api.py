"""A fake WeChat official-account API on loopback that records every request.

It answers as api.weixin.qq.com does (JSON with `errcode`/`errmsg`; a token for
`client_credential`; 40001/42001 for a wrong or expired token; 45015 outside the
48-hour window) for the calls the hotline makes: token, custom and template messages,
temporary media (a video answers with a `video_url` to fetch it from, as WeChat's does).
Back door: `requests`, `sent()`, `expire_token()`, `fail_next()`, `out_of_window`,
`media`, `media_gate` (media answers wait for it).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class WechatApiFake:
    """The fake's state and its aiohttp application."""

    app_id: str = "wx_test_app"
    app_secret: str = "test-secret"
    requests: list[Recorded] = field(default_factory=list)
    out_of_window: set[str] = field(default_factory=set)  # OpenIDs that answer 45015
    unfollowed: set[str] = field(default_factory=set)  # OpenIDs that answer 43004
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    media_gate: asyncio.Event | None = None
    _failures: list[tuple[int, dict[str, Any] | None]] = field(default_factory=list)
    _tokens: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    token: str = ""
    _msgids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def app(self) -> web.Application:
        """The aiohttp application serving the fake API."""
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom)
        app.router.add_post("/cgi-bin/message/template/send", self._template)
        app.router.add_get("/cgi-bin/media/get", self._media)
        app.router.add_get("/video/{media_id}", self._video)
        return app

    # -- back door ------------------------------------------------------------------------

    def expire_token(self) -> None:
        """The current token stops working (the next call with it gets 42001)."""
        self.token = "expired-" + self.token

    def fail_next(self, count: int = 1, *, status: int = 200, errcode: int = -1) -> None:
        """The next `count` API calls (not token fetches) fail: HTTP `status`, or `errcode`."""
        body = None if status >= 400 else {"errcode": errcode, "errmsg": "system error"}
        self._failures.extend([(status, body)] * count)

    def sent(self) -> list[Recorded]:
        """The message sends that reached the fake (custom and template), in order."""
        return [r for r in self.requests if r.path.startswith("/cgi-bin/message/")]

    def delivered(self) -> list[Recorded]:
        """The message sends that the fake accepted."""
        return [r for r in self.sent() if r.query.get("_ok") == "1"]

    # -- handlers --------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> Recorded:
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        rec = Recorded(request.method, request.path, dict(request.query), body)
        self.requests.append(rec)
        return rec

    async def _token(self, request: web.Request) -> web.Response:
        await self._record(request)
        q = request.query
        if q.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        if q.get("appid") != self.app_id:
            return _err(40013, "invalid appid")
        if q.get("secret") != self.app_secret:
            return _err(40125, "invalid appsecret")
        self.token = f"ACCESS_TOKEN_{next(self._tokens)}"
        return web.json_response({"access_token": self.token, "expires_in": 7200})

    def _check(self, rec: Recorded) -> web.Response | None:
        if self._failures:
            status, body = self._failures.pop(0)
            if body is None:
                return web.Response(status=status, text="bad gateway")
            return web.json_response(body)
        token = rec.query.get("access_token", "")
        if not token:
            return _err(41001, "access_token missing")
        if token.startswith("expired-") or (self.token and token == "expired-" + self.token):
            return _err(42001, "access_token expired")
        if token != self.token:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        return None

    async def _custom(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        refused = self._check(rec)
        if refused is not None:
            return refused
        body = rec.body if isinstance(rec.body, dict) else {}
        to = str(body.get("touser", ""))
        if body.get("msgtype") not in ("text", "image", "voice", "news", "mpnews"):
            return _err(40008, "invalid message type")
        if to in self.unfollowed:
            return _err(43004, "require subscribe")
        if to in self.out_of_window:
            return _err(45015, "response out of time limit or subscription is canceled")
        rec.query["_ok"] = "1"
        return _err(0, "ok")

    async def _template(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        refused = self._check(rec)
        if refused is not None:
            return refused
        body = rec.body if isinstance(rec.body, dict) else {}
        if not body.get("template_id"):
            return _err(40037, "invalid template_id")
        if body.get("touser") in self.unfollowed:
            return _err(43004, "require subscribe")
        rec.query["_ok"] = "1"
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": next(self._msgids)})

    async def _media(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        refused = self._check(rec)
        if refused is not None:
            return refused
        if self.media_gate is not None:
            await self.media_gate.wait()
        media_id = request.query.get("media_id", "")
        found = self.media.get(media_id)
        if found is None:
            return _err(40007, "invalid media_id")
        content, ctype = found
        if ctype.startswith("video/"):
            url = request.url.with_path(f"/video/{media_id}").with_query(None)
            return web.json_response({"video_url": str(url)})
        return web.Response(body=content, content_type=ctype)

    async def _video(self, request: web.Request) -> web.Response:
        await self._record(request)
        found = self.media.get(request.match_info["media_id"])
        if found is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=found[0], content_type=found[1])


def _err(code: int, msg: str) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": msg})
