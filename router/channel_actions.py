"""What a button or code pressed in a chat does: the ActionSink of the chat channels.

A sign or return goes through the ticket service as the pressing staff member (their
own account, role and department scope, found by their Telegram user id); a group is
bound to a department by spending a one-time link code; a citizen's rating is recorded
as that citizen, on their own ticket only (the same path as a digit reply). Refusals
come back as text for the chat.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from connectors.base import ActionOutcome, ChannelAction
from tickets.group_commit import GroupCommit
from tickets.lifecycle import Action, LifecycleError, RoleNotAllowed
from tickets.model import CitizenIdentity, Role
from tickets.privacy import Viewer
from tickets.service import Clock, TicketError, TicketNotFound, TicketService
from tickets.store import Store

log = logging.getLogger(__name__)

LINK_CODE_TTL = timedelta(hours=24)
# Which identity of a citizen each channel carries (for the 48-hour window and ratings).
IDENTITY_OF_CHANNEL = {"wechat": "wechat_openid", "telegram": "telegram_id"}


class ChannelActions:
    """Implements `connectors.base.ActionSink`; one handler per action kind (the table below)."""

    def __init__(self, tickets: TicketService, store: Store, clock: Clock) -> None:
        self.tickets = tickets
        self.store = store
        self.clock = clock
        self._last_seen: GroupCommit[tuple[str, str], datetime | None] = GroupCommit(
            self._last_seen_many, 500
        )
        self.handlers: Mapping[str, Callable[[ChannelAction], Awaitable[ActionOutcome]]] = {
            "sign": self._sign,
            "return": self._return,
            "rate": self._rate,
            "bind": self._bind,
        }

    async def __call__(self, a: ChannelAction) -> ActionOutcome:
        handler = self.handlers.get(a.kind)
        if handler is None:
            return ActionOutcome(False, "无法识别的操作。")
        try:
            return await handler(a)
        except TicketNotFound:
            return ActionOutcome(False, f"找不到工单 {a.ticket_number},或它不归您所在单位办理。")
        except RoleNotAllowed as e:
            return ActionOutcome(False, f"您的账号无权执行此操作:{e}", a.ticket_number)
        except LifecycleError as e:
            return ActionOutcome(False, f"操作未执行:{e}", a.ticket_number)
        except TicketError as e:
            return ActionOutcome(False, f"操作未执行:{e}", a.ticket_number)

    async def _staff(self, a: ChannelAction) -> Viewer | None:
        if a.channel != "telegram":
            return None
        async with self.store.read() as tx:
            row = await tx.user_by_telegram_id(a.actor_id)
        if row is None or not row["active"]:
            return None
        return Viewer(
            row["username"], Role(row["role"]), row["department"],
            self.tickets.scope_of(row["department"]),
        )  # fmt: skip

    async def _sign(self, a: ChannelAction) -> ActionOutcome:
        viewer = await self._staff(a)
        if viewer is None:
            return _unknown_staff(a)
        await self.tickets.act(a.ticket_number, viewer, Action.SIGN)
        return ActionOutcome(
            True, f"工单 {a.ticket_number} 已由 {viewer.username} 签收。", a.ticket_number
        )

    async def _return(self, a: ChannelAction) -> ActionOutcome:
        viewer = await self._staff(a)
        if viewer is None:
            return _unknown_staff(a)
        reason = a.reason.strip() or a.reason_code
        await self.tickets.act(
            a.ticket_number, viewer, Action.RETURN, reason=reason,
            payload={"reason_code": a.reason_code or "other"},
        )  # fmt: skip
        return ActionOutcome(
            True, f"工单 {a.ticket_number} 已由 {viewer.username} 退回:{reason}", a.ticket_number
        )

    async def _rate(self, a: ChannelAction) -> ActionOutcome:
        if a.rating is None or not 1 <= a.rating <= 5:
            return ActionOutcome(False, "请选择 1 到 5 之间的评价。", a.ticket_number)
        who = CitizenIdentity(**{IDENTITY_OF_CHANNEL[a.channel]: a.actor_id})
        try:
            await self.tickets.rate_as_citizen(a.ticket_number, who, a.rating, a.channel)
        except TicketNotFound:  # not the presser's own ticket
            return ActionOutcome(False, "只能评价您本人的工单。", a.ticket_number)
        return ActionOutcome(True, "感谢您的评价!", a.ticket_number)

    async def _bind(self, a: ChannelAction) -> ActionOutcome:
        code = a.code.strip().upper()
        if not code:
            return ActionOutcome(False, "请发送 /bind 加上控制台生成的绑定码。")
        now = self.clock()
        async with self.store.write() as tx:
            used = await tx.use_link_code(code, a.channel, now)
            if used is not None:
                await tx.bind_chat(
                    {
                        "channel": a.channel,
                        "chat_id": a.chat_id,
                        "department": used["department"],
                        "bound_at": now,
                        "bound_by": f"{used['created_by']} via {a.actor_id}",
                    }
                )
        if used is None:
            return ActionOutcome(False, "绑定码无效、已使用或已过期,请在控制台重新生成。")
        name = self.tickets.tree.name(used["department"])
        return ActionOutcome(
            True, f"本群已绑定 {name},新派工单会在这里通知。", department=used["department"]
        )

    # -- for the console and the senders ---------------------------------------------

    async def new_link_code(
        self, channel: str, department: str, created_by: str, ttl: timedelta = LINK_CODE_TTL
    ) -> str:
        """A one-time code an admin gives a group (`/bind CODE`) to bind it to `department`."""
        if department not in self.tickets.tree:
            raise TicketError(f"unknown department {department}")
        code = secrets.token_hex(4).upper()
        now = self.clock()
        async with self.store.write() as tx:
            await tx.insert_link_code(
                {
                    "code": code,
                    "channel": channel,
                    "department": department,
                    "created_by": created_by,
                    "created_at": now,
                    "expires_at": now + ttl,
                }
            )
        return code

    async def last_seen(self, channel: str, recipient: str) -> datetime | None:
        """When the citizen behind `recipient` last wrote on `channel`; the questions asked
        together (the outbox sends many notices at once) share one read."""
        return await self._last_seen.submit((channel, recipient))

    async def _last_seen_many(
        self, asked: Sequence[tuple[str, str]]
    ) -> list[datetime | None | Exception]:
        by_channel: dict[str, list[str]] = {}
        for channel, recipient in asked:
            by_channel.setdefault(channel, []).append(recipient)
        seen: dict[tuple[str, str], datetime] = {}
        async with self.store.read() as tx:
            for channel, recipients in by_channel.items():
                kind = IDENTITY_OF_CHANNEL[channel]
                found = await tx.last_contacts_from(channel, kind, recipients)
                seen.update({(channel, r): at for r, at in found.items()})
        return [seen.get(key) for key in asked]


def _unknown_staff(a: ChannelAction) -> ActionOutcome:
    return ActionOutcome(
        False,
        "您的 Telegram 账号未登记为承办单位工作人员,请联系管理员在控制台登记后再操作。",
        a.ticket_number,
    )
