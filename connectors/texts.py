"""What the chat channels say to citizens and departments, rendered from outbox payloads; pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tickets.catalog import t
from tickets.model import RatingLevel

# 好差评 levels as the citizen sees them, 5 = very satisfied (the survey key), and the
# reasons a department may give for returning an order: both from the one catalog.
RATING_LABELS: dict[int, str] = {level.score: t(f"rating.{level.value}") for level in RatingLevel}
RETURN_REASONS: dict[str, str] = {
    code: t(f"return_reason.{code}")
    for code in (
        "not_our_jurisdiction",
        "wrong_district",
        "duplicate",
        "insufficient_information",
        "other",
    )
}


def local_time(value: Any, tz: str = "Asia/Shanghai") -> str:
    """An ISO timestamp (or datetime) as local 'YYYY-MM-DD HH:MM', '' if missing."""
    if not value:
        return ""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if at.tzinfo is not None:
        at = at.astimezone(ZoneInfo(tz))
    return at.strftime("%Y-%m-%d %H:%M")


def citizen_text(kind: str, p: dict[str, Any], tz: str = "Asia/Shanghai") -> str:
    """The plain-text notice of `kind` for a citizen (customer-service message or chat)."""
    n = p.get("ticket_number", "")
    if kind == "accepted":
        return f"您的诉求已受理,工单号 {n}。我们会尽快办理,并在这里告诉您进度。"
    if kind == "dispatched":
        due = local_time(p.get("due_at"), tz)
        dept = p.get("department_name") or "承办单位"
        return f"工单 {n} 已转交{dept}办理" + (f",办理时限 {due}。" if due else "。")
    if kind == "result":
        return f"工单 {n} 已有办理结果:{p.get('result_text') or '已办结'}"
    if kind == "rating_request":
        levels = "\n".join(f"{k} {v}" for k, v in RATING_LABELS.items())
        return f"请为工单 {n} 的办理评价,回复数字:\n{levels}"
    return str(p.get("text") or p.get("message") or "")


def department_text(kind: str, p: dict[str, Any], tz: str = "Asia/Shanghai") -> str:
    """The group notice of `kind` for a department work-order chat."""
    n = p.get("ticket_number", "")
    citizen = p.get("citizen") or {}
    who = " ".join(str(citizen[k]) for k in ("name", "phone") if citizen.get(k)) or "(匿名)"
    if kind == "dispatch_notice":
        lines = [
            f"【新工单】{n}",
            f"类别:{p.get('category_name') or '-'}",
            f"事项:{p.get('subject') or '-'}",
            f"诉求人:{who}",
            f"签收时限:{local_time(p.get('sign_due_at'), tz) or '-'}",
            f"办理时限:{local_time(p.get('due_at'), tz) or '-'}",
        ]
        return "\n".join(lines)
    if kind == "overdue_warning":
        what = "签收" if p.get("deadline") == "sign" else "办理"
        return (
            f"【预警】工单 {n} 的{what}时限 {local_time(p.get('due_at'), tz)} 即将到期,请尽快处理。"
        )
    if kind == "briefing":
        return str(p.get("text") or "")
    return str(p.get("text") or "")


def progress_text(lines: list[Any], tz: str = "Asia/Shanghai") -> str:
    """The citizen's own tickets and where they stand (ProgressLine items)."""
    if not lines:
        return t("progress.none")
    rows = [
        f"{x.number} {t(f'state.{x.state}')}"
        + (f"({t('progress.due')} {local_time(x.due_at, tz)[:10]})" if x.due_at else "")
        + (f"\n  {x.subject}" if x.subject else "")
        for x in lines
    ]
    return t("progress.head") + "\n" + "\n".join(rows)
