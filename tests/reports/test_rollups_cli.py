"""`hotline figures --rebuild-rollups`: the roll-up is recounted from the tickets, and the
ranking read through it is the one summed from the tickets before."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from reports.views import quarter_of
from tests.test_cli import run


def test_rebuilt_rollups_give_the_same_ranking(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    run("demo", "--data-dir", data, "--count", "80")
    start, end = (d.isoformat() for d in quarter_of(datetime.now(UTC).date()))
    args = ("figures", "--from", start, "--to", end, "--format", "json", "--data-dir", data)
    summed = json.loads(run(*args, "--min-follow-ups", "2"))
    out = run("figures", "--rebuild-rollups", "--data-dir", data)
    assert out.startswith("figure roll-ups rebuilt:") and int(out.split()[-2]) > 0
    rolled = json.loads(run(*args, "--min-follow-ups", "2"))
    assert summed["center"]["tickets"] > 0
    assert {k: v for k, v in summed.items() if k != "at"} == {
        k: v for k, v in rolled.items() if k != "at"
    }
    out = run("figures", "--data-dir", data, ok=False)
    assert "YYYY-MM-DD" in out
