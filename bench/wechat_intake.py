"""WeChat intake: encrypted text messages per second accepted durably, beside a bare handler.

Both servers run on loopback with the same safe-mode (AES) bodies and msg_signature check:
the bare aiohttp handler only verifies, decrypts and parses, then answers "success"; the
center's /wechat/callback also commits each contact (SQLite, WAL, synchronous=FULL), with
the citizen's "accepted" notice in the same transaction, before answering. Each figure:
the full rate (closed loop, 64 in flight), then p50/p99 at 300 messages/s (open loop),
from a load process of its own, kept on a core of its own (`_load_core`): WeChat's servers
are not on our machine, and left free to move, the load shared the servers' cores with
their event loop at times. The full rates are taken in rounds, each center's alternating
with the bare handler's (which keeps serving beside it, in this process: each bare round
starts once the center has sent its backlog), and each side's median is used: the same
machine's speed drifts by a fifth within minutes, and a ratio of two measures taken
minutes apart would measure the drift. The center runs twice, back to back: intake alone
(no after-commit subscribers, no background work), then the whole center as `hotline
serve` runs it (every bus subscriber, the outbox worker sending the notices to a fake
WeChat API in a process of its own, deadline watch, online desk, …). The figure the
target is about is the whole center's; the intake-alone run says how much of it the
subscribers cost. After each of the whole center's rounds, the rate at which it sends
the notices the round left pending is timed too. The machine's load average is printed
with each phase (other work on the same cores shows there). The last line printed is one
JSON object.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import platform
import queue
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.queues import Queue
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from connectors.wechat.crypto import CallbackCrypto, signature
from connectors.wechat.messages import WechatMessage, parse_xml
from hotline.bootstrap import build
from hotline.demo import load_reference_data
from hotline.runtime import tune_process
from hotline.settings import load_settings
from tests.fakes.wechat_api import WechatApiFake
from tickets.bus import Handler, InProcessBus, Wanted
from tickets.events import DomainEvent
from tickets.store import Store
from tickets.tables import contacts, outbox

TOKEN = "bench-token"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
APP_ID = "wx5823bf96d3bd56c7"
APP_SECRET = "bench-secret"
N = 3000
ROUNDS = 5  # full-rate rounds per center, each beside a round of the bare handler
IN_FLIGHT = 64
RATE = 300
LATENCY_SECONDS = 10
WECHAT_WAITS = 5.0  # seconds WeChat waits for an answer before it delivers again
GIVE_UP = 30.0  # a latency-phase answer later than this is counted as this

Request = tuple[dict[str, str], str]


def messages(n: int, prefix: str, base_time: int) -> list[Request]:
    """`n` safe-mode callbacks (query, body) each from its own citizen, like WeChat sends them."""
    crypto = CallbackCrypto(TOKEN, AES_KEY, APP_ID)
    out: list[Request] = []
    for i in range(n):
        ts, nonce = str(base_time + i), f"n{i}"
        plain = (
            "<xml><ToUserName><![CDATA[gh_12345]]></ToUserName>"
            f"<FromUserName><![CDATA[o{prefix}{i:06d}]]></FromUserName>"
            f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[小区门口夜间施工噪声扰民,第{i}次反映]]></Content>"
            f"<MsgId>{prefix}{i}</MsgId></xml>"
        )
        env = parse_xml(crypto.encrypt(plain, nonce, ts))
        body = f"<xml><ToUserName><![CDATA[{APP_ID}]]></ToUserName><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>"  # noqa: E501
        query = {
            "signature": signature(TOKEN, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "encrypt_type": "aes",
            "msg_signature": env["MsgSignature"],
        }
        out.append((query, body))
    return out


def bare_app() -> web.Application:
    """Verify, decrypt, parse, answer: everything but the commit."""
    crypto = CallbackCrypto(TOKEN, AES_KEY, APP_ID)

    async def handler(request: web.Request) -> web.Response:
        q = request.query
        crypto.check(q["signature"], q["timestamp"], q["nonce"])
        outer = parse_xml(await request.read())
        inner = crypto.decrypt(outer["Encrypt"], q["msg_signature"], q["timestamp"], q["nonce"])
        WechatMessage.from_fields(parse_xml(inner))
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post("/wechat/callback", handler)
    return app


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Run `app` on loopback; its callback URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/wechat/callback"


async def post(http: aiohttp.ClientSession, url: str, req: Request) -> float:
    """One callback; seconds until the answer (GIVE_UP if none came by then)."""
    start = time.perf_counter()
    try:
        async with http.post(
            url, params=req[0], data=req[1], timeout=aiohttp.ClientTimeout(total=GIVE_UP)
        ) as resp:
            text = await resp.text()
            if resp.status != 200 or text != "success":
                raise RuntimeError(f"{resp.status}: {text[:200]}")
    except TimeoutError:
        return GIVE_UP  # the message is still committed: its retry is a duplicate
    return time.perf_counter() - start


async def full_rate(url: str, reqs: list[Request]) -> float:
    """Messages per second with IN_FLIGHT requests outstanding."""
    queue = iter(reqs)
    conn = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=conn) as http:

        async def worker() -> None:
            for req in queue:
                await post(http, url, req)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        return len(reqs) / (time.perf_counter() - start)


async def latency(url: str, reqs: list[Request], rate: int) -> list[float]:
    """Open loop: one request every 1/rate s, whatever the answers do; all latencies."""
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as http:
        tasks = []
        start = time.perf_counter()
        for i, req in enumerate(reqs):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(http, url, req)))
        return list(await asyncio.gather(*tasks))


def _load_core() -> None:
    """Keep this process (the load, the fake API: WeChat's side) on the last core it may
    use, when it may use two or more (and the system lets it choose); the servers stay free
    to use every core."""
    if not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) > 1:
        os.sched_setaffinity(0, {cores[-1]})


def _client(phase: str, url: str, prefix: str, base_time: int, n: int, out: Queue[object]) -> None:
    """One load phase in a process of its own (WeChat's servers are not ours to slow down)."""
    _load_core()
    reqs = messages(n, prefix, base_time)
    if phase == "rate":
        out.put(asyncio.run(full_rate(url, reqs)))
    else:
        out.put(asyncio.run(latency(url, reqs, RATE)))


async def run_client(phase: str, url: str, prefix: str, base_time: int, n: int) -> object:
    """Run one phase in a child process while this loop keeps serving; its result."""
    ctx = multiprocessing.get_context("spawn")
    out: Queue[object] = ctx.Queue()
    proc = ctx.Process(target=_client, args=(phase, url, prefix, base_time, n, out))
    proc.start()
    try:
        while True:
            try:
                return out.get_nowait()
            except queue.Empty:
                if not proc.is_alive():
                    raise RuntimeError(f"load process died ({proc.exitcode})") from None
                await asyncio.sleep(0.05)
    finally:
        proc.join(10)


def _fake_api(port: int) -> None:
    """The fake WeChat API the whole center's outbox sends to, in a process of its own."""
    _load_core()
    fake = WechatApiFake(app_id=APP_ID, app_secret=APP_SECRET)
    web.run_app(fake.app(), host="127.0.0.1", port=port, print=None, access_log=None)


class QuietBus(InProcessBus):
    """The center's bus without its after-commit subscribers (for the intake-alone run)."""

    def subscribe(
        self, handler: Handler, *kinds: type[DomainEvent], when: Wanted | None = None
    ) -> Callable[[], None]:
        """Leave the subscriber out: intake alone."""
        return lambda: None


async def measure(
    tmp: Path, base_time: int, bare_url: str, *, whole: bool, api_url: str = ""
) -> Figures:
    """Rates in rounds beside the bare handler's, then latency at RATE, of one center;
    what it stored and what it sent."""
    wechat = {"token": TOKEN, "encoding_aes_key": AES_KEY, "app_id": APP_ID}
    if whole:  # the notices go out, to the fake API
        wechat.update(app_secret=APP_SECRET, api_base_url=api_url)
    settings = load_settings(data_dir=tmp, wechat=wechat)
    center = build(settings, bus=None if whole else QuietBus())
    await center.start()
    await load_reference_data(center.tickets)
    # As `hotline serve` starts: the figure roll-ups built, so every accepted ticket keeps
    # them in step in its own transaction.
    await center.count_rollups()
    center.app.cleanup_ctx.clear()
    if whole:
        await center.start_background()
    tune_process()  # as `hotline serve` does once it is up
    runner, url = await serve(center.app)
    load = os.getloadavg()[0]
    try:
        await run_client("rate", url, "w", base_time, 200)  # warm up
        rates: list[float] = []
        bares: list[float] = []
        sending: list[float] = []
        for k in range(ROUNDS):  # one-digit round in the ids: no message repeats another
            # The bare handler serves in this process too: the center's backlog (the last
            # round's notices, sent after it) is done first, or the bare round pays for it.
            await _settled(center.store, whole)
            bares.append(float(await run_client("rate", bare_url, "b", base_time, N)))  # type: ignore[arg-type]
            rates.append(float(await run_client("rate", url, f"r{k}", base_time, N)))  # type: ignore[arg-type]
            if whole and (sent := await _backlog_sent(center.store)) is not None:
                sending.append(sent)  # how fast the notices the round left pending go out
        n_lat = RATE * LATENCY_SECONDS
        lat: list[float] = sorted(await run_client("latency", url, "l", base_time + N, n_lat))  # type: ignore[call-overload]
        stored, notices = await _settled(center.store, whole)
    finally:
        await runner.cleanup()
        await center.stop()
    return Figures(
        rates=rates,
        bare_rates=bares,
        p50_ms=statistics.median(lat) * 1000,
        p99_ms=lat[int(len(lat) * 0.99) - 1] * 1000,
        late=sum(1 for x in lat if x > WECHAT_WAITS),
        answered=200 + N * ROUNDS + sum(1 for x in lat if x < GIVE_UP),
        stored=stored,
        notices=notices,
        load=load,
        notices_per_s=statistics.median(sending) if sending else 0.0,
    )


async def _backlog_sent(store: Store) -> float | None:
    """Notices a second while the center sends the "accepted" notices a round left
    pending (the intake quiet): from now until none is pending (None: none was)."""
    start = time.perf_counter()
    backlog = pending = await _pending(store)
    while pending and time.perf_counter() - start < 120:
        await asyncio.sleep(0.02)
        pending = await _pending(store)
    return backlog / (time.perf_counter() - start) if backlog else None


async def _pending(store: Store) -> int:
    """The "accepted" notices not sent yet."""
    async with store.read() as tx:
        q = (
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.kind == "accepted", outbox.c.status == "pending")
        )
        return int((await tx.conn.execute(q)).scalar_one())


async def _settled(store: Store, whole: bool) -> tuple[int, dict[str, int]]:
    """Wait for the center to finish what it has in hand (a backlog, notices still to
    send); then what it stored and sent."""
    stored, notices = await _counts(store)
    for _ in range(120):
        await asyncio.sleep(0.5)
        before = (stored, notices)
        stored, notices = await _counts(store)
        if (stored, notices) == before and (not whole or not notices.get("pending")):
            break
    return stored, notices


async def _counts(store: Store) -> tuple[int, dict[str, int]]:
    """Contacts stored; "accepted" notices by status."""
    async with store.read() as tx:
        stored = int(
            (await tx.conn.execute(select(func.count()).select_from(contacts))).scalar_one()
        )
        q = (
            select(outbox.c.status, func.count())
            .where(outbox.c.kind == "accepted")
            .group_by(outbox.c.status)
        )
        notices = {str(k): int(v) for k, v in (await tx.conn.execute(q)).all()}
    return stored, notices


@dataclass
class Figures:
    """One center's figures."""

    rates: list[float]  # full rate of each round
    bare_rates: list[float]  # the bare handler's, each measured just before
    p50_ms: float
    p99_ms: float
    late: int  # latency-phase answers after WeChat stopped waiting (it delivers again)
    answered: int  # messages that got their "success" (each must be stored)
    stored: int
    notices: dict[str, int]
    load: float  # 1-minute load average when the phase started
    notices_per_s: float  # notices sent a second after a round, of its backlog (median)

    @property
    def rate(self) -> float:
        """The median round's full rate."""
        return statistics.median(self.rates)

    @property
    def bare(self) -> float:
        """The bare handler's median rate in the rounds beside this center's."""
        return statistics.median(self.bare_rates)

    @property
    def ratio(self) -> float:
        """Of the bare handler's rate, measured alongside."""
        return self.rate / self.bare


async def main() -> dict[str, object]:
    """Intake alone, then the whole center, each beside the bare handler; print the figures."""
    base_time = int(time.time())
    expected = 200 + N * ROUNDS + RATE * LATENCY_SECONDS
    bare_runner, bare_url = await serve(bare_app())
    api_port = free_port()
    api = multiprocessing.get_context("spawn").Process(target=_fake_api, args=(api_port,))
    api.start()
    try:
        await run_client("rate", bare_url, "w", base_time, 200)
        with tempfile.TemporaryDirectory() as tmp:
            intake = await measure(Path(tmp) / "intake", base_time, bare_url, whole=False)
            center = await measure(
                Path(tmp) / "center", base_time, bare_url, whole=True,
                api_url=f"http://127.0.0.1:{api_port}",
            )  # fmt: skip
    finally:
        api.terminate()
        api.join(10)
        await bare_runner.cleanup()
    bare = statistics.median(intake.bare_rates + center.bare_rates)
    ratio = center.ratio
    result: dict[str, object] = {
        "bench": "wechat_intake",
        "messages": N,
        "rounds": ROUNDS,
        "cores": os.cpu_count(),
        "bare_verify_decrypt_per_s": round(bare, 1),
        "rate": RATE,
        "whole_center_per_s": round(center.rate, 1),
        "whole_center_rounds_per_s": [round(r) for r in center.rates],
        "bare_beside_whole_per_s": [round(r) for r in center.bare_rates],
        "whole_center_ratio": round(ratio, 3),
        "whole_center_p50_ms": round(center.p50_ms, 2),
        "whole_center_p99_ms": round(center.p99_ms, 2),
        "whole_center_late_over_5s": center.late,
        "whole_center_notices_sent_per_s": round(center.notices_per_s, 1),
        "intake_alone_per_s": round(intake.rate, 1),
        "intake_alone_ratio": round(intake.ratio, 3),
        "intake_alone_rounds_per_s": [round(r) for r in intake.rates],
        "bare_beside_intake_per_s": [round(r) for r in intake.bare_rates],
        "intake_alone_p50_ms": round(intake.p50_ms, 2),
        "intake_alone_p99_ms": round(intake.p99_ms, 2),
        "intake_alone_late_over_5s": intake.late,
        "stored_contacts": [intake.stored, center.stored],
        "answered_contacts": [intake.answered, center.answered],
        "sent_contacts": expected,
        "accepted_notices": [intake.notices, center.notices],
        "load_average_1m": [round(intake.load, 2), round(center.load, 2)],
        "python": platform.python_version(),
        "target_met": ratio >= 0.5
        and center.p99_ms < 50
        and intake.stored == center.stored == expected,
        "every_answered_message_stored": intake.stored >= intake.answered
        and center.stored >= center.answered,
    }
    print(f"{os.cpu_count()} cores; 1-minute load average when each phase began in brackets")
    print(f"bare verify+decrypt handler: {bare:,.0f} msg/s (median of {2 * ROUNDS} rounds)")
    for name, f in (("intake alone (commit + notice)", intake), ("whole center", center)):
        rounds = ", ".join(f"{r:,.0f}/{b:,.0f}" for r, b in zip(f.rates, f.bare_rates, strict=True))
        print(
            f"{name}: {f.rate:,.0f} msg/s ({f.ratio:.2f} of the bare handler alongside; rounds "
            f"center/bare {rounds}); at {RATE} msg/s "
            f"p50 {f.p50_ms:.1f} ms, p99 {f.p99_ms:.1f} ms, {f.late} of {RATE * LATENCY_SECONDS} "
            f"answered after WeChat's {WECHAT_WAITS:.0f} s; {f.answered} answered, "
            f"{f.stored} stored of {expected} sent (unanswered ones WeChat delivers again); "
            f"accepted notices {f.notices} [{f.load:.1f}]"
        )
    print(
        f"whole center: the notices a round leaves pending go out at {center.notices_per_s:,.0f}"
        " a second once it ends (median round)"
    )
    verdict = "met" if result["target_met"] else "NOT met"
    print(f"target (whole center >= 0.5 of bare, p99 < 50 ms at {RATE}/s, nothing lost): {verdict}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    asyncio.run(main())
