"""The ranking and a drill-down list as XLSX workbooks (statistics offices work in Excel);
the cells hold the same numbers as the page and the JSON, headers from the catalog."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from tickets.catalog import t

RANK_COLUMNS = (
    "place", "name", "class_code", "score", "index", "response", "on_time", "feedback",
    "satisfaction", "follow_ups", "excluded", "tickets", "cycle_days", "returns", "hops",
    "extensions",
)  # fmt: skip
DRILL_COLUMNS = (
    "number", "department_name", "channel", "created_at", "first_response_at", "due_at",
    "result_at", "informed_at", "rating", "rating_excluded", "cycle_days", "returned_by",
    "hops", "extensions",
)  # fmt: skip
BOLD = Font(bold=True)
RED = PatternFill("solid", fgColor="FDE2E1")


def _header(ws: Worksheet, keys: tuple[str, ...], locale: str) -> None:
    ws.append([t(f"fig.col.{k}", locale) for k in keys])
    for cell in ws[1]:
        cell.font = BOLD
    ws.freeze_panes = "A2"


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return value


def _save(wb: Workbook) -> bytes:
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def ranking_xlsx(data: dict[str, Any], locale: str = "zh") -> bytes:
    """Sheet 1: the overall ranking (bottom three and vetoed shaded, adjustments with their
    reasons); sheet 2: adjustments; sheet 3: districts' reply cycles; sheet 4: calls."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = t("fig.sheet.ranking", locale)
    _header(ws, (*RANK_COLUMNS, "adjustments"), locale)
    for row in [*data["ranked"], *data["too_few"]]:
        notes = "; ".join(
            f"{t('fig.adj.' + a['kind'], locale)} {a['points']:g} {a['reason']}"
            for a in row["adjustments"]
        )
        if row["vetoed"]:
            notes = t("fig.veto", locale) + ("; " + notes if notes else "")
        ws.append([_cell(row[k]) for k in RANK_COLUMNS] + [notes])
        if row["department"] in data["bottom"]:
            for cell in ws[ws.max_row]:
                cell.fill = RED
    adj = wb.create_sheet(t("fig.sheet.adjustments", locale))
    adj.append(
        [t(f"fig.col.{k}", locale) for k in ("name", "kind", "points", "reason", "day", "by")]
    )
    for row in [*data["ranked"], *data["too_few"]]:
        for a in row["adjustments"]:
            adj.append(
                [
                    row["name"],
                    t("fig.adj." + a["kind"], locale),
                    a["points"],
                    a["reason"],
                    a["day"],
                    a["recorded_by"],
                ]
            )
    districts = wb.create_sheet(t("fig.sheet.districts", locale))
    _header(
        districts, ("name", "tickets", "cycle_days", "cycle_n", "on_time", "satisfaction"), locale
    )
    for row in data["districts"]:
        districts.append(
            [
                row[k]
                for k in ("name", "tickets", "cycle_days", "cycle_n", "on_time", "satisfaction")
            ]
        )
    calls = wb.create_sheet(t("fig.sheet.calls", locale))
    for key, value in data["calls"].items():
        if key != "service_level_counts":
            calls.append([t(f"fig.calls.{key}", locale), value])
    return _save(wb)


def drill_xlsx(data: dict[str, Any], locale: str = "zh") -> bytes:
    """The tickets behind one number, one row each, then their timeline entries."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = t("fig.sheet.tickets", locale)
    _header(ws, DRILL_COLUMNS, locale)
    for row in data["tickets"]:
        ws.append([_cell(row[k]) for k in DRILL_COLUMNS])
    tl = wb.create_sheet(t("fig.sheet.timeline", locale))
    tl.append([t(f"fig.col.{k}", locale) for k in ("number", "at", "action", "actor", "reason")])
    for row in data["tickets"]:
        for e in row["timeline"]:
            tl.append([row["number"], e["at"], e["action"], e["actor"], e["reason"]])
    return _save(wb)
