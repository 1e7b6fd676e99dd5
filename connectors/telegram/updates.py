"""Telegram updates → what they mean for the hotline (contact, command, button, nothing); pure.

Parsing is python-telegram-bot's (`Update.de_json`) on the one part of the update we act
on. Updates written for older Bot API versions (the webhook guide's own sample has no
`is_bot` and no `file_unique_id`) are upgraded first, so PTB's strict constructors take them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import UTC
from typing import Any

from telegram import Message, Update

from connectors.base import ChannelAction
from connectors.texts import RETURN_REASONS
from tickets.model import Attachment, Channel, CitizenIdentity, InboundContact, Location

FILE_REF_PREFIX = "telegram-file:"
# A file name for media sent without one (voice notes are OGG/Opus), so its type shows.
_SUFFIX = {"audio/ogg": ".ogg", "audio/mpeg": ".mp3", "video/mp4": ".mp4", "image/jpeg": ".jpg"}
_DEFAULT_SUFFIX = {"voice": ".ogg", "audio": ".mp3", "video": ".mp4", "document": ""}
# The part of an update we act on, in order of preference (a real update has one).
_PARTS = ("message", "callback_query", "edited_message", "channel_post", "my_chat_member")
PRIVATE = "private"
GROUPS = frozenset({"group", "supergroup"})


class BadUpdate(ValueError):
    """Not a Telegram update (no update_id, not an object)."""


@dataclass(frozen=True)
class Contact:
    """A citizen's message in a private chat: becomes a contact."""

    contact: InboundContact


@dataclass(frozen=True)
class Command:
    """A bot command (/start, /bind CODE, /help) in a chat."""

    name: str
    args: str
    chat_id: int
    chat_type: str
    user_id: int


@dataclass(frozen=True)
class Press:
    """An inline button pressed: either a ChannelAction or a request for return reasons."""

    query_id: str
    chat_id: int
    message_id: int | None
    action: ChannelAction | None
    ask_reason_for: str = ""  # ticket number whose return reasons to offer


@dataclass(frozen=True)
class Ignore:
    """Nothing for the hotline (service messages, dice, group chatter, other update kinds)."""

    why: str


Route = Contact | Command | Press | Ignore


def parse(data: Any) -> tuple[int, Update]:
    """(update_id, PTB Update of the part we act on); BadUpdate if this is not an update."""
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise BadUpdate("an update is a JSON object with an integer update_id")
    part = next((p for p in _PARTS if isinstance(data.get(p), dict)), None)
    reduced: dict[str, Any] = {"update_id": data["update_id"]}
    if part is not None:
        reduced[part] = copy.deepcopy(data[part])
        _upgrade_legacy(reduced[part])
    try:
        return data["update_id"], Update.de_json(reduced, None)
    except (TypeError, KeyError, ValueError) as e:
        raise BadUpdate(f"unreadable {part}: {e}") from e


def _upgrade_legacy(obj: Any) -> None:
    if isinstance(obj, dict):
        if "id" in obj and "first_name" in obj and "type" not in obj and "is_bot" not in obj:
            obj["is_bot"] = False  # a User from before Bot API 3.? carried no is_bot
        if "file_id" in obj and "file_unique_id" not in obj:
            obj["file_unique_id"] = obj["file_id"]  # before Bot API 4.5
        for v in obj.values():
            _upgrade_legacy(v)
    elif isinstance(obj, list):
        for v in obj:
            _upgrade_legacy(v)


def route(update: Update) -> Route:
    """What an update means for the hotline."""
    if update.callback_query is not None:
        return _press(update)
    m = update.message
    if m is None:
        return Ignore("not a new message or button")
    command = command_of(m)
    if command is not None and m.from_user is not None:
        name, args = command
        return Command(name, args, m.chat.id, m.chat.type, m.from_user.id)
    if m.chat.type != PRIVATE:
        return Ignore("group chatter")
    contact = to_contact(m)
    return Contact(contact) if contact is not None else Ignore("service message")


