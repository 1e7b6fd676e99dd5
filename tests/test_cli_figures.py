"""`hotline figures` prints the numbers the ranking API gives, as JSON, CSV and a table."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from hotline.bootstrap import build
from hotline.settings import load_settings
from reports.views import quarter_of
from tests.test_cli import run


async def _api(data: Path, query: str) -> dict[str, Any]:
    center = build(load_settings(data_dir=data))
    await center.start()
    client: TestClient[Any, Any] = TestClient(TestServer(center.app))
    await client.start_server()
    try:
        resp = await client.post(
            "/api/v1/session", json={"username": "supervisor", "password": "hotline12345"}
        )
        assert resp.status == 200, await resp.text()
        resp = await client.get("/api/v1/reports/ranking?" + query)
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())
    finally:
        await client.close()
        await center.stop()


def _without_instant(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "at"}


def test_cli_prints_what_the_api_answers(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    run("demo", "--data-dir", data, "--count", "120")
    start, end = (d.isoformat() for d in quarter_of(datetime.now(UTC).date()))
    args = ("figures", "--from", start, "--to", end, "--min-follow-ups", "2", "--data-dir", data)
    cli = json.loads(run(*args, "--format", "json"))
    api = asyncio.run(_api(Path(data), f"start={start}&end={end}&min_follow_ups=2"))
    assert cli["ranked"] and cli["center"]["tickets"] > 0
    assert _without_instant(cli) == _without_instant(api)
    rows = list(csv.DictReader(io.StringIO(run(*args, "--format", "csv"))))
    assert [r["department"] for r in rows] == [
        r["department"] for r in [*api["ranked"], *api["too_few"]]
    ]
    first = api["ranked"][0]
    assert float(rows[0]["score"]) == first["score"] and int(rows[0]["tickets"]) == first["tickets"]
    table = run(*args)
    assert first["department"] in table and f"{first['score']:.2f}" in table
    one = json.loads(run(*args, "--format", "json", "--department", first["department"]))
    assert [r["department"] for r in one["ranked"]] == [first["department"]]
    assert one["ranked"][0]["place"] == 1
    out = run(*args[:-2], "--department", "nope", "--data-dir", data, ok=False)
    assert "no such department" in out
    out = run("figures", "--from", "2026-13-01", "--to", end, "--data-dir", data, ok=False)
    assert "YYYY-MM-DD" in out
    out = run("figures", "--from", end, "--to", start, "--data-dir", data, ok=False)
    assert "after start" in out


def test_the_counting_rules_come_from_the_settings(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    run("demo", "--data-dir", data, "--count", "60")
    start, end = (d.isoformat() for d in quarter_of(datetime.now(UTC).date()))
    args = ("figures", "--from", start, "--to", end, "--format", "json", "--data-dir", data)
    default = json.loads(run(*args))["center"]
    strict = json.loads(
        run(
            *args,
            env={
                "HOTLINE_FIGURES__SATISFIED": '["very_satisfied"]',
                "HOTLINE_FIGURES__WEIGHTS": '{"satisfaction": 1}',
            },
        )  # fmt: skip
    )["center"]
    n, d = strict["counts"]["satisfaction"]
    assert d == default["counts"]["satisfaction"][1] and n < default["counts"]["satisfaction"][0]
    assert strict["index"] == round(100 * n / d, 2)
    out = run(*args, env={"HOTLINE_FIGURES__WEIGHTS": '{"satisfaction": 0.5}'}, ok=False)
    assert "figures.weights" in out and "add up to 1" in out
