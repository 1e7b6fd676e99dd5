"""The department portal over a real server: inbox per unit, sign, return, extension, result
with attachments, unmask; bad input named by field; no unit sees or acts on another's orders."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from hotline.bootstrap import Center
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, Role
from tickets.privacy import Viewer

SUP = Viewer("sup", Role.SUPERVISOR)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 200
PDF = b"%PDF-1.7\n" + b"x" * 300


async def _order(center: Center, department: str, phone: str, text: str = "占道经营") -> str:
    r = await center.tickets.accept(
        InboundContact(
            channel=Channel.PHONE,
            external_id=f"portal-{phone}-{department}",
            citizen=CitizenIdentity(name="王芳", phone=phone),
            text=text,
            received_at=datetime.now(UTC),
            category="complaint.street_vendor",
            district="jinniu",
        )
    )
    await center.tickets.act(
        r.ticket_number, SUP, Action.DISPATCH, payload={"department": department}
    )
    return r.ticket_number


async def _form(api: Any, path: str, result: str, files: list[tuple[str, bytes]]) -> Any:
    form = aiohttp.FormData()
    form.add_field("result", result)
    for name, data in files:
        form.add_field(
            "files", io.BytesIO(data), filename=name, content_type="application/octet-stream"
        )
    return await api.client.post(path, data=form, headers={"X-CSRF-Token": api.csrf})


async def test_inbox_holds_only_the_units_own_orders(center: Center, login: Any) -> None:
    a = await _order(center, "chengguan", "13800138001")
    sub = await _order(center, "chengguan.jinniu", "13800138002")
    other = await _order(center, "eco", "13800138003")
    cg, jinniu, eco = await login("cg"), await login("cg_jinniu"), await login("eco")
    page = await (await cg.client.get("/portal")).text()
    assert a in page and sub in page and other not in page  # its sub-unit's too, never eco's
    assert "138****8001" in page and "13800138001" not in page  # the citizen masked
    assert 'data-deadline="' in page
    english = await (await cg.client.get("/portal?lang=en")).text()
    shown = re.sub(r"<script.*?</script>", "", english, flags=re.S)  # the texts for the script
    assert "To sign" in shown and "Sign within" in shown and "portal." not in shown
    page = await (await jinniu.client.get("/portal")).text()
    assert sub in page and a not in page and other not in page
    page = await (await eco.client.get("/portal")).text()
    assert other in page and a not in page
    for name in ("agent", "sup", "police", "admin"):
        resp = await (await login(name)).client.get("/portal")
        assert resp.status == 403, name


async def test_sign_moves_the_order_and_other_units_cannot(center: Center, login: Any) -> None:
    n = await _order(center, "chengguan", "13800138011")
    cg, eco, agent = await login("cg"), await login("eco"), await login("agent")
    err = await eco.call("POST", f"/api/v1/portal/orders/{n}/sign", {}, status=404)
    assert err["error"]["code"] == "ticket_not_found"
    await agent.call("POST", f"/api/v1/portal/orders/{n}/sign", {}, status=403)
    resp = await cg.client.post(f"/api/v1/portal/orders/{n}/sign")  # no CSRF header
    assert resp.status == 403
    t = await cg.call("POST", f"/api/v1/portal/orders/{n}/sign", {})
    assert t["state"] == "handling"
    page = await (await cg.client.get("/portal?tab=handling")).text()
    assert n in page and 'class="active"' in page
    again = await cg.call("POST", f"/api/v1/portal/orders/{n}/sign", {}, status=409)
    assert again["error"]["code"] == "invalid_transition"


async def test_return_needs_a_reason(center: Center, login: Any) -> None:
    n = await _order(center, "chengguan", "13800138021")
    cg = await login("cg")
    path = f"/api/v1/portal/orders/{n}/return"
    for body in ({}, {"reason": "   "}, {"reason": 5}):
        err = await cg.call("POST", path, body, status=400)
        assert err["error"]["field"] == "reason"
    err = await cg.call("POST", path, {"reason": "不属本单位", "reason_code": "nope"}, status=400)
    assert err["error"]["field"] == "reason_code"
    assert (await center.tickets.view(n, SUP))["state"] == "dispatched"  # nothing changed
    t = await cg.call(
        "POST", path, {"reason": "属于住建部门职责", "reason_code": "not_our_jurisdiction"}
    )
    assert t["state"] == "returned"
    assert t["timeline"][-1]["reason"] == "属于住建部门职责"
    page = await (await cg.client.get("/portal?tab=returned")).text()
    assert n in page and "属于住建部门职责" in page


async def test_extension_request_and_the_supervisors_decision(center: Center, login: Any) -> None:
    n = await _order(center, "chengguan", "13800138031")
    cg, sup = await login("cg"), await login("sup")
    await cg.call("POST", f"/api/v1/portal/orders/{n}/sign", {})
    path = f"/api/v1/portal/orders/{n}/extension"
    for body, field in (
        ({"days": 3}, "reason"),
        ({"reason": "需协调三个部门", "days": 0}, "days"),
        ({"reason": "需协调三个部门", "days": 61}, "days"),
        ({"reason": "需协调三个部门", "days": "many"}, "days"),
        ({"reason": "需协调三个部门", "days": True}, "days"),
    ):
        err = await cg.call("POST", path, body, status=400)
        assert err["error"]["field"] == field, body
    before = (await center.tickets.view(n, SUP))["due_at"]
    t = await cg.call("POST", path, {"reason": "需协调三个部门", "days": "3"})
    assert t["extension_pending_days"] == 3
    twice = await cg.call("POST", path, {"reason": "再延", "days": 2}, status=409)
    assert twice["error"]["code"] == "precondition_failed"
    page = await (await cg.client.get("/portal?tab=handling")).text()
    assert "已申请延期 3 个工作日" in page
    board = await sup.call("GET", "/api/v1/supervision")
    assert [i["number"] for i in board["awaiting"] if i["kind"] == "extension"] == [n]
    await sup.call("POST", f"/api/v1/supervision/{n}/extension", {"decision": "maybe"}, status=400)
    err = await sup.call("POST", f"/api/v1/supervision/{n}/extension", {"decision": "deny"}, 400)
    assert err["error"]["field"] == "reason"
    t = await sup.call("POST", f"/api/v1/supervision/{n}/extension", {"decision": "approve"})
    assert t["extension_pending_days"] is None and t["due_at"] > before


async def test_result_with_attachments_served_only_to_who_may_see(
    center: Center, login: Any, anon: TestClient[Any, Any]
) -> None:
    n = await _order(center, "chengguan", "13800138041")
    cg, eco, agent = await login("cg"), await login("eco"), await login("agent")
    await cg.call("POST", f"/api/v1/portal/orders/{n}/sign", {})
    path = f"/api/v1/portal/orders/{n}/result"
    resp = await _form(cg, path, "  ", [("site.png", PNG)])
    assert resp.status == 400 and (await resp.json())["error"]["field"] == "result"
    for name, data in (("run.exe", b"MZ" + b"\0" * 50), ("fake.png", b"MZ" + b"\0" * 50)):
        resp = await _form(cg, path, "已清理", [(name, data)])
        body = await resp.json()
        assert resp.status == 400 and body["error"]["field"] == "files", name
    resp = await _form(cg, path, "已清理", [("big.pdf", b"%PDF-" + b"\0" * (10 * 1024 * 1024))])
    assert resp.status == 413 and (await resp.json())["error"]["code"] == "too_large"
    assert (await center.tickets.view(n, SUP))["state"] == "handling"  # nothing kept
    resp = await _form(eco, path, "已清理", [("site.png", PNG)])
    assert resp.status == 404
    resp = await _form(cg, path, "摊贩已劝离,设置隔离栏", [("现场.png", PNG), ("回复函.pdf", PDF)])
    assert resp.status == 200, await resp.text()
    t = await resp.json()
    assert t["state"] == "result_submitted" and t["result_text"] == "摊贩已劝离,设置隔离栏"
    files = t["timeline"][-1]["payload"]["attachments"]
    assert [f["name"] for f in files] == ["现场.png", "回复函.pdf"]
    digest = hashlib.sha256(PNG).hexdigest()
    assert files[0]["ref"] == "sha256:" + digest
    url = f"/tickets/{n}/files/{digest}"
    for api in (cg, agent):
        got = await api.client.get(url)
        assert got.status == 200 and await got.read() == PNG
        assert got.headers["Content-Type"] == "image/png"
    assert (await eco.client.get(url)).status == 404
    assert (await anon.get(url, allow_redirects=False)).status == 302  # to the sign-in page
    assert (await cg.client.get(f"/tickets/{n}/files/{'0' * 64}")).status == 404
    assert (await cg.client.get(f"/tickets/{n}/files/..%2F..%2Fetc")).status == 404
    page = await (await cg.client.get("/portal?tab=done")).text()
    assert n in page and "现场.png" in page and url in page
    ticket_page = await (await agent.client.get(f"/tickets/{n}")).text()
    assert url in ticket_page


async def test_unmask_with_a_reason_is_audited(center: Center, login: Any) -> None:
    n = await _order(center, "chengguan", "13800138051")
    cg, eco, admin = await login("cg"), await login("eco"), await login("admin")
    path = f"/api/v1/portal/orders/{n}/unmask"
    err = await cg.call("POST", path, {"reason": "看"}, status=400)
    assert err["error"]["field"] == "reason"
    await eco.call("POST", path, {"reason": "需要回电核实"}, status=404)
    got = await cg.call("POST", path, {"reason": "需要回电核实地址"})
    assert got["citizen"]["phone"] == "13800138051"
    log = await admin.call("GET", "/api/v1/audit")
    rows = [r for r in log if r["action"] == "unmask"]
    assert [(r["username"], r["reason"]) for r in rows] == [("cg", "需要回电核实地址")]


async def test_pass_on_to_a_sub_unit(center: Center, login: Any) -> None:
    n = await _order(center, "chengguan", "13800138061")
    cg, jinniu, eco = await login("cg"), await login("cg_jinniu"), await login("eco")
    await cg.call("POST", f"/api/v1/portal/orders/{n}/sign", {})
    page = await (await cg.client.get("/portal?tab=handling")).text()
    assert 'data-act="pass_on"' in page and 'value="chengguan.jinniu"' in page
    path = f"/api/v1/portal/orders/{n}/pass_on"
    await eco.call("POST", path, {"department": "eco"}, status=404)
    for bad in ({}, {"department": "nowhere"}, {"department": "eco"}):
        err = await cg.call("POST", path, bad, status=400)
        assert err["error"]["field"] == "department", bad
    t = await cg.call("POST", path, {"department": "chengguan.jinniu"})
    assert t["state"] == "dispatched" and t["lead_department"] == "chengguan.jinniu"
    assert n in await (await jinniu.client.get("/portal")).text()
    assert (await jinniu.call("POST", f"/api/v1/portal/orders/{n}/sign", {}))["state"] == "handling"
    up = await jinniu.call("POST", path, {"department": "chengguan"}, status=400)
    assert up["error"]["field"] == "department"  # only downwards
    page = await (await jinniu.client.get("/portal?tab=handling")).text()
    assert 'value="chengguan.jinniu.fuqin"' in page and 'value="chengguan"' not in page
    t = await jinniu.call("POST", path, {"department": "chengguan.jinniu.fuqin"})
    assert t["lead_department"] == "chengguan.jinniu.fuqin"  # on down to the street office
