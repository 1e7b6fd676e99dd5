"""Argon2 costs ~0.2 s of CPU a hash by design: account creation, password changes and
sign-ins (right or wrong, known name or not) hash in a worker thread, never on the event
loop that pops screens and answers WeChat."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from argon2 import PasswordHasher

from hotline.bootstrap import Center
from tickets.accounts import AuthError
from tickets.model import Role


class WhereHashed(PasswordHasher):
    """The cheap test hasher, noting the thread of each hash and check."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024)
        self.threads: list[str] = []

    def hash(self, password: str | bytes, *args: Any, **kwargs: Any) -> str:
        self.threads.append(threading.current_thread().name)
        return super().hash(password, *args, **kwargs)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        self.threads.append(threading.current_thread().name)
        return super().verify(hash, password)


async def test_hashing_never_runs_on_the_event_loop(center: Center) -> None:
    hasher = WhereHashed()
    center.accounts.hasher = hasher
    loop_thread = threading.current_thread().name
    await center.accounts.add_user("newagent", "long-enough-1", Role.AGENT)
    await center.accounts.set_password("newagent", "long-enough-2")
    session = await center.accounts.login("newagent", "long-enough-2")
    assert session.user.username == "newagent"
    with pytest.raises(AuthError):
        await center.accounts.login("newagent", "wrong-password")
    with pytest.raises(AuthError):
        await center.accounts.login("nobody", "whatever-it-is")
    assert len(hasher.threads) == 5
    assert loop_thread not in hasher.threads
