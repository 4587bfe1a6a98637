"""One chunk of subscribers: static attributes, the latent utility model month by month, and
the observable files generated from it. Vectorised numpy; no Django.

The model (documented with its parameters in docs/synthetic-data.md):

    u[t] = mu[t] + RHO * (u[t-1] - mu[t-1]) + SIGMA * eps[t] - shocks[t]
    intent[t] = sigmoid(INTENT_SLOPE * (INTENT_PIVOT - u[t]))
    P(churn in t+1) = sigmoid(CHURN_BASE + tier_offset + CHURN_SLOPE * intent[t])

shocks are complaints, bill shocks, churned core contacts, contract expiry (mu loses the
lock-in bonus), handset changes and arrears. Everything observable in month t (spend,
minutes, competitor-call share, portability inquiries, silence, unpaid bills, top-ups) is
drawn from intent[t], so it precedes the churn or downgrade it predicts.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from keycare.synth import identity
from keycare.synth import reference as ref
from keycare.synth.calendar import Calendar
from keycare.synth.complaints import TextMaker
from keycare.synth.world import BRAND_CODES, KeyAccounts, Org, Plans, Staff

# --- latent utility model parameters -------------------------------------------------
RHO = 0.8  # persistence of deviations from the subscriber's baseline utility
SIGMA = 0.25  # monthly idiosyncratic noise
LOCK_IN = 0.6  # utility bonus while under contract; lost at expiry
SHOCK_COMPLAINT = 0.5  # per complaint (at most 2 counted)
SHOCK_BILL = 0.45  # bill shock: overage spike or roaming bill
SHOCK_CONTACT_CHURN = 0.3  # per core contact who left (at most 3 counted)
SHOCK_HANDSET = 0.25  # handset change (competitor bundles)
SHOCK_ARREARS = 0.4  # financial stress / collection
INTENT_SLOPE = 2.0
INTENT_PIVOT = 0.1
CHURN_BASE = -6.9
CHURN_SLOPE = 8.5
CHURN_MASS_OFFSET = 0.6  # mass-tier subscribers leave more easily
DOWNGRADE_BASE = -5.4
DOWNGRADE_SLOPE = 4.0
MID_HIGH_THRESHOLD = 120.0
BURN_IN = 12  # months of latent history simulated before the window
SPEND_MEDIAN = 50.0
SPEND_SIGMA = 0.78

EVENT_TYPES = [
    "complaint",
    "bill_query",
    "balance_query",
    "service_subscription",
    "service_cancellation",
    "handset_change",
    "roaming_activation",
    "portability_inquiry",
    "suspension",
    "resumption",
    "fault_report",
    "plan_change",
    "data_overage",
    "top_up",
    "churn",
]
CHANNELS = ["hotline", "app", "store", "sms", "web", "system"]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class World:
    calendar: Calendar
    org: Org
    plans: Plans
    staff: Staff
    key_accounts: KeyAccounts


class EventSink:
    """Collects event rows of one chunk as column arrays, one group per event kind."""

    def __init__(self, cal: Calendar, rng: np.random.Generator):
        self.cal = cal
        self.rng = rng
        self.groups: list[dict] = []
        # Complaint and consultation texts: their own stream (set by simulate_chunk), so the
        # texts never shift another draw of the delivery.
        self.texts: TextMaker | None = None

    def add(self, sub, t, day, etype, *, category=None, amount=None, old=None, new=None,
            channel="system", detail=None, texts=None):  # fmt: skip
        """``texts``: TextMaker columns (text, handling result, resolved, true cause and need)."""
        sub = np.asarray(sub)
        k = len(sub)
        if k == 0:
            return
        # Service hours mostly 08:00-22:00.
        seconds = (8 * 3600 + self.rng.integers(0, 14 * 3600, k)).astype(np.int64)
        night = self.rng.random(k) < 0.05
        seconds[night] = self.rng.integers(0, 8 * 3600, int(night.sum()))
        start = self.cal.month_starts[t].astype("datetime64[s]").astype(np.int64)
        when = start + (np.asarray(day) - 1) * 86_400 + seconds
        self.groups.append(
            {
                "sub": sub,
                "time": when,
                "event_type": _const(etype, k),
                "category": _col(category, k),
                "amount": None if amount is None else np.round(np.asarray(amount, float), 2),
                "old_value": _col(old, k),
                "new_value": _col(new, k),
                "channel": _col(channel, k),
                "detail": _col(detail, k),
                **_text_columns(texts, k),
            }
        )


TEXT_COLUMNS = ("text", "handling_result", "cause", "need")


def _text_columns(texts: dict | None, k: int) -> dict:
    if texts is None:
        return {**{c: pa.nulls(k, pa.string()) for c in TEXT_COLUMNS}, "resolved": None}
    return {
        **{c: pa.array(texts[c], pa.string()) for c in TEXT_COLUMNS},
        "resolved": pa.array(texts["resolved"], pa.bool_()),
    }


def _const(value: str, k: int) -> pa.Array:
    return pa.array([value], pa.string()).take(pa.array(np.zeros(k, dtype=np.int32)))


def _col(values, k: int) -> pa.Array:
    if values is None:
        return pa.nulls(k, pa.string())
    if isinstance(values, str):
        return _const(values, k)
    if isinstance(values, pa.Array):
        return values
    return pa.array(np.asarray(values, dtype=object), pa.string())


def _pick(vocab: list[str], codes: np.ndarray) -> pa.Array:
    return pa.array(vocab, pa.string()).take(pa.array(codes.astype(np.int32)))


def _days_between(rng, lo, hi):
    """A uniform day in [lo, hi] per row (1-based day of month)."""
    return lo + (rng.random(len(lo)) * (hi - lo + 1)).astype(np.int64)


def simulate_chunk(
    world: World, seed: int, chunk: int, first_index: int, n: int
) -> dict[str, pa.Table | dict]:
    cal = world.calendar
    rng = np.random.default_rng([seed, 1, chunk])
    gidx = np.arange(first_index, first_index + n, dtype=np.int64)
    s = _static_attributes(rng, world, gidx)
    sim = _simulate_months(rng, world, s)
    events = EventSink(cal, np.random.default_rng([seed, 2, chunk]))
    events.texts = TextMaker(np.random.default_rng([seed, 5, chunk]))
    bills = _bills(rng, world, s, sim)
    _emit_events(rng, world, s, sim, events)
    snapshot = _snapshot(rng, world, s, sim, bills, events)
    return {
        "static": s,
        "sim": sim,
        "snapshot": snapshot,
        "bills": bills,
        "usage_weekly": _usage_weekly(rng, world, s, sim),
        "call_circle": _call_circle(rng, world, s, sim),
        "events": _events_table(events, s, chunk),
    }


# --- static attributes ------------------------------------------------------------------


def _static_attributes(rng, world: World, gidx: np.ndarray) -> dict:
    cal, org, plans = world.calendar, world.org, world.plans
    n = len(gidx)
    as_of = cal.as_of64
    city = rng.choice(len(org.city_ids), n, p=org.city_p)
    county = org.county_start[city] + (rng.random(n) * org.county_count[city]).astype(int)
    grid = org.grid_start[county] + (rng.random(n) * org.grid_count[county]).astype(int)
    is_male = rng.random(n) < 0.51
    age = np.clip(rng.normal(41, 13, n), 16, 85)
    birth = as_of - (age * 365.25).astype(np.int64)
    window_days = int((as_of - cal.span_start).astype(int)) + 1
    is_new = rng.random(n) < min(0.5, 0.016 * cal.n_steps)
    tenure_cap = np.minimum((age - 16) * 365, 25 * 365)
    tenure = np.minimum(rng.exponential(6.5 * 365, n), tenure_cap).astype(np.int64)
    join = np.where(
        is_new, cal.span_start + rng.integers(0, window_days, n), cal.span_start - 1 - tenure
    ).astype("datetime64[D]")
    join_t = _month_index(cal, join)  # -1 when before the window
    tenure_years = (as_of - join).astype(np.int64) / 365.25

    need = np.exp(rng.normal(np.log(SPEND_MEDIAN), SPEND_SIGMA, n))  # RMB / month of usage
    p_gotone = sigmoid(2.8 * (np.log(need) - np.log(105)))
    brand = np.where(
        rng.random(n) < p_gotone,
        0,
        np.where((age < 30) | (rng.random(n) < 0.35), 1, 2),
    )
    target = need * rng.uniform(0.75, 1.0, n)
    plan = np.empty(n, dtype=np.int64)
    for b in range(len(BRAND_CODES)):
        sel = brand == b
        first, count = plans.brand_start[b], plans.brand_count[b]
        fees = plans.fees[first : first + count]
        local = np.clip(np.searchsorted(fees, target[sel], side="right") - 1, 0, count - 1)
        plan[sel] = first + local
    postpaid_p = np.array([0.65, 0.15, 0.08])[brand]
    postpaid = rng.random(n) < postpaid_p

    has_contract = rng.random(n) < np.where(brand == 0, 0.5, 0.25)
    contract_end = as_of + rng.integers(-200, 731, n)
    contract_t = np.where(has_contract, _month_index(cal, contract_end, clip=False), -10_000)

    handset = _handsets(rng, world, n, as_of, join)
    mu = (
        0.9
        + 0.25 * np.log1p(tenure_years)
        + np.array([0.15, -0.2, 0.0])[brand]
        + rng.normal(0, 0.45, n)
    )
    return {
        "n": n,
        "gidx": gidx,
        "city": city,
        "county": county,
        "grid": grid,
        "is_male": is_male,
        "age": age,
        "birth": birth,
        "join": join,
        "join_t": join_t,
        "tenure_years": tenure_years,
        "need": need,
        "brand": brand,
        "plan0": plan,
        "postpaid": postpaid,
        "has_contract": has_contract,
        "contract_end": contract_end,
        "contract_t": contract_t,
        "mu": mu,
        "core_contacts": 2 + rng.poisson(6, n),
        "base_share": rng.beta(3, 6, n),
        "community": rng.lognormal(-0.3, 0.8, n),
        "minutes_base": np.exp(rng.normal(np.log(120 + 2.0 * need), 0.5)),
        "data_base": np.exp(rng.normal(np.log(6000 * (need / 50) ** 0.5), 0.7)),
        "services": rng.poisson(0.8, n),
        **handset,
    }


def _month_index(cal: Calendar, days: np.ndarray, clip: bool = True) -> np.ndarray:
    months = days.astype("datetime64[M]")
    first = cal.month_starts[0].astype("datetime64[M]")
    idx = (months - first).astype(np.int64)
    return np.where(idx < 0, -1, idx) if clip else idx


def _handsets(rng, world: World, n: int, as_of: np.datetime64, join: np.ndarray) -> dict:
    models = ref.HANDSETS
    launch = np.array([m[3] for m in models])
    ago = np.minimum(rng.exponential(800, n), 6 * 365).astype(np.int64)
    since = as_of - ago
    since_year = since.astype("datetime64[Y]").astype(np.int64) + 1970
    age = since_year[:, None] - launch[None, :]
    weight = np.where(age >= 0, np.exp(-0.7 * np.clip(age, 0, None)), 0.0)
    weight[weight.sum(axis=1) == 0, 0] = 1.0
    cum = np.cumsum(weight / weight.sum(axis=1, keepdims=True), axis=1)
    model = np.minimum((cum < rng.random(n)[:, None]).sum(axis=1), len(models) - 1)
    old_model = rng.integers(0, len(models), n)
    tacs = np.array([m[4] for m in models])
    return {
        "handset_model": model,
        "handset_since": since.astype("datetime64[D]"),
        "imei": identity.imeis(rng, tacs[model]),
        "old_imei": identity.imeis(rng, tacs[old_model]),
    }


# --- the latent model, month by month -------------------------------------------------


def _simulate_months(rng, world: World, s: dict) -> dict:
    cal, plans = world.calendar, world.plans
    n, T = s["n"], cal.n_steps
    handset_t = np.where(s["handset_since"] > s["join"], _month_index(cal, s["handset_since"]), -1)
    quality = world.org.grid_quality[s["grid"]]
    mass = s["need"] < MID_HIGH_THRESHOLD

    out = {
        k: np.zeros((n, T), dtype=dt)
        for k, dt in [
            ("alive", bool),
            ("lo", np.int64),
            ("hi", np.int64),
            ("intent", float),
            ("usage", float),
            ("share", float),
            ("complaints", np.int64),
            ("fault", bool),
            ("bill_spike", float),
            ("intl_roaming", bool),
            ("dom_roaming", bool),
            ("contacts_churned", np.int64),
            ("inquiry", bool),
            ("unpaid", bool),
            ("arrears_shock", bool),
            ("silent_from", np.int64),
            ("plan", np.int64),
            ("plan_change", np.int64),
            ("utility", float),
        ]
    }
    churn_t = np.full(n, -1)
    churn_day = np.zeros(n, dtype=np.int64)
    plan = s["plan0"].copy()
    # Burn-in: run the latent process BURN_IN months before the window so that the window
    # starts from its stationary distribution (no drift of the churn rate over the window).
    mu0 = s["mu"] + LOCK_IN * (s["contract_t"] > -BURN_IN - 1)
    state = {"mu": mu0, "u": mu0 + rng.normal(0, 0.35, n)}
    state["intent"] = sigmoid(INTENT_SLOPE * (INTENT_PIVOT - state["u"]))
    # Whoever would have churned during the burn-in is replaced by a fresh subscriber in the
    # same slot, as the operator's acquisitions replace its losses.
    for t in range(-BURN_IN, 0):
        gone = rng.random(n) < _churn_probability(state["intent"], mass)
        state["u"] = np.where(gone, state["mu"] + rng.normal(0, 0.35, n), state["u"])
        _latent_step(rng, s, state, t, 1.0, handset_t, quality)
    intent = state["intent"]
    silent_prev = np.zeros(n, dtype=bool)
    spike_prev = np.zeros(n)
    join_day = (s["join"] - s["join"].astype("datetime64[M]")).astype(np.int64) + 1

    for t in range(T):
        avail = cal.avail_days[t]
        frac = avail / cal.month_days[t]
        alive = (s["join_t"] <= t) & (churn_t < 0)
        lo = np.where(s["join_t"] == t, join_day, 1)
        hi = np.full(n, avail)
        alive &= lo <= hi

        # Churn this month, from last month's intent (and never in the joining month).
        p_churn = _churn_probability(intent, mass) * frac
        churning = alive & (s["join_t"] < t) & (rng.random(n) < p_churn)
        churn_t[churning] = t
        churn_day[churning] = _days_between(rng, lo[churning], hi[churning])
        hi = np.where(churning, churn_day - 1, hi)

        # Downgrade / upgrade this month, from last month's state.
        change = np.zeros(n, dtype=np.int64)
        local = plans.local[plan]
        overpay = np.clip(plans.fees[plan] / s["need"] - 1, 0, 2)
        p_down = sigmoid(
            DOWNGRADE_BASE + DOWNGRADE_SLOPE * intent + 1.5 * (spike_prev > 0) + 0.8 * overpay
        )
        down = alive & ~churning & (local > 0) & (rng.random(n) < p_down * frac)
        steps = np.where(rng.random(n) < 0.3, 2, 1)
        change[down] = -np.minimum(steps, local)[down]
        top = plans.brand_count[plans.brand[plan]] - 1
        up = alive & ~churning & ~down & (local < top) & (rng.random(n) < 0.004 * frac)
        change[up] = 1
        plan = plan + change
        out["plan_change"][:, t] = change

        shocks = _latent_step(rng, s, state, t, frac, handset_t, quality)
        u, intent = state["u"], state["intent"]
        fault, spike, intl_fee = shocks["fault"], shocks["spike"], shocks["intl_fee"]
        cc, arrears_shock = shocks["cc"], shocks["arrears"]
        complaints, intl = shocks["complaints"], intl_fee > 0

        # Observable behaviour, generated from intent.
        usage = np.exp(-1.5 * intent + rng.normal(0, 0.08, n))
        share = np.clip(
            s["base_share"] + 0.45 * intent + 0.03 * np.minimum(cc, 3) + rng.normal(0, 0.03, n),
            0,
            0.95,
        )
        p_silent_new = 0.001 + 0.3 * intent**2
        silent = alive & ((silent_prev & (rng.random(n) < 0.85)) | (rng.random(n) < p_silent_new))
        silent_from = np.where(
            silent & ~silent_prev, _days_between(rng, lo, np.maximum(hi, lo)), 10_000
        )
        silent_from = np.where(silent & silent_prev, 1, silent_from)
        silent_from = np.where(alive, silent_from, 10_000)
        inquiry = alive & (rng.random(n) < (0.0015 + 0.3 * intent**2) * frac)
        unpaid = (
            s["postpaid"] & alive & (rng.random(n) < 0.012 + 0.3 * intent + 0.6 * arrears_shock)
        )

        for key, val in [
            ("alive", alive & (lo <= hi)),
            ("lo", lo),
            ("hi", hi),
            ("intent", intent),
            ("usage", usage),
            ("share", share),
            ("complaints", np.where(alive, complaints, 0)),
            ("fault", alive & fault),
            ("bill_spike", np.where(alive, spike, 0.0)),
            ("intl_roaming", alive & intl),
            ("dom_roaming", alive & (rng.random(n) < 0.04 * frac)),
            ("contacts_churned", np.where(alive, cc, 0)),
            ("inquiry", inquiry),
            ("unpaid", unpaid),
            ("arrears_shock", alive & arrears_shock),
            ("silent_from", silent_from),
            ("plan", plan),
            ("utility", u),
        ]:
            out[key][:, t] = val
        out.setdefault("intl_fee", np.zeros((n, T)))[:, t] = np.where(alive, intl_fee, 0.0)
        silent_prev = silent & alive
        spike_prev = np.where(alive, spike, 0.0)

    out["churn_t"] = churn_t
    out["churn_day"] = churn_day
    out["handset_t"] = handset_t
    out["plan_final"] = plan
    out["join_day"] = join_day
    return out


def _churn_probability(intent: np.ndarray, mass: np.ndarray) -> np.ndarray:
    return sigmoid(CHURN_BASE + CHURN_MASS_OFFSET * mass + CHURN_SLOPE * intent)


def _latent_step(rng, s: dict, state: dict, t: int, frac: float, handset_t, quality) -> dict:
    """Draw month t's shocks and move the latent utility (state: mu, u, intent) one month."""
    n = s["n"]
    intent = state["intent"]
    fault = rng.random(n) < 0.012 * quality * frac
    spike = np.where(rng.random(n) < 0.025 * frac, rng.lognormal(np.log(60), 0.8, n), 0.0)
    intl = rng.random(n) < (0.004 + 0.012 * (s["brand"] == 0)) * frac
    intl_fee = np.where(intl, rng.lognormal(np.log(120), 0.9, n), 0.0)
    bill_shock = (spike > 0) | (intl_fee > 250)
    cc = rng.poisson(s["core_contacts"] * 0.006 * s["community"] * frac)
    arrears = s["postpaid"] & (rng.random(n) < 0.012 * frac)
    handset = (handset_t == t) & (t >= 0)
    complaints = rng.poisson((0.006 + 0.02 * intent) * frac + 0.45 * fault + 0.25 * bill_shock)
    # At contract expiry the lock-in bonus leaves mu, and u falls with it: a step down.
    mu_now = s["mu"] + LOCK_IN * (s["contract_t"] > t)
    u = (
        mu_now
        + RHO * (state["u"] - state["mu"])
        + SIGMA * rng.normal(0, 1, n)
        - SHOCK_COMPLAINT * np.minimum(complaints, 2)
        - SHOCK_BILL * bill_shock
        - SHOCK_CONTACT_CHURN * np.minimum(cc, 3)
        - SHOCK_HANDSET * handset
        - SHOCK_ARREARS * arrears
    )
    state["mu"], state["u"] = mu_now, u
    state["intent"] = sigmoid(INTENT_SLOPE * (INTENT_PIVOT - u))
    return {
        "fault": fault,
        "spike": spike,
        "intl_fee": intl_fee,
        "cc": cc,
        "arrears": arrears,
        "complaints": complaints,
    }


