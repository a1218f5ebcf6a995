"""The automotive pack: valid in both languages on top of base, and its VIN rule, follow-up
formula and dealer roles working through the real record service on a SQLite file."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from engine.auth import PasswordHasher, UserStore
from engine.compiled import CompiledSchema, compile_schema
from engine.records import Actor, NotFound, RecordService, ValidationFailed
from engine.security import RoleAuthorizer
from engine.storage.database import Database
from engine.validate import validate_paths
from engine.worker import Worker
from metadata.model.common import LOCALES

AUTO = Path(__file__).resolve().parents[2] / "industry_packs" / "auto"
SYSTEM = Actor(user_id=None, name="test-setup")

AUTO_OBJECTS = {
    "vehicle_model",
    "vehicle_configuration",
    "vehicle",
    "test_drive",
    "vehicle_order",
    "delivery",
    "service_appointment",
    "repair_order",
    "repair_order_part",
    "repair_order_labour",
    "owner_referral",
}
AUTO_ROLES = {
    "sales_consultant",
    "showroom_manager",
    "service_advisor",
    "dealer_general_manager",
    "oem_regional_manager",
    "oem_headquarters",
}

# ISO 3779 / GB 16735, written independently of the pack's JsonLogic rule.
_TABLE = "0123456789.ABCDEFGH..JKLMN.P.R..STUVWXYZ"
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q


def check_digit(vin: str) -> str:
    total = sum(w * (_TABLE.index(c) % 10) for w, c in zip(_WEIGHTS, vin, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


VALID_VINS = [
    "1M8GDM9AXKP042788",  # the classic example, check digit X
    "1HGCM82633A004352",
    "JH4KA7561PC008269",
    "LSVAU218XN2183294",
    "LFV2A21K4G4000001",
]


class Clock:
    """The service's clock, moved by hand: 2026-11-23 17:30 UTC is already the 24th in
    Asia/Shanghai, so dates computed in the user's zone differ from UTC's."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 17, 30, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def report():
    return validate_paths([AUTO], strict_i18n=True)


@pytest.fixture(scope="module")
def compiled(report) -> CompiledSchema:
    assert not report.errors
    return compile_schema(report.schema)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(tmp_path, compiled, clock):
    db = Database(f"sqlite:///{tmp_path / 'auto.sqlite3'}")
    compiled.tables.metadata.create_all(db.engine)
    yield RecordService(db, compiled, clock=clock, authorizer=RoleAuthorizer(compiled))
    db.dispose()


@pytest.fixture
def model(service) -> dict:
    values = {"name": "星辰 X7", "code": "X7", "body_type": "suv", "powertrain": "phev"}
    return service.create("vehicle_model", values, SYSTEM)


# -- the pack ------------------------------------------------------------------------------


def test_auto_pack_validates_with_strict_i18n(report):
    assert [p.render() for p in report.errors] == []
    assert {p.name for p in report.schema.packs} == {"base", "auto"}


def test_auto_pack_declares_its_objects_and_extends_base_ones(report):
    objects = report.schema.objects
    assert set(objects) >= AUTO_OBJECTS
    assert "auto" in objects["lead"].packs and "base" in objects["lead"].packs
    for name, field in [
        ("lead", "intention_level"),
        ("lead", "next_follow_up_date"),
        ("lead", "lead_stage"),
        ("org_unit", "dealer_level"),
        ("org_unit", "discount_approval_threshold"),
        ("activity", "repair_order"),
    ]:
        assert objects[name].field(field) is not None, f"{name}.{field}"
    sources = {v.value for v in objects["lead"].field("source").values}
    assert {"website", "autohome", "dongchedi", "yiche", "store_walk_in", "exhibition",
            "referral"} <= sources  # fmt: skip


def test_every_label_exists_in_every_shipped_locale(report):
    for name in AUTO_OBJECTS | {"lead", "org_unit", "activity"}:
        obj = report.schema.objects[name]
        assert set(LOCALES) <= set(obj.label), name
        for field in obj.fields:
            assert set(LOCALES) <= set(field.label), f"{name}.{field.name}"
            for value in getattr(field, "values", None) or []:
                assert set(LOCALES) <= set(value.label or {}), f"{name}.{field.name}"


