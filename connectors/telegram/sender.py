"""Outbox sender for Telegram: notices as messages; the rating and 签收/退回 as inline keyboards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)

from connectors.telegram.updates import rate_data, return_data, sign_data
from connectors.texts import RATING_LABELS, citizen_text, department_text
from tickets.model import OutboundMessage, SendError

DEPARTMENT_KINDS = frozenset({"dispatch_notice", "overdue_warning", "briefing"})


def render(
    m: OutboundMessage, tz: str = "Asia/Shanghai"
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and keyboard of one outbox message."""
    number = str(m.payload.get("ticket_number", ""))
    if m.kind in DEPARTMENT_KINDS:
        text = department_text(m.kind, m.payload, tz)
        if m.kind == "dispatch_notice" and m.payload.get("role", "lead") == "lead":
            return text, InlineKeyboardMarkup(
                [[
                    InlineKeyboardButton("签收", callback_data=sign_data(number)),
                    InlineKeyboardButton("退回", callback_data=return_data(number)),
                ]]
            )  # fmt: skip
        return text, None
    text = citizen_text(m.kind, m.payload, tz)
    if m.kind == "rating_request":
        text = f"请为工单 {number} 的办理评价:"
        return text, InlineKeyboardMarkup(
            [[InlineKeyboardButton(f"{s} {label}", callback_data=rate_data(number, s))]
             for s, label in RATING_LABELS.items()]
        )  # fmt: skip
    return text, None


@dataclass
class TelegramSender:
    """Sends one outbox message with the bot; SendError(permanent=…) on refusal."""

    bot: Bot
    timezone: str = "Asia/Shanghai"

    async def __call__(self, m: OutboundMessage) -> dict[str, Any] | None:
        """Send `m` to the chat in `m.recipient`."""
        text, keyboard = render(m, self.timezone)
        if not text:
            raise SendError(f"nothing to say for kind {m.kind!r}", permanent=True)
        try:
            chat_id = int(m.recipient)
        except ValueError:
            raise SendError(f"not a Telegram chat id: {m.recipient!r}", permanent=True) from None
        try:
            await self.bot.initialize()
            sent = await self.bot.send_message(chat_id, text, reply_markup=keyboard)
        except (Forbidden, BadRequest) as e:  # blocked, kicked, chat not found
            raise SendError(f"{type(e).__name__}: {e}", permanent=True) from e
        except ChatMigrated as e:
            raise SendError(
                f"group moved to chat {e.new_chat_id}; rebind it", permanent=True
            ) from e
        except RetryAfter as e:
            raise SendError(f"rate limited: retry after {e.retry_after}") from e
        except InvalidToken as e:
            raise SendError(f"bot token refused: {e}") from e
        except TelegramError as e:  # network, timeouts, 5xx
            raise SendError(f"{type(e).__name__}: {e}") from e
        return {"message_id": sent.message_id, "chat_id": chat_id}
