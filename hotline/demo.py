"""A realistic demo city: departments, categories, users and tickets in every state.

Tickets are made through the real service (accept, dispatch, sign, …) with a clock
that walks through the past weeks, so every timeline is one the center could write.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tickets.accounts import AccountService
from tickets.lifecycle import Action
from tickets.model import Channel, CitizenIdentity, InboundContact, RatingLevel, Role
from tickets.privacy import Viewer
from tickets.service import TicketService

# The six national top-level categories, and leaves the dispatch rules will key on.
CATEGORIES: list[dict[str, Any]] = [
    {"code": "consult", "name_zh": "咨询", "name_en": "Consultation", "sort": 1},
    {"code": "complaint", "name_zh": "投诉", "name_en": "Complaint", "sort": 2},
    {"code": "report", "name_zh": "举报", "name_en": "Report", "sort": 3},
    {"code": "help", "name_zh": "求助", "name_en": "Request for help", "sort": 4},
    {"code": "suggestion", "name_zh": "建议", "name_en": "Suggestion", "sort": 5},
    {"code": "praise", "name_zh": "表扬", "name_en": "Praise", "sort": 6},
]
LEAF_CATEGORIES: list[dict[str, Any]] = [
    {
        "code": "consult.social_insurance",
        "parent_code": "consult",
        "name_zh": "社保医保",
        "name_en": "Social and health insurance",
    },
    {
        "code": "consult.school",
        "parent_code": "consult",
        "name_zh": "入学政策",
        "name_en": "School enrolment",
    },
    {
        "code": "consult.household",
        "parent_code": "consult",
        "name_zh": "户籍办理",
        "name_en": "Household registration",
    },
    {
        "code": "complaint.noise",
        "parent_code": "complaint",
        "name_zh": "噪声扰民",
        "name_en": "Noise",
    },
    {
        "code": "complaint.street_vendor",
        "parent_code": "complaint",
        "name_zh": "占道经营",
        "name_en": "Street vendors",
    },
    {
        "code": "complaint.taxi",
        "parent_code": "complaint",
        "name_zh": "出租车拒载",
        "name_en": "Taxi refusing fares",
    },
    {
        "code": "complaint.shared_bike",
        "parent_code": "complaint",
        "name_zh": "共享单车乱停放",
        "name_en": "Shared bikes parked badly",
    },
    {
        "code": "complaint.food_safety",
        "parent_code": "complaint",
        "name_zh": "食品安全",
        "name_en": "Food safety",
    },
    {
        "code": "complaint.property",
        "parent_code": "complaint",
        "name_zh": "物业管理",
        "name_en": "Property management",
        "complexity": "complex",
    },
    {
        "code": "complaint.cityscape",
        "parent_code": "complaint",
        "name_zh": "市容环境",
        "name_en": "City appearance",
        "urgent": True,
    },
    {
        "code": "report.pollution",
        "parent_code": "report",
        "name_zh": "环保攻坚(工厂排污)",
        "name_en": "Pollution (factory discharge)",
        "urgent": True,
    },
    {
        "code": "report.wage_arrears",
        "parent_code": "report",
        "name_zh": "拖欠工资",
        "name_en": "Unpaid wages",
        "complexity": "complex",
        "review_required": True,
    },
    {
        "code": "help.water",
        "parent_code": "help",
        "name_zh": "停水停电",
        "name_en": "Water or power outage",
    },
    {
        "code": "help.poverty",
        "parent_code": "help",
        "name_zh": "扶贫救助",
        "name_en": "Poverty relief",
        "urgent": True,
    },
    {
        "code": "help.emergency",
        "parent_code": "help",
        "name_zh": "突发事件",
        "name_en": "Emergency",
        "urgent": True,
    },
    {
        "code": "suggestion.transport",
        "parent_code": "suggestion",
        "name_zh": "公交线路",
        "name_en": "Bus routes",
    },
    {
        "code": "praise.staff",
        "parent_code": "praise",
        "name_zh": "表扬工作人员",
        "name_en": "Praise for staff",
    },
]

DEPARTMENTS: list[dict[str, Any]] = [
    {
        "code": "hotline",
        "name_zh": "12345热线中心",
        "name_en": "12345 Hotline Center",
        "kind": "hotline",
    },
    {
        "code": "chengguan",
        "name_zh": "市城市管理局",
        "name_en": "City Management Bureau",
        "kind": "city",
    },
    {
        "code": "health",
        "name_zh": "市卫生健康委员会",
        "name_en": "Health Commission",
        "kind": "city",
    },
    {"code": "education", "name_zh": "市教育局", "name_en": "Education Bureau", "kind": "city"},
    {
        "code": "market",
        "name_zh": "市市场监督管理局",
        "name_en": "Market Regulation Administration",
        "kind": "city",
    },
    {
        "code": "eco",
        "name_zh": "市生态环境局(12369)",
        "name_en": "Ecology and Environment Bureau (12369)",
        "kind": "city",
    },
    {
        "code": "housing",
        "name_zh": "市住房和城乡建设局",
        "name_en": "Housing and Construction Bureau",
        "kind": "city",
    },
    {"code": "transport", "name_zh": "市交通运输局", "name_en": "Transport Bureau", "kind": "city"},
    {
        "code": "hrss",
        "name_zh": "市人力资源和社会保障局",
        "name_en": "Human Resources and Social Security Bureau",
        "kind": "city",
    },
    {
        "code": "police",
        "name_zh": "市公安局110指挥中心",
        "name_en": "Police 110 Command Center",
        "kind": "police",
    },
    {
        "code": "jinniu",
        "name_zh": "金牛区人民政府",
        "name_en": "Jinniu District",
        "kind": "district",
    },
    {
        "code": "chenghua",
        "name_zh": "成华区人民政府",
        "name_en": "Chenghua District",
        "kind": "district",
    },
    {
        "code": "jinjiang",
        "name_zh": "锦江区人民政府",
        "name_en": "Jinjiang District",
        "kind": "district",
    },
    {"code": "xinjin", "name_zh": "新津县人民政府", "name_en": "Xinjin County", "kind": "district"},
    {
        "code": "jinniu.fuqin",
        "name_zh": "抚琴街道办事处",
        "name_en": "Fuqin Subdistrict",
        "kind": "street",
        "parent_code": "jinniu",
    },
    {
        "code": "jinniu.chadianzi",
        "name_zh": "茶店子街道办事处",
        "name_en": "Chadianzi Subdistrict",
        "kind": "street",
        "parent_code": "jinniu",
    },
    {
        "code": "chenghua.shuangshuinian",
        "name_zh": "双水碾街道办事处",
        "name_en": "Shuangshuinian Subdistrict",
        "kind": "street",
        "parent_code": "chenghua",
    },
    {
        "code": "chenghua.erxianqiao",
        "name_zh": "二仙桥街道办事处",
        "name_en": "Erxianqiao Subdistrict",
        "kind": "street",
        "parent_code": "chenghua",
    },
    {
        "code": "jinjiang.chunxi",
        "name_zh": "春熙路街道办事处",
        "name_en": "Chunxilu Subdistrict",
        "kind": "street",
        "parent_code": "jinjiang",
    },
    {
        "code": "xinjin.huayuan",
        "name_zh": "花源镇人民政府",
        "name_en": "Huayuan Town",
        "kind": "street",
        "parent_code": "xinjin",
    },
    {
        "code": "chengguan.jinniu",
        "name_zh": "金牛区城市管理局",
        "name_en": "Jinniu City Management",
        "kind": "city",
        "parent_code": "chengguan",
    },
    {
        "code": "chengguan.chenghua",
        "name_zh": "成华区城市管理局",
        "name_en": "Chenghua City Management",
        "kind": "city",
        "parent_code": "chengguan",
    },
    {
        "code": "chengguan.jinniu.fuqin",
        "name_zh": "抚琴街道城管中队",
        "name_en": "Fuqin City Management Squad",
        "kind": "street",
        "parent_code": "chengguan.jinniu",
    },
]

# Which department a leaf category usually goes to (the dispatch rules come later).
LEADS = {
    "consult.social_insurance": "hrss",
    "consult.school": "education",
    "consult.household": "jinniu",
    "complaint.noise": "chengguan",
    "complaint.street_vendor": "chengguan",
    "complaint.taxi": "transport",
    "complaint.shared_bike": "chengguan",
    "complaint.food_safety": "market",
    "complaint.property": "housing",
    "complaint.cityscape": "chengguan",
    "report.pollution": "eco",
    "report.wage_arrears": "hrss",
    "help.water": "housing",
    "help.poverty": "jinniu",
    "help.emergency": "chenghua",
    "suggestion.transport": "transport",
    "praise.staff": "health",
}

TEXTS = {
    "consult.social_insurance": [
        "想咨询异地就医备案怎么办理,需要带哪些材料?",
        "灵活就业人员社保断缴了三个月,现在能补缴吗?",
    ],
    "consult.school": [
        "孩子明年上小学,租房户口能不能在片区学校报名?",
        "随迁子女入学需要准备哪些证明?",
    ],
    "consult.household": ["新生儿落户需要到哪里办理?", "身份证丢了,补办要多久?"],
    "complaint.noise": [
        "小区旁边工地晚上十一点以后还在施工,噪声很大,影响休息。",
        "楼下烧烤店每天营业到凌晨两点,音响声音太大。",
    ],
    "complaint.street_vendor": [
        "菜市场门口有人占道摆摊,早高峰车辆和行人都过不去。",
        "小区门口形成了无证菜场,垃圾没人清理。",
    ],
    "complaint.taxi": ["在火车东站打出租车,司机嫌路近拒载。", "出租车不打表,要求一口价八十元。"],
    "complaint.shared_bike": [
        "地铁口共享单车堆成一片,盲道被完全占用。",
        "小区门口共享单车乱停,救护车进不来。",
    ],
    "complaint.food_safety": [
        "在一家快餐店吃饭后肚子疼,后厨卫生很差。",
        "超市卖过期牛奶,要求处理。",
    ],
    "complaint.property": [
        "物业擅自提高停车费,业主没有同意。",
        "电梯坏了两周物业一直不修,老人上下楼困难。",
    ],
    "complaint.cityscape": [
        "主干道旁垃圾堆放多日无人清运,气味很大。",
        "人行道井盖缺失,晚上很危险。",
    ],
    "report.pollution": [
        "河边一家工厂晚上偷排污水,河水发黑发臭。",
        "工业园区有企业夜间排放刺鼻气体。",
    ],
    "report.wage_arrears": [
        "在工地干了半年活,包工头拖欠工资不给。",
        "公司三个月没发工资,老板联系不上。",
    ],
    "help.water": ["小区已经停水两天了,没有任何通知。", "整栋楼停电,家里有需要吸氧的老人。"],
    "help.poverty": [
        "村里一位独居老人生活困难,房子漏雨,希望帮助。",
        "家里孩子重病,申请临时救助不知道怎么办。",
    ],
    "help.emergency": ["路口一棵大树被风刮倒,压住了两辆车。", "小区地下室进水,水位还在上涨。"],
    "suggestion.transport": ["建议增加到高新区的早高峰公交班次。", "建议在医院门口增设公交站。"],
    "praise.staff": [
        "社区医院的王医生非常耐心,特此表扬。",
        "表扬街道办的工作人员,帮我们很快解决了问题。",
    ],
}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
]

USERS: list[tuple[str, Role, str | None, str]] = [
    ("admin", Role.ADMIN, None, "系统管理员"),
    ("supervisor", Role.SUPERVISOR, None, "值班长 赵敏"),
    ("agent01", Role.AGENT, None, "话务员 李静"),
    ("agent02", Role.AGENT, None, "话务员 王磊"),
    ("agent03", Role.AGENT, None, "话务员 陈芳"),
    ("chengguan", Role.DEPARTMENT, "chengguan", "市城管局 承办员"),
    ("chengguan_jinniu", Role.DEPARTMENT, "chengguan.jinniu", "金牛区城管局 承办员"),
    ("eco", Role.DEPARTMENT, "eco", "市生态环境局 承办员"),
    ("hrss", Role.DEPARTMENT, "hrss", "市人社局 承办员"),
    ("housing", Role.DEPARTMENT, "housing", "市住建局 承办员"),
    ("chenghua", Role.DEPARTMENT, "chenghua", "成华区 承办员"),
    ("shuangshuinian", Role.DEPARTMENT, "chenghua.shuangshuinian", "双水碾街道 承办员"),
    ("police110", Role.POLICE, "police", "110 指挥中心 接警员"),
]


async def load_reference_data(tickets: TicketService) -> None:
    """Departments and categories of the demo city (idempotent)."""
    async with tickets.store.write() as tx:
        for d in DEPARTMENTS:
            await tx.upsert_department(
                {"parent_code": None, "name_en": "", "phone": None, "active": True, **d}
            )
        for c in CATEGORIES + LEAF_CATEGORIES:
            await tx.upsert_category(
                {
                    "parent_code": None,
                    "complexity": "simple",
                    "urgent": False,
                    "review_required": False,
                    "sort": 0,
                    **c,
                }
            )
        await tx.replace_dispatch_rules(demo_rules(tickets.clock()))
    await tickets.load_reference()


def demo_rules(at: datetime) -> list[dict[str, Any]]:
    """One rule per leaf category (urgent ones dispatched at once), plus district rules."""
    urgent = {c["code"] for c in LEAF_CATEGORIES if c.get("urgent")}
    rules = [
        {
            "category": category,
            "district": None,
            "keywords": [],
            "lead_department": lead,
            "co_departments": ["eco"] if category == "complaint.noise" else [],
            "auto_dispatch": category in urgent,
            "priority": 0,
            "active": True,
            "updated_by": "demo",
            "updated_at": at,
        }
        for category, lead in LEADS.items()
    ]
    # Street vendors in Jinniu go to the district's own city-management bureau.
    rules.append({**rules[0], "category": "complaint.street_vendor", "district": "jinniu",
                  "lead_department": "chengguan.jinniu", "co_departments": [],
                  "auto_dispatch": False})  # fmt: skip
    return rules


async def load_standard_categories(tickets: TicketService) -> None:
    """The six national top-level categories, for a center that starts empty."""
    if tickets.category_rows:
        return
    async with tickets.store.write() as tx:
        for c in CATEGORIES:
            await tx.upsert_category(
                {
                    "parent_code": None,
                    "complexity": "simple",
                    "urgent": False,
                    "review_required": False,
                    **c,
                }
            )
    await tickets.load_reference()


@dataclass
class DemoClock:
    """A clock the demo moves forward by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, rng: random.Random, low_minutes: int, high_minutes: int) -> None:
        self.now += timedelta(minutes=rng.randint(low_minutes, high_minutes))


