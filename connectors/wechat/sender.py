"""The outbox sender for WeChat: customer-service text inside the 48-hour window, else a template.

A message the outbox leases is rendered by kind and sent once; errors become SendError,
permanent when retrying cannot help (unknown OpenID, unfollowed, bad template).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.texts import RATING_LABELS, citizen_text, local_time
from connectors.wechat.client import OUT_OF_WINDOW, PERMANENT_ERRORS, WechatApi
from connectors.wechat.errors import ApiError, ApiUnavailable
from tickets.model import OutboundMessage, SendError

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=48)
# When did this OpenID last write to us (None: never, or unknown)?
LastSeen = Callable[[str], Awaitable[datetime | None]]


@dataclass
class WechatSender:
    """Renders and sends one outbox message through the WeChat API."""

    api: WechatApi
    templates: Mapping[str, str] = field(default_factory=dict)  # kind → template id
    last_seen: LastSeen | None = None
    now: Callable[[], datetime] | None = None
    rating_url: str = ""  # a page where the citizen rates (template link), "{ticket}" filled
    timezone: str = "Asia/Shanghai"

    async def __call__(self, m: OutboundMessage) -> dict[str, Any] | None:
        """Send `m`; SendError(permanent=…) when WeChat or the network refuses."""
        try:
            if await self._in_window(m):
                try:
                    return await self._custom(m)
                except ApiError as e:
                    if e.errcode not in OUT_OF_WINDOW:
                        raise
                    log.info("wechat %s: outside the 48 h window, using a template", m.id)
            return await self._template(m)
        except ApiError as e:
            raise SendError(str(e), permanent=e.errcode in PERMANENT_ERRORS) from e
        except ApiUnavailable as e:
            raise SendError(str(e)) from e

    async def _in_window(self, m: OutboundMessage) -> bool:
        if self.last_seen is None or self.now is None:
            return True  # try; WeChat answers 45015 outside the window
        # A message the notice says the citizen wrote opens the window at least that long
        # (a later one only extends it): no need to ask when they wrote last.
        wrote = _when(m.payload.get("wrote_at"))
        if wrote is not None and self.now() - wrote < WINDOW:
            return True
        seen = await self.last_seen(m.recipient)
        return seen is not None and self.now() - seen < WINDOW

    async def _custom(self, m: OutboundMessage) -> dict[str, Any]:
        if m.kind == "image":
            body = {"media_id": str(m.payload["media_id"])}
            data = await self.api.send_custom(m.recipient, "image", body)
        else:
            text = citizen_text(m.kind, m.payload, self.timezone)
            if not text:
                raise SendError(f"nothing to say for kind {m.kind!r}", permanent=True)
            data = await self.api.send_custom(m.recipient, "text", {"content": text})
        return {"via": "custom", "errcode": data.get("errcode", 0)}

    async def _template(self, m: OutboundMessage) -> dict[str, Any]:
        template_id = self.templates.get(m.kind) or self.templates.get("default")
        if not template_id:
            raise SendError(
                f"outside the 48 h window and no template configured for {m.kind!r}",
                permanent=True,
            )
        url = None
        if m.kind == "rating_request" and self.rating_url:
            url = self.rating_url.replace("{ticket}", str(m.payload.get("ticket_number", "")))
        data = await self.api.send_template(
            m.recipient,
            template_id,
            template_data(m.kind, m.payload, self.timezone),
            url=url,
            client_msg_id=m.dedupe_key,
        )
        return {"via": "template", "msgid": data.get("msgid")}


def _when(value: Any) -> datetime | None:
    """An ISO time with its zone from a payload (None if there is none, or it is not one)."""
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return at if at is not None and at.tzinfo is not None else None


def template_data(
    kind: str, p: dict[str, Any], tz: str = "Asia/Shanghai"
) -> dict[str, dict[str, str]]:
    """The classic first / keyword1..3 / remark fields of a progress or rating template."""
    n = str(p.get("ticket_number", ""))
    subject = str(p.get("subject") or p.get("category_name") or "您反映的诉求")
    if kind == "rating_request":
        levels = " ".join(f"{k}{v}" for k, v in RATING_LABELS.items())
        first, status, remark = "请为本次办理评价", "待评价", f"回复数字评价:{levels}"
    elif kind == "accepted":
        first, status, remark = "您的诉求已受理", "已受理", "我们会尽快办理并通知您进度。"
    elif kind == "dispatched":
        dept = str(p.get("department_name") or "承办单位")
        due = local_time(p.get("due_at"), tz)
        first, status = "您的诉求已转交办理", f"已转交{dept}"
        remark = f"办理时限 {due}" if due else ""
    elif kind == "result":
        first, status, remark = "您的诉求已有办理结果", "已办结", str(p.get("result_text") or "")
    else:
        first, status, remark = citizen_text(kind, p, tz), "", ""
    return {
        "first": {"value": first},
        "keyword1": {"value": n},
        "keyword2": {"value": subject},
        "keyword3": {"value": status},
        "remark": {"value": remark},
    }
