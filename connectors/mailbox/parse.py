"""Turns one raw RFC 5322 message into a `ParsedMail`: decoded text, attachments, kind; pure."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from enum import StrEnum
from html.parser import HTMLParser

# Labels mail clients write that Python does not know, or knows too narrowly: GB2312 and
# GBK mail routinely carries characters only GB18030 (their superset) decodes.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "hz-gb-2312": "hz",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
}
_FALLBACKS = ("utf-8", "gb18030", "big5hkscs")

_BOUNCE_SENDERS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
_BOUNCE_SUBJECT = re.compile(
    r"delivery status notification|undeliver|returned mail|mail delivery (failed|failure)"
    r"|delivery (failure|has failed|notification)|failure notice|nondeliverable"
    r"|退信|投递失败|未送达|无法投递|系统退回",
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"^(auto(matic)?[ -]?reply|auto:|out of (the )?office|自动回复|休假|外出)", re.IGNORECASE
)
# Solicitations that no citizen letter carries in this form (the classic fake-invoice
# offer); a letter *reporting* such an offer is still a letter, hence the tight patterns.
_SPAM_TEXT = re.compile(r"(我公司|本公司)?可?代开.{0,12}发票.{0,40}(点数|优惠|验证后付款)")


class MailKind(StrEnum):
    """What a message is; only `letter` becomes a contact."""

    LETTER = "letter"
    BOUNCE = "bounce"
    AUTO_REPLY = "auto_reply"
    LIST = "list"
    SPAM = "spam"


@dataclass(frozen=True)
class MailPart:
    """One attached file as it came: decoded name, type, bytes."""

    name: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None

    @property
    def size(self) -> int:
        """Bytes after transfer decoding."""
        return len(self.data)


@dataclass(frozen=True)
class BounceInfo:
    """What a delivery report says: who failed, whether for good, and which message."""

    recipients: tuple[str, ...]
    permanent: bool
    original_message_id: str | None
    status: str = ""


@dataclass(frozen=True)
class ParsedMail:
    """One message, decoded for the hotline."""

    message_id: str
    from_name: str
    from_addr: str
    to_addrs: tuple[str, ...]
    subject: str
    date: datetime | None
    text: str
    kind: MailKind
    attachments: tuple[MailPart, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    html_only: bool = False
    bounce: BounceInfo | None = None
    defects: tuple[str, ...] = field(default_factory=tuple)


# -- charsets and headers -----------------------------------------------------------------


def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label (aliases applied), or None if unknown."""
    if not label:
        return None
    name = label.strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        "".encode(name)
    except LookupError:
        return None
    return name


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text from bytes whatever the label says.

    Non-ASCII bytes that are valid UTF-8 are UTF-8 (legacy Chinese text practically never
    is), which repairs the common mislabelled "GB2312" body that is really UTF-8. Then the
    declared charset, then GB18030 and Big5, and the declared one with replacement last.
    """
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = codec_for(declared)
    for name in ((codec,) if codec else ()) + _FALLBACKS:
        try:
            return data.decode(name)
        except UnicodeDecodeError:
            continue
    return data.decode(codec or "gb18030", errors="replace")


def _raw_header(msg: Message, name: str) -> str | None:
    for key, value in msg.raw_items() if isinstance(msg, EmailMessage) else msg.items():
        if key.lower() == name.lower():
            return str(value)
    return None


def header_text(msg: Message, name: str) -> str:
    """A header's text with RFC 2047 words decoded through our charset table.

    Raw 8-bit bytes (non-conforming but common) are taken as UTF-8 or GB18030.
    """
    raw = _raw_header(msg, name)
    if raw is None:
        return ""
    raw = raw.encode("utf-8", "surrogateescape").decode("latin-1")
    if not raw.isascii():
        raw = decode_bytes(raw.encode("latin-1"), None)
    try:
        chunks = decode_header(raw)
    except Exception:  # a malformed encoded word: keep the raw text
        return _unfold(raw)
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset) if charset else decode_bytes(chunk, None))
        else:
            out.append(chunk)
    # decode_header keeps the whitespace between a plain and an encoded word on the plain one
    return _unfold("".join(out))


def _unfold(value: str) -> str:
    return re.sub(r"\s*\r?\n\s*", " ", value).strip()


def _msg_ids(value: str) -> tuple[str, ...]:
    found = re.findall(r"<([^<>\s]+)>", value)
    if not found and value.strip():
        found = value.split()
    return tuple(dict.fromkeys(found))


# -- HTML ---------------------------------------------------------------------------------


class _TextOfHtml(HTMLParser):
    _DROP = frozenset({"script", "style", "head", "title", "noscript", "template", "iframe"})
    _BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._DROP:
            self.dropping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._DROP:
            self.dropping = max(0, self.dropping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Readable plain text of an HTML body: scripts, styles and tags gone, entities decoded."""
    parser = _TextOfHtml()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # HTMLParser is lenient; a failure leaves what it had
        pass
    text = html.unescape("".join(parser.parts)).replace("\xa0", " ")
    return clean_text(text)