def test_processes_are_wired(report):
    schema = report.schema
    lead_flow = schema.workflows["lead_lifecycle"]
    assert (lead_flow.object, lead_flow.field) == ("lead", "lead_stage")
    assert [s.value for s in lead_flow.states] == [
        "new", "contacted", "test_drive", "negotiating", "ordered", "delivered",
        "loss_pending", "lost",
    ]  # fmt: skip
    request = next(t for t in lead_flow.transitions if t.name == "request_loss")
    assert request.approval == "lead_loss_approval" and request.required_fields == ["lost_reason"]
    assert schema.approvals["vehicle_order_discount_approval"].object == "vehicle_order"
    assert len(schema.approvals["vehicle_order_discount_approval"].steps) == 2
    reclaim = schema.automations["lead_reclaim_not_contacted"]
    assert (reclaim.trigger.field, reclaim.trigger.offset_hours) == ("owner_assigned_at", 24)
    assert schema.automations["vehicle_maintenance_reminder"].trigger.cron == "0 9 * * *"


# -- VIN -------------------------------------------------------------------------------------


def test_the_sample_vins_are_valid_by_an_independent_computation():
    for vin in VALID_VINS:
        assert check_digit(vin) == vin[8], vin


@pytest.mark.parametrize("vin", VALID_VINS)
def test_a_valid_vin_is_accepted(service, model, vin):
    vehicle = service.create("vehicle", {"vin": vin, "model": model["id"]}, SYSTEM)
    assert service.get("vehicle", vehicle["id"], SYSTEM)["vin"] == vin


def test_every_wrong_check_digit_is_refused(service, model):
    vin = "1M8GDM9AXKP042788"
    for digit in "0123456789":  # X is the right one
        wrong = vin[:8] + digit + vin[9:]
        with pytest.raises(ValidationFailed) as info:
            service.create("vehicle", {"vin": wrong, "model": model["id"]}, SYSTEM)
        assert [(e.field, e.rule) for e in info.value.errors] == [("vin", "vin_check_digit")]
    assert service.list("vehicle", SYSTEM, count=True).total == 0


@pytest.mark.parametrize(
    "vin",
    [
        "1M8GDM9AXKP04278",  # 16 characters
        "1M8GDM9AXKP0427880",  # 18
        "1M8GDM9AXKPO42788",  # O
        "1M8GDM9AXKP0I2788",  # I
        "QM8GDM9AXKP042788",  # Q
        "1m8gdm9axkp042788",  # lower case
    ],
)
def test_a_malformed_vin_is_refused_for_its_format(service, model, vin):
    with pytest.raises(ValidationFailed) as info:
        service.create("vehicle", {"vin": vin, "model": model["id"]}, SYSTEM)
    rules = {e.rule for e in info.value.errors if e.field == "vin"}
    assert "vin_check_digit" not in rules
    assert rules & {"vin_format", "too_long"}  # 18 characters fail the length check first


def test_the_check_digit_rule_agrees_with_iso_3779_on_random_vins(compiled):
    rules = {r.name: fn for r, fn in compiled.object("vehicle").validations}
    rule = rules["vin_check_digit"]
    rng = random.Random(3779)
    for _ in range(400):
        vin = "".join(rng.choice(_ALPHABET) for _ in range(17))
        if rng.random() < 0.5:  # half of them made valid
            vin = vin[:8] + check_digit(vin) + vin[9:]
        assert rule({"vin": vin}) is (check_digit(vin) == vin[8]), vin


# -- intention level → next follow-up date ----------------------------------------------------


