"""The base pack's demo (`metacrm demo base`): a brand with two regions and three dealers,
users, accounts and leads — written through the RecordService like any other data.

Seeding is idempotent: it only runs on a database with no users yet.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from engine.auth import UserStore
from engine.compiled import CompiledSchema
from engine.demo.common import Demo, DemoUser
from engine.records import Actor, RecordService

__all__ = ["DEMO", "DEMO_USERS", "seed_demo"]

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "强", "洋", "艳", "杰", "娟", "涛", "明", "超", "霞"]
_COMPANIES = [
    "上海恒信贸易有限公司",
    "杭州云帆科技有限公司",
    "广州粤海物流有限公司",
    "苏州工业园区星河电子",
    "深圳前海创新投资",
    "南京金陵家居",
]


DEMO_USERS = (
    DemoUser("admin", "metacrm-admin", "系统管理员", ("administrator",), "brand"),
    DemoUser("hq.analyst", "metacrm-demo", "总部分析 赵敏", ("hq_analyst",), "brand"),
    DemoUser("east.manager", "metacrm-demo", "华东区域经理 陈强", ("sales_manager",), "east"),
    DemoUser("pudong.gm", "metacrm-demo", "浦东店总经理 王伟", ("dealer_manager",), "pudong"),
    DemoUser("pudong.sales", "metacrm-demo", "浦东店销售 李娜", ("dealer_staff",), "pudong"),
    DemoUser("xihu.sales", "metacrm-demo", "西湖店销售 张磊", ("dealer_staff",), "xihu"),
    DemoUser("tianhe.sales", "metacrm-demo", "天河店销售 刘芳", ("dealer_staff",), "tianhe"),
)
_UNITS = (  # key, name, code, kind, parent key, province
    ("brand", "华星集团", "HX", "brand", None, None),
    ("east", "华东大区", "HX-E", "region", "brand", None),
    ("south", "华南大区", "HX-S", "region", "brand", None),
    ("pudong", "上海浦东旗舰店", "HX-E-SH01", "dealer", "east", "shanghai"),
    ("xihu", "杭州西湖店", "HX-E-HZ01", "dealer", "east", "zhejiang"),
    ("tianhe", "广州天河店", "HX-S-GZ01", "dealer", "south", "guangdong"),
)


def seed_demo(
    service: RecordService,
    users: UserStore,
    compiled: CompiledSchema,
    leads: int = 60,
    progress: Callable[[float], None] | None = None,
) -> list[DemoUser] | None:
    """Create the demo organisation, users and records; None when already seeded."""
    if users.list_users():
        return None
    system = Actor(user_id=None, name="demo-seed")
    unit_ids: dict[str, str] = {}
    for key, name, code, kind, parent, province in _UNITS:
        values = {"name": name, "code": code, "kind": kind, "parent": unit_ids.get(parent or "")}
        if province and _has_value(compiled, "org_unit", "province", province):
            values["province"] = province
        unit_ids[key] = service.create("org_unit", values, system)["id"]
    actors = {}
    for spec in DEMO_USERS:
        user = users.create_user(
            spec.username,
            spec.password,
            spec.display_name,
            roles=list(spec.roles),
            org_unit=unit_ids[spec.unit],
        )
        actors[spec.username] = users.actor_for(user)
    rng = random.Random(2026)
    sellers = [actors[u.username] for u in DEMO_USERS if "dealer_staff" in u.roles]
    sources = _values(compiled, "lead", "source")
    # Head office hands the leads out (厂家下发): it sets the source, which dealer staff
    # may only read, and places each lead with its seller and the seller's dealer.
    head_office = actors["admin"]
    for i in range(leads):
        if progress is not None:
            progress(i / leads)
        seller = sellers[i % len(sellers)]
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(["", *_GIVEN])
        service.create(
            "lead",
            {
                "name": name,
                "phone": f"13{rng.randrange(5, 10)}{rng.randrange(10**8):08d}",
                "source": rng.choice(sources),
                "company": rng.choice(_COMPANIES),
                "rating": rng.choice(["hot", "warm", "cold"]),
                "owner": seller.user_id,
                "org_unit": seller.org_unit,
            },
            head_office,
        )
    for company in _COMPANIES:
        service.create("account", {"name": company}, rng.choice(sellers))
    if progress is not None:
        progress(1.0)
    return list(DEMO_USERS)


def _values(compiled: CompiledSchema, obj: str, field: str) -> list[str]:
    fdef = compiled.object(obj).fields[field]
    return [v.value for v in fdef.values if v.active]


def _has_value(compiled: CompiledSchema, obj: str, field: str, value: str) -> bool:
    fdef = compiled.object(obj).fields.get(field)
    return fdef is not None and value in [v.value for v in getattr(fdef, "values", [])]


DEMO = Demo(
    name="base",
    label="the base pack's CRM",
    packs=("base",),
    users=DEMO_USERS,
    unit_names={key: name for key, name, *_ in _UNITS},
    seed=seed_demo,
    default_leads=60,
)
