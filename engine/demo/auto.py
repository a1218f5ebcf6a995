"""The auto demo (`metacrm demo auto`, what `make run` starts): the car brand 华星汽车, its
two sales regions and three 4S dealers, their staff, and the last three months of their
showroom and workshop — written through the RecordService, as the people who sign in.

Nothing is inserted behind the record service's back. Each lead, order and workshop visit
is a *story*: the calls its consultant, showroom manager, general manager, regional manager
or service advisor would have made (create, transition, submit, approve), at the times they
would have made them. The stories run interleaved in the order of those times on a
`RecordService` whose clock the seed moves (``SimulatedClock``), so creation dates, stage
moves, approvals, autonumbers and the audit trail are those of three months of work, and
the pack's own rules see every write as they would have then: a test drive is booked in the
future of its booking, a loss request waits for the showroom manager. The worker runs every
simulated morning, so reminders, survey calls and maintenance reminders happened too. The
clock never passes the real time at which seeding started; what lies after it (upcoming
test drives, deliveries, workshop appointments) is only booked.

Seeding is deterministic for a given start time (``random.Random(seed)``), except for which
consultant the lead centre's round robin picks (it goes by user id). It runs only on a
database without users.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from engine.auth import UserStore
from engine.compiled import CompiledSchema
from engine.demo import auto_data as data
from engine.demo.common import Demo, DemoUser, SimulatedClock
from engine.demo.vin import make_vin
from engine.records import Actor, RecordService
from engine.rules import system_clock
from engine.security import RoleAuthorizer
from engine.worker import Round, RoundFailed, Worker

__all__ = ["DEMO", "DEMO_USERS", "seed_demo", "summary"]

log = logging.getLogger(__name__)

DEMO_USERS = data.DEMO_USERS
TZ = ZoneInfo("Asia/Shanghai")
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
WINDOW = 89 * DAY  # the leads of the last three months
HISTORY = 430 * DAY  # the network, the range and the owners who bought before
OPEN, CLOSE = dt.time(9, 0), dt.time(20, 30)  # showroom hours
SYSTEM = Actor(user_id=None, name="demo-seed")
Record = dict[str, Any]
Story = Iterator[dt.datetime]

#: The final stage of the leads of the last three months, as shares of them.
STAGES = (
    ("new", 0.08),
    ("contacted", 0.22),
    ("test_drive", 0.13),
    ("negotiating", 0.11),
    ("ordered", 0.09),
    ("delivered", 0.12),
    ("loss_pending", 0.03),
    ("lost", 0.22),
)
LOSS_REASONS = {
    "new": (("no_response", 4), ("invalid_info", 2), ("duplicate", 1)),
    "contacted": (("no_response", 3), ("not_interested", 3), ("no_budget", 2),
                  ("bought_competitor", 3), ("out_of_area", 1)),
    "test_drive": (("bought_competitor", 5), ("no_budget", 2), ("not_interested", 1),
                   ("other", 1)),
    "negotiating": (("bought_competitor", 6), ("no_budget", 3), ("other", 1)),
}  # fmt: skip
LOSS_NOTES = {
    "no_response": "连续三次电话未接通，短信与微信均未回复。",
    "invalid_info": "电话为空号，无法联系。",
    "duplicate": "与已有线索重复，客户已由其他顾问跟进。",
    "not_interested": "客户表示暂无购车计划。",
    "no_budget": "客户预算不足，计划明年再考虑。",
    "out_of_area": "客户常驻外地，建议就近选择经销商。",
    "bought_competitor": "客户已在其他品牌下订。",
    "other": "客户家庭原因暂缓购车。",
}


# -- plans -------------------------------------------------------------------------------


@dataclass
class Person:
    name: str
    gender: str
    phone: str
    district: str

    @property
    def salutation(self) -> str:
        return self.name[0] + ("先生" if self.gender == "male" else "女士")


@dataclass
class LeadPlan:
    """One customer's story: who, through which channel, how far they get, and when."""

    dealer: data.Dealer
    source: str
    stage: str
    person: Person
    model: data.Model
    trim: data.Trim
    colour: str
    consultant: Actor | None  # None: the brand's lead centre hands the lead down
    levels: tuple[str | None, str]  # intention level at first contact, then later
    drive: str | None = None  # None, "same_day", "booked", "no_show", "upcoming"
    loss_from: str | None = None
    loss_reason: str | None = None
    rejected_loss: bool = False
    approval: str | None = None  # None, "gm", "rm", "rejected"
    order_end: str | None = None  # confirmed, assigned, booked, pending_gm, pending_rm, cancelled
    trade_in: tuple[str, int, int, int] | None = None
    financing: bool = False
    referrer: LeadPlan | None = None
    owner_history: bool = False  # bought before the last three months; comes for service
    in_workshop: bool = False  # an owner whose car is in the workshop right now
    times: dict[str, dt.datetime] = field(default_factory=dict)
    # filled in as the story runs
    lead: Record | None = None
    account: Record | None = None
    vehicle: Record | None = None
    owner: Actor | None = None


@dataclass
class Visit:
    at: dt.datetime
    kind: str  # maintenance or a REPAIRS entry's service type
    repair: tuple[Any, ...] | None
    end: str  # closed, in_progress, no_show, booked


# -- the seed ----------------------------------------------------------------------------


