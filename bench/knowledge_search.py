"""Knowledge-base search over 10 000 published articles on SQLite: what an agent waits for.

Run with no arguments; the last line printed is one JSON object of the figures. Articles are
written through the same segmentation the service uses (bulk-inserted, so the setup takes
seconds, not the minutes of 10 000 reviewed publications), then typical consultations are
searched the way the workspace asks: `quick_answers` (top 5, category lift) and the list page
(`search`, 30 a page, with the total).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hotline.demo import load_reference_data
from tickets.bus import InProcessBus
from tickets.knowledge import KnowledgeBase, index_terms, joined
from tickets.model import Role
from tickets.policy import TicketRules
from tickets.privacy import Viewer
from tickets.service import TicketService
from tickets.store import create_store
from tickets.tables import kb_articles, kb_versions
from tickets.words import load

N = 10_000
TOPICS = [
    ("住房公积金", "提取", "consult.social_insurance"),
    ("医保", "异地就医备案", "consult.social_insurance"),
    ("社保卡", "补办", "consult.social_insurance"),
    ("居住证", "签注", "consult.household"),
    ("户口迁移", "办理材料", "consult.household"),
    ("积分入学", "申请条件", "consult.school"),
    ("营业执照", "变更登记", None),
    ("不动产登记", "办理流程", None),
    ("养老金", "领取资格认证", "consult.social_insurance"),
    ("垃圾分类", "投放时间", None),
    ("电动车", "上牌", None),
    ("身份证", "异地换领", "consult.household"),
]
PLACES = ["市政务服务中心", "区政务大厅", "街道便民服务中心", "社区服务站", "线上小程序"]
QUERIES = [
    ("请问公积金怎么提取", "consult.social_insurance"),
    ("市民咨询异地就医怎么备案，需要带什么材料", "consult.social_insurance"),
    ("居住证到期了怎么签注", "consult.household"),
    ("孩子积分入学需要什么条件", "consult.school"),
    ("营业执照地址变更", ""),
    ("办理", ""),  # a word in nearly every article: the worst case for candidates
]


def article(i: int, rng: random.Random) -> dict[str, object]:
    thing, act, category = TOPICS[i % len(TOPICS)]
    place = rng.choice(PLACES)
    title = f"{thing}{act}指南（第{i}号）"
    body = (
        f"市民办理{thing}{act}，可携带身份证及相关证明材料到{place}申请，"
        f"符合条件的{rng.randint(1, 15)}个工作日内办结。也可通过线上渠道预约办理，"
        f"咨询电话12345。本规定依据本市第{rng.randint(1, 60)}号文件执行。"
    ) * 2
    keywords = [thing, act]
    return {
        "title": title,
        "body": body,
        "category": category,
        "keywords": keywords,
        "expires_on": date(2027, 12, 31) if i % 10 else date(2026, 1, 1),
        "title_terms": joined(index_terms(title)),
        "body_terms": joined(index_terms(body + " " + " ".join(keywords))),
    }


async def main() -> dict[str, object]:
    load()  # the dictionary loads once per process; not part of a query
    with tempfile.TemporaryDirectory() as tmp:
        store = create_store(f"sqlite+aiosqlite:///{Path(tmp) / 'kb.db'}")
        await store.migrate()
        tickets = TicketService(
            store=store, bus=InProcessBus(), rules=TicketRules(), forgery_key=b"k" * 32
        )
        await load_reference_data(tickets)
        kb = KnowledgeBase(store, tickets)
        rng = random.Random(12345)
        now = datetime.now(UTC) - timedelta(hours=1)  # written earlier, as in a running center
        started = time.perf_counter()
        rows = [article(i, rng) for i in range(N)]
        index_seconds = time.perf_counter() - started
        async with store.write() as tx:
            await tx.conn.execute(
                kb_articles.insert(),
                [
                    {
                        "id": i + 1,
                        "department": "hrss",
                        "status": "published",
                        "latest_version": 1,
                        "published_version": 1,
                        "created_by": "bench",
                        "created_at": now,
                        "updated_by": "bench",
                        "updated_at": now - timedelta(minutes=N - i),  # written over weeks
                    }
                    for i in range(N)
                ],
            )
            await tx.conn.execute(
                kb_versions.insert(),
                [
                    {
                        "article_id": i + 1,
                        "version": 1,
                        "status": "published",
                        "created_by": "bench",
                        "created_at": now,
                        "updated_by": "bench",
                        "updated_at": now,
                        **r,
                    }
                    for i, r in enumerate(rows)
                ],
            )
        agent = Viewer("agent", Role.AGENT)
        figures: dict[str, object] = {
            "articles": N,
            "segmentation_ms_per_article": round(index_seconds / N * 1000, 3),
        }
        for name, call in (
            ("quick_answers", lambda q, c: kb.quick_answers(agent, q, c or None)),
            ("list_page", lambda q, c: kb.search(agent, q, limit=30)),
        ):
            per_query: dict[str, float] = {}
            all_ms: list[float] = []
            cpu_ms: list[float] = []
            for q, c in QUERIES:
                await call(q, c)  # warm the page cache
                times = []
                for _ in range(10):
                    t0, c0 = time.perf_counter(), time.process_time()
                    await call(q, c)
                    times.append((time.perf_counter() - t0) * 1000)
                    cpu_ms.append((time.process_time() - c0) * 1000)
                per_query[q] = round(statistics.median(times), 1)
                all_ms += times
            all_ms.sort()
            figures[name] = {
                "median_ms_by_query": per_query,
                "p50_ms": round(statistics.median(all_ms), 1),
                "max_ms": round(all_ms[-1], 1),
                # CPU time of this process: what the query costs, whatever else runs
                "cpu_p50_ms": round(statistics.median(cpu_ms), 1),
                "cpu_max_ms": round(max(cpu_ms), 1),
            }
        top = await kb.quick_answers(agent, "请问公积金怎么提取", "consult.social_insurance")
        figures["top_answer"] = top[0]["title"] if top else None
        figures["python"] = platform.python_version()
        figures["load_average"] = [round(x, 1) for x in os.getloadavg()]
        await store.close()
        return figures


if __name__ == "__main__":
    result = asyncio.run(main())
    print(json.dumps(result, ensure_ascii=False))
