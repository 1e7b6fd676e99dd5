"""Call recordings on the ticket: served from the recordings directory with Range, only to the
roles allowed to hear them, every GET written to the audit log; no way out of the folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from agent_console.recordings import inside, may_hear, recordings_of
from agent_console.web import SERVICES
from hotline.bootstrap import Center
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.privacy import Viewer

SUP = Viewer("sup", Role.SUPERVISOR)
WAV = b"RIFF" + bytes(range(256)) * 40  # 10 KiB and a bit: enough to seek in


async def _call_ticket(center: Center, call_id: str, recording: str) -> str:
    r = await center.tickets.accept(
        InboundContact(
            channel=Channel.PHONE,
            external_id=f"call:{call_id}",
            citizen=CitizenIdentity(phone="13800138000"),
            text="来电 13800138000 拨打 12345",
            received_at=datetime.now(UTC),
            extra={"agent": "agent", "call_id": call_id, "recording": recording},
        )
    )
    return r.ticket_number


def _root(center: Center) -> Path:
    root = center.app[SERVICES].recordings_dir
    assert root is not None
    return root


def _put(center: Center, name: str, data: bytes = WAV) -> None:
    path = _root(center) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def _plays(admin: Any) -> list[dict[str, Any]]:
    rows = await admin.call("GET", "/api/v1/audit")  # newest first
    return [r for r in reversed(rows) if r["action"] == "recording_play"]


async def test_agent_plays_and_seeks_and_each_get_is_audited(center: Center, login: Any) -> None:
    n = await _call_ticket(center, "1763870000.42", "20261123/1763870000.42.wav")
    _put(center, "20261123/1763870000.42.wav")
    agent, sup, admin = await login("agent"), await login("sup"), await login("admin")
    url = f"/tickets/{n}/recordings/1763870000.42"
    page = await (await agent.client.get(f"/tickets/{n}")).text()
    assert f'<audio controls preload="none" src="{url}">' in page
    whole = await agent.client.get(url)
    assert whole.status == 200 and await whole.read() == WAV
    assert whole.headers["Content-Type"] == "audio/wav"
    assert whole.headers["Accept-Ranges"] == "bytes"
    part = await agent.client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status == 206 and await part.read() == WAV[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(WAV)}"
    tail = await sup.client.get(url, headers={"Range": "bytes=-16"})
    assert tail.status == 206 and await tail.read() == WAV[-16:]
    plays = await _plays(admin)
    assert [(p["username"], p["detail"]["range"]) for p in plays] == [
        ("agent", ""),
        ("agent", "bytes=100-199"),
        ("sup", "bytes=-16"),
    ]
    assert {p["detail"]["number"] for p in plays} == {n} and all(p["ticket_id"] for p in plays)


async def test_departments_never_and_police_only_after_a_transfer(
    center: Center, login: Any, anon: TestClient[Any, Any]
) -> None:
    n = await _call_ticket(center, "1763870000.43", "20261123/1763870000.43.wav")
    _put(center, "20261123/1763870000.43.wav")
    url = f"/tickets/{n}/recordings/1763870000.43"
    cg, police, admin = await login("cg"), await login("police"), await login("admin")
    assert (await police.client.get(url)).status == 404  # not theirs to see at all
    assert (await anon.get(url, allow_redirects=False)).status == 302
    assert (await admin.client.get(url)).status == 403
    await center.tickets.act(n, SUP, Action.DISPATCH, payload={"department": "chengguan"})
    assert (await cg.client.get(url)).status == 403  # sees the order, never the call
    page = await (await cg.client.get(f"/tickets/{n}")).text()
    assert "<audio" not in page
    other = await _call_ticket(center, "1763870000.44", "20261123/1763870000.44.wav")
    _put(center, "20261123/1763870000.44.wav")
    await center.tickets.act(other, SUP, Action.TRANSFER_110)
    got = await police.client.get(f"/tickets/{other}/recordings/1763870000.44")
    assert got.status == 200 and await got.read() == WAV
    assert [p["username"] for p in await _plays(admin)] == ["police"]


async def test_no_way_out_of_the_recordings_folder(
    center: Center, login: Any, tmp_path: Path
) -> None:
    secret = _root(center).parent / "secret.wav"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_bytes(b"not for you")
    n = await _call_ticket(center, "1763870000.45", "../secret.wav")  # a poisoned name
    agent, admin = await login("agent"), await login("admin")
    assert (await agent.client.get(f"/tickets/{n}/recordings/1763870000.45")).status == 404
    for bad in ("..%2Fsecret.wav", "..%2F..%2Fsecret.wav", "%2Fetc%2Fpasswd", "nope"):
        assert (await agent.client.get(f"/tickets/{n}/recordings/{bad}")).status == 404, bad
    missing = await _call_ticket(center, "1763870000.46", "20261123/1763870000.46.wav")
    assert (await agent.client.get(f"/tickets/{missing}/recordings/1763870000.46")).status == 404
    assert await _plays(admin) == []  # nothing served, nothing logged as played


def test_who_may_hear_and_where_files_may_be(tmp_path: Path) -> None:
    transferred = {"timeline": [{"action": "transfer_110", "payload": {}, "at": "x"}]}
    assert may_hear(Role.AGENT, {}) and may_hear(Role.SUPERVISOR, {})
    assert not may_hear(Role.DEPARTMENT, transferred) and not may_hear(Role.ADMIN, transferred)
    assert may_hear(Role.POLICE, transferred) and not may_hear(Role.POLICE, {"timeline": []})
    tl = {
        "timeline": [
            {"action": "accept", "at": "a", "payload": {"call_id": "1", "recording": "d/1.wav"}},
            {"action": "add_contact", "at": "b", "payload": {"call_id": "1", "recording": "x"}},
            {
                "action": "add_contact",
                "at": "c",
                "payload": {"call_id": "2", "recording": "d/2.wav"},
            },
        ]
    }
    assert [r["file"] for r in recordings_of(tl)] == ["d/1.wav", "d/2.wav"]
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "1.wav").write_bytes(b"x")
    assert inside(tmp_path, "d/1.wav") == (tmp_path / "d" / "1.wav").resolve()
    assert inside(tmp_path / "d", "../d/1.wav") is not None
    assert inside(tmp_path / "d", "../outside.wav") is None
    assert inside(tmp_path, "/etc/passwd") is None
    assert inside(tmp_path, "d") is None  # a folder is not a recording
