"""Async client of the WeChat official-account API: access token cache, messages, media.

wechatpy's own client is synchronous with its host built in; this one runs on aiohttp
against a configurable base URL (a local fake in tests), and refreshes the access token
when it expires or WeChat says it is invalid (40001, 40014, 42001).
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from connectors.wechat.errors import ApiError, ApiUnavailable, MediaTooLarge

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
# errcodes that mean "get a new access token and try again"
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# errcodes where retrying later cannot help (bad recipient, template, unfollowed, …)
PERMANENT_ERRORS = frozenset(
    {40003, 40037, 43004, 43019, 40035, 47001, 40008, 41028, 41029, 40125, 40164}
)
# system busy, rate limited: worth another try later
TRANSIENT_ERRORS = frozenset({-1, 45009, 45011})
# the 48-hour customer-service window has passed (or the citizen never wrote)
OUT_OF_WINDOW = frozenset({45015, 45047})


class WechatApi:
    """One official account's API; safe to share between tasks of one event loop."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app_id = app_id
        self._secret = app_secret
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._monotonic = monotonic
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self.token_fetches = 0

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def access_token(self, *, refresh: bool = False, stale: str | None = None) -> str:
        """The cached token, fetched anew when expired or when `refresh` is asked.

        `stale` is the token a failed call used: if another task already replaced it,
        the new one is returned without a second fetch (no stampede on 40001).
        """
        async with self._token_lock:
            fresh = self._token is not None and self._monotonic() < self._token_expires
            if fresh and not refresh:
                return self._token  # type: ignore[return-value]
            if refresh and stale is not None and self._token not in (None, stale) and fresh:
                return self._token  # type: ignore[return-value]
            data = await self._request(
                "GET",
                "/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.app_id,
                    "secret": self._secret,
                },
            )
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise ApiError(int(data.get("errcode", -1)), str(data.get("errmsg", "no token")))
            self.token_fetches += 1
            # Refresh five minutes early: a token good for 7200 s is used for 6900 s.
            expires_in = float(data.get("expires_in", 7200))
            self._token = token
            self._token_expires = self._monotonic() + max(60.0, expires_in - 300)
            return token

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Call an API with the access token; one retry with a new token if it was refused."""
        token = await self.access_token()
        for attempt in (1, 2):
            try:
                return await self._request(
                    method, path, params={**(params or {}), "access_token": token}, json=json
                )
            except ApiError as e:
                if e.errcode in TOKEN_ERRORS and attempt == 1:
                    log.info("wechat token refused (%s); fetching a new one", e.errcode)
                    token = await self.access_token(refresh=True, stale=token)
                    continue
                raise
        raise AssertionError("unreachable")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        url = self.base_url + path
        try:
            async with self._http().request(method, url, params=params, json=json) as resp:
                if resp.status >= 400:
                    raise ApiUnavailable(f"{method} {path}: HTTP {resp.status}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise ApiUnavailable(f"{method} {path}: {type(e).__name__}: {e}") from e
        if not isinstance(data, dict):
            raise ApiUnavailable(f"{method} {path}: answer is not a JSON object")
        if data.get("errcode", 0) not in (0, None):
            raise ApiError(int(data["errcode"]), str(data.get("errmsg", "")))
        return data

    # -- the calls the hotline makes ----------------------------------------------------

    async def send_custom(self, openid: str, msgtype: str, body: dict[str, Any]) -> dict[str, Any]:
        """A customer-service message (within 48 h of the citizen's last message)."""
        return await self.call(
            "POST",
            "/cgi-bin/message/custom/send",
            json={"touser": openid, "msgtype": msgtype, msgtype: body},
        )

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: dict[str, dict[str, str]],
        *,
        url: str | None = None,
        client_msg_id: str | None = None,
    ) -> dict[str, Any]:
        """A template message (any time; `client_msg_id` makes WeChat drop a repeat)."""
        body: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            body["url"] = url
        if client_msg_id:
            body["client_msg_id"] = client_msg_id[:64]
        return await self.call("POST", "/cgi-bin/message/template/send", json=body)

    async def get_media(
        self, media_id: str, max_bytes: int = 10 * 1024 * 1024
    ) -> tuple[bytes, str]:
        """A temporary media file (a citizen's picture, voice or video): content and type.

        /cgi-bin/media/get answers with the file itself, or with JSON: an `errcode` (a
        refused token is fetched anew once), or for a video a `video_url` to fetch it from.
        MediaTooLarge past `max_bytes`, before more than that is read.
        """
        token = await self.access_token()
        for attempt in (1, 2):
            body, ctype = await self._download(
                self.base_url + "/cgi-bin/media/get",
                {"access_token": token, "media_id": media_id},
                max_bytes,
            )
            if not ctype.startswith(("application/json", "text/plain")):
                return body, ctype
            try:
                data = jsonlib.loads(body or b"{}")
            except ValueError as e:
                raise ApiUnavailable(f"media/get: unreadable answer: {e}") from e
            if isinstance(data, dict) and isinstance(data.get("video_url"), str):
                return await self._download(data["video_url"], None, max_bytes)
            if not isinstance(data, dict):
                raise ApiUnavailable("media/get: answer is not a JSON object")
            err = ApiError(int(data.get("errcode", -1)), str(data.get("errmsg", "")))
            if err.errcode in TOKEN_ERRORS and attempt == 1:
                log.info("wechat token refused (%s) on media/get; fetching a new one", err.errcode)
                token = await self.access_token(refresh=True, stale=token)
                continue
            raise err
        raise AssertionError("unreachable")

    async def _download(
        self, url: str, params: dict[str, str] | None, max_bytes: int
    ) -> tuple[bytes, str]:
        """GET a file, reading at most `max_bytes` of it."""
        try:
            async with self._http().get(url, params=params) as resp:
                if resp.status >= 400:
                    raise ApiUnavailable(f"media download: HTTP {resp.status}")
                if (resp.content_length or 0) > max_bytes:
                    raise MediaTooLarge(f"media is {resp.content_length} bytes, over {max_bytes}")
                ctype = resp.headers.get("Content-Type", "application/octet-stream")
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise MediaTooLarge(f"media is over {max_bytes} bytes")
                    chunks.append(chunk)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise ApiUnavailable(f"media download: {type(e).__name__}: {e}") from e
        return b"".join(chunks), ctype.split(";")[0].strip()