# --- observable files -----------------------------------------------------------------


def _active_fraction(cal: Calendar, sim: dict) -> np.ndarray:
    """Share of each month's calendar days the subscriber was on the network and not silent."""
    last = np.minimum(sim["hi"], sim["silent_from"] - 1)
    days = np.clip(last - sim["lo"] + 1, 0, None)
    return np.where(sim["alive"], days / cal.month_days[None, :], 0.0)


def _bills(rng, world: World, s: dict, sim: dict) -> dict:
    cal, plans = world.calendar, world.plans
    M = cal.months
    alive = sim["alive"][:, :M]
    on_net = np.where(
        alive, (sim["hi"][:, :M] - sim["lo"][:, :M] + 1) / cal.month_days[None, :M], 0.0
    )
    active = _active_fraction(cal, sim)[:, :M]
    use = s["need"][:, None] * sim["usage"][:, :M] * active
    plan_fee = plans.fees[sim["plan"][:, :M]] * on_net
    over = np.clip(use - plans.fees[sim["plan"][:, :M]] * on_net, 0, None) * 0.5
    voice_part = rng.uniform(0.2, 0.6, over.shape)
    voice_fee = over * voice_part
    data_fee = over * (1 - voice_part) + sim["bill_spike"][:, :M]
    sms_fee = rng.poisson(3, over.shape) * 0.1 * active
    vas_fee = s["services"][:, None] * rng.uniform(3, 12, over.shape) * on_net
    roaming_fee = np.where(sim["dom_roaming"][:, :M], rng.uniform(0, 20, over.shape), 0.0)
    intl_fee = sim["intl_fee"][:, :M]
    supplementary = np.where(rng.random(over.shape) < 0.004, rng.uniform(5, 60, over.shape), 0.0)
    total = plan_fee + voice_fee + data_fee + sms_fee + vas_fee + roaming_fee + intl_fee
    total += supplementary
    minutes = (
        s["minutes_base"][:, None] * sim["usage"][:, :M] * active * rng.gamma(20, 0.05, over.shape)
    )
    data_mb = (
        s["data_base"][:, None] * sim["usage"][:, :M] * active * rng.gamma(8, 0.125, over.shape)
    )
    sms = rng.poisson(12 * np.clip(active, 0, None) * sim["usage"][:, :M])
    return {
        "alive": alive,
        "total_fee": np.round(total, 2),
        "plan_fee": np.round(plan_fee, 2),
        "voice_fee": np.round(voice_fee, 2),
        "data_fee": np.round(data_fee, 2),
        "sms_fee": np.round(sms_fee, 2),
        "vas_fee": np.round(vas_fee, 2),
        "roaming_fee": np.round(roaming_fee, 2),
        "intl_roaming_fee": np.round(intl_fee, 2),
        "overage_fee": np.round(voice_fee + data_fee, 2),
        "supplementary_fee": np.round(supplementary, 2),
        "voice_minutes": np.round(minutes, 1),
        "data_mb": np.round(data_mb, 1),
        "sms_count": sms.astype(np.int64),
        "paid": ~sim["unpaid"][:, :M],
    }


