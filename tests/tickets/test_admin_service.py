"""Administration on SQLite and PostgreSQL: staff, departments, categories (limits and the
review-before-dispatch flag), calendar overrides, transfer lines and service-level settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime

import pytest
import pytest_asyncio
from argon2 import PasswordHasher

from tests.conftest import FakeClock
from tickets.accounts import AccountService, AuthError
from tickets.admin_service import AdminOnly, AdminService, InUse, LastAdmin, SlaSettings
from tickets.lifecycle import Action
from tickets.model import CitizenIdentity, InboundContact, Role, State
from tickets.privacy import Viewer
from tickets.service import InvalidField, TicketService

ADMIN = Viewer("root", Role.ADMIN)
SUPERVISOR = Viewer("sup", Role.SUPERVISOR)
AGENT = Viewer("agent01", Role.AGENT)


@pytest_asyncio.fixture
async def admin(service: TicketService, clock: FakeClock) -> AsyncIterator[AdminService]:
    accounts = AccountService(
        service.store, service, clock=clock, hasher=PasswordHasher(time_cost=1, memory_cost=1024)
    )
    await accounts.add_user("root", "root-password-1", Role.ADMIN)
    yield AdminService(service, accounts, clock)


async def audit_actions(admin: AdminService) -> list[str]:
    async with admin.store.read() as tx:
        return [r["action"] for r in await tx.audit_entries()]


# -- staff ------------------------------------------------------------------------------


async def test_an_added_user_signs_in_with_the_password_shown_once(admin: AdminService) -> None:
    user, password = await admin.add_user(
        ADMIN,
        {
            "username": "wang",
            "display_name": "王五",
            "role": "department",
            "department": "chengguan",
            "extension": "8010",
            "telegram_id": "123456789",
        },
    )
    assert user["role"] == "department" and user["department"] == "chengguan"
    assert user["telegram_id"] == "123456789" and "password_hash" not in user
    session = await admin.accounts.login("wang", password)
    assert session.user.extension == "8010"
    assert [u["username"] for u in await admin.users("王五")] == ["wang"]
    assert [u["username"] for u in await admin.users("", "admin")] == ["root"]
    assert "admin.user_add" in await audit_actions(admin)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"username": "a b", "role": "agent"}, "username"),
        ({"username": "x1", "role": "citizen"}, "role"),
        ({"username": "x1", "role": "department"}, "department"),
        ({"username": "x1", "role": "agent", "department": "chengguan"}, "department"),
        ({"username": "x1", "role": "agent", "extension": "80a"}, "extension"),
        ({"username": "x1", "role": "agent", "telegram_id": "@me"}, "telegram_id"),
        ({"username": "root", "role": "agent"}, "username"),
    ],
)
async def test_bad_user_fields_are_named(
    admin: AdminService, data: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidField) as e:
        await admin.add_user(ADMIN, data)
    assert e.value.details["field"] == field
    assert [u["username"] for u in await admin.users()] == ["root"]


async def test_taken_extension_is_refused(admin: AdminService) -> None:
    await admin.add_user(ADMIN, {"username": "a1", "role": "agent", "extension": "8001"})
    with pytest.raises(InvalidField) as e:
        await admin.add_user(ADMIN, {"username": "a2", "role": "agent", "extension": "8001"})
    assert e.value.details["field"] == "extension"
    _, _ = await admin.add_user(ADMIN, {"username": "a2", "role": "agent"})
    with pytest.raises(InvalidField):
        await admin.update_user(ADMIN, "a2", {"extension": "8001"})


async def test_disabling_ends_every_session_at_once(admin: AdminService) -> None:
    _, password = await admin.add_user(ADMIN, {"username": "li", "role": "agent"})
    first = await admin.accounts.login("li", password)
    second = await admin.accounts.login("li", password)
    await admin.set_active(ADMIN, "li", False)
    for s in (first, second):
        with pytest.raises(AuthError):
            await admin.accounts.session(s.token)
    with pytest.raises(AuthError):
        await admin.accounts.login("li", password)
    await admin.set_active(ADMIN, "li", True)
    await admin.accounts.login("li", password)
    actions = await audit_actions(admin)
    assert "admin.user_disable" in actions and "admin.user_enable" in actions


async def test_role_change_moves_the_user_and_signs_them_out(admin: AdminService) -> None:
    _, password = await admin.add_user(ADMIN, {"username": "zhao", "role": "agent"})
    session = await admin.accounts.login("zhao", password)
    user = await admin.update_user(ADMIN, "zhao", {"role": "department", "department": "eco"})
    assert (user["role"], user["department"]) == ("department", "eco")
    with pytest.raises(AuthError):
        await admin.accounts.session(session.token)
    back = await admin.update_user(ADMIN, "zhao", {"role": "supervisor"})
    assert (back["role"], back["department"]) == ("supervisor", None)


async def test_the_last_admin_cannot_be_disabled_or_demoted(admin: AdminService) -> None:
    with pytest.raises(LastAdmin):
        await admin.set_active(ADMIN, "root", False)
    with pytest.raises(LastAdmin):
        await admin.update_user(ADMIN, "root", {"role": "agent"})
    await admin.add_user(ADMIN, {"username": "root2", "role": "admin"})
    await admin.set_active(ADMIN, "root2", False)  # root is still there
    with pytest.raises(LastAdmin):
        await admin.set_active(ADMIN, "root", False)
    await admin.set_active(ADMIN, "root2", True)
    await admin.set_active(ADMIN, "root", False)  # root2 keeps the center administered


async def test_reset_password_replaces_the_old_one(admin: AdminService) -> None:
    _, old = await admin.add_user(ADMIN, {"username": "sun", "role": "agent"})
    session = await admin.accounts.login("sun", old)
    new = await admin.reset_password(ADMIN, "sun")
    assert new != old
    with pytest.raises(AuthError):
        await admin.accounts.login("sun", old)
    with pytest.raises(AuthError):
        await admin.accounts.session(session.token)
    await admin.accounts.login("sun", new)
    assert "admin.password_reset" in await audit_actions(admin)


async def test_only_admins_change_the_set_up(admin: AdminService) -> None:
    for call in (
        admin.add_user(SUPERVISOR, {"username": "x1", "role": "agent"}),
        admin.set_active(AGENT, "root", False),
        admin.save_sla(SUPERVISOR, {"max_concurrent_chats": 5}),
        admin.update_category(SUPERVISOR, "help.water", {"urgent": True}),
    ):
        with pytest.raises(AdminOnly):
            await call


# -- departments ------------------------------------------------------------------------


async def test_departments_are_added_moved_and_never_under_themselves(
    admin: AdminService,
) -> None:
    await admin.add_department(
        ADMIN,
        {"code": "chengguan.xindu", "name_zh": "新都区城管局", "parent_code": "chengguan",
         "kind": "district"},
    )  # fmt: skip
    tree = admin.tickets.tree
    assert tree.is_below("chengguan.xindu", "chengguan")
    await admin.update_department(ADMIN, "chengguan.xindu", {"parent_code": "eco"})
    assert admin.tickets.tree.is_below("chengguan.xindu", "eco")
    with pytest.raises(InvalidField) as e:
        await admin.update_department(ADMIN, "chengguan", {"parent_code": "chengguan.jinniu"})
    assert e.value.details["field"] == "parent_code"
    with pytest.raises(InvalidField) as e:
        await admin.add_department(ADMIN, {"code": "Bad Code", "name_zh": "x", "kind": "city"})
    assert e.value.details["field"] == "code"
    with pytest.raises(InvalidField) as e:
        await admin.add_department(ADMIN, {"code": "ok", "name_zh": "x", "kind": "ministry"})
    assert e.value.details["field"] == "kind"
    await admin.update_department(ADMIN, "chengguan.xindu", {"name_zh": "新都城管"})
    assert admin.tickets.tree.name("chengguan.xindu") == "新都城管"
    await admin.delete_department(ADMIN, "chengguan.xindu")
    assert "chengguan.xindu" not in admin.tickets.tree


async def test_a_unit_with_orders_is_deactivated_not_deleted(
    admin: AdminService, make_contact: Callable[..., InboundContact]
) -> None:
    service = admin.tickets
    r = await service.accept(make_contact())
    await service.act(r.ticket_number, AGENT, Action.DISPATCH, payload={"department": "eco"})
    with pytest.raises(InUse) as e:
        await admin.delete_department(ADMIN, "eco")
    assert "dispatches" in e.value.details["refs"]
    await admin.update_department(ADMIN, "eco", {"active": False})
    row = next(d for d in await admin.departments() if d["code"] == "eco")
    assert row["active"] is False
    assert "eco" in service.tree  # its orders still show its name
    other = await service.accept(make_contact(citizen=CitizenIdentity(phone="13900000003")))
    with pytest.raises(InvalidField) as refused:
        await service.act(
            other.ticket_number, AGENT, Action.DISPATCH, payload={"department": "eco"}
        )
    assert refused.value.details["field"] == "department"
    await admin.update_department(ADMIN, "eco", {"active": True})
    t = await service.act(
        other.ticket_number, AGENT, Action.DISPATCH, payload={"department": "eco"}
    )
    assert t["lead_department"] == "eco"


# -- categories -------------------------------------------------------------------------


async def test_a_category_limit_sets_the_deadline(
    admin: AdminService, make_contact: Callable[..., InboundContact]
) -> None:
    service = admin.tickets
    await admin.update_category(ADMIN, "complaint.noise", {"limit_days": 2})
    r = await service.accept(make_contact(category="complaint.noise"))
    t = await service.act(
        r.ticket_number, AGENT, Action.DISPATCH, payload={"department": "chengguan"}
    )
    # Accepted Monday 2026-11-23: Tuesday and Wednesday → due Wednesday 24:00 Beijing.
    assert t["due_at"] == datetime(2026, 11, 25, 16, 0, tzinfo=UTC).isoformat()
    await admin.update_category(ADMIN, "complaint.noise", {"limit_days": None, "limit_hours": 8})
    other = CitizenIdentity(phone="13900000001")
    r = await service.accept(make_contact(category="complaint.noise", citizen=other))
    t = await service.act(
        r.ticket_number, AGENT, Action.DISPATCH, payload={"department": "chengguan"}
    )
    assert t["due_at"] == datetime(2026, 11, 23, 10, 0, tzinfo=UTC).isoformat()
    assert admin.category_limit(service.category_rows["complaint.noise"]) == ("hours", 8.0)
    with pytest.raises(InvalidField) as e:
        await admin.update_category(ADMIN, "complaint.noise", {"limit_days": 3})
    assert e.value.details["field"] == "limit_hours"
    with pytest.raises(InvalidField) as e:
        await admin.update_category(ADMIN, "complaint.noise", {"limit_days": 0})
    assert e.value.details["field"] == "limit_days"
    with pytest.raises(InvalidField) as e:
        await admin.update_category(ADMIN, "complaint.noise", {"urgent": "yes"})
    assert e.value.details["field"] == "urgent"


async def test_review_flag_sends_an_agents_dispatch_to_pending_review(
    admin: AdminService, make_contact: Callable[..., InboundContact]
) -> None:
    service = admin.tickets
    await admin.update_category(ADMIN, "help.water", {"review_required": True})
    r = await service.accept(make_contact(category="help.water", text="停水三天了"))
    t = await service.act(
        r.ticket_number,
        AGENT,
        Action.DISPATCH,
        payload={"department": "housing", "co_departments": ["chenghua"]},
    )
    assert t["state"] == State.PENDING_REVIEW.value
    async with service.store.read() as tx:
        row = await tx.ticket(number=r.ticket_number)
        assert row is not None
        assert await tx.dispatches_of(row["id"]) == []  # nothing reached a department yet
    approved = await service.act(r.ticket_number, SUPERVISOR, Action.APPROVE)
    assert approved["state"] == State.DISPATCHED.value
    assert approved["lead_department"] == "housing"
    assert approved["co_departments"] == ["chenghua"]
    # Without the flag the same dispatch goes straight out.
    await admin.update_category(ADMIN, "help.water", {"review_required": False})
    other = CitizenIdentity(phone="13900000002")
    r2 = await service.accept(make_contact(category="help.water", citizen=other))
    t2 = await service.act(
        r2.ticket_number, AGENT, Action.DISPATCH, payload={"department": "housing"}
    )
    assert t2["state"] == State.DISPATCHED.value


# -- working calendar -------------------------------------------------------------------


async def test_an_override_with_a_reason_moves_deadlines_and_its_removal_moves_them_back(
    admin: AdminService, make_contact: Callable[..., InboundContact]
) -> None:
    service = admin.tickets
    r = await service.accept(make_contact())
    t = await service.act(r.ticket_number, AGENT, Action.DISPATCH, payload={"department": "eco"})
    due = t["due_at"]  # 5 working days after Monday 23 Nov: Monday 30 Nov 24:00
    assert due == datetime(2026, 11, 30, 16, 0, tzinfo=UTC).isoformat()
    with pytest.raises(InvalidField) as e:
        await admin.set_override(ADMIN, date(2026, 11, 26), False, "  ")
    assert e.value.details["field"] == "name"
    changed = await admin.set_override(ADMIN, date(2026, 11, 26), False, "台风停工")
    assert changed == [r.ticket_number]
    moved = await service.view(r.ticket_number, ADMIN)
    assert moved["due_at"] == datetime(2026, 12, 1, 16, 0, tzinfo=UTC).isoformat()
    days = {d.day: d for d in admin.month(2026, 11)}
    assert days[date(2026, 11, 26)].override == "台风停工"
    assert not days[date(2026, 11, 26)].workday
    assert await admin.remove_override(ADMIN, date(2026, 11, 26)) == [r.ticket_number]
    assert (await service.view(r.ticket_number, ADMIN))["due_at"] == due
    with pytest.raises(InvalidField) as e:
        await admin.remove_override(ADMIN, date(2026, 11, 26))
    assert e.value.details["field"] == "day"


def test_the_month_view_names_holidays_and_adjusted_working_days(admin: AdminService) -> None:
    october = {d.day: d for d in admin.month(2026, 10)}
    assert october[date(2026, 10, 1)].holiday == "national_day"
    assert not october[date(2026, 10, 1)].workday
    assert october[date(2026, 10, 9)].workday  # an ordinary Friday
    adjusted = [d for d in admin.month(2026, 9) + admin.month(2026, 10) if d.adjusted]
    assert adjusted and all(d.day.weekday() >= 5 and d.workday for d in adjusted)


# -- transfer lines ---------------------------------------------------------------------


async def test_configured_lines_seed_the_table_once(admin: AdminService) -> None:
    await admin.seed_transfer_lines({"110": "PJSIP/110@police110", "119": "PJSIP/119@fire119"})
    lines = await admin.transfer_lines()
    assert [(x.code, x.name_zh, x.kind, x.enabled) for x in lines] == [
        ("110", "公安 110", "blind", True),
        ("119", "消防 119", "blind", True),
    ]
    await admin.save_transfer_line(
        ADMIN,
        {"code": "122", "name_zh": "交通事故 122", "target": "PJSIP/122@traffic122",
         "kind": "three_way", "enabled": True},
    )  # fmt: skip
    await admin.save_transfer_line(
        ADMIN,
        {"code": "119", "name_zh": "消防 119", "target": "PJSIP/119@fire119", "kind": "blind",
         "enabled": False},
    )  # fmt: skip
    await admin.seed_transfer_lines({"110": "PJSIP/other"})  # stored table wins from now on
    by_code = {x.code: x for x in await admin.transfer_lines()}
    assert by_code["110"].target == "PJSIP/110@police110"
    assert by_code["122"].kind == "three_way" and by_code["119"].enabled is False
    await admin.delete_transfer_line(ADMIN, "122")
    assert "122" not in {x.code for x in await admin.transfer_lines()}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"code": "1a0", "name_zh": "x", "target": "PJSIP/1@x", "kind": "blind"}, "code"),
        ({"code": "110", "name_zh": "", "target": "PJSIP/1@x", "kind": "blind"}, "name_zh"),
        ({"code": "110", "name_zh": "x", "target": "dial 110", "kind": "blind"}, "target"),
        ({"code": "110", "name_zh": "x", "target": "PJSIP/1@x", "kind": "warm"}, "kind"),
        (
            {"code": "110", "name_zh": "x", "target": "PJSIP/1@x", "kind": "blind", "enabled": 1},
            "enabled",
        ),
    ],
)
async def test_bad_line_fields_are_named(
    admin: AdminService, data: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidField) as e:
        await admin.save_transfer_line(ADMIN, data)
    assert e.value.details["field"] == field
    assert await admin.transfer_lines() == []


# -- service-level settings -------------------------------------------------------------


async def test_sla_settings_are_stored_over_the_configured_defaults(admin: AdminService) -> None:
    defaults = SlaSettings(service_level_seconds=20)
    assert (await admin.sla(defaults)).service_level_seconds == 20
    saved = await admin.save_sla(
        ADMIN, {"max_concurrent_chats": 5, "after_call_seconds": 60}, defaults
    )
    assert saved.max_concurrent_chats == 5 and saved.service_level_seconds == 20
    again = await admin.sla(defaults)
    assert (again.max_concurrent_chats, again.after_call_seconds) == (5, 60)
    for bad, field in (
        ({"max_concurrent_chats": 0}, "max_concurrent_chats"),
        ({"service_level_seconds": "fast"}, "service_level_seconds"),
        ({"reply_minutes_sms": 3}, "reply_minutes_sms"),
        ({"after_call_seconds": True}, "after_call_seconds"),
    ):
        with pytest.raises(InvalidField) as e:
            await admin.save_sla(ADMIN, bad, defaults)
        assert e.value.details["field"] == field
    assert (await admin.sla(defaults)).max_concurrent_chats == 5
