"""The `hotline` command: serve, demo, config, tickets, users and API keys."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from aiohttp import web

from agent_console.web import SERVICES
from connectors.asterisk.replay import replay_file
from hotline.bootstrap import Center, build
from hotline.demo import load_demo, load_standard_categories
from hotline.runtime import tune_process
from hotline.settings import Settings, SettingsError, load_settings, masked
from reports.text import as_csv, as_table
from reports.views import Period, PeriodError, ranking_view
from tickets.model import Role
from tickets.privacy import Viewer
from tickets.service import TicketError

T = TypeVar("T")
OPERATOR = Viewer("operator", Role.SUPERVISOR)


def _settings(ctx: click.Context, **cli: Any) -> Settings:
    try:
        return load_settings(ctx.obj.get("config"), **cli)
    except SettingsError as e:
        raise click.ClickException(str(e)) from None


def _run(settings: Settings, work: Callable[[Center], Awaitable[T]]) -> T:
    """Run one operator task against the database, then close it."""

    async def main() -> T:
        center = build(settings)
        await center.start()
        try:
            return await work(center)
        finally:
            await center.stop()

    try:
        return asyncio.run(main())
    except TicketError as e:
        raise click.ClickException(str(e)) from None


@click.group()
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="HOTLINE_CONFIG",
    help="TOML settings file (optional; env HOTLINE_CONFIG).",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """Hotline 12345: one number and one inbox for every citizen request."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


_data_dir = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Default ./hotline-data"
)


@main.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 8080).")
@_data_dir
@click.option("--demo", is_flag=True, help="Load the demo city first (if the database is empty).")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, data_dir: Path | None, demo: bool
) -> None:
    """Run the center: web console, API and connectors, on SQLite by default."""
    settings = _settings(ctx, host=host, port=port, data_dir=data_dir)
    asyncio.run(_serve(settings, demo))


async def _serve(settings: Settings, demo: bool) -> None:
    center = build(settings)
    runner = web.AppRunner(center.app, handle_signals=False, access_log=None)
    await runner.setup()  # runs the app's startup: migrations, reference data
    try:
        await _first_start(center, demo)
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        tune_process()
        url = f"http://{settings.host}:{settings.port}/"
        click.echo(
            f"Hotline 12345 is serving on {url}  (database: {_db_label(settings)})", err=False
        )
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def _db_label(settings: Settings) -> str:
    return (
        "PostgreSQL" if settings.database_url else str(settings.data_dir.resolve() / "hotline.db")
    )


async def _first_start(center: Center, demo: bool) -> None:
    await load_standard_categories(center.tickets)
    rows = await center.count_rollups(
        lambda: click.echo("Counting the figure roll-ups from the tickets…")
    )
    if rows is not None:
        click.echo(f"Figure roll-ups ready: {rows} rows")
    if demo and not (await center.tickets.list(OPERATOR, limit=1))[1]:
        click.echo("Loading the demo city (departments, users, 300 tickets)…")
        made = await load_demo(center.tickets, center.accounts)
        click.echo(
            f"Demo loaded: {sum(made.values())} tickets; every demo user's password is hotline12345"
        )
        click.echo("  users: supervisor, agent01, chengguan, eco, chenghua, police110 (and more)")
    if not await center.accounts.has_users():
        password = secrets.token_urlsafe(12)
        await center.accounts.add_user("admin", password, Role.ADMIN, display_name="管理员")
        click.echo(f"First start: created user 'admin' with password {password}")
        click.echo(
            "  add staff: hotline user add NAME --role agent|supervisor|department|police|admin"
        )


@main.command()
@_data_dir
@click.option("--count", default=300, show_default=True, help="How many tickets.")
@click.pass_context
def demo(ctx: click.Context, data_dir: Path | None, count: int) -> None:
    """Load the demo city into the database."""
    settings = _settings(ctx, data_dir=data_dir)

    async def work(c: Center) -> dict[str, int]:
        await load_standard_categories(c.tickets)
        return await load_demo(c.tickets, c.accounts, count=count)

    made = _run(settings, work)
    click.echo(f"Demo loaded: {json.dumps(made, ensure_ascii=False)}; demo password hotline12345")