def command_of(m: Message) -> tuple[str, str] | None:
    """('start', 'ABC') for "/start ABC" or "/start@our_bot ABC"; None if not a command."""
    text = m.text or ""
    for entity in m.entities:
        if entity.type == "bot_command" and entity.offset == 0:
            word = text[1 : entity.length]
            return word.split("@", 1)[0].lower(), text[entity.length :].strip()
    return None


def to_contact(m: Message) -> InboundContact | None:
    """A private message with words, media or a place; None for service messages."""
    text = m.text or m.caption or ""
    attachments: list[Attachment] = []
    if m.photo:
        best = max(m.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        attachments.append(_file("photo.jpg", "image/jpeg", best.file_id, best.file_size))
    for kind, media in (("voice", m.voice), ("audio", m.audio), ("video", m.video),
                        ("document", m.document)):  # fmt: skip
        if media is not None:
            ctype = getattr(media, "mime_type", None) or "application/octet-stream"
            name = getattr(media, "file_name", None) or (
                f"{kind}-{media.file_unique_id}{_SUFFIX.get(ctype, _DEFAULT_SUFFIX[kind])}"
            )
            attachments.append(_file(name, ctype, media.file_id, media.file_size))
    location = None
    if m.location is not None:
        location = Location(latitude=m.location.latitude, longitude=m.location.longitude)
    if m.venue is not None:
        location = Location(
            latitude=m.venue.location.latitude,
            longitude=m.venue.location.longitude,
            address=f"{m.venue.title} {m.venue.address}".strip(),
        )
    if not (text or attachments or location):
        return None
    if not text:
        text = "[语音]" if m.voice else "[位置]" if location else "[图片]" if m.photo else "[文件]"
    user = m.from_user
    received = m.date if m.date.tzinfo else m.date.replace(tzinfo=UTC)
    return InboundContact(
        channel=Channel.TELEGRAM,
        # (chat, message) is unique and survives a switch between webhook and polling.
        external_id=f"{m.chat.id}:{m.message_id}",
        citizen=CitizenIdentity(
            name=user.full_name if user else None,
            telegram_id=str(user.id if user else m.chat.id),
        ),
        text=text,
        received_at=received.astimezone(UTC),
        attachments=tuple(attachments),
        location=location,
        extra={"chat_id": m.chat.id, "message_id": m.message_id},
    )


def _file(name: str, ctype: str, file_id: str, size: int | None) -> Attachment:
    return Attachment(name=name, content_type=ctype, size=size or 0, ref=FILE_REF_PREFIX + file_id)


# -- buttons ---------------------------------------------------------------------------
# callback_data (≤ 64 bytes): sign:<ticket>  ret:<ticket>  rr:<ticket>:<reason_code>
# rate:<ticket>:<1-5>


def sign_data(number: str) -> str:
    """The 签收 button's data."""
    return f"sign:{number}"


def return_data(number: str) -> str:
    """The 退回 button's data (asks for the reason next)."""
    return f"ret:{number}"


def reason_data(number: str, code: str) -> str:
    """A return reason button's data."""
    return f"rr:{number}:{code}"


def rate_data(number: str, score: int) -> str:
    """A rating button's data."""
    return f"rate:{number}:{score}"


def _press(update: Update) -> Route:
    q = update.callback_query
    assert q is not None
    msg = q.message
    chat_id = msg.chat.id if msg is not None else q.from_user.id
    message_id = msg.message_id if msg is not None else None
    parts = (q.data or "").split(":")
    kind, number = parts[0], parts[1] if len(parts) > 1 else ""
    base = ChannelAction("telegram", "", str(q.from_user.id), str(chat_id), number)
    action: ChannelAction | None = None
    if kind == "sign" and number:
        action = replace(base, kind="sign")
    elif kind == "ret" and number:
        return Press(q.id, chat_id, message_id, None, ask_reason_for=number)
    elif kind == "rr" and number and len(parts) == 3 and parts[2] in RETURN_REASONS:
        action = replace(base, kind="return", reason_code=parts[2], reason=RETURN_REASONS[parts[2]])
    elif kind == "rate" and number and len(parts) == 3 and parts[2] in {"1", "2", "3", "4", "5"}:
        action = replace(base, kind="rate", rating=int(parts[2]))
    return Press(q.id, chat_id, message_id, action)
