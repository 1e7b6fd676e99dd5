"""The ranking as plain text and CSV for the command line; the same rows and numbers as
the page (one `ranking_view` dict), nothing recomputed."""

from __future__ import annotations

import csv
import io
from typing import Any

from tickets.catalog import t

COLUMNS = (
    "place", "department", "name", "class_code", "score", "index", "response", "on_time",
    "feedback", "satisfaction", "follow_ups", "excluded", "tickets", "cycle_days", "returns",
    "hops", "extensions", "vetoed", "bottom",
)  # fmt: skip


def _rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    bottom = set(data["bottom"])
    return [
        {**{k: r.get(k) for k in COLUMNS}, "bottom": r["department"] in bottom}
        for r in [*data["ranked"], *data["too_few"]]
    ]


def as_csv(data: dict[str, Any]) -> str:
    """One line per department (ranked first, then those with too few follow-ups)."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in _rows(data):
        w.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def _num(v: Any, fmt: str = "{:.1f}") -> str:
    return "—" if v is None else fmt.format(v)


def as_table(data: dict[str, Any], locale: str = "zh") -> str:
    """An aligned table with the center's, districts' and calls' figures under it."""
    lines = [f"{t('rank.title', locale)}  {data['start']} — {data['end']}"]
    head = ("#", "department", "score", "index", "resp%", "ontime%", "fb%", "sat%", "rated",
            "tickets", "cycle_d", "returns", "hops", "ext")  # fmt: skip
    lines.append("  ".join(f"{h:>8}" for h in head))
    for r in _rows(data):
        flag = " *" if r["bottom"] else ""
        flag += " VETO" if r["vetoed"] else ""
        cells = (
            str(r["place"] or "-"), str(r["department"]), _num(r["score"], "{:.2f}"),
            _num(r["index"], "{:.2f}"), _num(r["response"]), _num(r["on_time"]),
            _num(r["feedback"]), _num(r["satisfaction"]), str(r["follow_ups"]),
            str(r["tickets"]), _num(r["cycle_days"], "{:.2f}"), str(r["returns"]),
            str(r["hops"]), str(r["extensions"]),
        )  # fmt: skip
        lines.append("  ".join(f"{c:>8}" for c in cells) + flag)
    c = data["center"]
    lines.append("")
    lines.append(
        f"{t('fig.center', locale)}: tickets {c['tickets']}, response {_num(c['response'])}%, "
        f"on time {_num(c['on_time'])}%, feedback {_num(c['feedback'])}%, "
        f"satisfaction {_num(c['satisfaction'])}%, cycle {_num(c['cycle_days'], '{:.2f}')} d"
    )
    for d in data["districts"]:
        lines.append(f"  {d['department']}: cycle {_num(d['cycle_days'], '{:.2f}')} d")
    calls = data["calls"]
    lines.append(
        f"{t('fig.calls', locale)}: " + ", ".join(f"{k} {v}" for k, v in calls.items()
                                                  if k != "service_level_counts")
    )  # fmt: skip
    return "\n".join(lines)