def seed_demo(
    service: RecordService,
    users: UserStore,
    compiled: CompiledSchema | None = None,
    leads: int = 300,
    *,
    seed: int = 2026,
    now: dt.datetime | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[DemoUser] | None:
    """Seed the auto demo; None when the database already has users (nothing is done).

    ``leads`` is the number of leads of the last three months; owners who bought before
    (one for every twenty leads, at least three) come on top. ``now`` is where the simulated clock
    stops (default: the real time). ``progress`` is told the share done, now and then.
    """
    del compiled  # the service's schema is the one written through
    if users.list_users():
        return None
    _AutoSeed(service, users, leads, seed, now or system_clock()).run(progress)
    return list(DEMO_USERS)


class _AutoSeed:
    def __init__(
        self, service: RecordService, users: UserStore, leads: int, seed: int, now: dt.datetime
    ):
        self.now = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
        self.start = self.now - HISTORY
        self.window = self.now - WINDOW
        self.clock = SimulatedClock(self.start)
        authorizer = service.authorizer
        if isinstance(authorizer, RoleAuthorizer):
            authorizer = RoleAuthorizer(service.compiled, self.clock)
        self.service = RecordService(
            service.db, service.compiled, authorizer=authorizer, plugins=service.plugins,
            clock=self.clock, mail=service.mail, files=service.files,
        )  # fmt: skip
        self.users = UserStore(users.db, users.tables, clock=self.clock, hasher=users.hasher)
        self.worker = Worker(lambda: self.service)
        self.rng = random.Random(seed)
        self.leads = max(0, leads)
        self.queue: list[tuple[dt.datetime, int, Story]] = []
        self.turn = itertools.count()
        self.phones: set[str] = set()
        self.serial = itertools.count(self.rng.randrange(200000, 260000))
        # filled by setup
        self.units: dict[str, Record] = {}
        self.partners: dict[str, Record] = {}
        self.actors: dict[str, Actor] = {}
        self.by_id: dict[str, Actor] = {}
        self.models: dict[str, Record] = {}
        self.trims: dict[str, Record] = {}
        self.stock: dict[str, list[Record]] = {d.key: [] for d in data.DEALERS}
        self.demo_cars: dict[tuple[str, str], Record] = {}
        self.model_year = (self.start + 120 * DAY).year

    # -- running -------------------------------------------------------------------------

    def run(self, progress: Callable[[float], None] | None = None) -> None:
        self.setup()
        self.step(self.mornings())
        self.step(self.allocations())
        plans = self.plan_owners()
        plans += self.plan_leads(plans)
        for plan in plans:
            self.step(self.sale(plan))
        expected = sum(len(p.times) for p in plans) * 1.2 + (self.now - self.window) / DAY
        done = 0
        while self.queue:
            at, _, story = heapq.heappop(self.queue)
            self.clock.advance_to(at)
            self.step(story)
            done += 1
            if progress is not None and done % 25 == 0:
                progress(min(0.99, done / expected))
        self.clock.advance_to(self.now)
        self.work()
        if progress is not None:
            progress(1.0)

    def step(self, story: Story) -> None:
        """Run a story up to its next point in time, and queue it for then."""
        try:
            at = next(story)
        except StopIteration:
            return
        if at > self.now:  # planned past the present: it has not happened (yet)
            log.warning("demo story stopped at %s, after now", at)
            story.close()
            return
        heapq.heappush(self.queue, (max(at, self.clock.now), next(self.turn), story))

    def work(self) -> None:
        """What the worker does at this moment: due timers, schedules, escalations."""
        while self.round().busy:
            pass

    def round(self) -> Round:
        """One worker round; a part of it that fails fails the seed (it is logged too)."""
        done = self.worker.run_round()
        if done.failed:
            raise RoundFailed(done.failed)
        return done

    def mornings(self) -> Story:
        """The worker's rounds: every simulated morning of the last three months (every
        week before), so reminders and follow-up calls appear when they were due."""
        at = _at_local(self.start + DAY, dt.time(8, 55))
        while at < self.now:
            yield at
            self.round()
            at += DAY if at >= self.window - 7 * DAY else 7 * DAY

    # -- who and what exists ---------------------------------------------------------------

    def setup(self) -> None:
        svc = self.service
        for unit in data.UNITS:
            values: Record = {
                "name": unit.name, "code": unit.code, "kind": unit.kind,
                "parent": self.units[unit.parent]["id"] if unit.parent else None,
                "province": unit.province, "city": unit.city, "phone": unit.phone,
                "opened_on": (self.start - self.rng.randrange(400, 1500) * DAY).date(),
            }  # fmt: skip
            if unit.kind == "dealer":
                values["dealer_level"] = "4s"
                values["description"] = unit.address
            self.units[unit.key] = svc.create("org_unit", _present(values), SYSTEM)
        for spec in DEMO_USERS:
            user = self.users.create_user(
                spec.username, spec.password, spec.display_name, roles=list(spec.roles),
                org_unit=self.units[spec.unit]["id"],
            )  # fmt: skip
            actor = self.users.actor_for(user)
            self.actors[spec.username] = actor
            self.by_id[str(actor.user_id)] = actor
        self.clock.advance_to(self.start + 2 * HOUR)
        admin = self.actors["admin"]
        managers = {"brand": "hq", "east": "east.rm", "south": "south.rm"} | {
            d.key: f"{d.key}.gm" for d in data.DEALERS
        }
        for key, username in managers.items():
            self.units[key] = svc.update(
                "org_unit", self.units[key]["id"], {"manager": self.actors[username].user_id},
                admin,
            )  # fmt: skip
        # Each regional manager sets the discount thresholds of their dealers.
        for dealer in data.DEALERS:
            region = self.units[dealer.key]["parent"]
            rm = next(a for a in self.actors.values()
                      if a.org_unit == region and "oem_regional_manager" in a.roles)  # fmt: skip
            svc.update(
                "org_unit", self.units[dealer.key]["id"],
                {"discount_approval_threshold": dealer.discount_threshold,
                 "regional_approval_threshold": dealer.regional_threshold}, rm,
            )  # fmt: skip
        hq = self.actors["hq"]
        for dealer in data.DEALERS:
            unit = next(u for u in data.UNITS if u.key == dealer.key)
            gm = self.actors[f"{dealer.key}.gm"]
            contract_start = (self.start - 200 * DAY).date().replace(month=1, day=1)
            self.partners[dealer.key] = svc.create(
                "partner",
                {"name": unit.name, "partner_code": dealer.partner_code, "kind": "dealer",
                 "network_level": "tier_1", "status": "active",
                 "partner_unit": self.units[dealer.key]["id"],
                 "contract_number": f"HX-DLR-{contract_start.year}-{dealer.partner_code[2:]}",
                 "contract_start": contract_start,
                 "contract_end": contract_start.replace(year=self.now.year + 2),
                 "business_scope": ["sales", "after_sales", "spare_parts", "showroom"],
                 "contact_name": gm.name, "contact_phone": unit.phone,
                 "province": unit.province, "city": unit.city, "grade": "A",
                 "org_unit": self.units[dealer.key]["id"]},  # its staff see their record
                hq,
            )  # fmt: skip
        for model in data.MODELS:
            launched = self.start - self.rng.randrange(60, 300) * DAY
            record = svc.create(
                "vehicle_model",
                {"name": model.name, "code": model.code, "series": model.series,
                 "body_type": model.body_type, "powertrain": model.powertrain,
                 "launch_date": launched.date(), "description": model.selling_points},
                hq,
            )  # fmt: skip
            self.models[model.code] = record
            for trim in model.trims:
                self.trims[trim.code] = svc.create(
                    "vehicle_configuration",
                    {"name": f"{self.model_year}款 {trim.name}", "code": trim.code,
                     "model": record["id"], "model_year": self.model_year, "msrp": trim.msrp,
                     "drive_type": trim.drive, "seats": trim.seats,
                     "electric_range_km": trim.range_km, "description": trim.highlights},
                    hq,
                )  # fmt: skip
        self.clock.advance_to(self.start + 6 * HOUR)
        for dealer in data.DEALERS:  # a demo car of every model, a car of every trim
            for model in data.MODELS:
                car = self.allocate(dealer.key, model, model.trims[-1], "white", demo_car=True)
                self.demo_cars[(dealer.key, model.code)] = car
                for trim in model.trims:
                    self.stock[dealer.key].append(
                        self.allocate(dealer.key, model, trim, self.pick(data.COLOURS))
                    )

    def allocations(self) -> Story:
        """The brand allocates new cars to its dealers twice a month, and keeps a few in
        its own stock for the regions to allocate."""
        at = _at_local(self.window - 10 * DAY, dt.time(10, 0))
        while at < self.now - DAY:
            yield at
            for dealer in data.DEALERS:
                for _ in range(round(self.rng.uniform(1, 3) * min(1, self.leads / 300))):
                    model = self.pick_model()
                    trim = self.rng.choice(model.trims)
                    car = self.allocate(dealer.key, model, trim, self.pick(data.COLOURS))
                    self.stock[dealer.key].append(car)
            at += self.rng.randint(13, 17) * DAY
        yield self.now - 3 * DAY
        for _ in range(6):
            model = self.pick_model()
            self.produce(model, self.rng.choice(model.trims), self.pick(data.COLOURS))

    def produce(self, model: data.Model, trim: data.Trim, colour: str) -> Record:
        """A car leaves the factory into the brand's stock (HQ)."""
        serial = next(self.serial)
        vin = make_vin(data.WMI, trim.vds, self.model_year, data.PLANT, serial)
        made = self.clock.now - self.rng.randint(12, 40) * DAY
        return self.service.create(
            "vehicle",
            {"vin": vin, "model": self.models[model.code]["id"],
             "configuration": self.trims[trim.code]["id"], "colour": colour,
             "engine_number": f"{model.engine_prefix}{self.model_year % 100:02d}{serial:07d}",
             "production_date": made.date()},
            self.actors["hq"],
        )  # fmt: skip

    def allocate(
        self, dealer: str, model: data.Model, trim: data.Trim, colour: str, demo_car: bool = False
    ) -> Record:
        """HQ produces a car and allocates it to ``dealer``."""
        car = self.produce(model, trim, colour)
        values: Record = {"dealer": self.units[dealer]["id"]}
        if demo_car:
            values["notes"] = "展厅试驾车，不对外销售。"
        return self.service.transition("vehicle", car["id"], "allocate", self.actors["hq"], values)

    def vehicle_for(self, plan: LeadPlan) -> Record:
        """A car of the order's trim and colour from the dealer's stock; else the brand
        allocates one (the order waits for it in real life)."""
        pool = self.stock[plan.dealer.key]
        trim = self.trims[plan.trim.code]["id"]
        for car in pool:
            if car["configuration"] == trim and car["colour"] == plan.colour:
                pool.remove(car)
                return car
        return self.allocate(plan.dealer.key, plan.model, plan.trim, plan.colour)

    def in_stock(self, plan: LeadPlan) -> str | None:
        """The colour of a car of the plan's trim the dealer has in stock, if any."""
        trim = self.trims[plan.trim.code]["id"]
        colours = [c["colour"] for c in self.stock[plan.dealer.key] if c["configuration"] == trim]
        return self.rng.choice(colours) if colours else None

    # -- planning --------------------------------------------------------------------------

    def pick(self, weighted: Sequence[tuple[Any, float]]) -> Any:
        values, weights = zip(*weighted, strict=True)
        return self.rng.choices(values, weights)[0]

    def pick_model(self) -> data.Model:
        return self.pick([(m, m.share) for m in data.MODELS])

    def person(self, dealer: data.Dealer) -> Person:
        gender = self.rng.choice(("male", "male", "female"))
        given = data.MALE_GIVEN if gender == "male" else data.FEMALE_GIVEN
        while True:
            phone = self.rng.choice(data.MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                break
        name = self.rng.choice(data.SURNAMES) + self.rng.choice(given)
        return Person(name, gender, phone, self.rng.choice(dealer.districts))

    def plan_owners(self) -> list[LeadPlan]:
        """Customers who bought in the year before: they come back for service, and
        some of them bring friends."""
        plans = []
        count = max(3, self.leads // 20)
        for i in range(count):
            dealer = data.DEALERS[i % len(data.DEALERS)]
            plan = self.plan(dealer, "delivered", owner_history=True)
            plan.in_workshop = i in (1, 2)
            self.fit(plan, (150, 395), window=self.start + 3 * DAY)
            plans.append(plan)
        return plans

    def plan_leads(self, owners: list[LeadPlan]) -> list[LeadPlan]:
        stages: list[str] = []
        for stage, share in STAGES:
            stages += [stage] * round(self.leads * share)
        stages = (stages + ["contacted"] * self.leads)[: self.leads]
        self.rng.shuffle(stages)
        # What the demo should show somewhere, on the first leads of their stage, at a
        # known dealer: an order waiting for pudong.gm, one waiting for east.rm (xihu's
        # general manager approved it), a discount the tianhe GM rejected, a cancelled
        # order, and a loss request waiting for each showroom manager.
        specials = {"ordered": [("pending_gm", "pudong"), ("pending_rm", "xihu")],
                    "delivered": [("rejected", "tianhe")],
                    "negotiating": [("cancelled", "pudong")] if self.leads >= 50 else [],
                    "loss_pending": [(None, d.key) for d in data.DEALERS]}  # fmt: skip
        dealers = {d.key: d for d in data.DEALERS}
        plans = []
        for stage in stages:
            special, home = specials[stage].pop(0) if specials.get(stage) else (None, None)
            dealer = dealers[home] if home else self.pick([(d, d.share) for d in data.DEALERS])
            plan = self.plan(dealer, stage, owners=owners)
            if special == "pending_gm":
                plan.approval, plan.order_end = "gm", "pending_gm"
            elif special == "pending_rm":
                plan.approval, plan.order_end = "rm", "pending_rm"
            elif special == "rejected":
                plan.approval = "rejected"
            elif special == "cancelled":
                plan.order_end = "cancelled"
            self.fit(plan, _END_AGES[plan.order_end or stage], window=self.window)
            plans.append(plan)
        return plans

    def plan(
        self,
        dealer: data.Dealer,
        stage: str,
        owners: Sequence[LeadPlan] = (),
        owner_history: bool = False,
    ) -> LeadPlan:
        rng = self.rng
        source = "store_walk_in" if owner_history else self.pick(data.SOURCES)
        referrers = [o for o in owners if o.dealer is dealer]
        if source == "referral" and not referrers:
            source = "store_walk_in"
        consultants = [a for a in self.actors.values()
                       if "sales_consultant" in a.roles
                       and a.org_unit == self.units[dealer.key]["id"]]  # fmt: skip
        dispatched = source in data.ONLINE_SOURCES or source == "hotline"
        model = self.pick_model()
        first = {"new": rng.choice((None, None, "B", "C")),
                 "contacted": self.pick((("A", 2), ("B", 4), ("C", 3)))}.get(
            stage, self.pick((("H", 2), ("A", 4), ("B", 3))))  # fmt: skip
        later = "H" if stage in ("ordered", "delivered") else self.pick((("H", 1), ("A", 2)))
        plan = LeadPlan(
            dealer=dealer, source=source, stage=stage, person=self.person(dealer), model=model,
            trim=self.pick([(t, 3 - i) for i, t in enumerate(model.trims)]),
            colour=self.pick(data.COLOURS),
            consultant=None if dispatched else rng.choice(consultants),
            levels=(first, later), owner_history=owner_history,
            referrer=rng.choice(referrers) if source == "referral" else None,
        )  # fmt: skip
        if stage in ("lost", "loss_pending"):
            plan.loss_from = self.pick((("new", 2), ("contacted", 5), ("test_drive", 2),
                                        ("negotiating", 2)))  # fmt: skip
            plan.loss_reason = self.pick(LOSS_REASONS[plan.loss_from])
        reached = _reach(plan)
        if "test_drive" in reached and (stage == "test_drive" or rng.random() < 0.85):
            plan.drive = self.pick((("same_day", 3), ("booked", 6), ("no_show", 1)))
            if source != "store_walk_in" and plan.drive == "same_day":
                plan.drive = "booked"
        elif stage == "contacted" and rng.random() < 0.3:
            plan.drive = "upcoming"
        if stage in ("contacted", "test_drive") and rng.random() < 0.06:
            plan.rejected_loss = True
        if "ordered" in reached:
            if plan.approval is None and rng.random() < 0.2:
                plan.approval = self.pick((("gm", 3), ("rm", 1)))
            if stage == "ordered":
                plan.order_end = self.pick((("confirmed", 3), ("assigned", 3), ("booked", 3)))
            plan.financing = rng.random() < 0.4
        if rng.random() < 0.22:
            plan.trade_in = rng.choice(data.TRADE_INS)
        return plan

    def fit(self, plan: LeadPlan, end_age_days: tuple[float, float], window: dt.datetime) -> None:
        """The times of the plan's steps: the last one at a random age in ``end_age_days``
        (in showroom hours), the others before it, after ``window``."""
        steps = self.steps(plan)
        for _ in range(8):
            if (
                plan.stage == "new"
                or plan.order_end in ("pending_gm", "pending_rm")
                or (plan.stage == "loss_pending")
            ):
                end = self.recent(20)  # not yet waiting long enough to be reassigned/escalated
            else:
                low, high = end_age_days
                if plan.stage in _MOSTLY_OLD and not plan.owner_history:
                    age = self.rng.triangular(low, high, high) * DAY
                else:
                    age = self.rng.uniform(low, high) * DAY
                end = _snap_back(self.now - age, self.rng)
            at = [end] * len(steps)
            for index in range(len(steps) - 1, 0, -1):
                before = at[index] - steps[index][1] * HOUR
                at[index - 1] = _snap_back(before, self.rng) if steps[index - 1][2] else before
            for index in range(1, len(steps)):  # steps in the same visit follow the one before
                if not steps[index][2]:
                    at[index] = at[index - 1] + steps[index][1] * HOUR
            times = {name: when for (name, _, _), when in zip(steps, at, strict=True)}
            if at[0] >= window:
                break
            steps = [(n, g * 0.6, s) for n, g, s in steps]
        plan.times = times

    def recent(self, hours: float) -> dt.datetime:
        """A time in showroom hours within the last ``hours`` (at least 10 minutes ago)."""
        for _ in range(200):
            at = self.now - self.rng.uniform(10 / 60, hours) * HOUR
            if OPEN <= at.astimezone(TZ).time() < CLOSE:
                return at.replace(second=0, microsecond=0)
        return self.now - 10 * dt.timedelta(minutes=1)

    def steps(self, plan: LeadPlan) -> list[tuple[str, float, bool]]:
        """(step, hours after the one before, whether it happens in showroom hours)."""
        u = self.rng.uniform
        walk_in = plan.source in ("store_walk_in", "exhibition", "referral")
        steps: list[tuple[str, float, bool]] = [("created", 0, walk_in)]
        reached = _reach(plan)
        if "contacted" not in reached:
            return steps + self.loss_steps(plan)
        steps.append(("contact", u(0.1, 0.6) if walk_in else u(0.3, 14), True))
        if plan.drive == "same_day":
            steps += [("drive_booked", 0.1, True), ("drive", u(0.5, 1.2), False)]
        elif plan.drive in ("booked", "no_show"):
            steps += [("drive_booked", u(0, 48), True), ("drive", u(24, 120), True)]
            if plan.drive == "no_show":
                steps += [("no_show", 2, True), ("rebooked", u(18, 40), True),
                          ("drive", u(24, 96), True)]  # fmt: skip
                steps[-4] = ("first_drive", steps[-4][1], True)
        if plan.drive not in (None, "upcoming"):
            steps.append(("drive_done", u(0.7, 1.2), False))
        if plan.rejected_loss:
            steps += [("loss_asked", u(48, 200), True), ("loss_rejected", u(0.5, 8), True)]
        if plan.drive == "upcoming":
            steps.append(("drive_booked", u(24, 200), True))
        if "negotiating" in reached:
            steps.append(("negotiate", u(4, 120), True))
        if "ordered" in reached or plan.order_end == "cancelled":
            steps.append(("order", u(24, 200), True))
            if plan.approval in ("gm", "rm", "rejected") and plan.order_end != "pending_gm":
                steps.append(("gm", u(1, 18), True))
            if plan.approval == "rm" and plan.order_end not in ("pending_gm", "pending_rm"):
                steps.append(("rm", u(2, 26), True))
            if plan.approval == "rejected":
                steps.append(("revised", u(1, 24), True))
            if plan.order_end == "cancelled":
                steps.append(("cancel", u(48, 240), True))
            elif plan.order_end not in ("confirmed", "pending_gm", "pending_rm"):
                steps.append(("assign", u(24, 240), True))
                if plan.order_end != "assigned":
                    steps.append(("delivery_booked", u(2, 48), True))
                    if plan.order_end != "booked":
                        steps.append(("handover", u(24, 120), True))
        return steps + self.loss_steps(plan)

    def loss_steps(self, plan: LeadPlan) -> list[tuple[str, float, bool]]:
        if plan.stage not in ("lost", "loss_pending"):
            return []
        # a new lead is either worked within 24 hours or handed to the next consultant
        wait = (0.5, 16) if plan.loss_from == "new" else (20, 400)
        steps = [("loss_asked", self.rng.uniform(*wait), True)]
        if plan.stage == "lost":
            steps.append(("loss_decided", self.rng.uniform(0.5, 20), True))
        return steps

    # -- the sales story ---------------------------------------------------------------------

    def sale(self, plan: LeadPlan) -> Story:
        svc, rng, t = self.service, self.rng, plan.times
        yield t["created"]
        lead = plan.lead = self.create_lead(plan)
        owner = plan.owner = self.by_id[str(lead["owner"])]
        if "contact" not in t:
            yield from self.loss(plan)
            return
        yield t["contact"]
        lead = svc.transition("lead", lead["id"], "log_contact", owner, self.first_contact(plan))
        self.log_activity(plan, "首次联系", rng.choice(data.CONTACT_NOTES))
        if plan.drive and plan.drive != "upcoming":
            yield from self.test_drive(plan)
            lead = svc.transition("lead", lead["id"], "complete_test_drive", owner)
        if plan.rejected_loss:
            yield from self.rejected_loss(plan)
        if plan.drive == "upcoming":
            yield t["drive_booked"]
            self.book_drive(plan, _snap_forward(self.now + rng.uniform(10, 120) * HOUR, rng))
        if "negotiate" in t:
            yield t["negotiate"]
            values = {
                "intention_level": plan.levels[1],
                "intended_configuration": self.trims[plan.trim.code]["id"],
            }
            lead = svc.transition("lead", lead["id"], "start_negotiation", owner, values)
        if "order" in t:
            yield from self.order(plan)
        yield from self.loss(plan)

    def create_lead(self, plan: LeadPlan) -> Record:
        person, dealer = plan.person, plan.dealer
        unit = next(u for u in data.UNITS if u.key == dealer.key)
        values: Record = {
            "name": person.name, "gender": person.gender, "phone": person.phone,
            "source": plan.source, "province": unit.province, "city": unit.city,
            "intended_model": self.models[plan.model.code]["id"],
        }  # fmt: skip
        if plan.levels[0] and plan.source not in data.ONLINE_SOURCES:
            values["intention_level"] = plan.levels[0]
        if plan.referrer is not None and plan.referrer.account is not None:
            values["referrer"] = plan.referrer.account["id"]
            who = plan.referrer.person.salutation
            values["description"] = f"老车主 {who} 推荐，{person.district}。"
        if plan.consultant is None:  # the brand's lead centre qualifies and hands it down
            values["assigned_partner"] = self.partners[dealer.key]["id"]
            values["source_detail"] = self.rng.choice(data.SOURCE_DETAILS[plan.source])
            values["description"] = f"{person.district}，线上询价 {plan.model.name}。"
            return self.service.create("lead", values, self.actors["hq"])
        if plan.source == "exhibition":
            show = self.rng.choice(data.SOURCE_DETAILS["exhibition"])
            values["description"] = f"车展展台留资：{show}。"
        values.setdefault("description", f"{person.district}，到店看车。")
        return self.service.create("lead", values, plan.consultant)

    def first_contact(self, plan: LeadPlan) -> Record:
        level = plan.levels[0] or self.pick((("A", 2), ("B", 4), ("C", 3)))
        timeframe = {"H": "within_1_week", "A": "within_1_month", "B": "within_3_months",
                     "C": "within_6_months"}[level]  # fmt: skip
        values: Record = {
            "intention_level": level, "purchase_timeframe": timeframe,
            "payment_plan": "loan" if plan.financing else self.rng.choice(
                ("full_payment", "full_payment", "undecided")),
        }  # fmt: skip
        if plan.trade_in:
            name, year, mileage, _ = plan.trade_in
            values |= {"has_trade_in": True, "trade_in_vehicle": name, "trade_in_year": year,
                       "trade_in_mileage": mileage}  # fmt: skip
        return values

    def log_activity(self, plan: LeadPlan, subject: str, outcome: str) -> None:
        """The consultant logs the visit or call, done, on the lead's timeline."""
        walk_in = plan.source in ("store_walk_in", "exhibition", "referral")
        values: Record = {
            "subject": f"{subject}：{plan.person.salutation}",
            "activity_type": "store_visit" if walk_in else "call",
            "status": "completed",
            "due_at": self.clock.now,
            "completed_at": self.clock.now,
            "lead": self._lead_id(plan),
            "outcome": outcome,
        }
        if not walk_in:
            values |= {"call_direction": "outbound", "call_result": "connected"}
        self.service.create("activity", values, plan.owner)

    def _lead_id(self, plan: LeadPlan) -> str:
        assert plan.lead is not None
        return plan.lead["id"]

    def book_drive(self, plan: LeadPlan, when: dt.datetime) -> Record:
        car = self.demo_cars[(plan.dealer.key, plan.model.code)]
        return self.service.create(
            "test_drive",
            {"lead": self._lead_id(plan), "model": self.models[plan.model.code]["id"],
             "vehicle": car["id"], "scheduled_at": when,
             "route": self.rng.choice(("city", "expressway", "mixed"))},
            plan.owner,
        )  # fmt: skip

    def test_drive(self, plan: LeadPlan) -> Story:
        svc, t, owner = self.service, plan.times, plan.owner
        yield t["drive_booked"]
        first = t.get("first_drive", t["drive"])
        drive = self.book_drive(plan, first)
        if plan.drive == "no_show":
            yield t["no_show"]
            svc.transition("test_drive", drive["id"], "no_show", owner)
            yield t["rebooked"]
            svc.transition("test_drive", drive["id"], "reschedule", owner,
                           {"scheduled_at": t["drive"]})  # fmt: skip
        yield t["drive_done"]
        svc.transition(
            "test_drive", drive["id"], "complete", owner,
            {"licence_checked": True, "agreement_signed": True,
             "rating": self.pick(((5, 5), (4, 4), (3, 1))),
             "feedback": self.rng.choice(data.DRIVE_FEEDBACK)},
        )  # fmt: skip

    def rejected_loss(self, plan: LeadPlan) -> Story:
        svc, t = self.service, plan.times
        yield t["loss_asked"]
        values = {"lost_reason": "no_response", "lost_note": LOSS_NOTES["no_response"]}
        svc.transition("lead", self._lead_id(plan), "request_loss", plan.owner, values)
        yield t["loss_rejected"]
        self.decide("lead", self._lead_id(plan), self.actors[f"{plan.dealer.key}.manager"],
                    False, "客户仍有购车意向，请换个时间段再联系。")  # fmt: skip

    def loss(self, plan: LeadPlan) -> Story:
        if plan.stage not in ("lost", "loss_pending"):
            return
        svc, t = self.service, plan.times
        yield t["loss_asked"]
        reason = plan.loss_reason
        values: Record = {"lost_reason": reason, "lost_note": LOSS_NOTES[reason]}
        if reason == "bought_competitor":
            values["lost_to_competitor"] = self.rng.choice(data.COMPETITORS)
        svc.transition("lead", self._lead_id(plan), "request_loss", plan.owner, values)
        if plan.stage == "lost":
            yield t["loss_decided"]
            manager = self.actors[f"{plan.dealer.key}.manager"]
            self.decide("lead", self._lead_id(plan), manager, True, "同意战败。")
            referral = self.referral_of(plan)
            if referral is not None:
                svc.transition("owner_referral", referral["id"], "void", manager)

    def decide(
        self, object_name: str, record_id: str, approver: Actor, approve: bool, comment: str
    ) -> None:
        """``approver`` decides the record's pending approval from their inbox."""
        inbox = [
            a
            for a in self.service.inbox(approver)
            if a["object"] == object_name and str(a["record_id"]) == str(record_id)
        ]
        if not inbox:
            raise RuntimeError(f"no approval of {object_name} {record_id} for {approver.name}")
        decide = self.service.approve if approve else self.service.reject
        decide(inbox[0]["id"], approver, comment)

    # -- orders and deliveries -------------------------------------------------------------

    def order(self, plan: LeadPlan) -> Story:
        svc, t, owner, rng = self.service, plan.times, plan.owner, self.rng
        assert owner is not None
        yield t["order"]
        unit = next(u for u in data.UNITS if u.key == plan.dealer.key)
        person = plan.person
        plan.account = svc.create(
            "account",
            {"name": person.name, "account_type": "person", "phone": person.phone,
             "gender": person.gender, "province": unit.province, "city": unit.city,
             "source": plan.source, "customer_status": "prospect",
             "serving_partner": self.partners[plan.dealer.key]["id"]},
            owner,
        )  # fmt: skip
        stock_colour = self.in_stock(plan)
        if stock_colour and rng.random() < 0.6:  # most customers take a car the dealer has
            plan.colour = stock_colour
        msrp = plan.trim.msrp
        level = "rm" if plan.approval == "rejected" else plan.approval
        discount = self.discount(plan.dealer, msrp, level)
        deal = msrp - discount
        values: Record = {
            "lead": self._lead_id(plan), "account": plan.account["id"],
            "configuration": self.trims[plan.trim.code]["id"], "colour": plan.colour,
            "discount": discount, "deposit": rng.choice((5000, 5000, 10000, 20000)),
            "deposit_paid_at": self.clock.now,
        }  # fmt: skip
        handover = t.get("handover") or self.clock.now + rng.uniform(10, 30) * DAY
        promised = handover + rng.randint(0, 3) * DAY
        values["promised_delivery_date"] = promised.astimezone(TZ).date()
        if plan.financing:
            values |= {"financing": True, "financing_term_months": rng.choice((12, 24, 36, 60)),
                       "down_payment": round(deal * rng.choice((0.2, 0.3, 0.4)), -3),
                       "finance_provider": rng.choice(data.FINANCE_PROVIDERS)}  # fmt: skip
        if plan.trade_in:
            name, _, _, value = plan.trade_in
            values |= {"has_trade_in": True, "trade_in_vehicle": name, "trade_in_value": value}
        if level:
            values["approval_comment"] = rng.choice(data.APPROVAL_REASONS)
        order = svc.create("vehicle_order", values, owner)
        if level:
            svc.transition("vehicle_order", order["id"], "submit_for_approval", owner)
        else:
            svc.transition("vehicle_order", order["id"], "confirm", owner)
        svc.transition("lead", self._lead_id(plan), "place_order", owner)
        gm = self.actors[f"{plan.dealer.key}.gm"]
        rm = self.actors["east.rm" if plan.dealer.key != "tianhe" else "south.rm"]
        if "gm" in t:
            yield t["gm"]
            if plan.approval == "rejected":
                self.decide("vehicle_order", order["id"], gm, False,
                            "优惠超出本店权限过多，请按店内政策重新报价。")  # fmt: skip
                yield t["revised"]
                svc.transition("vehicle_order", order["id"], "revise", owner)
                svc.update("vehicle_order", order["id"],
                           {"discount": self.discount(plan.dealer, msrp, None)}, owner)  # fmt: skip
                svc.transition("vehicle_order", order["id"], "confirm", owner)
            else:
                self.decide("vehicle_order", order["id"], gm, True, "同意，请尽快锁定客户交定金。")
        if "rm" in t:
            yield t["rm"]
            self.decide("vehicle_order", order["id"], rm, True, "大区同意本次特批优惠。")
        if plan.order_end == "cancelled":
            yield t["cancel"]
            reason = {"cancel_reason": "客户家庭预算调整，申请退订，定金已原路退回。"}
            svc.transition("vehicle_order", order["id"], "cancel", owner, reason)
            svc.transition("lead", self._lead_id(plan), "order_cancelled", owner)
            return
        if "assign" not in t:
            return
        yield t["assign"]
        car = plan.vehicle = self.vehicle_for(plan)
        assign = {"vehicle": car["id"]}
        svc.transition("vehicle_order", order["id"], "assign_vehicle", owner, assign)
        svc.transition("vehicle", car["id"], "reserve_for_order", owner)
        if "delivery_booked" not in t:
            return
        yield t["delivery_booked"]
        when = t.get("handover") or _snap_forward(self.now + rng.uniform(10, 96) * HOUR, rng)
        delivery = svc.create(
            "delivery",
            {"order": order["id"], "vehicle": car["id"], "account": plan.account["id"],
             "scheduled_at": when},
            owner,
        )  # fmt: skip
        if "handover" not in t:
            return
        yield t["handover"]
        yield from self.handover(plan, order, delivery)

    def discount(self, dealer: data.Dealer, msrp: int, level: str | None) -> int:
        """A discount in hundreds of yuan within the dealer's threshold (``level`` None),
        above it (``gm``) or above the regional one too (``rm``)."""
        low, high = {None: (0.8, dealer.discount_threshold - 0.3),
                     "gm": (dealer.discount_threshold + 0.4, dealer.regional_threshold - 0.3),
                     "rm": (dealer.regional_threshold + 0.4, dealer.regional_threshold + 3.0)}[
            level]  # fmt: skip
        rate = Decimal(str(round(self.rng.uniform(low, high), 2)))
        return int(round(Decimal(msrp) * rate / 100, -2))

    def handover(self, plan: LeadPlan, order: Record, delivery: Record) -> Story:
        svc, rng, owner = self.service, self.rng, plan.owner
        assert owner is not None and plan.vehicle is not None and plan.account is not None
        today = self.clock.now.astimezone(TZ).date()
        svc.transition(
            "delivery", delivery["id"], "hand_over", owner,
            {"pdi_exterior": True, "pdi_interior": True, "pdi_electrics": True,
             "pdi_fluids": True, "pdi_tyres": True, "pdi_documents": True,
             "handover_date": today, "delivery_mileage": rng.randint(6, 35),
             "satisfaction_score": self.pick(((5, 14), (4, 5), (3, 1))),
             "feedback": rng.choice(data.DELIVERY_FEEDBACK)},
        )  # fmt: skip
        svc.transition("vehicle_order", order["id"], "mark_delivered", owner)
        plate = _plate(plan.dealer.plate_prefix, plan.model.powertrain == "bev", rng)
        plan.vehicle = svc.transition(
            "vehicle", plan.vehicle["id"], "deliver", owner,
            {"owner_account": plan.account["id"], "delivery_date": today,
             "mileage": rng.randint(6, 35), "plate_number": plate},
        )  # fmt: skip
        advisor = self.actors[f"{plan.dealer.key}.service"]  # introduced at the handover
        plan.vehicle = svc.update(
            "vehicle", plan.vehicle["id"], {"service_advisor": advisor.user_id}, advisor
        )
        svc.transition("lead", self._lead_id(plan), "deliver", owner)
        svc.update("account", plan.account["id"],
                   {"customer_status": "customer", "first_purchase_date": today,
                    "last_purchase_date": today}, owner)  # fmt: skip
        referral = self.referral_of(plan)
        survey = _snap_forward(self.clock.now + rng.uniform(96, 118) * HOUR, rng)
        if survey < self.now - HOUR:
            yield survey
            self.complete_follow_up(owner, "delivery", delivery["id"], data.SURVEY_OUTCOMES)
        if referral is not None:
            manager = self.actors[f"{plan.dealer.key}.manager"]
            svc.transition("owner_referral", referral["id"], "mark_eligible", manager)
            svc.transition("owner_referral", referral["id"], "issue", manager,
                           {"reward_type": "maintenance_package", "reward_amount": 1200,
                            "notes": "赠送一次免费保养，已短信通知推荐车主。"})  # fmt: skip
            done = ("已通知展厅经理发放推荐奖励。",)
            self.complete_follow_up(owner, "lead", self._lead_id(plan), done)
        if plan.owner_history:
            yield from self.workshop(plan)

    def referral_of(self, plan: LeadPlan) -> Record | None:
        if plan.referrer is None:
            return None
        page = self.service.list(
            "owner_referral", SYSTEM, filter={"==": [{"var": "referred_lead"}, self._lead_id(plan)]}
        )
        return page.records[0] if page.records else None

    def complete_follow_up(
        self, owner: Actor, link: str, record_id: str, outcomes: Sequence[str]
    ) -> None:
        """The call task an automation opened for ``owner`` about a record, done."""
        where = {"and": [{"==": [{"var": link}, record_id]},
                         {"==": [{"var": "status"}, "not_started"]}]}  # fmt: skip
        tasks = self.service.list("activity", owner, filter=where).records
        if not tasks:  # its timer is due but the worker has not been round since
            self.round()
            tasks = self.service.list("activity", owner, filter=where).records
        for task in tasks:
            self.service.update(
                "activity", task["id"],
                {"status": "completed", "completed_at": self.clock.now, "call_result": "connected",
                 "outcome": self.rng.choice(outcomes)},
                owner,
            )  # fmt: skip

    # -- the workshop ----------------------------------------------------------------------

    def workshop(self, plan: LeadPlan) -> Story:
        """An owner's visits after delivery: the first service after three months, one
        every six months after that, a repair now and then; the next one booked."""
        rng = self.rng
        delivered = plan.times["handover"]
        per_day = rng.uniform(25, 60)  # km
        visits: list[Visit] = []
        at = delivered + rng.uniform(85, 100) * DAY
        while True:
            when = _snap_back(_at_local(at, dt.time(rng.randint(9, 16), rng.choice((0, 30)))),
                              rng)  # fmt: skip
            if when > self.now + 21 * DAY:
                break
            if when > self.now:
                visits.append(Visit(when, "maintenance", None, "booked"))
                break
            if rng.random() < 0.3 and visits:
                repair = rng.choice(data.REPAIRS)
                between = visits[-1].at + (when - visits[-1].at) / 2
                visits.append(Visit(_snap_back(between, rng), repair[0], repair, "closed"))
            visits.append(Visit(when, "maintenance", None, "closed"))
            at += rng.uniform(160, 185) * DAY
        if visits and visits[-1].end == "closed" and rng.random() < 0.08:
            visits[-1].end = "no_show"
        if plan.in_workshop:  # in the workshop today, its repair order open
            visits = [v for v in visits if v.at < self.now - 30 * DAY]
            repair = rng.choice(data.REPAIRS)
            visits.append(Visit(self.recent(5), repair[0], repair, "in_progress"))
        for visit in visits:
            yield from self.visit(plan, visit, delivered, per_day)

    def visit(self, plan: LeadPlan, visit: Visit, delivered: dt.datetime, per_day: float) -> Story:
        svc, rng = self.service, self.rng
        assert plan.vehicle is not None and plan.account is not None
        advisor = self.actors[f"{plan.dealer.key}.service"]
        mileage = int((visit.at - delivered) / DAY * per_day) + 20
        booked = _snap_back(visit.at - rng.uniform(1, 6) * DAY, rng)
        if booked > self.now - HOUR:  # the next visit, booked lately
            booked = self.recent(40)
        yield max(booked, self.clock.now)
        repair = visit.repair
        concern = repair[1] if repair else "常规保养，顺便检查轮胎。"
        appointment = svc.create(
            "service_appointment",
            {"vehicle": plan.vehicle["id"], "account": plan.account["id"],
             "service_type": visit.kind, "appointment_at": visit.at,
             "mileage": round(mileage, -2), "service_advisor": advisor.user_id,
             "contact_name": plan.person.name, "contact_phone": plan.person.phone,
             "customer_concern": concern},
            advisor,
        )  # fmt: skip
        if visit.end == "booked":
            return
        if visit.end == "no_show":
            yield visit.at + 3 * HOUR
            svc.transition("service_appointment", appointment["id"], "no_show", advisor)
            return
        yield visit.at
        svc.transition("service_appointment", appointment["id"], "check_in", advisor)
        ro = svc.create(
            "repair_order",
            {"appointment": appointment["id"], "vehicle": plan.vehicle["id"],
             "account": plan.account["id"], "service_type": visit.kind, "mileage": mileage,
             "promised_at": visit.at + rng.choice((3, 4, 6)) * HOUR,
             "customer_concern": concern, "diagnosis": repair[2] if repair else None},
            advisor,
        )  # fmt: skip
        svc.transition("service_appointment", appointment["id"], "open_repair_order", advisor)
        svc.transition("repair_order", ro["id"], "start_work", advisor)
        ev = plan.model.powertrain == "bev"
        if repair:
            parts, labour, summary = repair[3], repair[4], repair[5]
        elif ev:
            parts, labour, summary = data.EV_SERVICE_PARTS, data.SERVICE_LABOUR, data.EV_SUMMARY
        else:
            parts, labour, summary = data.SERVICE_PARTS, data.SERVICE_LABOUR, data.SUMMARY
        charge = "warranty" if visit.kind == "warranty" else "customer"
        for number, name, price, quantity in parts:
            svc.create("repair_order_part",
                       {"repair_order": ro["id"], "part_number": number, "part_name": name,
                        "quantity": quantity, "unit_price": price, "charge_type": charge},
                       advisor)  # fmt: skip
        for code, name, hours, rate in labour:
            svc.create("repair_order_labour",
                       {"repair_order": ro["id"], "operation_code": code, "description": name,
                        "hours": hours, "hourly_rate": rate}, advisor)  # fmt: skip
        if visit.end == "in_progress":
            return
        yield visit.at + rng.uniform(2, 5) * HOUR
        svc.transition(
            "repair_order", ro["id"], "close", advisor,
            {"work_summary": summary, "satisfaction_score": self.pick(((5, 6), (4, 3), (3, 1))),
             "satisfaction_comment": "取车时客户当面评价。"},
        )  # fmt: skip
        plan.vehicle = svc.update(
            "vehicle", plan.vehicle["id"],
            {"mileage": mileage}, advisor,
        )  # fmt: skip
        callback = _snap_forward(self.clock.now + rng.uniform(24, 44) * HOUR, rng)
        if callback < self.now - HOUR:
            yield callback
            self.complete_follow_up(advisor, "repair_order", ro["id"], data.CALLBACK_OUTCOMES)


# -- time --------------------------------------------------------------------------------


#: How long ago each final state's last step happened, in days (before the recent ones).
_END_AGES: dict[str, tuple[float, float]] = {
    "new": (0, 1),
    "contacted": (0.1, 70),
    "test_drive": (0.2, 65),
    "negotiating": (0.3, 55),
    "confirmed": (0.5, 12),
    "assigned": (0.3, 10),
    "booked": (0.1, 4),
    "pending_gm": (0, 1),
    "pending_rm": (0, 1),
    "cancelled": (2, 40),
    "ordered": (0.5, 10),
    "delivered": (1.5, 82),
    "loss_pending": (0, 1),
    "lost": (0.2, 86),
}
#: Final states whose leads are mostly old ones (their ages lean to the far end).
_MOSTLY_OLD = {"delivered", "lost"}


def _reach(plan: LeadPlan) -> list[str]:
    """The sales stages the plan's lead passes through (before any loss)."""
    order = ["new", "contacted", "test_drive", "negotiating", "ordered", "delivered"]
    last = plan.loss_from if plan.stage in ("lost", "loss_pending") else plan.stage
    if plan.order_end == "cancelled":
        last = "ordered"
    return order[: order.index(last) + 1]


def _at_local(when: dt.datetime, time: dt.time) -> dt.datetime:
    local = when.astimezone(TZ)
    return dt.datetime.combine(local.date(), time, TZ).astimezone(dt.UTC)


def _snap_back(when: dt.datetime, rng: random.Random) -> dt.datetime:
    """``when`` in showroom hours, else a time of the day before it that was."""
    local = when.astimezone(TZ)
    if OPEN <= local.time() < CLOSE:
        return when.replace(second=0, microsecond=0)
    day = local.date() - dt.timedelta(days=1) if local.time() < OPEN else local.date()
    return _during(day, rng)


def _snap_forward(when: dt.datetime, rng: random.Random) -> dt.datetime:
    """``when`` in showroom hours, else a time of the day after it that is."""
    local = when.astimezone(TZ)
    if OPEN <= local.time() < CLOSE:
        return when.replace(second=0, microsecond=0)
    day = local.date() + dt.timedelta(days=1) if local.time() >= CLOSE else local.date()
    return _during(day, rng)


def _during(day: dt.date, rng: random.Random) -> dt.datetime:
    """A time on ``day`` between 9:30 and 19:30, on a quarter of an hour."""
    start = dt.datetime.combine(day, dt.time(9, 30), TZ)
    return (start + dt.timedelta(minutes=15 * rng.randrange(0, 40))).astimezone(dt.UTC)


def _plate(prefix: str, electric: bool, rng: random.Random) -> str:
    """A licence plate of the dealer's city: 沪A·5 characters; new-energy cars 沪A·D + 5."""
    first = rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
    rest = "".join(rng.choice("0123456789") for _ in range(4))
    return prefix + ("D" + rng.choice("0123456789") if electric else "") + first + rest


def _present(values: Record) -> Record:
    return {k: v for k, v in values.items() if v is not None}


# -- what the database holds ---------------------------------------------------------------


def summary(service: RecordService) -> str:
    """A line on what a seeded database holds (as the system, every record)."""

    def count(object_name: str, rule: Any = None) -> int:
        page = service.list(object_name, SYSTEM, filter=rule, limit=1, count=True)
        return page.total or 0

    stages = []
    for stage, _ in STAGES:
        stages.append(f"{stage} {count('lead', {'==': [{'var': 'lead_stage'}, stage]})}")
    return (
        f"{count('lead')} leads ({', '.join(stages)}), {count('test_drive')} test drives, "
        f"{count('vehicle_order')} vehicle orders, {count('delivery')} deliveries, "
        f"{count('vehicle')} vehicles, {count('repair_order')} repair orders, "
        f"{count('owner_referral')} owner referrals"
    )


DEMO = Demo(
    name="auto",
    label="华星汽车: a car brand, two regions and three 4S dealers",
    packs=("base", "auto"),
    users=DEMO_USERS,
    unit_names=data.UNIT_NAMES,
    seed=seed_demo,
    default_leads=300,
    summary=summary,
)
