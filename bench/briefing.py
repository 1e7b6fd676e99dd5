"""Time to build the leaders' daily briefing (with its 28-day hotspot baseline) on SQLite.

Generates `--per-day` tickets a day (Huzhou: 300 000 a year, about 820 a day) for 60 days,
then times: the first briefing (every complete day segmented with jieba and its counts
stored), the same briefing again in the same process, and again after a restart (a new
service: stored day counts read back, only today segmented). The last line printed is one
JSON object of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hotline.demo import load_reference_data
from reports.briefing import BriefingService, period_of
from reports.service import FigureService
from tickets.bus import InProcessBus
from tickets.policy import TicketRules
from tickets.service import TicketService
from tickets.store import create_store
from tickets.tables import tickets

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # 17:30 in Beijing
DAYS = 60
DISTRICTS = ["jinniu", "chenghua", "jinjiang", "xinjin"]
CHANNELS = ["phone"] * 10 + ["wechat"] * 5 + ["mailbox"] * 2 + ["web"] * 2 + ["telegram"]
MATTERS = [
    ("complaint.noise", "chengguan", ["夜间施工噪音扰民,影响休息", "广场舞噪音扰民"]),
    ("complaint.street_vendor", "chengguan", ["菜市场门口占道经营,行人无法通行"]),
    ("complaint.taxi", "transport", ["出租车拒载,司机态度恶劣", "出租车绕路多收费"]),
    ("consult.social_insurance", "hrss", ["咨询公积金提取办理流程", "医保卡异地报销怎么办理"]),
    ("help.water", "housing", ["小区停水两天无人通知", "自来水发黄有异味"]),
    ("report.pollution", "eco", ["工厂夜间偷排废气,气味刺鼻"]),
    ("complaint.property", "housing", ["物业费上涨未公示", "物业不作为,电梯长期故障"]),
    ("complaint.food_safety", "market", ["餐馆卫生差,吃后腹泻"]),
    ("consult.school", "education", ["咨询积分入学政策"]),
]


def rows(per_day: int, rng: random.Random) -> list[dict[str, Any]]:
    start = NOW - timedelta(days=DAYS)
    out = []
    for i in range(per_day * DAYS):
        created = start + timedelta(seconds=rng.randint(0, DAYS * 86400))
        category, dept, texts = rng.choice(MATTERS)
        out.append(
            {"number": f"B{i:08d}", "state": "closed", "channel": rng.choice(CHANNELS),
             "category": category, "lead_department": dept, "district": rng.choice(DISTRICTS),
             # a building number makes texts differ, as real letters do
             "description": f"{rng.choice(texts)},{rng.randint(1, 300)}号楼",
             "created_at": created, "updated_at": created, "last_contact_at": created}
        )  # fmt: skip
    return out


async def timed(service: BriefingService) -> float:
    started = time.perf_counter()
    await service.briefing(period_of("day", date(2026, 11, 23)))
    return time.perf_counter() - started


async def main(per_day: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp())
    store = create_store(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    await store.migrate()

    def clock() -> datetime:
        return NOW

    svc = TicketService(
        store=store, bus=InProcessBus(), rules=TicketRules(), forgery_key=b"k" * 32, clock=clock
    )
    await load_reference_data(svc)
    data = rows(per_day, random.Random(12345))
    async with store.write() as tx:
        for i in range(0, len(data), 5000):
            await tx.conn.execute(tickets.insert(), data[i : i + 5000])
    first_service = BriefingService(svc, FigureService(store))
    first = await timed(first_service)
    again = await timed(first_service)
    restarted = await timed(BriefingService(svc, FigureService(store)))
    await store.close()
    return {
        "tickets": len(data),
        "per_day": per_day,
        "first_s": round(first, 2),
        "again_s": round(again, 2),
        "after_restart_s": round(restarted, 2),
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=820)
    result = asyncio.run(main(parser.parse_args().per_day))
    print(
        f"{result['tickets']} tickets ({result['per_day']}/day): first briefing "
        f"{result['first_s']} s, again {result['again_s']} s, "
        f"after a restart {result['after_restart_s']} s"
    )
    print(json.dumps(result))
