"""The `hotline` command: configuration, demo city, tickets, users and keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline.cli import main


def run(*args: str, env: dict[str, str] | None = None, ok: bool = True) -> str:
    result = CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
    return result.output


def test_config_show_merges_toml_and_env_and_masks_secrets(tmp_path: Path) -> None:
    toml = tmp_path / "hotline.toml"
    toml.write_text('port = 9000\n[tickets]\nsimple_working_days = 7\n[wechat]\napp_id = "wx123"\n')
    out = run(
        "--config",
        str(toml),
        "config",
        "show",
        env={"HOTLINE_PORT": "9100", "HOTLINE_WECHAT__TOKEN": "s3cret-token"},
    )
    data = json.loads(out)
    assert data["port"] == 9100  # env beats the file
    assert data["tickets"]["simple_working_days"] == 7
    assert data["wechat"]["app_id"] == "wx123"
    assert data["wechat"]["token"] == "****" and "s3cret" not in out
    assert data["effective_database_url"].startswith("sqlite+aiosqlite:///")


def test_database_password_is_masked(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://hotline:pa55word@db.example:5432/hotline"
    out = run("config", "show", env={"HOTLINE_DATABASE_URL": url})
    assert "pa55word" not in out and "hotline:****@db.example:5432/hotline" in out


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"HOTLINE_PORT": "eighty"}, "HOTLINE_PORT"),
        ({"HOTLINE_TIMEZONE": "Mars/Olympus"}, "unknown time zone"),
        ({"HOTLINE_TICKETS__WARN_SHARE": "2"}, "HOTLINE_TICKETS__WARN_SHARE"),
        ({"HOTLINE_DATABASE_URL": "mysql://x"}, "postgresql+asyncpg"),
    ],
)
def test_bad_values_are_refused_clearly(env: dict[str, str], needle: str) -> None:
    out = run("config", "show", env=env, ok=False)
    assert "invalid configuration" in out and needle in out


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    out = run("--config", str(tmp_path / "nope.toml"), "config", "show", ok=False)
    assert "config file not found" in out


def test_demo_then_tickets_list_and_show(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    run("demo", "--data-dir", data, "--count", "24")
    listing = json.loads(run("tickets", "list", "--json", "--data-dir", data, "--limit", "100"))
    assert listing["total"] == 24
    states = {i["state"] for i in listing["items"]}
    assert len(states) >= 5
    number = listing["items"][0]["number"]
    shown = json.loads(run("tickets", "show", number, "--json", "--data-dir", data))
    assert shown["number"] == number and shown["timeline"][0]["action"] == "accept"
    text = run("tickets", "show", number, "--data-dir", data)
    assert number in text and "accept" in text
    out = run("tickets", "show", "20990101-000001", "--data-dir", data, ok=False)
    assert "no ticket 20990101-000001" in out


def test_users_and_api_keys(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    run("demo", "--data-dir", data, "--count", "1")
    out = run(
        "user",
        "add",
        "agent99",
        "--role",
        "agent",
        "--data-dir",
        data,
        env={"HOTLINE_NEW_PASSWORD": "a good long password"},
    )
    assert "created agent99" in out
    out = run(
        "user",
        "add",
        "d1",
        "--role",
        "department",
        "--department",
        "nowhere",
        "--data-dir",
        data,
        env={"HOTLINE_NEW_PASSWORD": "a good long password"},
        ok=False,
    )
    assert "department" in out
    run(
        "user",
        "passwd",
        "agent99",
        "--data-dir",
        data,
        env={"HOTLINE_NEW_PASSWORD": "another long one"},
    )
    key = run("apikey", "add", "sms-gateway", "--data-dir", data).strip()
    assert key.startswith("hk_") and len(key) > 30


TRACES = Path(__file__).parents[1].parent / "shared" / "ami-traces"


def test_ami_replay_prints_the_calls_of_a_capture() -> None:
    trace = TRACES / "real-asterisk-22.10.1__blind-transfer-to-110.ami"
    (line,) = run("ami", "replay", "--json", str(trace)).strip().splitlines()
    call = json.loads(line)
    assert call["caller"] == "13800138003" and call["queue"] == "hotline"
    assert call["answered_by"] == "PJSIP/8001" and call["hangup_cause"] == 16
    assert call["transfers"][0]["kind"] == "blind" and call["transfers"][0]["outcome"] == "ANSWER"
    text = run("ami", "replay", str(TRACES / "goami2__sip_call_answered_newexten.ami"))
    assert "malformed frames skipped" in text