@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@_data_dir
@click.pass_context
def config_show(ctx: click.Context, data_dir: Path | None) -> None:
    """Print the effective settings (secrets masked)."""
    settings = _settings(ctx.find_root(), data_dir=data_dir)
    click.echo(json.dumps(masked(settings), indent=2, ensure_ascii=False))


@main.group()
def tickets() -> None:
    """Look at tickets from the command line."""


@tickets.command("list")
@_data_dir
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--state", multiple=True, help="Only these states.")
@click.option("--limit", default=50, show_default=True)
@click.pass_context
def tickets_list(
    ctx: click.Context, data_dir: Path | None, as_json: bool, state: tuple[str, ...], limit: int
) -> None:
    """Newest tickets first."""
    settings = _settings(ctx.find_root(), data_dir=data_dir)
    items, total = _run(settings, lambda c: c.tickets.list(OPERATOR, states=state, limit=limit))
    if as_json:
        click.echo(json.dumps({"total": total, "items": items}, ensure_ascii=False, indent=2))
        return
    click.echo(f"{total} tickets")
    for i in items:
        click.echo(f"{i['number']}  {i['state']:<16} {i['channel']:<8} {i['subject'][:40]}")


@tickets.command("show")
@click.argument("number")
@_data_dir
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def tickets_show(ctx: click.Context, number: str, data_dir: Path | None, as_json: bool) -> None:
    """One ticket with its timeline."""
    settings = _settings(ctx.find_root(), data_dir=data_dir)
    t = _run(settings, lambda c: c.tickets.view(number, OPERATOR))
    if as_json:
        click.echo(json.dumps(t, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"{t['number']}  {t['state']}  {t['channel']}  {t['category_name']}  {t['district_name']}"
    )
    click.echo(f"  {t['subject']}")
    if t["lead_department"]:
        click.echo(f"  lead: {t['lead_department_name']}  due: {t['due_at']}")
    for e in t["timeline"]:
        arrow = f"{e['from_state'] or '-'} -> {e['to_state']}"
        click.echo(
            f"  {e['at']}  {e['action']:<18} {arrow:<30} {e['actor']} ({e['role']}) {e['reason']}"
        )


@main.group()
def user() -> None:
    """Manage staff accounts."""


@user.command("add")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(
        [r.value for r in (Role.AGENT, Role.SUPERVISOR, Role.DEPARTMENT, Role.POLICE, Role.ADMIN)]
    ),
    required=True,
)
@click.option("--department", help="Department code (department and police users).")
@click.option("--extension", help="The agent's phone extension (e.g. 8001).")
@click.option("--name", "display_name", default="", help="Display name.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="HOTLINE_NEW_PASSWORD",
)
@_data_dir
@click.pass_context
def user_add(
    ctx: click.Context,
    username: str,
    role: str,
    department: str | None,
    extension: str | None,
    display_name: str,
    password: str,
    data_dir: Path | None,
) -> None:
    """Create an account."""
    settings = _settings(ctx.find_root(), data_dir=data_dir)
    u = _run(
        settings,
        lambda c: c.accounts.add_user(
            username,
            password,
            Role(role),
            department=department,
            display_name=display_name,
            extension=extension,
        ),
    )
    click.echo(f"created {u.username} ({u.role.value})")


@user.command("passwd")
@click.argument("username")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="HOTLINE_NEW_PASSWORD",
)
@_data_dir
@click.pass_context
def user_passwd(ctx: click.Context, username: str, password: str, data_dir: Path | None) -> None:
    """Set a new password."""
    settings = _settings(ctx.find_root(), data_dir=data_dir)
    _run(settings, lambda c: c.accounts.set_password(username, password))
    click.echo(f"password of {username} changed")


