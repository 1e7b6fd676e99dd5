"""Group commit: what arrives together runs as one batch, each submitter hears its own
outcome, and one who stops waiting costs the batch nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tickets.group_commit import GroupCommit


class Runner:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, items: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        await self.release.wait()
        return [ValueError(f"bad {i}") if i < 0 else i * 10 for i in items]


async def test_what_arrives_while_a_batch_runs_is_the_next_batch() -> None:
    run = Runner()
    commit: GroupCommit[int, int] = GroupCommit(run, max_batch=3)
    run.release.clear()
    first = asyncio.ensure_future(commit.submit(1))
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(commit.submit(i)) for i in range(2, 7)]
    await asyncio.sleep(0)
    assert commit.busy
    run.release.set()
    assert await first == 10
    assert await asyncio.gather(*later) == [20, 30, 40, 50, 60]
    assert run.batches == [[1], [2, 3, 4], [5, 6]]
    assert not commit.busy


async def test_a_batch_is_answered_before_the_next_one_starts() -> None:
    # A runner does its work up to its first real wait without giving the loop back (the
    # intake binds a whole batch so): the callers of the batch before must hear first.
    log: list[str] = []
    release = asyncio.Event()

    async def run(items: Sequence[int]) -> list[int | Exception]:
        log.append(f"run {list(items)}")
        await release.wait()
        return list(items)

    commit: GroupCommit[int, int] = GroupCommit(run)

    async def caller(i: int) -> None:
        await commit.submit(i)
        log.append(f"heard {i}")

    first = asyncio.ensure_future(caller(1))
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(caller(i)) for i in (2, 3)]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *later)
    assert log == ["run [1]", "heard 1", "run [2, 3]", "heard 2", "heard 3"]


async def test_each_submitter_hears_its_own_outcome() -> None:
    run = Runner()
    commit: GroupCommit[int, int] = GroupCommit(run)
    outcomes = await asyncio.gather(*(commit.submit(i) for i in (1, -2, 3)), return_exceptions=True)
    assert outcomes[0] == 10 and outcomes[2] == 30
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "bad -2"


async def test_a_failing_runner_fails_every_item_of_its_batch_only() -> None:
    calls = 0

    async def run(items: Sequence[int]) -> list[int | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("disk full")
        return list(items)

    commit: GroupCommit[int, int] = GroupCommit(run)
    with pytest.raises(RuntimeError, match="disk full"):
        await commit.submit(1)
    assert await commit.submit(2) == 2


async def test_a_submitter_who_stops_waiting_costs_the_batch_nothing() -> None:
    run = Runner()
    run.release.clear()
    commit: GroupCommit[int, int] = GroupCommit(run)
    gone = asyncio.ensure_future(commit.submit(1))
    stays = asyncio.ensure_future(commit.submit(2))
    await asyncio.sleep(0)
    gone.cancel()  # e.g. the HTTP client hung up
    await asyncio.sleep(0)
    run.release.set()
    assert await stays == 20
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert run.batches == [[1, 2]]  # its item was still in the batch, run as planned
    assert await commit.submit(3) == 30


async def test_a_pause_is_awaited_without_polling_and_never_longer_than_asked() -> None:
    """`paused` returns at once when nothing runs, when the running batches end, or
    after the longest wait it was given; one waiter timing out leaves the others waiting."""
    run = Runner()
    commit: GroupCommit[int, int] = GroupCommit(run)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await commit.paused(10)  # nothing runs
    assert loop.time() - start < 0.05
    run.release.clear()
    item = asyncio.ensure_future(commit.submit(1))
    await asyncio.sleep(0)
    start = loop.time()
    await commit.paused(0.05)  # the batch holds on: back after the longest wait
    assert 0.05 <= loop.time() - start < 1
    long_wait = asyncio.ensure_future(commit.paused(10))
    short_wait = asyncio.ensure_future(commit.paused(0.01))
    await short_wait
    assert not long_wait.done()
    late = asyncio.ensure_future(commit.submit(2))  # queued behind the running batch
    await asyncio.sleep(0.01)
    start = loop.time()
    run.release.set()  # both batches run; the pause comes after the last
    await long_wait
    assert loop.time() - start < 1
    assert item.done() and late.done() and not commit.busy
    assert run.batches == [[1], [2]]