def clean_text(text: str) -> str:
    """Control characters out, line ends normalized, runs of blank lines squeezed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )
    lines = [ln.rstrip() for ln in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip()


# -- attachment names ---------------------------------------------------------------------

_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """A name that is only a name: no folders, no `..`, no control or reserved characters."""
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = "".join(
        ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp")
    )
    name = re.sub(r'[<>:"|?*]', "_", name).strip().lstrip(".").strip()
    if not name or _WINDOWS_RESERVED.match(name):
        name = fallback + (("_" + name) if name else "")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 110 - len(ext)] + "." + ext[:10]) if dot and len(ext) <= 10 else name[:120]
    return name


def _part_filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name is None:
        return None
    if "=?" in name:  # RFC 2047 inside a parameter (not standard, but what Outlook writes)
        try:
            name = "".join(
                decode_bytes(c, cs) if isinstance(c, bytes) else c for c, cs in decode_header(name)
            )
        except Exception:
            pass
    if any("\udc80" <= ch <= "\udcff" for ch in name):
        name = decode_bytes(name.encode("utf-8", "surrogateescape"), None)
    return name


# -- the walk -----------------------------------------------------------------------------


@dataclass
class _Collected:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    files: list[MailPart] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)
    reports: list[Message] = field(default_factory=list)
    returned: list[Message] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)  # body parts in order, as plain text


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _walk(part: Message, out: _Collected, depth: int = 0) -> None:
    ctype = part.get_content_type()
    maintype = part.get_content_maintype()
    disposition = (part.get_content_disposition() or "").lower()
    filename = _part_filename(part)
    if depth > 20:  # a nesting bomb: stop descending
        return
    if ctype == "message/rfc822" or (ctype == "message/global"):
        inner = part.get_payload()
        inner_msg = inner[0] if isinstance(inner, list) and inner else None
        if isinstance(inner_msg, Message):
            out.returned.append(inner_msg)
            sub = _Collected()
            _walk(inner_msg, sub, depth + 1)
            head = "\n".join(
                f"{label}: {header_text(inner_msg, h)}"
                for h, label in (("From", "From"), ("Date", "Date"), ("Subject", "Subject"))
                if header_text(inner_msg, h)
            )
            body = "\n\n".join(seg for seg in sub.segments if seg)
            out.forwarded.append(f"{head}\n\n{body}".strip())
            out.forwarded.extend(sub.forwarded)
            out.files.extend(sub.files)
            raw = inner_msg.as_bytes(policy=policy.default.clone(linesep="\r\n"))
            out.files.append(
                MailPart(safe_filename(filename or "message.eml"), "message/rfc822", raw)
            )
        return
    if ctype in ("message/delivery-status", "message/global-delivery-status"):
        out.reports.append(part)
        return
    if ctype in ("text/rfc822-headers", "message/rfc822-headers"):
        inner_bytes = _payload_bytes(part)
        out.returned.append(BytesParser(policy=policy.default).parsebytes(inner_bytes))
        return
    if ctype == "multipart/alternative" and isinstance(part.get_payload(), list):
        # One body in several forms: the plain one if any, else the HTML one made plain.
        options: list[_Collected] = []
        for option in part.get_payload():
            if isinstance(option, Message):
                alt = _Collected()
                _walk(option, alt, depth + 1)
                options.append(alt)
                out.files.extend(alt.files)
                out.forwarded.extend(alt.forwarded)
                out.reports.extend(alt.reports)
                out.returned.extend(alt.returned)
        chosen = next((o for o in options if o.plain), None) or next(
            (o for o in options if o.html), None
        )
        if chosen is not None:
            out.plain.extend(chosen.plain)
            out.html.extend(chosen.html)
            out.segments.extend(chosen.segments)
        return
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for child in payload:
                if isinstance(child, Message):
                    _walk(child, out, depth + 1)
        return
    data = _payload_bytes(part)
    is_attachment = disposition == "attachment" or (
        filename is not None and not (maintype == "text" and disposition != "attachment")
    )
    if maintype == "text" and not is_attachment and ctype in ("text/plain", "text/html", ""):
        text = decode_bytes(data, part.get_content_charset())
        (out.html if ctype == "text/html" else out.plain).append(text)
        out.segments.append(html_to_text(text) if ctype == "text/html" else clean_text(text))
        return
    if maintype == "text" and not is_attachment:
        text = decode_bytes(data, part.get_content_charset())
        out.plain.append(text)
        out.segments.append(clean_text(text))
        return
    cid = part.get("Content-ID")
    out.files.append(
        MailPart(
            name=safe_filename(filename, fallback=f"attachment-{len(out.files) + 1}"),
            content_type=ctype,
            data=data,
            inline=disposition == "inline",
            content_id=str(cid).strip().strip("<>") if cid else None,
        )
    )


def _report_fields(report: Message) -> list[dict[str, str]]:
    """The field groups of a message/delivery-status part (per-message, then per-recipient)."""
    payload = report.get_payload()
    blocks: list[str] = []
    if isinstance(payload, list):
        for m in payload:
            if isinstance(m, Message):
                blocks.append("\n".join(f"{k}: {v}" for k, v in m.items()))
    else:
        text = decode_bytes(_payload_bytes(report), None)
        blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    groups = []
    for block in blocks:
        fields: dict[str, str] = {}
        for line in re.split(r"\n(?![ \t])", block):
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = _unfold(value)
        if fields:
            groups.append(fields)
    return groups


_ADDR = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def _bounce_info(msg: Message, text: str, c: _Collected) -> BounceInfo:
    recipients: list[str] = []
    permanent = True
    status = ""
    for report in c.reports:
        for group in _report_fields(report):
            final = group.get("final-recipient") or group.get("original-recipient")
            if final:
                recipients.append(final.split(";", 1)[-1].strip().strip("<>"))
            action = group.get("action", "").lower()
            if action:
                status = group.get("status", status)
                transient = ("delayed", "relayed", "delivered", "expanded")
                if action in transient or status.startswith("4"):
                    permanent = False
    failed = header_text(msg, "X-Failed-Recipients")
    recipients.extend(a for a in re.split(r"[,\s]+", failed) if a)
    if not recipients:
        # Plain-text reports (Gmail, Exim): addresses on their own lines before the original.
        head = re.split(r"-{3,}\s*(original message|this is a copy)", text, flags=re.I)[0]
        recipients.extend(m.strip("<>") for m in _ADDR.findall(head))
    if not c.reports and re.search(r"\b(delayed|will (retry|continue))\b", text, re.I):
        permanent = False
    original = None
    for returned in c.returned:
        ids = _msg_ids(header_text(returned, "Message-ID"))
        if ids:
            original = ids[0]
            break
    if original is None:
        m = re.search(r"^Message-ID:\s*<([^>]+)>", text, re.I | re.M)
        original = m.group(1) if m else None
    own = set(_msg_ids(header_text(msg, "Message-ID")))
    return BounceInfo(
        recipients=tuple(dict.fromkeys(r.lower() for r in recipients if "@" in r)),
        permanent=permanent,
        original_message_id=original if original not in own else None,
        status=status,
    )


def classify(msg: Message, text: str, reports: bool) -> MailKind:
    """Letter, or one of the kinds that never become tickets (bounce first: it may be all)."""
    from_addr = parseaddr(header_text(msg, "From"))[1].lower()
    local = from_addr.partition("@")[0]
    subject = header_text(msg, "Subject")
    return_path = (_raw_header(msg, "Return-Path") or "").strip()
    ctype = msg.get_content_type()
    if ctype == "multipart/report" or reports:
        return MailKind.BOUNCE
    if local in _BOUNCE_SENDERS or header_text(msg, "X-Failed-Recipients"):
        return MailKind.BOUNCE
    if return_path == "<>" and _BOUNCE_SUBJECT.search(subject):
        return MailKind.BOUNCE
    if _BOUNCE_SUBJECT.search(subject) and local in ("", "noreply", "no-reply"):
        return MailKind.BOUNCE
    auto = header_text(msg, "Auto-Submitted").lower()
    precedence = header_text(msg, "Precedence").lower()
    if (auto and auto != "no") or any(
        header_text(msg, h) for h in ("X-Autoreply", "X-Autorespond")
    ):
        return MailKind.AUTO_REPLY
    if precedence == "auto_reply" or _AUTO_SUBJECT.search(subject):
        return MailKind.AUTO_REPLY
    if header_text(msg, "X-Spam-Flag").lower() == "yes" or _SPAM_TEXT.search(subject + "\n" + text):
        return MailKind.SPAM
    if (
        header_text(msg, "List-Id")
        or header_text(msg, "List-Unsubscribe")
        or precedence in ("bulk", "list", "junk")
    ):
        return MailKind.LIST
    if return_path == "<>":
        # A null sender is never a person writing (RFC 5321 §4.5.5): some notification.
        return MailKind.AUTO_REPLY
    return MailKind.LETTER


def _date(msg: Message) -> datetime | None:
    raw = header_text(msg, "Date")
    if not raw:
        return None
    try:
        at = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


def parse_message(raw: bytes) -> ParsedMail:
    """Everything the hotline needs from one raw message; never raises on bad input."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    collected = _Collected()
    _walk(msg, collected)
    text = "\n\n".join(seg for seg in collected.segments if seg)
    html_only = not any(p.strip() for p in collected.plain) and bool(text)
    if collected.forwarded:
        fwd = "\n\n".join(
            "---------- 转发的邮件 / Forwarded message ----------\n" + f
            for f in collected.forwarded
        )
        text = f"{text}\n\n{fwd}".strip()
    ids = _msg_ids(header_text(msg, "Message-ID"))
    # No Message-ID: the bytes themselves identify the message (same bytes, same letter).
    message_id = ids[0] if ids else "sha256-" + hashlib.sha256(raw).hexdigest()[:40] + "@local"
    from_name, from_addr = parseaddr(header_text(msg, "From"))
    to_addrs = tuple(
        a.lower() for _, a in getaddresses([header_text(msg, "To"), header_text(msg, "Cc")]) if a
    )
    kind = classify(msg, text, bool(collected.reports))
    defects = tuple(
        sorted(
            {type(d).__name__ for d in msg.defects}
            | {type(d).__name__ for p in msg.walk() for d in p.defects}
        )
    )
    return ParsedMail(
        message_id=message_id,
        from_name=from_name.strip(),
        from_addr=from_addr.strip().lower(),
        to_addrs=to_addrs,
        subject=header_text(msg, "Subject"),
        date=_date(msg),
        text=text,
        kind=kind,
        attachments=tuple(collected.files),
        in_reply_to=_msg_ids(header_text(msg, "In-Reply-To")),
        references=_msg_ids(header_text(msg, "References")),
        html_only=html_only,
        bounce=_bounce_info(msg, text, collected) if kind is MailKind.BOUNCE else None,
        defects=defects,
    )