@pytest.mark.parametrize(("level", "days"), [("H", 7), ("A", 15), ("B", 30), ("C", 90)])
def test_next_follow_up_counts_from_creation_by_intention_level(service, clock, level, days):
    lead = service.create(
        "lead", {"name": "王先生", "phone": "13812345678", "intention_level": level}, SYSTEM
    )
    # created 2026-11-24 in Asia/Shanghai (17:30 UTC on the 23rd)
    assert lead["next_follow_up_date"] == dt.date(2026, 11, 24) + dt.timedelta(days=days)
    clock.now += dt.timedelta(days=3)  # a later save does not move it
    again = service.update("lead", lead["id"], {"city": "上海"}, SYSTEM)
    assert again["next_follow_up_date"] == lead["next_follow_up_date"]


def test_next_follow_up_counts_from_the_last_contact(service, clock):
    lead = service.create(
        "lead", {"name": "李女士", "phone": "13900001111", "intention_level": "A"}, SYSTEM
    )
    contact = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)  # 11:00 on 1 Dec in Shanghai
    clock.now = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC)
    lead = service.update("lead", lead["id"], {"last_contacted_at": contact}, SYSTEM)
    assert lead["next_follow_up_date"] == dt.date(2026, 12, 16)  # 1 Dec + 15
    lead = service.update("lead", lead["id"], {"intention_level": "H"}, SYSTEM)
    assert lead["next_follow_up_date"] == dt.date(2026, 12, 8)
    lead = service.update("lead", lead["id"], {"intention_level": None}, SYSTEM)
    assert lead["next_follow_up_date"] is None


def test_logging_contact_restarts_the_follow_up_clock(service, clock):
    lead = service.create(
        "lead", {"name": "赵先生", "phone": "13900002222", "intention_level": "B"}, SYSTEM
    )
    clock.now += dt.timedelta(days=5)
    lead = service.transition("lead", lead["id"], "log_contact", SYSTEM)
    assert (lead["lead_stage"], lead["status"]) == ("contacted", "contacted")
    assert lead["next_follow_up_date"] == dt.date(2026, 11, 29) + dt.timedelta(days=30)


def test_a_lead_handed_down_by_the_brand_goes_to_the_dealers_consultants_in_turn(
    service, network
):
    """厂家下发: the brand assigns leads to a dealer (a partner whose unit is the dealer's);
    each lead moves into the dealer's unit and to its next sales consultant."""
    units, people = network
    dealer = service.create("partner", {"name": "上海浦东4S店", "kind": "dealer",
                                        "partner_code": "PD-4S",
                                        "partner_unit": units["pudong"]["id"]}, SYSTEM)  # fmt: skip
    owners = []
    for name in ("官网客户 甲", "官网客户 乙"):
        lead = service.create("lead", {"name": name, "phone": "13900006666",
                                       "source": "website",
                                       "assigned_partner": dealer["id"]}, SYSTEM)  # fmt: skip
        assert lead["org_unit"] == units["pudong"]["id"] and lead["assigned_at"] is not None
        owners.append(lead["owner"])
    assert sorted(owners) == sorted([people["sc1"].user_id, people["sc2"].user_id])
    # and the dealer in the other region never sees them
    assert service.list("lead", people["other"]).records == []


def test_the_consultant_is_reminded_on_the_next_follow_up_date(service, clock, network):
    """An A-level lead contacted today is due again in 15 days: at 09:00 that day (Shanghai)
    its consultant is reminded, not before, and only once."""
    _, people = network
    consultant = people["sc1"]
    lead = service.create("lead", {"name": "钱女士", "phone": "13900004444",
                                   "intention_level": "A"}, consultant)  # fmt: skip
    lead = service.transition("lead", lead["id"], "log_contact", consultant)
    due = lead["next_follow_up_date"]
    assert due == dt.date(2026, 11, 24) + dt.timedelta(days=15)
    shanghai = dt.timezone(dt.timedelta(hours=8))

    def reminders() -> list[str]:
        Worker(lambda: service).run(until_idle=True)
        notes = service.notifications(consultant)
        return [n["subject"] for n in notes if "今日跟进" in n["subject"]]

    clock.now = dt.datetime.combine(due, dt.time(8, 59), shanghai)
    assert reminders() == []
    clock.now = dt.datetime.combine(due, dt.time(9, 1), shanghai)
    assert reminders() == [f"今日跟进：线索 {lead['lead_number']}（A 级）"]
    clock.now += dt.timedelta(hours=2)
    assert len(reminders()) == 1


