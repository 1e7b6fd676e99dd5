"""Call recordings on the ticket page: who may hear them, and the file served with Range.

A call's recording is named on its ticket's timeline (the accept entry carries `call_id` and
`recording`, `<day>/<call id>.wav` as MixMonitor writes it). The file is served only from the
recordings directory, only to the roles allowed to hear it, and every GET of it is written to
the audit log (who, which ticket, which call, which byte range) before a byte is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from agent_console.web import ApiError, locale_of, services, signed_in
from tickets.model import Role

routes = web.RouteTableDef()

# Call-floor staff hear the calls they handle or supervise. Departments never do (they get the
# order, masked); 110 only when the call was handed to them (transfer_110 on the timeline).
# Administrators run the system and have no case to hear.
HEARING_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})


def may_hear(role: Role | str, ticket: dict[str, Any]) -> bool:
    """Whether `role` may play the recordings of `ticket` (as the ticket view renders it)."""
    role = Role(role)
    if role in HEARING_ROLES:
        return True
    if role is Role.POLICE:
        return any(e["action"] == "transfer_110" for e in ticket.get("timeline", ()))
    return False


def recordings_of(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    """The ticket's call recordings, oldest first, one per call."""
    seen: dict[str, dict[str, Any]] = {}
    for e in ticket.get("timeline", ()):
        payload = e.get("payload") or {}
        call_id, name = payload.get("call_id"), payload.get("recording")
        if isinstance(call_id, str) and isinstance(name, str) and call_id not in seen:
            seen[call_id] = {"call_id": call_id, "file": name, "at": e["at"]}
    return list(seen.values())


def playable(ticket: dict[str, Any], role: Role | str) -> list[dict[str, Any]]:
    """What the ticket page shows a player for (nothing for roles that may not hear)."""
    return recordings_of(ticket) if may_hear(role, ticket) else []


def inside(root: Path, name: str) -> Path | None:
    """The file `name` under `root`, or None if it is missing or would leave `root`."""
    base = root.resolve()
    try:
        path = (base / name).resolve()
    except (OSError, ValueError):
        return None
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


@routes.get("/tickets/{number}/recordings/{call_id}")
async def recording(request: web.Request) -> web.StreamResponse:
    """One call's recording: 404 unless on this ticket and on disk, 403 for other roles."""
    locale = locale_of(request)
    _, viewer = await signed_in(request)
    svc = services(request)
    number, call_id = request.match_info["number"], request.match_info["call_id"]
    ticket = await svc.tickets.view(number, viewer, locale=locale)  # 404 if not theirs
    if not may_hear(viewer.role, ticket):
        raise ApiError(403, "forbidden", locale)
    found = next((r for r in recordings_of(ticket) if r["call_id"] == call_id), None)
    root = svc.recordings_dir
    path = inside(root, found["file"]) if found and root else None
    if path is None:
        raise ApiError(404, "not_found", locale)
    async with svc.store.read() as tx:
        row = await tx.ticket(number=number)
    await svc.accounts.audit(
        viewer,
        "recording_play",
        ticket_id=row["id"] if row else None,
        detail={
            "number": number,
            "call_id": call_id,
            "file": found["file"] if found else "",
            "range": request.headers.get("Range", ""),
        },
    )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "audio/wav",
            "Cache-Control": "private, no-store",
            "Content-Disposition": "inline",
        },
    )


def install(app: web.Application) -> None:
    """Routes, and the page helper the ticket template uses to list the players."""
    app.add_routes(routes)
    aiohttp_jinja2.get_env(app).globals["ticket_recordings"] = playable
