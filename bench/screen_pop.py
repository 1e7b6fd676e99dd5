"""Screen pop end to end: AgentCalled written on the AMI socket → pop message on the agent's
websocket, with 300 agents connected and calls arriving at 20 per second.

The whole center runs as `hotline serve` wires it (bootstrap.build, the real AMI session and
tracker, the telephony desk, the bus, the websocket hub, aiohttp on loopback). The AMI side is
the in-bench stream of bench/ami_ingest.py playing the recorded Asterisk 22 "queue answered"
call with fresh ids, a fresh caller and agent 8001..8300 in turn. The 300 browsers are 300
aiohttp websockets in a second process (as browsers are not in the server's process); both
processes read the same CLOCK_MONOTONIC. Run with no arguments; the last line printed is one
JSON object of the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from argon2 import PasswordHasher

from bench.ami_ingest import StreamServer, call_template, one_call
from connectors.asterisk.intake import AsteriskConnector
from hotline.bootstrap import build
from hotline.demo import load_reference_data
from hotline.runtime import tune_process
from hotline.settings import load_settings
from tickets.model import Role

AGENTS = 300
RATE = 20  # new calls per second
SECONDS = 30
TRACE_CALLER = b"13800138001"
TRACE_AGENT = b"8001"


def agent_call(frames: Any, prefix: str, n: int) -> tuple[bytes, int, str, str]:
    """Call `n` for agent 8001 + n % AGENTS from caller 139xxxxxxxx; its AgentCalled offset."""
    data, cut = one_call(frames, prefix, n)
    ext, caller = str(8001 + n % AGENTS), f"139{n:08d}"
    head, tail = data[:cut], data[cut:]

    def swap(b: bytes) -> bytes:
        # The caller first (it ends in 8001 too), through a placeholder.
        b = b.replace(TRACE_CALLER, b"\0C\0").replace(TRACE_AGENT, ext.encode())
        return b.replace(b"\0C\0", caller.encode())

    head, tail = swap(head), swap(tail)
    return head + tail, len(head), f"agent{n % AGENTS:03d}", caller


# ---------------------------------------------------------------------- the browsers' side


async def browsers(url: str, tokens: dict[str, str], expected: int) -> None:
    """Connect one socket per agent, print READY, record each pop's arrival, print them."""
    got: list[tuple[str, str, float]] = []
    done = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        sockets = []
        for username, token in tokens.items():
            ws = await http.ws_connect(url, headers={"Cookie": f"hl_session={token}"})
            sockets.append((username, ws))

        async def listen(username: str, ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                # Read the clock before parsing: the delay is to the socket, not our JSON.
                now = time.monotonic()
                if '"call_offered"' in msg.data:
                    got.append((json.loads(msg.data)["call_id"], username, now))
                    if len(got) >= expected:
                        done.set()

        tasks = [asyncio.create_task(listen(u, ws)) for u, ws in sockets]
        print("READY", flush=True)
        loop = asyncio.get_running_loop()
        stop = loop.run_in_executor(None, sys.stdin.readline)
        await asyncio.wait(
            [asyncio.ensure_future(done.wait()), stop], return_when=asyncio.FIRST_COMPLETED
        )
        for _, ws in sockets:
            await ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(got), flush=True)


# ---------------------------------------------------------------------- the center's side


async def center_side() -> dict[str, Any]:
    frames, prefix = call_template()
    total = RATE * SECONDS
    calls = [agent_call(frames, prefix, n) for n in range(total)]  # rendered before the clock
    ami = StreamServer()
    await ami.start()
    with tempfile.TemporaryDirectory() as d:
        settings = load_settings(
            data_dir=Path(d), asterisk={"host": "127.0.0.1", "port": ami.port, "secret": "x"}
        )
        center = build(settings, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
        await center.start()
        await load_reference_data(center.tickets)
        tokens: dict[str, str] = {}
        for i in range(AGENTS):
            name = f"agent{i:03d}"
            await center.accounts.add_user(name, "bench-pass", Role.AGENT, extension=str(8001 + i))
            tokens[name] = (await center.accounts.login(name, "bench-pass")).token
        print(f"{AGENTS} agents signed in", file=sys.stderr, flush=True)
        center.app.cleanup_ctx.clear()  # the center's lifetime is ours here
        runner = web.AppRunner(center.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        token_file = Path(d) / "tokens.json"
        token_file.write_text(json.dumps(tokens))
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.screen_pop",
            "--browsers",
            f"http://127.0.0.1:{port}/ws",
            str(token_file),
            str(total),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024,
            cwd=Path(__file__).parents[1],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        )
        assert child.stdout is not None and child.stdin is not None
        assert (await child.stdout.readline()).strip() == b"READY"
        print("browsers ready", file=sys.stderr, flush=True)
        await center.start_background()
        await ami.ready.wait()
        asterisk = next(c for c in center.connectors if isinstance(c, AsteriskConnector))
        await asterisk.session.wait_connected(10)
        print("ami connected", file=sys.stderr, flush=True)
        await asyncio.sleep(0.5)  # resync answered, sockets settled
        tune_process()  # as `hotline serve` does once it is up
        writer = ami.writers[0]
        suffix = next(f.get("Linkedid", "") for f in frames if f.get("Linkedid")).split(".")[1]
        sent: dict[str, tuple[float, str]] = {}
        t0 = time.monotonic()
        for n, (data, cut, agent, _) in enumerate(calls):
            pause = t0 + n / RATE - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            writer.write(data[:cut])
            sent[f"{int(prefix) + 1000 + n}.{suffix}"] = (time.monotonic(), agent)
            writer.write(data[cut:])
            await writer.drain()
        print(f"{total} calls written", file=sys.stderr, flush=True)
        try:
            async with asyncio.timeout(60):
                line = await child.stdout.readline()
        except TimeoutError:
            line = b""
        # Frees the browsers' stdin reader (and stops them early if some pops never came).
        child.stdin.write(b"stop\n")
        child.stdin.close()
        line = line or await child.stdout.readline()
        await child.wait()
        assert center.desk is not None
        await center.desk.drain()
        await runner.cleanup()
        await center.stop()
        await ami.stop()
    received = json.loads(line)
    delays = sorted((at - sent[cid][0]) * 1000 for cid, _, at in received if cid in sent)
    wrong = sum(1 for cid, user, _ in received if cid in sent and sent[cid][1] != user)
    return {
        "agents_connected": AGENTS,
        "calls": total,
        "calls_per_s": RATE,
        "pops_received": len(received),
        "pops_to_wrong_agent": wrong,
        "pop_p50_ms": round(statistics.median(delays), 3),
        "pop_p99_ms": round(delays[max(0, int(len(delays) * 0.99) - 1)], 3),
        "pop_max_ms": round(delays[-1], 3),
    }


async def main() -> None:
    figures = await center_side()
    result = {
        "bench": "screen_pop",
        "machine": f"{platform.machine()} {platform.system()} python{platform.python_version()}",
        "cpus": os.cpu_count(),
        "date": datetime.now(UTC).date().isoformat(),
        **figures,
    }
    print(
        f"{figures['pops_received']}/{figures['calls']} pops to {AGENTS} agent sockets at "
        f"{RATE} calls/s: p50 {figures['pop_p50_ms']} ms, p99 {figures['pop_p99_ms']} ms, "
        f"max {figures['pop_max_ms']} ms; to a wrong agent: {figures['pops_to_wrong_agent']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--browsers":
        tokens = json.loads(Path(sys.argv[3]).read_text())
        asyncio.run(browsers(sys.argv[2], tokens, int(sys.argv[4])))
    else:
        asyncio.run(main())
