"""SMTP replies: the mailbox channel's outbox messages rendered as e-mails and sent (aiosmtplib)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import aiosmtplib

from tickets.model import OutboundMessage, SendError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpConfig:
    """The relay the center sends through and who the mail is from."""

    host: str
    from_addr: str
    from_name: str = "12345 市长信箱"
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    start_tls: bool | None = None  # None: use STARTTLS when the server offers it
    timeout: float = 30.0
    site_url: str = ""  # where /mailbox/progress lives, for the link in mails


_REASONS = {
    "type": ("文件类型不在允许范围内", "file type not allowed"),
    "size": ("单个文件过大", "file too large"),
    "count": ("附件数量超过上限", "too many files"),
    "total": ("附件总大小超过上限", "files too large in total"),
    "message_too_large": ("邮件过大,未收取", "message too large, not fetched"),
}


def _line(label_zh: str, label_en: str, value: Any) -> str:
    return f"{label_zh} / {label_en}: {value}" if value else ""


def render(message: OutboundMessage, config: SmtpConfig) -> tuple[str, str]:
    """(subject, body) of a notice kind, Chinese first then English."""
    p = message.payload
    number = p.get("ticket_number", "")
    subject_of_letter = p.get("subject") or ""
    code = p.get("query_code") or ""
    progress = (
        f"{config.site_url.rstrip('/')}/mailbox/progress?number={number}" if config.site_url else ""
    )
    common = [
        _line("工单编号", "Ticket", number),
        _line("查询码", "Query code", code),
        _line("来信主题", "Your subject", subject_of_letter),
    ]
    kind = message.kind
    if kind == "briefing":  # the leaders' briefing: rendered whole by its producer
        return str(p.get("subject") or "12345"), str(p.get("text") or "")
    if kind == "accepted":
        title = ("您的来信已受理", "Your letter has been received")
        zh = "您的来信已受理,我们将在规定时限内交由承办单位办理并答复您。"
        en = "Your letter has been received; it will be passed to the responsible office."
        extra = [_line("进度查询", "Progress", progress)]
    elif kind == "dispatched":
        title = ("您的来信已交办", "Your letter has been dispatched")
        zh = f"您的来信已交由{p.get('department_name') or '承办单位'}办理。"
        en = f"Your letter has been dispatched to {p.get('department_name') or 'the office'}."
        extra = [_line("办理时限", "Due", (p.get("due_at") or "")[:10])]
    elif kind == "result":
        title = ("您的来信已办理", "Your letter has been answered")
        zh = "您的来信已办理,答复如下:"
        en = "Your letter has been answered:"
        extra = ["", str(p.get("result_text") or "")]
    elif kind == "rating_request":
        title = ("请评价办理结果", "Please rate how we handled it")
        zh = (
            "请对本次办理结果评价:非常满意、满意、基本满意、不满意、非常不满意。"
            "可直接回复本邮件写明评价,或等候 12345 回访。"
        )
        en = (
            "Please rate the result: very satisfied, satisfied, basically satisfied, "
            "dissatisfied or very dissatisfied; reply to this e-mail or wait for our call."
        )
        extra = []
    elif kind == "attachment_rejected":
        title = ("部分附件未能接收", "Some attachments were not accepted")
        zh = "您的来信已受理,但以下附件未能接收,如需补充请通过网页信箱上传:"
        en = "Your letter was received, but these files were not accepted:"
        extra = [
            f"- {r.get('name')} ({r.get('size')} B): "
            f"{' / '.join(_REASONS.get(str(r.get('reason')), (str(r.get('reason')),) * 2))}"
            for r in p.get("rejected", [])
        ]
    else:  # "text" and anything new: the payload's own text
        title = ("12345 来信答复", "12345 reply")
        zh = str(p.get("text") or "")
        en = ""
        extra = []
    subject = f"[12345 {number}] {title[0]} / {title[1]}" if number else f"[12345] {title[0]}"
    body = "\n".join(
        [zh, en, ""]
        + [x for x in common if x]
        + [x for x in extra if x is not None]
        + [
            "",
            "——",
            "12345 政务服务便民热线 · 市长信箱(本邮件由系统发送,回复将记入您的工单)",
            "12345 Government Service Hotline · Mayor's mailbox (replies are added to your ticket)",
        ]
    )
    return subject, body


def build_email(message: OutboundMessage, config: SmtpConfig, now: datetime) -> EmailMessage:
    """The e-mail for one outbox message: UTF-8, threading headers, marked as automatic."""
    subject, body = render(message, config)
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = Address(config.from_name, addr_spec=config.from_addr)
    mail["To"] = message.recipient
    mail["Subject"] = subject
    mail["Date"] = format_datetime(now.astimezone(UTC))
    message_id = message.payload.get("message_id")
    if message_id:
        mail["Message-ID"] = f"<{message_id}>"
    in_reply_to = message.payload.get("in_reply_to")
    if in_reply_to:
        mail["In-Reply-To"] = f"<{in_reply_to}>"
    refs = [r for r in message.payload.get("references", []) if r]
    if refs:
        mail["References"] = " ".join(f"<{r}>" for r in refs)
    # RFC 3834: an automatic reply; auto-responders must not answer it (no mail loops).
    mail["Auto-Submitted"] = "auto-generated" if message.kind == "briefing" else "auto-replied"
    mail["X-Hotline-Ticket"] = str(message.payload.get("ticket_number", ""))
    mail.set_content(body, charset="utf-8", cte="base64")
    html = message.payload.get("html")
    if html:  # the plain text stays first: readers without HTML show it
        mail.add_alternative(str(html), subtype="html", charset="utf-8", cte="base64")
    return mail


class SmtpSender:
    """The outbox's sender for channel ``mailbox`` (a `tickets.outbox.Sender`)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def __call__(self, message: OutboundMessage) -> dict[str, Any]:
        """Send one message; SendError(permanent=...) says whether a retry can help."""
        cfg = self.config
        mail = build_email(message, cfg, datetime.now(UTC))
        try:
            errors, response = await aiosmtplib.send(
                mail,
                hostname=cfg.host,
                port=cfg.port,
                username=cfg.user or None,
                password=cfg.password or None,
                use_tls=cfg.use_tls,
                start_tls=cfg.start_tls,
                timeout=cfg.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as e:
            codes = [r.code for r in e.recipients]
            raise SendError(
                f"recipient refused: {e}", permanent=all(c >= 500 for c in codes)
            ) from e
        except aiosmtplib.SMTPResponseException as e:
            raise SendError(f"SMTP {e.code}: {e.message}", permanent=e.code >= 500) from e
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
            raise SendError(f"SMTP unavailable: {e}") from e
        return {"message_id": str(mail["Message-ID"] or "").strip("<>"), "response": response}