# How far each demo ticket travels along the loop (weights sum to 100).
JOURNEYS: list[tuple[str, int]] = [
    ("received", 8),
    ("pending_review", 3),
    ("dispatched", 10),
    ("returned", 4),
    ("handling", 16),
    ("extension", 3),
    ("result_submitted", 6),
    ("follow_up", 8),
    ("closed", 28),
    ("supervised", 5),
    ("with_police", 3),
    ("on_spot", 4),
    ("cancelled", 2),
]


async def load_demo(
    tickets: TicketService,
    accounts: AccountService,
    *,
    count: int = 300,
    seed: int = 12345,
    password: str = "hotline12345",
    end: datetime | None = None,
) -> dict[str, int]:
    """Reference data, one user of each kind (password `password`) and `count` tickets."""
    await load_reference_data(tickets)
    existing = {u.username for u in await accounts.users()}
    for username, role, dept, name in USERS:
        if username not in existing:
            await accounts.add_user(username, password, role, department=dept, display_name=name)
    rng = random.Random(seed)
    end = end or datetime.now(UTC)
    clock = DemoClock(end - timedelta(days=40))
    original_clock = tickets.clock
    tickets.clock = clock
    made: dict[str, int] = {}
    try:
        for i in range(count):
            clock.now = (
                end - timedelta(days=40) + timedelta(minutes=i * (40 * 24 * 60 - 600) // count)
            )
            journey = rng.choices([j for j, _ in JOURNEYS], weights=[w for _, w in JOURNEYS])[0]
            await _one_ticket(tickets, rng, clock, i, journey)
            made[journey] = made.get(journey, 0) + 1
    finally:
        tickets.clock = original_clock
    return made


async def _one_ticket(
    tickets: TicketService, rng: random.Random, clock: DemoClock, i: int, journey: str
) -> None:
    category = rng.choice(list(TEXTS))
    if journey == "pending_review":
        category = "report.wage_arrears"
    district = rng.choice(["jinniu", "chenghua", "jinjiang", "xinjin"])
    channel = rng.choices(
        [Channel.PHONE, Channel.WECHAT, Channel.MAILBOX, Channel.WEB], weights=[70, 18, 7, 5]
    )[0]
    name = rng.choice(SURNAMES) + rng.choice(GIVEN)
    phone = f"1{rng.choice('3578')}{rng.randint(100000000, 999999999)}"
    agent = f"agent0{rng.randint(1, 3)}"
    result = await tickets.accept(
        InboundContact(
            channel=channel,
            external_id=f"demo-{i}",
            citizen=CitizenIdentity(name=name, phone=phone),
            text=rng.choice(TEXTS[category]),
            received_at=clock.now,
            category=category,
            district=district,
            consent_publish=rng.random() < 0.4,
            confidential=rng.random() < 0.05,
            extra={"agent": agent},
        )
    )
    number = result.ticket_number
    agent_v = Viewer(agent, Role.AGENT)
    sup = Viewer("supervisor", Role.SUPERVISOR)
    lead = LEADS[category]
    dept = Viewer(lead, Role.DEPARTMENT, lead, tickets.scope_of(lead))

    async def step(viewer: Viewer, action: Action, lo: int = 5, hi: int = 240, **kw: Any) -> None:
        clock.advance(rng, lo, hi)
        await tickets.act(number, viewer, action, **kw)

    if journey == "received":
        return
    if journey == "on_spot":
        await step(
            agent_v, Action.RESOLVE_ON_SPOT, 2, 8, payload={"result": "已按政策解答,市民表示清楚。"}
        )
        await step(
            agent_v,
            Action.RECORD_RATING,
            60,
            600,
            payload={"rating": RatingLevel.VERY_SATISFIED.value},
        )
        return
    if journey == "cancelled":
        await step(sup, Action.CANCEL, reason="重复来电,已在其他工单处理")
        return
    if journey == "with_police":
        await step(agent_v, Action.TRANSFER_110, 1, 3)
        if rng.random() < 0.5:
            await step(
                Viewer("police110", Role.POLICE, "police", frozenset({"police"})),
                Action.POLICE_ACKNOWLEDGE,
                1,
                5,
            )
        return
    if journey == "pending_review":
        await step(agent_v, Action.SUBMIT_REVIEW, 3, 20)
        return
    if category == "report.wage_arrears":
        await step(agent_v, Action.SUBMIT_REVIEW, 3, 20)
        await step(sup, Action.APPROVE, 10, 120, payload={"department": lead})
    else:
        await step(agent_v, Action.DISPATCH, 3, 30, payload={"department": lead})
    if journey == "dispatched":
        return
    if journey == "returned":
        await step(
            dept,
            Action.RETURN,
            60,
            600,
            reason="该事项属于区县属地管理",
            payload={"reason_code": "wrong_district"},
        )
        return
    await step(dept, Action.SIGN, 20, 600)
    if journey == "handling":
        return
    if journey == "extension":
        await step(
            dept,
            Action.REQUEST_EXTENSION,
            600,
            3000,
            reason="需协调多个部门现场核查",
            payload={"days": 5},
        )
        return
    await step(
        dept,
        Action.SUBMIT_RESULT,
        600,
        6000,
        payload={"result": "已安排工作人员现场核实处理,问题已整改。"},
    )
    if journey == "result_submitted":
        return
    await step(agent_v, Action.INFORM_CITIZEN, 30, 600)
    if journey == "follow_up":
        return
    if journey == "supervised":
        level = rng.choice([RatingLevel.DISSATISFIED, RatingLevel.VERY_DISSATISFIED])
    else:
        level = rng.choices(
            [RatingLevel.VERY_SATISFIED, RatingLevel.SATISFIED, RatingLevel.BASICALLY_SATISFIED],
            weights=[50, 35, 15],
        )[0]
    await step(agent_v, Action.RECORD_RATING, 60, 1440, payload={"rating": level.value})
