"""The WeChat connector as the center sees it: callback routes, API client, health."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from connectors.base import ConnectorHealth
from connectors.media import RESUME_WINDOW, MediaDownloads, Pending
from connectors.wechat.callback import WechatCallback
from connectors.wechat.client import WechatApi


class WechatConnector:
    """Owns the callback handler, the API client and the media downloads of one account."""

    name = "wechat"

    def __init__(
        self,
        callback: WechatCallback,
        api: WechatApi,
        media: MediaDownloads | None = None,
        pending: Pending | None = None,
    ) -> None:
        self.callback = callback
        self.api = api
        self.media = media
        self.pending = pending
        self._since: datetime | None = None
        self._running = False

    def routes(self) -> web.RouteTableDef:
        """The webhook routes to add to the web application."""
        return self.callback.routes()

    async def start(self) -> None:
        """Nothing to connect: WeChat calls us. Marks the channel up and fetches the media
        a stop left behind (WeChat keeps them three days)."""
        self._running = True
        self._since = datetime.now(UTC)
        if self.media is not None and self.pending is not None:
            await self.media.resume(self.pending, self._since - RESUME_WINDOW)

    async def stop(self) -> None:
        """Stop media downloads and close the API session."""
        self._running = False
        if self.media is not None:
            await self.media.close()
        await self.api.close()

    def health(self) -> ConnectorHealth:
        """Up while running; the counts show what came in and what was refused."""
        media = ""
        if self.media is not None:
            m = self.media
            media = f"; media stored {m.stored}, refused {m.refused}, failed {m.failed}"
        return ConnectorHealth(
            name=self.name,
            enabled=True,
            connected=self._running,
            detail=f"accepted {self.callback.accepted}, refused {self.callback.refused}{media}",
            since=self._since,
        )
