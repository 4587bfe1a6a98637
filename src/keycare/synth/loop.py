"""Closed-loop simulation: the whole service loop day by day on a synthetic operator (no Django).

Each simulated day:

1. **deliver**  the world writes the day's delivery: the base synthetic operator (``keycare
   synth``) with today's subscriber states (churned, downgraded) and every event so far;
2. **run**      the real daily run (``engine.pipeline.run_daily`` with risk and allocation,
   the control group included) publishes detections, decisions and tasks;
3. **work**     simulated managers work the call tasks within capacity (allocation already
   keeps calls within each manager's capacity; a call reaches the customer with
   ``reach_rate``), SMS tasks are delivered with ``sms_delivery_rate``; a reached call uses
   the first suggested tactic with ``tactic_follow_rate`` and the customer accepts the
   recommendation with ``accept_rate``;
4. **react**    the world moves on: new events (complaints, portability inquiries...) raise a
   customer's churn and downgrade hazard for ``EVENT_WINDOW`` days; a contacted customer's
   hazards are multiplied by ``1 - effect`` for ``effect_days`` days, ``effect`` being the
   known per-moment effect (the largest of the task's moments), recorded in the manifest.

Ground truth. Churn and downgrade happen when a customer's cumulative hazard passes an
exponential clock drawn once per customer. The hazard without service depends only on the
world's events, which are drawn independently of the service, so the simulation also
integrates it alone and knows when each customer would have left in a world where nobody is
ever served. An exposure is a customer's first detection of a moment that reached
allocation's arms (call, SMS, deferred or capped: treated; control); the true effect of a
moment at horizon k is the treated arm's churn rate minus the never-served rate of the same
exposures (``_truth``): what a treated-vs-control comparison estimates
(``keycare.engine.effect``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from keycare.errors import UserError
from keycare.synth import generator

HORIZONS = (30, 60, 90)
# Decisions that place a customer's moment in an arm. Capped counts as treated: only a
# customer the service contacted can be capped, and control customers never are.
EXPOSED = ("call", "sms", "deferred", "capped", "control")
EVENT_WINDOW = 30  # days an event keeps raising the hazards
# World event types: daily rate (times the customer's frailty) and the churn-hazard lift
# while the event is recent. They feed the event-driven moments (A01, A06, A10, A16, F04,
# F05) through the delivered events file.
WORLD_EVENTS = {
    "complaint": (0.0015, 5.0),
    "portability_inquiry": (0.0006, 15.0),
    "fault_report": (0.0015, 2.0),
    "handset_change": (0.0008, 3.0),
    "bill_query": (0.0030, 0.5),
    "data_overage": (0.0020, 1.0),
}
CHURN_BASE = 0.0004  # daily churn hazard at frailty 1 with nothing recent
DOWNGRADE_BASE = 0.0006
DOWNGRADE_FACTOR = 0.6  # a downgrade keeps 60% of the plan fee
# The known per-moment effects: share of the churn hazard removed while the contact works.
DEFAULT_EFFECTS = {
    "A16": 0.5,
    "A01": 0.4,
    "A05": 0.3,
    "A06": 0.3,
    "A10": 0.3,
    "A13": 0.3,
    "A15": 0.3,
    "F04": 0.2,
    "F05": 0.2,
    "S01": 0.05,
    "S02": 0.05,
    "S03": 0.05,
    "A04": 0.05,
}
DEFAULT_EFFECT = 0.15
CALL_MINUTES_REACHED = 8.0
CALL_MINUTES_NOT_REACHED = 2.0
# The files the loop writes every day; every other file of the base delivery is linked.
REWRITTEN = {"subscribers.parquet", "events.parquet", "managers.parquet", "manifest.json"}

Progress = Callable[[int, int, dict], None]
Suggest = Callable[[tuple, str | None, float | None], list]


@dataclass(frozen=True)
class Policy:
    """What an operator can change before go-live: thresholds, capacity, control share."""

    name: str = "default"
    control_share: float = 0.05
    capacity_factor: float = 1.0  # multiplies every manager's daily capacity
    contact_cap_days: int = 7
    thresholds: dict = field(default_factory=dict)  # moment code -> {threshold: value}

    def __post_init__(self):
        if not 0 <= self.control_share < 1:
            raise UserError(f"policy {self.name}: control share must be in [0, 1)")
        if self.capacity_factor < 0:
            raise UserError(f"policy {self.name}: capacity factor must be >= 0")


@dataclass(frozen=True)
class SimConfig:
    subscribers: int
    days: int
    seed: int
    start: date = generator.DEFAULT_AS_OF
    policy: Policy = field(default_factory=Policy)
    effects: dict = field(default_factory=lambda: dict(DEFAULT_EFFECTS))
    default_effect: float = DEFAULT_EFFECT
    effect_days: int = 60
    downgrade_effect_share: float = 0.5  # a contact removes this share of its churn effect
    reach_rate: float = 0.65
    sms_delivery_rate: float = 0.95
    tactic_follow_rate: float = 0.7
    accept_rate: float = 0.35
    event_scale: float = 1.0  # multiplies the world's event rates
    churn_scale: float = 1.0  # multiplies the churn and downgrade base hazards
    horizons: tuple = HORIZONS
    months: int = 7
    # Train and promote a churn-risk model on the starting delivery, as the operator's monthly
    # ``keycare risk train`` would have: the daily runs then score risk, which allocation ranks
    # by and the evaluation's Qini / uplift@30% judge. Off: the runs go on without risk.
    risk_model: bool = True

    def __post_init__(self):
        if not 0 < self.subscribers <= generator.MAX_SUBSCRIBERS:
            raise UserError(f"--subscribers must be between 1 and {generator.MAX_SUBSCRIBERS:,}")
        if not 1 <= self.days <= 400:
            raise UserError(f"--days must be between 1 and 400, not {self.days}")
        rates = (self.reach_rate, self.sms_delivery_rate, self.tactic_follow_rate, self.accept_rate)
        if any(not 0 <= r <= 1 for r in rates):
            raise UserError("reach, delivery, tactic-follow and accept rates must be in [0, 1]")
        if any(not 0 <= e < 1 for e in [*self.effects.values(), self.default_effect]):
            raise UserError("effects must be in [0, 1)")

    def effect(self, code: str) -> float:
        return self.effects.get(code, self.default_effect)


class _Clock:
    """An exponential clock per customer and two cumulative hazards: the actual one, and the
    one of a world where nobody is ever served (the ground truth's counterfactual)."""

    def __init__(self, rng, n: int):
        self.threshold = rng.exponential(1.0, n)
        self.hazard = np.zeros(n)
        self.day = np.full(n, -1, np.int32)  # day index the event happened, -1: not yet
        self.hazard0 = np.zeros(n)
        self.day0 = np.full(n, -1, np.int32)

    def step(self, d: int, untreated: np.ndarray, multiplier: np.ndarray) -> np.ndarray:
        self.hazard += untreated * multiplier
        new = (self.day < 0) & (self.hazard >= self.threshold)
        self.day[new] = d
        self.hazard0 += untreated
        self.day0[(self.day0 < 0) & (self.hazard0 >= self.threshold)] = d
        return new


class World:
    def __init__(self, cfg: SimConfig, subscribers: pa.Table):
        rng = np.random.default_rng([cfg.seed, 77])
        self.cfg = cfg
        self.rng = rng
        self.ids = subscribers.column("subscriber_id").to_numpy(zero_copy_only=False)
        self.index = {s: i for i, s in enumerate(self.ids)}
        n = len(self.ids)
        self.n = n
        self.frailty = rng.lognormal(-0.245, 0.7, n)  # mean 1
        self.alive = subscribers.column("status").to_numpy(zero_copy_only=False) != "churned"
        self.fee = subscribers.column("plan_fee").to_numpy(zero_copy_only=False).astype(float)
        self.fee0 = self.fee.copy()
        self.tier = subscribers.column("value_tier").to_numpy(zero_copy_only=False)
        self.city = subscribers.column("city_id").cast(pa.string()).to_numpy(zero_copy_only=False)
        self.last_event = {k: np.full(n, -(10**6), np.int32) for k in WORLD_EVENTS}
        self.treat_mult = np.ones(n)
        self.treat_until = np.full(n, -1, np.int32)
        self.churn = _Clock(rng, n)
        self.downgrade = _Clock(rng, n)
        self.dg_mult = np.ones(n)

    def draw_events(self, d: int) -> dict[str, np.ndarray]:
        """Today's world events (drawn for everyone, emitted only for the living)."""
        out = {}
        for kind, (rate, _lift) in WORLD_EVENTS.items():
            hit = self.rng.random(self.n) < rate * self.cfg.event_scale * self.frailty
            self.last_event[kind][hit] = d
            out[kind] = np.flatnonzero(hit & self.alive)
        return out

    def untreated_hazard(self, d: int) -> np.ndarray:
        mult = np.ones(self.n)
        for kind, (_rate, lift) in WORLD_EVENTS.items():
            mult += lift * (d - self.last_event[kind] < EVENT_WINDOW)
        return self.frailty * mult

    def treat(self, subs: np.ndarray, effects: np.ndarray, d: int) -> None:
        """A contact works for effect_days: the strongest active effect applies."""
        active = self.treat_until[subs] >= d
        current = np.where(active, 1 - self.treat_mult[subs], 0.0)
        stronger = effects >= current
        subs, effects = subs[stronger], effects[stronger]
        self.treat_mult[subs] = 1 - effects
        self.dg_mult[subs] = 1 - effects * self.cfg.downgrade_effect_share
        self.treat_until[subs] = d + self.cfg.effect_days - 1

    def react(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        base = self.untreated_hazard(d)
        expired = self.treat_until < d
        self.treat_mult[expired] = 1.0
        self.dg_mult[expired] = 1.0
        base *= self.cfg.churn_scale
        churned = self.churn.step(d, CHURN_BASE * base, self.treat_mult) & self.alive
        downgraded = self.downgrade.step(d, DOWNGRADE_BASE * base, self.dg_mult) & self.alive
        downgraded &= ~churned
        self.alive &= ~churned
        self.fee[downgraded] *= DOWNGRADE_FACTOR
        return np.flatnonzero(churned), np.flatnonzero(downgraded)


# --- the delivery of one day ---------------------------------------------------------------


class Delivery:
    """The day's delivery directory: static files linked to the base, the rest rewritten."""

    def __init__(self, base: Path, work: Path, policy: Policy):
        self.base = base
        self.dir = work / "delivery"
        self.dir.mkdir(parents=True, exist_ok=True)
        for source in sorted(base.iterdir()):
            link = self.dir / source.name
            if source.name not in REWRITTEN and not link.exists():
                os.symlink(source.resolve(), link)
        managers = pq.read_table(base / "managers.parquet")
        capacity = pc.cast(
            pc.round(pc.multiply(managers["daily_capacity"], policy.capacity_factor)),
            managers.schema.field("daily_capacity").type,
        )
        managers = managers.set_column(
            managers.schema.get_field_index("daily_capacity"), "daily_capacity", capacity
        )
        pq.write_table(managers, self.dir / "managers.parquet")
        self.manifest = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
        self.subscribers = pq.read_table(base / "subscribers.parquet")
        self.events = [pq.read_table(base / "events.parquet")]
        self.event_schema = self.events[0].schema
        self.next_event = 0

    def add_events(self, world: World, day: date, d: int, drawn: dict) -> int:
        rows = []
        for kind, subs in drawn.items():
            if not len(subs):
                continue
            seconds = world.rng.integers(9 * 3600, 21 * 3600, len(subs))
            start = np.datetime64(day, "s")
            rows.append(
                {
                    "subscriber_id": world.ids[subs],
                    "event_time": start + seconds.astype("timedelta64[s]"),
                    "event_type": np.full(len(subs), kind, object),
                    "channel": np.full(len(subs), "hotline", object),
                }
            )
        if not rows:
            return 0
        columns = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
        k = len(columns["subscriber_id"])
        ids = [f"L{d:03d}{i:09d}" for i in range(k)]
        arrays = []
        for f in self.event_schema:
            if f.name == "event_id":
                arrays.append(pa.array(ids, f.type))
            elif f.name in columns:
                arrays.append(pa.array(columns[f.name]).cast(f.type))
            else:
                arrays.append(pa.nulls(k, f.type))
        self.events.append(pa.Table.from_arrays(arrays, schema=self.event_schema))
        return k

    def write(self, world: World, day: date) -> None:
        subs = self.subscribers
        status = np.where(world.alive, "active", "churned")
        old = subs.column("status").to_numpy(zero_copy_only=False)
        changed = status != old
        status_date = subs.column("status_date").to_numpy(zero_copy_only=False).copy()
        status_date[changed] = day
        subs = _replace(subs, "status", pa.array(status, pa.string()))
        subs = _replace(subs, "status_date", pa.array(status_date, pa.date32()))
        fee_type = subs.schema.field("plan_fee").type
        subs = _replace(subs, "plan_fee", pa.array(np.round(world.fee, 2)).cast(fee_type))
        self.subscribers = subs
        pq.write_table(subs, self.dir / "subscribers.parquet")
        events = pa.concat_tables(self.events).combine_chunks()
        self.events = [events]
        pq.write_table(events, self.dir / "events.parquet")
        manifest = dict(self.manifest, business_date=day.isoformat())
        manifest["files"] = dict(manifest["files"])
        manifest["files"]["events"] = {"path": "events.parquet", "rows": events.num_rows}
        (self.dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))


def _replace(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(i), values.cast(table.schema.field(i).type))


# --- the loop --------------------------------------------------------------------------------


class _Log:
    """Row groups collected day by day, written once at the end."""

    def __init__(self):
        self.parts: dict[str, list[dict]] = {}

    def add(self, name: str, columns: dict) -> None:
        self.parts.setdefault(name, []).append(columns)

    def table(self, name: str, schema: pa.Schema) -> pa.Table:
        parts = self.parts.get(name, [])
        cols = {f.name: [] for f in schema}
        for part in parts:
            for f in schema:
                cols[f.name].append(pa.array(part[f.name], f.type))
        return pa.table(
            {f.name: pa.concat_arrays(cols[f.name]) if cols[f.name] else pa.array([], f.type)
             for f in schema},
            schema=schema,
        )  # fmt: skip


EXPOSURE_SCHEMA = pa.schema(
    [
        ("subscriber_id", pa.string()),
        ("moment_code", pa.string()),
        ("exposure_date", pa.date32()),
        ("arm", pa.string()),  # treated | control
        ("decision", pa.string()),
        ("manager_id", pa.string()),
        ("city_id", pa.string()),
        ("campaign", pa.string()),
        ("tactic", pa.string()),
        ("contacted", pa.bool_()),
        ("recommended", pa.bool_()),
        ("accepted", pa.bool_()),
        ("risk", pa.float64()),  # the run's churn-risk probability: the targeting score
        ("true_effect", pa.float64()),
    ]
)
CONTACT_SCHEMA = pa.schema(
    [
        ("contact_date", pa.date32()),
        ("subscriber_id", pa.string()),
        ("manager_id", pa.string()),
        ("channel", pa.string()),
        ("moments", pa.string()),
        ("reached", pa.bool_()),
        ("tactic", pa.string()),
        ("accepted", pa.bool_()),
        ("minutes", pa.float64()),
    ]
)
DAILY_SCHEMA = pa.schema(
    [
        ("business_date", pa.date32()),
        ("moment_code", pa.string()),
        ("candidates", pa.int64()),
        ("treated", pa.int64()),
        ("control", pa.int64()),
        ("new_treated", pa.int64()),
        ("new_control", pa.int64()),
    ]
)
RISK_COLUMNS = ["subscriber_id", "risk_probability"]
CAMPAIGN = "daily_moments"  # the daily moment service; campaigns are the app's


def simulate(
    cfg: SimConfig,
    out: str | Path,
    *,
    progress: Progress | None = None,
    suggest: Suggest | None = None,
    base: str | Path | None = None,
) -> dict:
    """Run the loop for ``cfg.days`` days into ``out`` and return its manifest.

    ``base``: an existing ``keycare synth`` delivery as of ``cfg.start`` to start from
    (generated into ``out/base`` otherwise). ``suggest(moments, tier, risk)``: the tactics
    matrix lookup (the moments app's library; the simulation runs without one).
    """
    from keycare.engine.allocate import AllocationConfig
    from keycare.engine.pipeline import run_daily

    out = Path(out)
    _prepare_out(out)
    started = time.perf_counter()
    say = getattr(progress, "say", None) or (lambda message: None)
    if base is None:
        base = out / "base"
        say(f"生成起始数据 generating the starting delivery ({cfg.subscribers:,} subscribers)")
        generator.generate(
            base, subscribers=cfg.subscribers, months=cfg.months, seed=cfg.seed, as_of=cfg.start
        )
    base = Path(base)
    work = out / "work"
    delivery = Delivery(base, work, cfg.policy)
    world = World(cfg, delivery.subscribers)
    allocation = AllocationConfig(
        control_share=cfg.policy.control_share,
        contact_cap_days=cfg.policy.contact_cap_days,
        control_seed=f"sim-{cfg.seed}",
    )
    overrides = _city_overrides(delivery.subscribers, cfg.policy.thresholds)
    state = _LoopState(cfg, world, suggest)
    if cfg.risk_model:
        state.risk_model = _train_risk(base, work / "models", say)
    for d in range(cfg.days):
        day = cfg.start + timedelta(days=d)
        t0 = time.perf_counter()
        drawn = world.draw_events(d)
        delivery.add_events(world, day, d, drawn)
        for sub in drawn["complaint"]:
            state.complaints.append((sub, d))
        delivery.write(world, day)
        run_daily(
            day,
            delivery.dir,
            work / "runs",
            models_dir=work / "models",
            allocation_config=allocation,
            city_overrides=overrides,
        )
        info = state.work_day(work / "runs", day, d)
        churned, downgraded = world.react(d)
        info.update(churned=len(churned), downgraded=len(downgraded))
        info["seconds"] = round(time.perf_counter() - t0, 2)
        if progress is not None:
            progress(d + 1, cfg.days, info)
    manifest = state.write(out, time.perf_counter() - started)
    shutil.rmtree(work / "delivery", ignore_errors=True)
    return manifest


def _train_risk(base: Path, models_dir: Path, say) -> dict:
    """Train on the starting delivery and promote the model (the first one always is). A base
    too small to train on leaves the runs without risk, as a missing model does in production,
    and the manifest says why."""
    from keycare.engine.risk.operator import train_from_delivery

    say("训练流失风险模型 training the churn-risk model on the starting delivery")
    started = time.perf_counter()
    try:
        result = train_from_delivery(base, models_dir, progress=say)
    except UserError as exc:
        say(f"无风险模型 no risk model: {exc}")
        return {"trained": False, "reason": str(exc)}
    holdout = result.metrics.get("holdout") or {}
    info = {
        "trained": True,
        "version": result.version,
        "rows": result.metrics["rows"],
        "positives": result.metrics["positives"],
        "auc_out_of_time": holdout.get("auc"),
        "seconds": round(time.perf_counter() - started, 1),
    }
    say(f"风险模型 risk model {result.version}: {info['rows']:,} rows, {info['seconds']} s")
    return info


def _prepare_out(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / "manifest.json").is_file() and not (out / "work").is_dir():
            raise UserError(f"--out {out}: not empty and not a simulation output; refusing")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _city_overrides(subscribers: pa.Table, thresholds: dict) -> dict | None:
    if not thresholds:
        return None
    cities = sorted(set(subscribers.column("city_id").to_pylist()) - {None})
    return {str(c): thresholds for c in cities}


class _LoopState:
    def __init__(self, cfg: SimConfig, world: World, suggest: Suggest | None):
        self.cfg = cfg
        self.world = world
        self.suggest = suggest
        self.rng = np.random.default_rng([cfg.seed, 78])
        self.seen: set = set()
        self.made: list[tuple[str, date, str]] = []  # contacts made, for the contact log
        self.log = _Log()
        self.complaints: list = []
        self.suggestions: dict = {}
        self.tier = world.tier
        self.risk_model: dict = {"trained": False, "reason": "risk_model off"}

    def work_day(self, runs_dir: Path, day: date, d: int) -> dict:
        from keycare.engine import publish as pub

        run = pub.read_published(runs_dir, day)
        decisions = pq.read_table(run.path / "decisions.parquet").to_pylist()
        tasks = pq.read_table(run.path / "tasks.parquet").to_pylist()
        contacts = self._work_tasks(tasks, day, d)
        self._log_contacts(runs_dir, contacts, tasks, day)
        scores = pq.read_table(run.path / "risk_scores.parquet", columns=RISK_COLUMNS)
        risk = dict(zip(*(scores[c].to_pylist() for c in RISK_COLUMNS), strict=True))
        self._expose(decisions, contacts, risk, day)
        counts: dict[str, int] = {}
        for row in decisions:
            counts[row["decision"]] = counts.get(row["decision"], 0) + 1
        return {"decisions": counts, "contacts": sum(1 for c in contacts.values() if c["reached"])}

    def _log_contacts(self, runs_dir: Path, contacts: dict, tasks: list[dict], day: date) -> None:
        """The contacts made (reached calls, delivered SMS) go to the contact log the next
        run's cool-down reads, as the application's outcomes and delivery receipts do."""
        from keycare.engine.history import write_contact_log

        channel = {t["subscriber_id"]: t["decision"] for t in tasks}
        self.made += [(s, day, channel[s]) for s, c in sorted(contacts.items()) if c["reached"]]
        since = day - timedelta(days=90)
        self.made = [m for m in self.made if m[1] >= since]
        ids, days, channels = zip(*self.made, strict=True) if self.made else ((), (), ())
        log = {"subscriber_id": list(ids), "contact_date": list(days), "channel": list(channels)}
        write_contact_log(runs_dir, pa.table(log))

    def _work_tasks(self, tasks: list[dict], day: date, d: int) -> dict:
        """Managers work the call tasks (within capacity: allocation's calls), SMS go out."""
        cfg, world = self.cfg, self.world
        done: dict = {}
        treat_subs, treat_effects = [], []
        for task in tasks:
            if task["decision"] not in ("call", "sms"):
                continue
            sub = world.index[task["subscriber_id"]]
            moments = tuple(task["moments"].split(","))
            call = task["decision"] == "call"
            reached = self.rng.random() < (cfg.reach_rate if call else cfg.sms_delivery_rate)
            suggested = self._suggested(moments, sub, task.get("risk")) if call else None
            tactic, accepted = None, None
            if call and reached:
                follow = suggested and self.rng.random() < cfg.tactic_follow_rate
                tactic = suggested if follow else None
                accepted = bool(self.rng.random() < cfg.accept_rate)
            minutes = (CALL_MINUTES_REACHED if reached else CALL_MINUTES_NOT_REACHED) if call else 0
            done[task["subscriber_id"]] = {
                "reached": bool(reached),
                "tactic": tactic,
                "recommended": bool(suggested) if call else None,
                "accepted": accepted,
            }
            self.log.add(
                "contacts",
                {
                    "contact_date": [day],
                    "subscriber_id": [task["subscriber_id"]],
                    "manager_id": [task["manager_id"]],
                    "channel": [task["decision"]],
                    "moments": [task["moments"]],
                    "reached": [bool(reached)],
                    "tactic": [tactic],
                    "accepted": [accepted],
                    "minutes": [float(minutes)],
                },
            )
            if reached:
                treat_subs.append(sub)
                treat_effects.append(max(cfg.effect(m) for m in moments))
        if treat_subs:
            world.treat(np.array(treat_subs), np.array(treat_effects), d)
        return done

    def _suggested(self, moments: tuple, sub: int, risk) -> str | None:
        if self.suggest is None:
            return None
        band = None if risk is None else round(float(risk), 1)
        key = (moments, self.tier[sub], band)
        if key not in self.suggestions:
            codes = self.suggest(moments, self.tier[sub], risk)
            self.suggestions[key] = codes[0] if codes else None
        return self.suggestions[key]

    def _expose(self, decisions: list[dict], contacts: dict, risk: dict, day: date) -> None:
        """First randomised decision per (customer, moment): its arm and what followed."""
        rows: dict[str, list] = {f.name: [] for f in EXPOSURE_SCHEMA}
        daily: dict[str, list[int]] = {}
        for row in decisions:
            code, decision = row["moment_code"], row["decision"]
            counts = daily.setdefault(code, [0, 0, 0, 0, 0])
            counts[0] += 1
            if decision not in EXPOSED:
                continue
            arm = "control" if decision == "control" else "treated"
            counts[1 if arm == "treated" else 2] += 1
            key = (row["subscriber_id"], code)
            if key in self.seen:
                continue
            self.seen.add(key)
            counts[3 if arm == "treated" else 4] += 1
            sub = self.world.index[row["subscriber_id"]]
            contact = contacts.get(row["subscriber_id"], {}) if arm == "treated" else {}
            for name, value in (
                ("subscriber_id", row["subscriber_id"]),
                ("moment_code", code),
                ("exposure_date", day),
                ("arm", arm),
                ("decision", decision),
                ("manager_id", row["manager_id"]),
                ("city_id", self.world.city[sub]),
                ("campaign", CAMPAIGN),
                ("tactic", contact.get("tactic")),
                ("contacted", bool(contact.get("reached", False))),
                ("recommended", contact.get("recommended")),
                ("accepted", contact.get("accepted")),
                ("risk", risk.get(row["subscriber_id"])),
                ("true_effect", self.cfg.effect(code)),
            ):
                rows[name].append(value)
        if rows["arm"]:
            self.log.add("exposures", rows)
        if daily:
            codes = sorted(daily)
            self.log.add(
                "daily",
                {
                    "business_date": [day] * len(codes),
                    "moment_code": codes,
                    **{
                        name: [daily[c][i] for c in codes]
                        for i, name in enumerate(
                            ("candidates", "treated", "control", "new_treated", "new_control")
                        )
                    },
                },
            )

    # --- outputs ---------------------------------------------------------------------------

    def write(self, out: Path, seconds: float) -> dict:
        cfg, world = self.cfg, self.world
        start = np.datetime64(cfg.start, "D")
        exposures = self.log.table("exposures", EXPOSURE_SCHEMA)
        pq.write_table(exposures, out / "exposures.parquet")
        pq.write_table(self._outcomes(start), out / "outcomes.parquet")
        subs = np.array([s for s, _ in self.complaints], np.int64)
        days = np.array([d for _, d in self.complaints], np.int64)
        complaints = pa.table(
            {
                "subscriber_id": pa.array(world.ids[subs], pa.string()),
                "complaint_date": pa.array(start + days.astype("timedelta64[D]"), pa.date32()),
            }
        )
        pq.write_table(complaints, out / "complaints.parquet")
        contacts = self.log.table("contacts", CONTACT_SCHEMA)
        pq.write_table(contacts, out / "contacts.parquet")
        pq.write_table(self.log.table("daily", DAILY_SCHEMA), out / "daily.parquet")
        truth = _truth(exposures, world, start, cfg.days, cfg.horizons)
        pq.write_table(truth, out / "truth.parquet")
        manifest = self._manifest(contacts, truth, seconds)
        (out / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return manifest

    def _outcomes(self, start) -> pa.Table:
        world = self.world
        everyone = np.arange(world.n)
        (_, churn, churn0), (_, down, down0) = _outcome_days(world, everyone)
        return pa.table(
            {
                "subscriber_id": pa.array(world.ids, pa.string()),
                "plan_fee": pa.array(world.fee0, pa.float64()),
                "churn_date": _dates(start, churn),
                "downgrade_date": _dates(start, down),
                "downgrade_factor": pa.array(np.full(world.n, DOWNGRADE_FACTOR)),
                # Ground truth only: when the customer would have left / downgraded had the
                # service never contacted anyone.
                "churn_date_unserved": _dates(start, churn0),
                "downgrade_date_unserved": _dates(start, down0),
            }
        )

    def _manifest(self, contacts: pa.Table, truth: pa.Table, seconds: float) -> dict:
        cfg, world = self.cfg, self.world
        hours = float(pc.sum(contacts["minutes"]).as_py() or 0.0) / 60
        churned = int((world.churn.day >= 0).sum())
        churned_untreated = int((world.churn.day0 >= 0).sum())
        avoided = churned_untreated - churned
        config = asdict(cfg)
        config["start"] = cfg.start.isoformat()
        return {
            "kind": "keycare-simulation",
            "config": config,
            "policy": asdict(cfg.policy),
            "effects": {
                "churn_hazard_reduction": dict(sorted(cfg.effects.items())),
                "default": cfg.default_effect,
                "effect_days": cfg.effect_days,
                "downgrade_share": cfg.downgrade_effect_share,
                "note": "a reached call or delivered SMS multiplies the customer's churn hazard "
                "by (1 - effect of the task's strongest moment) for effect_days days",
            },
            "world": {
                "events": {k: {"rate": r, "lift": lift} for k, (r, lift) in WORLD_EVENTS.items()},
                "event_window_days": EVENT_WINDOW,
                "churn_base": CHURN_BASE * cfg.churn_scale,
                "downgrade_base": DOWNGRADE_BASE * cfg.churn_scale,
            },
            "risk_model": self.risk_model,
            "first_date": cfg.start.isoformat(),
            "last_date": (cfg.start + timedelta(days=cfg.days - 1)).isoformat(),
            "totals": {
                "subscribers": world.n,
                "calls": int(pc.sum(pc.equal(contacts["channel"], "call")).as_py() or 0),
                "sms": int(pc.sum(pc.equal(contacts["channel"], "sms")).as_py() or 0),
                "reached": int(pc.sum(contacts["reached"]).as_py() or 0),
                "manager_hours": round(hours, 2),
                "churned": churned,
                "churned_without_service": churned_untreated,
                "churn_avoided": avoided,
                "churn_avoided_per_100_hours": round(100 * avoided / hours, 3) if hours else None,
            },
            "truth": truth.to_pylist(),
            "seconds": round(seconds, 1),
        }


def _dates(start, days: np.ndarray) -> pa.Array:
    values = start + np.maximum(days, 0).astype("timedelta64[D]")
    return pa.array(values, pa.date32(), mask=days < 0)


def _truth(exposures: pa.Table, world: World, start, n_days: int, horizons) -> pa.Table:
    """The true effect per moment and horizon of being in the served arm.

    Treated-vs-control estimates mean(outcome | treated, alive at exposure) - mean(outcome |
    control, alive at exposure); randomisation makes the control arm a sample of the treated
    customers' never-served selves. So the truth is the treated arm's actual rate minus the
    rate of the same exposures in the never-served world, among those still there at the
    exposure (a customer the service kept alive would have left before it otherwise).
    """
    treated = exposures.filter(pc.equal(exposures["arm"], "treated"))
    codes = treated["moment_code"].to_numpy(zero_copy_only=False)
    subs = np.array([world.index[s] for s in treated["subscriber_id"].to_pylist()], np.int64)
    d0 = _day_index(treated["exposure_date"], start)
    rows = []
    for metric, actual, never in _outcome_days(world, subs):
        for k in horizons:
            full = d0 + k <= n_days
            y1 = (actual >= 0) & (actual >= d0) & (actual - d0 < k)
            there = (world.churn.day0[subs] < 0) | (world.churn.day0[subs] >= d0)
            y0 = (never >= 0) & (never >= d0) & (never - d0 < k)
            for code in sorted(set(codes[full].tolist())):
                sel = full & (codes == code)
                rows.append(
                    {
                        "metric": metric,
                        "moment_code": code,
                        "horizon": k,
                        "treated": int(sel.sum()),
                        "true_uplift": float(y1[sel].mean() - y0[sel & there].mean())
                        if (sel & there).any()
                        else None,
                    }
                )
    schema = pa.schema(
        [
            ("metric", pa.string()),
            ("moment_code", pa.string()),
            ("horizon", pa.int64()),
            ("treated", pa.int64()),
            ("true_uplift", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _outcome_days(world: World, subs: np.ndarray):
    """(metric, actual day, never-served day) per customer; no downgrade after churn."""
    churn, churn0 = world.churn.day[subs], world.churn.day0[subs]
    down, down0 = world.downgrade.day[subs], world.downgrade.day0[subs]
    down = np.where((churn >= 0) & (down >= churn), -1, down)
    down0 = np.where((churn0 >= 0) & (down0 >= churn0), -1, down0)
    return [("churn", churn, churn0), ("downgrade", down, down0)]


def _day_index(column, start) -> np.ndarray:
    values = column.to_numpy(zero_copy_only=False)
    mask = pc.is_null(column).to_numpy(zero_copy_only=False)
    days = (values.astype("datetime64[D]") - start).astype(np.int64)
    return np.where(mask, -1, days)