# -- roles ---------------------------------------------------------------------------------------


def test_the_dealer_and_oem_roles_exist(report):
    roles = report.schema.roles
    assert set(roles) >= AUTO_ROLES | {"administrator", "hq_analyst"}
    for name in AUTO_ROLES:
        assert roles[name].label["zh-CN"] and roles[name].label["en"], name
    assert roles["sales_consultant"].label["zh-CN"] == "销售顾问"
    assert roles["oem_regional_manager"].objects["lead"].read == "org_unit_and_below"
    assert "vehicle" in roles["administrator"].objects  # base role, auto grants merged


@pytest.fixture
def network(service):
    """Brand → two regions → a dealer each, with dealer staff and regional managers."""
    units: dict[str, dict] = {}
    for key, kind, parent in [("brand", "brand", None), ("east", "region", "brand"),
                              ("south", "region", "brand"), ("pudong", "dealer", "east"),
                              ("tianhe", "dealer", "south")]:  # fmt: skip
        values = {"name": key, "code": key.upper(), "kind": kind}
        if parent:
            values["parent"] = units[parent]["id"]
        if key == "pudong":
            values |= {"discount_approval_threshold": 5, "regional_approval_threshold": 8}
        units[key] = service.create("org_unit", values, SYSTEM)
    store = UserStore(service.db, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    people = {}
    for name, role, unit in [("sc1", "sales_consultant", "pudong"),
                             ("sc2", "sales_consultant", "pudong"),
                             ("sm", "showroom_manager", "pudong"),
                             ("gm", "dealer_general_manager", "pudong"),
                             ("other", "sales_consultant", "tianhe"),
                             ("east_rm", "oem_regional_manager", "east"),
                             ("south_rm", "oem_regional_manager", "south")]:  # fmt: skip
        user = store.create_user(name, None, name, roles=[role], org_unit=units[unit]["id"])
        people[name] = store.actor_for(user)
    return units, people


def test_dealer_data_stays_in_the_dealer_and_regions_see_their_dealers(service, model, network):
    units, people = network
    lead = service.create("lead", {"name": "孙先生", "phone": "13900004444"}, people["sc1"])
    vehicle = service.create("vehicle", {"vin": "LSVAU218XN2183294", "model": model["id"]},
                             SYSTEM)  # fmt: skip
    vehicle = service.transition("vehicle", vehicle["id"], "allocate", SYSTEM,
                                 {"dealer": units["pudong"]["id"]})  # fmt: skip
    assert vehicle["org_unit"] == units["pudong"]["id"]  # vehicle_follows_dealer

    assert service.get("lead", lead["id"], people["sm"])["id"] == lead["id"]
    assert service.get("lead", lead["id"], people["east_rm"])["id"] == lead["id"]
    assert service.get("vehicle", vehicle["id"], people["sc2"])["id"] == vehicle["id"]
    for outsider in ("sc2", "other", "south_rm"):
        with pytest.raises(NotFound):
            service.get("lead", lead["id"], people[outsider])
    for outsider in ("other", "south_rm"):
        with pytest.raises(NotFound):
            service.get("vehicle", vehicle["id"], people[outsider])


# -- processes ------------------------------------------------------------------------------------


def test_a_rejected_loss_request_returns_the_lead_to_its_stage_and_consultant(service, network):
    _, people = network
    seller, manager = people["sc1"], people["sm"]
    lead = service.create("lead", {"name": "李女士", "phone": "13900001111"}, seller)
    service.transition("lead", lead["id"], "log_contact", seller)
    lead = service.transition(
        "lead", lead["id"], "request_loss", seller, values={"lost_reason": "no_budget"}
    )
    assert (lead["lead_stage"], lead["status"], lead["stage_before_loss"]) == (
        "loss_pending", "lost", "contacted",
    )  # fmt: skip
    [task] = service.inbox(manager)
    service.reject(task["id"], manager, "keep trying")
    back = service.get("lead", lead["id"], SYSTEM)
    assert (back["lead_stage"], back["status"], back["lost_reason"]) == (
        "contacted", "contacted", None,
    )  # fmt: skip
    assert back["owner"] == seller.user_id

    service.transition("lead", lead["id"], "request_loss", seller, values={"lost_reason": "other",
                       "lost_note": "moved abroad"})  # fmt: skip
    [task] = service.inbox(manager)
    service.approve(task["id"], manager)
    lost = service.get("lead", lead["id"], SYSTEM)
    assert (lost["lead_stage"], lost["status"]) == ("lost", "lost") and lost["lost_at"]


def test_a_deep_order_discount_needs_the_gm_and_the_regional_manager(service, model, network):
    units, people = network
    seller = people["sc1"]
    trim = service.create(
        "vehicle_configuration",
        {"name": "X7 旗舰版", "code": "X7-AWD", "model": model["id"], "msrp": 200000},
        SYSTEM,
    )
    account = service.create(
        "account", {"name": "王先生", "account_type": "person", "phone": "13812345678"}, seller
    )
    values = {"account": account["id"], "configuration": trim["id"], "discount": 24000,
              "approval_comment": "matching a competitor's offer"}  # fmt: skip
    order = service.create("vehicle_order", values, seller)
    assert order["dealer"] == units["pudong"]["id"]  # the consultant's dealer by default
    assert (order["list_price"], order["discount_rate"]) == (200000, 12)
    assert (order["dealer_discount_threshold"], order["regional_discount_threshold"]) == (5, 8)
    with pytest.raises(ValidationFailed):
        service.transition("vehicle_order", order["id"], "confirm", seller)

    service.transition("vehicle_order", order["id"], "submit_for_approval", seller)
    assert service.inbox(people["east_rm"]) == []
    [first] = service.inbox(people["gm"])
    service.approve(first["id"], people["gm"])
    assert service.get("vehicle_order", order["id"], SYSTEM)["status"] == "pending_approval"
    [second] = service.inbox(people["east_rm"])
    service.approve(second["id"], people["east_rm"])
    done = service.get("vehicle_order", order["id"], SYSTEM)
    assert done["status"] == "confirmed" and done["approved_discount"] == 24000


def test_leads_not_contacted_in_24_hours_go_round_the_consultants(service, clock, network):
    _, people = network
    seller = people["sc1"]
    first, second = (
        service.create("lead", {"name": name, "phone": phone}, seller)
        for name, phone in (("钱先生", "13900003333"), ("周女士", "13900005555"))
    )
    assert first["owner_assigned_at"] == clock.now
    clock.now += dt.timedelta(hours=23)
    Worker(lambda: service).run(until_idle=True)
    assert service.get("lead", first["id"], SYSTEM)["owner"] == seller.user_id
    contacted = service.transition("lead", second["id"], "log_contact", seller)
    assert contacted["lead_stage"] == "contacted"  # contacted in time: stays
    third = service.create("lead", {"name": "吴先生", "phone": "13900006666"}, seller)

    clock.now += dt.timedelta(hours=25)  # first and third are overdue now
    Worker(lambda: service).run(until_idle=True)
    moved = [service.get("lead", lead["id"], SYSTEM) for lead in (first, third)]
    # never back to the consultant who let them lie while the dealer has another one
    assert {lead["owner"] for lead in moved} == {people["sc2"].user_id}
    for lead in moved:
        assert lead["assignment_round"] == 1 and lead["owner_assigned_at"] == clock.now
    assert service.get("lead", second["id"], SYSTEM)["owner"] == seller.user_id
    notified = [n["subject"] for n in service.notifications(people["sm"])]
    assert sum("超过 24 小时未联系" in subject for subject in notified) == 2
