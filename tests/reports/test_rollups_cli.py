"""`hotline figures --rebuild-rollups`: the roll-up is recounted from the tickets, and the
ranking read through it is the one summed from the tickets before."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from agent_console.web import SERVICES
from hotline.bootstrap import build
from hotline.cli import _first_start
from hotline.settings import load_settings
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


async def _serve_once(data: Path) -> tuple[bool, bool]:
    center = build(load_settings(data_dir=data))
    await center.start()
    try:
        figures = center.app[SERVICES].figures
        assert figures is not None
        before = await figures.rollups_built()
        await _first_start(center, demo=False)
        return before, await figures.rollups_built()
    finally:
        await center.stop()


def test_the_first_start_after_the_migration_builds_the_rollups(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run("demo", "--data-dir", str(data), "--count", "20")
    assert asyncio.run(_serve_once(data)) == (False, True)
    assert asyncio.run(_serve_once(data)) == (True, True)