def bills_table(world: World, s: dict, bills: dict, sub_ids: pa.Array) -> pa.Table:
    cal = world.calendar
    rows, months = np.nonzero(bills["alive"])
    labels = pa.array(cal.month_labels()[: cal.months], pa.string())
    cols = {
        "subscriber_id": sub_ids.take(pa.array(rows)),
        "bill_month": labels.take(pa.array(months)),
    }
    for name in [
        "total_fee",
        "plan_fee",
        "voice_fee",
        "data_fee",
        "sms_fee",
        "vas_fee",
        "roaming_fee",
        "intl_roaming_fee",
        "overage_fee",
        "supplementary_fee",
        "voice_minutes",
        "data_mb",
        "sms_count",
        "paid",
    ]:
        cols[name] = bills[name][rows, months]
    return cols


def _usage_weekly(rng, world: World, s: dict, sim: dict) -> dict:
    cal = world.calendar
    weeks = cal.week_starts
    W = len(weeks)
    week_t = _month_index(cal, weeks + 3)
    week_t = np.clip(week_t, 0, cal.months)
    month_start = cal.month_starts[week_t]  # per week
    # Absolute day numbers (days since epoch) of each subscriber's on-net, non-silent span.
    first_day = s["join"].astype(np.int64)
    churn_date = np.where(
        sim["churn_t"] >= 0,
        cal.month_starts[np.clip(sim["churn_t"], 0, None)].astype(np.int64) + sim["churn_day"] - 1,
        np.iinfo(np.int64).max // 2,
    )
    silent_start = _silent_start_abs(cal, sim)
    wk = weeks.astype(np.int64)
    start = np.maximum(first_day[:, None], wk[None, :])
    end = np.minimum.reduce(
        [
            np.broadcast_to(wk[None, :] + 6, (s["n"], W)),
            np.broadcast_to(np.int64(cal.as_of64.astype(np.int64)), (s["n"], W)),
            (churn_date - 1)[:, None] + np.zeros((1, W), dtype=np.int64),
        ]
    )
    on_net = (start <= end) & (first_day[:, None] <= wk[None, :] + 6)
    on_net &= churn_date[:, None] > wk[None, :]
    usable_end = np.minimum(end, silent_start[:, None] - 1)
    days = np.clip(usable_end - start + 1, 0, 7)
    del month_start
    intent = sim["intent"][:, week_t]
    usage = sim["usage"][:, week_t]
    active_days = rng.binomial(days, np.clip(0.97 - 0.3 * intent, 0.3, 1.0))
    minutes = s["minutes_base"][:, None] * usage * days / 30.4 * rng.gamma(6, 1 / 6, (s["n"], W))
    calls = rng.poisson(minutes / 2.8)
    calls_out = rng.binomial(calls, 0.52)
    competitor = rng.binomial(calls, sim["share"][:, week_t])
    data_mb = s["data_base"][:, None] * usage * days / 30.4 * rng.gamma(4, 0.25, (s["n"], W))
    sms = rng.poisson(3 * days / 7 * usage)
    rows, cols = np.nonzero(on_net)
    return {
        "rows": rows,
        "week_start": weeks[cols],
        "voice_minutes": np.round(np.minimum(minutes, 10_080), 1)[rows, cols],
        "calls_out": calls_out[rows, cols],
        "calls_in": (calls - calls_out)[rows, cols],
        "competitor_calls": competitor[rows, cols],
        "data_mb": np.round(data_mb, 1)[rows, cols],
        "sms_count": sms[rows, cols],
        "active_days": active_days[rows, cols],
    }


