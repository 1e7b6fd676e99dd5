"""The Connector port: what every channel offers the rest of the center."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tickets.model import AcceptResult, InboundContact

# Where a connector hands a normalized contact; it returns once the contact is durable.
ContactSink = Callable[[InboundContact], Awaitable[AcceptResult]]


@dataclass(frozen=True)
class ConnectorHealth:
    """What the console shows about a channel: on or off, connected, last problem."""

    name: str
    enabled: bool
    connected: bool
    detail: str = ""
    since: datetime | None = None


class Connector(Protocol):
    """A channel to the outside world (telephony, WeChat, Telegram, mailbox)."""

    name: str

    async def start(self) -> None:
        """Connect and begin delivering contacts; must return promptly (work runs in tasks)."""

    async def stop(self) -> None:
        """Stop taking new work and close every connection."""

    def health(self) -> ConnectorHealth:
        """The channel's state right now."""