@main.command("figures")
@click.option("--from", "start", help="First day, YYYY-MM-DD.")
@click.option("--to", "end", help="Day after the last, YYYY-MM-DD.")
@click.option("--department", help="Only this department's row (its place kept).")
@click.option("--min-follow-ups", default=10, show_default=True, help="Rated orders to rank.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
    show_default=True,
)  # fmt: skip
@click.option(
    "--rebuild-rollups", is_flag=True,
    help="Recount the figure roll-ups from the tickets (after a migration or new limits).",
)  # fmt: skip
@_data_dir
@click.pass_context
def figures(
    ctx: click.Context,
    start: str | None,
    end: str | None,
    department: str | None,
    min_follow_ups: int,
    fmt: str,
    rebuild_rollups: bool,
    data_dir: Path | None,
) -> None:
    """The ranking and figures of a period, as on /reports/ranking."""
    settings = _settings(ctx.find_root(), data_dir=data_dir)
    if rebuild_rollups:

        async def rebuild(c: Center) -> int:
            service = c.app[SERVICES].figures
            assert service is not None
            return await service.rebuild_rollups(c.tickets.clock())

        click.echo(f"figure roll-ups rebuilt: {_run(settings, rebuild)} rows")
        return
    if start is None or end is None:
        raise click.BadParameter("YYYY-MM-DD", param_hint="--from/--to")
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD", param_hint="--from/--to") from None

    async def work(c: Center) -> dict[str, Any]:
        svc = c.app[SERVICES]
        assert svc.figures is not None
        tz = ZoneInfo(c.tickets.timezone)
        period = Period(first, last, tz, c.tickets.clock())
        return await ranking_view(
            svc.figures, c.tickets.tree.name, period, min_follow_ups, department
        )

    try:
        data = _run(settings, work)
    except PeriodError as e:
        raise click.BadParameter(e.detail, param_hint=f"--{e.field.replace('_', '-')}") from None
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(as_csv(data), nl=False)
    else:
        click.echo(as_table(data))


@main.group()
def ami() -> None:
    """Asterisk tools for operators."""


@ami.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per call.")
def ami_replay(file: Path, as_json: bool) -> None:
    """Feed a captured AMI log through the call tracker and print the calls it makes."""
    result = replay_file(file)
    unfinished = [c.record for c in result.state.calls.values()]
    for record, done in [(r, True) for r in result.records] + [(r, False) for r in unfinished]:
        call: dict[str, Any] = {
            "call_id": record.call_id,
            "finished": done,
            "caller": record.caller,
            "dialed": record.dialed,
            "queue": record.queue,
            "wait": record.queue_wait,
            "answered_by": record.agent,
            "ring": record.ring_time,
            "talk": record.talk_time,
            "abandoned": record.abandoned,
            "transfers": [
                {"kind": t.kind, "target": t.target, "outcome": t.outcome, "setup": t.setup_time}
                for t in record.transfers
            ],
            "conference_members": list(record.conference_members),
            "hangup_cause": record.hangup_cause,
            "survey": record.survey,
        }
        if as_json:
            click.echo(json.dumps(call, ensure_ascii=False))
        else:
            moves = ", ".join(f"{t.kind}→{t.target} ({t.outcome})" for t in record.transfers)
            click.echo(
                f"{record.call_id}  from {record.caller or '-'} to {record.dialed or '-'}  "
                f"queue {record.queue or '-'} wait {record.queue_wait}s  "
                f"answered by {record.agent or '-'} talk {record.talk_time}s  "
                f"cause {record.hangup_cause}{'  ' + moves if moves else ''}"
                f"{'' if done else '  (unfinished)'}"
            )
    if not as_json:
        click.echo(
            f"{result.events} events, {len(result.records)} calls finished, "
            f"{len(unfinished)} unfinished, {len(result.errors)} malformed frames skipped"
        )


@main.group()
def apikey() -> None:
    """Keys for other systems (provincial platform, SMS gateway, 110)."""


@apikey.command("add")
@click.argument("name")
@_data_dir
@click.pass_context
def apikey_add(ctx: click.Context, name: str, data_dir: Path | None) -> None:
    """Make a key; it is shown once."""
    settings = _settings(ctx.find_root(), data_dir=data_dir)
    key = _run(settings, lambda c: c.accounts.add_api_key(name))
    click.echo(key)


if __name__ == "__main__":
    main()
