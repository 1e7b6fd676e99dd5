"""The WeChat connector as the center sees it: callback routes, API client, health."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from connectors.base import ConnectorHealth
from connectors.wechat.callback import MediaFetcher, WechatCallback
from connectors.wechat.client import WechatApi


class WechatConnector:
    """Owns the callback handler, the API client and the media downloads of one account."""

    name = "wechat"

    def __init__(
        self, callback: WechatCallback, api: WechatApi, media: MediaFetcher | None = None
    ) -> None:
        self.callback = callback
        self.api = api
        self.media = media
        self._since: datetime | None = None
        self._running = False

    def routes(self) -> web.RouteTableDef:
        """The webhook routes to add to the web application."""
        return self.callback.routes()

    async def start(self) -> None:
        """Nothing to connect: WeChat calls us. Marks the channel up."""
        self._running = True
        self._since = datetime.now(UTC)

    async def stop(self) -> None:
        """Stop media downloads and close the API session."""
        self._running = False
        if self.media is not None:
            await self.media.close()
        await self.api.close()

    def health(self) -> ConnectorHealth:
        """Up while running; the counts show what came in and what was refused."""
        return ConnectorHealth(
            name=self.name,
            enabled=True,
            connected=self._running,
            detail=f"accepted {self.callback.accepted}, refused {self.callback.refused}",
            since=self._since,
        )
