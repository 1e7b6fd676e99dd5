"""A citizen's Telegram photo, voice or document: getFile, then the file endpoint.

`MediaDownloads` (connectors/media.py) calls `file_fetch(bot)` after the webhook's 200;
python-telegram-bot resolves the file path against the bot's `base_file_url` (a local
fake in tests). The Bot API hands out files up to 20 MB; `file_size` is checked before
anything is downloaded.
"""

from __future__ import annotations

from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError

from connectors.media import Fetch, MediaRefused, MediaUnavailable


def file_fetch(bot: Bot) -> Fetch:
    """Fetch a file by file_id: refused for good if Telegram will never give it."""

    async def fetch(file_id: str, max_bytes: int) -> tuple[bytes, str]:
        try:
            remote = await bot.get_file(file_id)
            if remote.file_size is not None and remote.file_size > max_bytes:
                raise MediaRefused(f"{remote.file_size} bytes, over {max_bytes}", "size")
            data = bytes(await remote.download_as_bytearray())
        except BadRequest as e:  # "file is too big", "invalid file_id", …
            reason = "size" if "too big" in e.message.lower() else "unavailable"
            raise MediaRefused(e.message, reason) from e
        except (Forbidden, InvalidToken) as e:  # our bot's credentials: fixable, so retry
            raise MediaUnavailable(f"{type(e).__name__}: {e.message}") from e
        except TelegramError as e:  # network, timeouts, flood control
            raise MediaUnavailable(f"{type(e).__name__}: {e.message}") from e
        if len(data) > max_bytes:
            raise MediaRefused(f"{len(data)} bytes, over {max_bytes}", "size")
        return data, ""  # the placeholder's type (from the message) stands

    return fetch