def _silent_start_abs(cal: Calendar, sim: dict) -> np.ndarray:
    """First day of the silence running at the end of the history, as a day number."""
    n = len(sim["churn_t"])
    starts = cal.month_starts.astype(np.int64)
    result = np.full(n, np.iinfo(np.int64).max // 2)
    for t in range(cal.n_steps):
        sf = sim["silent_from"][:, t]
        new = (sf < 10_000) & (sf > 1)
        cont = sf == 1
        begun = np.where(new, starts[t] + sf - 1, result)
        result = np.where(cont, np.where(result > starts[t], starts[t], result), begun)
        result = np.where((sf >= 10_000) & sim["alive"][:, t], np.iinfo(np.int64).max // 2, result)
    return result


def _call_circle(rng, world: World, s: dict, sim: dict) -> dict:
    M = world.calendar.months
    alive = sim["alive"][:, :M]
    usage = sim["usage"][:, :M] * np.clip(_active_fraction(world.calendar, sim)[:, :M], 0.05, 1)
    core = s["core_contacts"]
    contacts = rng.poisson(5 + 3 * core[:, None] * usage)
    churned = sim["contacts_churned"][:, :M]
    core_now = np.clip(core[:, None] - np.cumsum(churned, axis=1) + churned, 0, None)
    share = np.round(sim["share"][:, :M], 4)
    competitor = rng.binomial(contacts, np.clip(share * 0.9, 0, 1))
    intra = np.round((1 - share) * rng.uniform(0.85, 0.97, share.shape), 4)
    rows, months = np.nonzero(alive)
    return {
        "rows": rows,
        "months": months,
        "contacts": contacts[rows, months],
        "core_contacts": np.minimum(core_now, 1000)[rows, months],
        "core_contacts_churned": np.minimum(churned, core_now)[rows, months],
        "competitor_contacts": competitor[rows, months],
        "competitor_call_share": share[rows, months],
        "intra_network_share": intra[rows, months],
    }


def _emit_events(rng, world: World, s: dict, sim: dict, ev: EventSink) -> None:
    cal, plans = world.calendar, world.plans
    n = s["n"]
    prepaid = ~s["postpaid"]
    suspended = np.zeros(n, dtype=bool)
    suspended_on = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    resumed_on = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    sim["suspended"], sim["suspended_on"], sim["resumed_on"] = suspended, suspended_on, resumed_on
    for t in range(cal.n_steps):
        alive = sim["alive"][:, t]
        lo, hi = sim["lo"][:, t], sim["hi"][:, t]
        intent = sim["intent"][:, t]
        frac = cal.avail_days[t] / cal.month_days[t]

        def days(idx, lo=lo, hi=hi):
            return _days_between(rng, lo[idx], hi[idx])

        def draw(rate, alive=alive):
            return np.nonzero(alive & (rng.random(n) < rate))[0]

        # Complaints (counts) and fault reports.
        k = sim["complaints"][:, t]
        idx = np.repeat(np.arange(n), k)
        fault = sim["fault"][:, t]
        spike = sim["bill_spike"][:, t] > 0
        topic = rng.integers(0, len(ref.COMPLAINT_TOPICS), len(idx))
        topic = np.where(fault[idx], 0, np.where(spike[idx], 1, topic))
        topics = _pick(ref.COMPLAINT_TOPICS, topic)
        ev.add(idx, t, days(idx), "complaint", category=topics,
               channel=_pick(CHANNELS, rng.choice([0, 1, 2], len(idx), p=[0.7, 0.2, 0.1])),
               texts=ev.texts.for_topics(topics.to_pylist()))  # fmt: skip
        idx = np.nonzero(fault)[0]
        ev.add(idx, t, days(idx), "fault_report",
               category=_pick(ref.FAULT_TYPES, rng.integers(0, len(ref.FAULT_TYPES), len(idx))),
               channel=_pick(CHANNELS, rng.choice([0, 1], len(idx), p=[0.6, 0.4])))  # fmt: skip

        # Queries: bill shock and intent raise bill queries; prepaid check balances.
        rate = (0.035 + 0.1 * intent) * frac + 0.5 * spike
        idx = draw(rate)
        ev.add(idx, t, days(idx), "bill_query",
               channel=_pick(CHANNELS, rng.choice([0, 1, 3], len(idx), p=[0.3, 0.5, 0.2])),
               texts=ev.texts.for_queries("bill_query", len(idx)))  # fmt: skip
        idx = draw(np.where(prepaid, 0.12, 0.03) * frac)
        ev.add(idx, t, days(idx), "balance_query",
               channel=_pick(CHANNELS, rng.choice([1, 3], len(idx), p=[0.6, 0.4])))  # fmt: skip

        # Value-added services.
        idx = draw(0.03 * (1 - intent) * frac)
        cat = rng.integers(0, len(ref.SERVICE_CATEGORIES), len(idx))
        ev.add(idx, t, days(idx), "service_subscription",
               category=_pick(ref.SERVICE_CATEGORIES, cat), amount=rng.choice([5, 10, 15, 20, 30], len(idx)),
               channel=_pick(CHANNELS, rng.choice([1, 3, 2], len(idx), p=[0.6, 0.3, 0.1])))  # fmt: skip
        idx = draw((0.006 + 0.08 * intent) * frac)
        cat = rng.integers(0, len(ref.SERVICE_CATEGORIES), len(idx))
        ev.add(idx, t, days(idx), "service_cancellation",
               category=_pick(ref.SERVICE_CATEGORIES, cat),
               channel=_pick(CHANNELS, rng.choice([1, 0, 2], len(idx), p=[0.5, 0.3, 0.2])))  # fmt: skip

        # Handset change (the current handset, first seen in this month).
        idx = np.nonzero(alive & (sim["handset_t"] == t))[0]
        hday = (s["handset_since"][idx] - cal.month_starts[t]).astype(np.int64) + 1
        g5 = np.array([m[2] for m in ref.HANDSETS])[s["handset_model"][idx]]
        ev.add(idx, t, np.clip(hday, lo[idx], np.maximum(hi[idx], lo[idx])), "handset_change",
               category=_pick(["4G", "5G"], g5.astype(int)), old=s["old_imei"][idx], new=s["imei"][idx])  # fmt: skip

        # Roaming activations.
        idx = np.nonzero(sim["dom_roaming"][:, t])[0]
        ev.add(idx, t, days(idx), "roaming_activation", category="domestic",
               detail=_pick(ref.DOMESTIC_PROVINCES, rng.integers(0, len(ref.DOMESTIC_PROVINCES), len(idx))),
               channel=_pick(CHANNELS, rng.choice([1, 3], len(idx))))  # fmt: skip
        idx = np.nonzero(sim["intl_roaming"][:, t])[0]
        ev.add(idx, t, days(idx), "roaming_activation", category="international",
               amount=sim["intl_fee"][idx, t],
               detail=_pick(ref.ROAMING_COUNTRIES, rng.integers(0, len(ref.ROAMING_COUNTRIES), len(idx))),
               channel=_pick(CHANNELS, rng.choice([1, 0, 3], len(idx))))  # fmt: skip

        # Number-portability inquiries (SMS "CXXZ" to 10086 or the app).
        idx = np.nonzero(sim["inquiry"][:, t])[0]
        ev.add(idx, t, days(idx), "portability_inquiry", category="eligibility",
               channel=_pick(CHANNELS, rng.choice([3, 1, 0], len(idx), p=[0.6, 0.3, 0.1])))  # fmt: skip

        # Plan changes decided this month.
        change = sim["plan_change"][:, t]
        idx = np.nonzero(change != 0)[0]
        new_plan = sim["plan"][idx, t]
        old_plan = new_plan - change[idx]
        ev.add(idx, t, days(idx), "plan_change",
               category=_pick(["downgrade", "upgrade"], (change[idx] > 0).astype(int)),
               amount=plans.fees[new_plan], old=plans.codes[old_plan], new=plans.codes[new_plan],
               channel=_pick(CHANNELS, rng.choice([1, 2, 0], len(idx), p=[0.5, 0.3, 0.2])))  # fmt: skip

        # Data overage: a spike, or usage well beyond the plan (overage fee above 10 RMB).
        chronic = 0.5 * (s["need"] * sim["usage"][:, t] - plans.fees[sim["plan"][:, t]]) > 10
        over = alive & ((sim["bill_spike"][:, t] > 0) | (chronic & (rng.random(n) < 0.5)))
        idx = np.nonzero(over)[0]
        ev.add(idx, t, days(idx), "data_overage", category="domestic_data",
               amount=np.maximum(sim["bill_spike"][idx, t], rng.uniform(10, 40, len(idx))))  # fmt: skip

        # Prepaid top-ups dry up as intent rises.
        k = np.where(
            alive & prepaid, rng.poisson(np.clip(1.1 * (1 - 0.9 * intent), 0.05, None) * frac), 0
        )
        idx = np.repeat(np.arange(n), k)
        amount = np.array([20, 30, 50, 100, 200])[
            np.clip(
                np.searchsorted([30, 60, 100, 160], s["need"][idx]) + rng.integers(-1, 2, len(idx)),
                0,
                4,
            )
        ]
        ev.add(idx, t, days(idx), "top_up", amount=amount,
               channel=_pick(CHANNELS, rng.choice([1, 4, 2], len(idx), p=[0.7, 0.2, 0.1])))  # fmt: skip

        # Suspension for arrears: two unpaid bills in a row, on the 21st (after the due date).
        if t >= 2:
            due = sim["unpaid"][:, t - 1] & sim["unpaid"][:, t - 2] & (hi >= 21) & (lo <= 21)
            idx = np.nonzero(alive & due & ~suspended)[0]
            ev.add(idx, t, np.full(len(idx), 21), "suspension", category="arrears")
            suspended[idx] = True
            suspended_on[idx] = cal.month_starts[t] + 20
        # Suspended subscribers who pay are resumed a few days later.
        pays = suspended & alive & (hi >= 24) & (rng.random(n) < 0.6)
        ridx = np.nonzero(pays)[0]
        rday = _days_between(rng, np.full(len(ridx), 22), hi[ridx])
        ev.add(ridx, t, rday, "resumption", category="payment",
               channel=_pick(CHANNELS, rng.choice([1, 2], len(ridx))))  # fmt: skip
        suspended[ridx] = False
        resumed_on[ridx] = cal.month_starts[t] + rday - 1
        suspended &= sim["churn_t"] != t

        # Churn.
        idx = np.nonzero(sim["churn_t"] == t)[0]
        port = rng.random(len(idx)) < 0.35
        ev.add(idx, t, sim["churn_day"][idx], "churn",
               category=_pick(["cancellation", "port_out"], port.astype(int)),
               channel=_pick(CHANNELS, np.where(port, 5, 2)))  # fmt: skip


# --- the snapshot as of the business date -------------------------------------------------


DND_WINDOWS = [("22:00", "08:00"), ("21:30", "08:30"), ("12:00", "14:00"), ("23:00", "07:00")]
CREDIT_LIMITS = np.array([0, 100, 200, 300, 500, 1000, 2000, 5000], dtype=float)


def _recent_average(values: np.ndarray, alive: np.ndarray, k: int = 3) -> np.ndarray:
    """Average of the last k months each subscriber was on the network (nan if none)."""
    from_end = np.cumsum(alive[:, ::-1], axis=1)[:, ::-1]
    sel = alive & (from_end <= k)
    count = sel.sum(axis=1)
    total = (values * sel).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _arrears(cal: Calendar, bills: dict) -> tuple[np.ndarray, np.ndarray]:
    """Unpaid streak ending with the last bill: (amount owed, days since the oldest due date)."""
    n, M = bills["alive"].shape
    owed = np.zeros(n)
    oldest = np.full(n, -1)
    open_streak = np.ones(n, dtype=bool)
    seen = np.zeros(n, dtype=bool)
    for t in range(M - 1, -1, -1):
        has = bills["alive"][:, t]
        unpaid = has & ~bills["paid"][:, t]
        extend = open_streak & unpaid
        owed += np.where(extend, bills["total_fee"][:, t], 0.0)
        oldest = np.where(extend, t, oldest)
        open_streak &= ~(has & bills["paid"][:, t])
        seen |= has
    # Bill month t is due on the 20th of the following month.
    due = cal.month_starts[np.clip(oldest + 1, 0, cal.months)] + 19
    days = np.where(oldest >= 0, (cal.as_of64 - due).astype(np.int64), 0)
    return np.round(owed, 2), np.clip(days, 0, 3650)


def _snapshot(rng, world: World, s: dict, sim: dict, bills: dict, ev: EventSink) -> dict:
    cal, org, plans = world.calendar, world.org, world.plans
    n = s["n"]
    as_of = cal.as_of64
    churned = sim["churn_t"] >= 0
    churn_date = cal.month_starts[np.clip(sim["churn_t"], 0, None)] + sim["churn_day"] - 1
    plan = sim["plan_final"]
    intent_now = sim["intent"][:, -1]

    avg3 = _recent_average(bills["total_fee"], bills["alive"])
    avg3 = np.where(np.isnan(avg3), plans.fees[plan], avg3)
    mid_high = avg3 >= MID_HIGH_THRESHOLD

    owed, arrears_days = _arrears(cal, bills)
    postpaid = s["postpaid"]
    prepaid_balance = np.round(
        np.exp(rng.normal(np.log(30), 1.0, n)) * (1 - 0.9 * intent_now) - 2, 2
    )
    balance = np.where(
        postpaid, np.where(owed > 0, -owed, np.round(rng.uniform(0, 50, n), 2)), prepaid_balance
    )
    balance = np.where(churned & ~postpaid, 0.0, balance)
    arrears_days = np.where(postpaid, arrears_days, 0)

    # Status: churned, suspended (arrears, or prepaid balance below zero), active.
    suspended = sim["suspended"] & ~churned
    prepaid_stop = ~postpaid & ~churned & ~suspended & (balance < 0) & sim["alive"][:, -1]
    stop_day = as_of - rng.integers(0, max(1, min(15, cal.as_of.day)), n)
    stop_day = np.maximum(stop_day, s["join"])
    idx = np.nonzero(prepaid_stop)[0]
    ev.add(idx, cal.months, (stop_day[idx] - cal.month_starts[-1]).astype(np.int64) + 1,
           "suspension", category="balance")  # fmt: skip
    status = np.where(churned, "churned", np.where(suspended | prepaid_stop, "suspended", "active"))
    since = np.where(
        np.isnat(sim["resumed_on"]), s["join"], np.maximum(s["join"], sim["resumed_on"])
    )
    status_date = np.where(
        churned,
        churn_date,
        np.where(suspended, sim["suspended_on"], np.where(prepaid_stop, stop_day, since)),
    )

    tenure = s["tenure_years"]
    star = np.clip(np.floor(np.log2(np.maximum(avg3, 1) / 15)), 0, 6).astype(np.int64)
    star = np.clip(star + ((tenure >= 5) & (star > 0)), 0, 7)
    credit = 550 + 12 * np.minimum(tenure, 10) + 0.25 * np.minimum(avg3, 600)
    credit = credit - 120 * (arrears_days > 0) + rng.normal(0, 30, n)
    points = (avg3 * np.minimum(tenure * 12, 24) * rng.uniform(0.6, 1.2, n)).astype(np.int64)

    silent_start = _silent_start_abs(cal, sim)
    last_active = np.minimum.reduce(
        [
            as_of.astype(np.int64) - rng.integers(0, 3, n),
            np.where(churned, churn_date.astype(np.int64) - 1, np.iinfo(np.int64).max),
            silent_start - 1,
        ]
    )
    last_active = np.maximum(last_active, s["join"].astype(np.int64)).astype("datetime64[D]")

    dnd_window = rng.random(n) < 0.06
    window = rng.integers(0, len(DND_WINDOWS), n)
    starts = np.array([w[0] for w in DND_WINDOWS], dtype=object)
    ends = np.array([w[1] for w in DND_WINDOWS], dtype=object)

    contract_end = np.where(
        s["has_contract"] & (s["contract_end"] >= cal.span_start),
        s["contract_end"],
        np.datetime64("NaT"),
    ).astype("datetime64[D]")
    model = s["handset_model"]
    roads = np.array(ref.ROAD_NAMES)[rng.integers(0, len(ref.ROAD_NAMES), n)]
    address = np.strings.add(
        np.strings.add(
            np.strings.add(ref.PROVINCE_NAME, org.city_names[s["city"]].astype(str)),
            org.county_names[s["county"]].astype(str),
        ),
        np.strings.add(roads, np.strings.add(rng.integers(1, 400, n).astype(np.str_), "号")),
    )
    ka = _key_account_membership(rng, world, s)
    return {
        "subscriber_id": subscriber_ids(s["gidx"]),
        "msisdn": identity.mobile_numbers(s["gidx"]),
        "name": identity.chinese_names(rng, s["is_male"]),
        "id_number": identity.id_numbers(
            rng, org.county_ids[s["county"]].astype(np.int64), s["birth"], s["is_male"]
        ),
        "gender": np.where(s["is_male"], "M", "F").astype(object),
        "birth_date": s["birth"].astype("datetime64[D]"),
        "address": address.astype(object),
        "join_date": s["join"],
        "city_id": org.city_ids[s["city"]],
        "county_id": org.county_ids[s["county"]],
        "grid_id": org.grid_ids[s["grid"]],
        "brand": np.array(BRAND_CODES, dtype=object)[s["brand"]],
        "plan_code": plans.codes[plan],
        "plan_fee": plans.fees[plan],
        "payment_type": np.where(postpaid, "postpaid", "prepaid").astype(object),
        "status": status.astype(object),
        "status_date": status_date.astype("datetime64[D]"),
        "value_tier": np.where(mid_high, "mid_high", "mass").astype(object),
        "balance": balance,
        "arrears_days": arrears_days.astype(np.int64),
        "credit_limit": np.where(postpaid, CREDIT_LIMITS[star], 0.0),
        "imei": s["imei"],
        "handset_brand": np.array([m[0] for m in ref.HANDSETS], dtype=object)[model],
        "handset_model": np.array([m[1] for m in ref.HANDSETS], dtype=object)[model],
        "handset_5g": np.array([m[2] for m in ref.HANDSETS])[model],
        "handset_since": s["handset_since"],
        "plan_5g": plans.is_5g[plan],
        "contract_end_date": contract_end,
        "dnd": rng.random(n) < 0.03,
        "dnd_start": np.where(dnd_window, starts[window], None),
        "dnd_end": np.where(dnd_window, ends[window], None),
        "last_active_date": last_active,
        "star_level": star,
        "credit_score": np.clip(credit, 0, 1000).astype(np.int64),
        "points": np.clip(points, 0, 100_000_000),
        "key_account_id": ka,
    }


def subscriber_ids(gidx: np.ndarray) -> np.ndarray:
    return np.strings.add("S", np.strings.zfill((gidx + 1).astype(np.str_), 10)).astype(object)


def _key_account_membership(rng, world: World, s: dict) -> np.ndarray:
    kas = world.key_accounts
    n = s["n"]
    p = np.where(s["postpaid"] | (s["brand"] == 0), 0.15, 0.05)
    member = (rng.random(n) < p) & (kas.city_count[s["city"]] > 0)
    pick = kas.city_start[s["city"]] + rng.integers(0, 1 << 30, n) % np.maximum(
        kas.city_count[s["city"]], 1
    )
    return np.where(member, kas.ids[pick], None)


def members_table(rng, world: World, s: dict, snap: dict) -> dict:
    kas = world.key_accounts
    as_of = world.calendar.as_of64
    sel = np.nonzero((snap["key_account_id"] != None) & (snap["status"] != "churned"))[0]  # noqa: E711
    ka_ids = snap["key_account_id"][sel]
    ka_index = np.searchsorted(kas.ids, ka_ids.astype(str))
    start = np.maximum(s["join"][sel], kas.created[ka_index])
    joined = np.minimum(start + rng.integers(0, 200, len(sel)), as_of)
    return {
        "key_account_id": ka_ids,
        "subscriber_id": snap["subscriber_id"][sel],
        "role": np.where(rng.random(len(sel)) < 0.08, "key_person", "member").astype(object),
        "joined_date": joined.astype("datetime64[D]"),
    }


#: Members who left the network this recently are still listed by their group (their
#: subscriber row says churned): what the member-attrition and key-person group moments read.
LEAVER_DAYS = 60


def recent_leavers(rng, world: World, s: dict, snap: dict) -> dict:
    """Membership rows of the group members who churned in the last ``LEAVER_DAYS`` days.

    Drawn from a stream of their own (after ``members_table``) so the current members and
    every other file stay as they were."""
    kas = world.key_accounts
    as_of = world.calendar.as_of64
    left = (snap["status"] == "churned") & (
        snap["status_date"].astype("datetime64[D]") >= as_of - LEAVER_DAYS
    )
    sel = np.nonzero((snap["key_account_id"] != None) & left)[0]  # noqa: E711
    ka_ids = snap["key_account_id"][sel]
    ka_index = np.searchsorted(kas.ids, ka_ids.astype(str))
    start = np.maximum(s["join"][sel], kas.created[ka_index])
    status_date = snap["status_date"][sel].astype("datetime64[D]")
    joined = np.minimum(start + rng.integers(0, 200, len(sel)), status_date)
    return {
        "key_account_id": ka_ids,
        "subscriber_id": snap["subscriber_id"][sel],
        "role": np.where(rng.random(len(sel)) < 0.08, "key_person", "member").astype(object),
        "joined_date": joined.astype("datetime64[D]"),
    }


def assignments_table(rng, world: World, s: dict, snap: dict) -> dict:
    staff = world.staff
    as_of = world.calendar.as_of64
    sel = np.nonzero((snap["value_tier"] == "mid_high") & (snap["status"] != "churned"))[0]
    city = s["city"][sel]
    pick = (
        staff.portfolio_start[city]
        + rng.integers(0, 1 << 30, len(sel)) % staff.portfolio_count[city]
    )
    assigned = np.maximum(s["join"][sel], as_of - rng.integers(0, 720, len(sel)))
    return {
        "subscriber_id": snap["subscriber_id"][sel],
        "manager_id": staff.portfolio_ids[pick],
        "assigned_date": assigned.astype("datetime64[D]"),
    }


def _events_table(ev: EventSink, s: dict, chunk: int) -> dict:
    groups = ev.groups
    sub = np.concatenate([g["sub"] for g in groups]) if groups else np.zeros(0, np.int64)
    when = np.concatenate([g["time"] for g in groups]) if groups else np.zeros(0, np.int64)
    order = np.lexsort((when, sub))
    take = pa.array(order)

    def cat(name):
        return (
            pa.concat_arrays([g[name] for g in groups]).take(take)
            if groups
            else pa.nulls(0, pa.string())
        )

    amounts = [
        pa.array(g["amount"], pa.float64())
        if g["amount"] is not None
        else pa.nulls(len(g["sub"]), pa.float64())
        for g in groups
    ]
    ids = np.strings.add(
        "E", np.strings.zfill((chunk * 1_000_000_000 + np.arange(len(sub))).astype(np.str_), 14)
    )
    return {
        "event_id": ids.astype(object),
        "sub": sub[order],
        "event_time": when[order].astype("datetime64[s]"),
        "event_type": cat("event_type"),
        "category": cat("category"),
        "amount": pa.concat_arrays(amounts).take(take) if groups else pa.nulls(0, pa.float64()),
        "old_value": cat("old_value"),
        "new_value": cat("new_value"),
        "channel": cat("channel"),
        "detail": cat("detail"),
        **{c: cat(c) for c in TEXT_COLUMNS},
        "resolved": _bools(groups, take),
    }


def _bools(groups: list[dict], take: pa.Array) -> pa.Array:
    if not groups:
        return pa.nulls(0, pa.bool_())
    parts = [
        g["resolved"] if g["resolved"] is not None else pa.nulls(len(g["sub"]), pa.bool_())
        for g in groups
    ]
    return pa.concat_arrays(parts).take(take)
