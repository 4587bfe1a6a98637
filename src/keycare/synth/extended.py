"""Synthetic values for the catalog's extended subscriber columns.

``extended_columns(rng, core, as_of)`` returns one array per extended raw catalog field (raw,
source ``subscribers``, not a core contract column), correlated with the core columns where a
reader would notice (plan fee, brand, value tier, age, tenure, handset, key account...).
Vectorised numpy only: it runs on 1M-row chunks. The same rng state gives the same output.

Dtypes by catalog type: string -> object (None = missing), bool -> bool, int -> int64,
float -> float64 (NaN = missing), date -> datetime64[D] (NaT = missing). A catalog field
without a dedicated generator below still gets plausible values from its type/enum/range.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from keycare.catalog.fields import Field, load_catalog

NAT = np.datetime64("NaT", "D")
DAY = np.timedelta64(1, "D")

BRAND_ZH = {"gotone": "全球通", "mzone": "动感地带", "easyown": "神州行"}
BRAND_PREFIX = {"gotone": "GT", "mzone": "MZ", "easyown": "EO"}
# Monthly fee ladders per brand, for a plausible "previous plan".
FEE_LADDER = {
    "gotone": [88, 128, 158, 198, 238, 298, 398, 588],
    "mzone": [18, 28, 39, 59, 79, 99, 129],
    "easyown": [8, 18, 28, 38, 58],
}
HANDSET_BASE_PRICE = {
    "Apple": 5800,
    "华为": 4200,
    "三星": 5200,
    "一加": 3600,
    "小米": 2600,
    "OPPO": 2800,
    "vivo": 2800,
    "荣耀": 2500,
}
CHEAP_MODELS = ("Redmi 9A", "Redmi Note 13", "畅享 20", "A5", "Y30", "Play 40")
ROAMING_PROVINCES = ["上海", "北京", "浙江", "广东", "安徽", "山东", "四川", "云南", "湖北", "福建"]
EMAIL_DOMAINS = ["139.com", "qq.com", "163.com", "126.com", "sina.com"]


def extended_fields() -> list[Field]:
    """The catalog's extended raw fields of ``subscribers``, in catalog order."""
    return [f for f in load_catalog().extended_fields if f.source == "subscribers"]


def extended_columns(
    rng: np.random.Generator, core: dict[str, np.ndarray], as_of: dt.date
) -> dict[str, np.ndarray]:
    """One array per extended field (keyed by its column name), aligned with ``core``."""
    ctx = _Context(rng, core, as_of)
    values = _generate(ctx)
    out = {}
    for f in extended_fields():
        value = values.get(f.column)
        if value is None:
            value = _fallback(ctx, f)
        out[f.column] = _coerce(value, f.type, ctx.n)
    return out


# --------------------------------------------------------------------------- context


class _Context:
    """Core columns normalised to numpy, plus the random helpers the generators share."""

    def __init__(self, rng: np.random.Generator, core: dict[str, np.ndarray], as_of: dt.date):
        self.rng = rng
        self.n = len(next(iter(core.values())))
        self.as_of = np.datetime64(as_of, "D")
        self.as_of_date = as_of

        def col(name, default=None):
            return np.asarray(core[name]) if name in core else default

        n = self.n
        self.fee = _float(col("plan_fee", np.full(n, 58.0)))
        self.brand = _obj(col("brand", np.full(n, "easyown", object)))
        self.mid_high = _obj(col("value_tier", np.full(n, "mass", object))) == "mid_high"
        self.postpaid = _obj(col("payment_type", np.full(n, "prepaid", object))) == "postpaid"
        self.status = _obj(col("status", np.full(n, "active", object)))
        self.join = _date(col("join_date", np.full(n, self.as_of - 1000 * DAY)))
        self.join = np.where(np.isnat(self.join), self.as_of - 1000 * DAY, self.join)
        self.tenure_days = np.maximum((self.as_of - self.join) // DAY, 0)
        birth = _date(col("birth_date", np.full(n, NAT)))
        age = (self.as_of - birth) // DAY / 365.25
        self.age = np.where(np.isnat(birth), 38.0, age)
        self.handset_brand = _obj(col("handset_brand", np.full(n, "", object)))
        self.handset_model = _obj(col("handset_model", np.full(n, "", object)))
        self.handset_5g = _bool(col("handset_5g", np.zeros(n, bool)))
        self.plan_5g = _bool(col("plan_5g", np.zeros(n, bool)))
        since = _date(col("handset_since", np.full(n, NAT)))
        self.handset_since = np.where(np.isnat(since), self.join, since)
        self.contract_end = _date(col("contract_end_date", np.full(n, NAT)))
        self.star = _int(col("star_level", np.zeros(n)))
        self.points = _int(col("points", np.zeros(n)))
        self.credit_score = _int(col("credit_score", np.full(n, 600)))
        self.arrears_days = _int(col("arrears_days", np.zeros(n)))
        ka = col("key_account_id", np.full(n, None, object))
        ka = np.asarray(ka, dtype=object)
        self.has_ka = (ka != None) & (ka != "")  # noqa: E711 - elementwise None test
        self.ka = ka

    # random helpers ------------------------------------------------------------------
    def bern(self, p) -> np.ndarray:
        return self.rng.random(self.n) < np.broadcast_to(p, (self.n,))

    def choice(self, values, weights) -> np.ndarray:
        """Per-row categorical draw (object array); ``weights``: scalars or per-row arrays."""
        options = _options(values)
        if all(np.ndim(w) == 0 for w in weights):
            p = np.asarray(weights, float)
            return options[self.rng.choice(len(values), self.n, p=p / p.sum())]
        total = sum(np.broadcast_to(np.asarray(w, float), (self.n,)) for w in weights)
        u = self.rng.random(self.n) * total
        idx = np.zeros(self.n, np.int64)
        cum = np.zeros(self.n)
        for w in weights[:-1]:
            cum = cum + w
            idx += u >= cum
        return options[idx]

    def days_back(self, scale, cap=None) -> np.ndarray:
        """Dates an exponential number of days before as_of, never before join date."""
        days = self.rng.exponential(np.broadcast_to(scale, (self.n,))).astype(np.int64)
        if cap is not None:
            days = np.minimum(days, cap)
        return np.maximum(self.as_of - days * DAY, self.join)

    def between(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """A uniform date in [start, end] per row (end clipped to >= start)."""
        span = np.maximum((end - start) // DAY, 0)
        return start + (self.rng.random(self.n) * (span + 1)).astype(np.int64) * DAY


# --------------------------------------------------------------------------- generators


def _generate(c: _Context) -> dict[str, np.ndarray]:
    """All dedicated generators, in a fixed order (later ones may use earlier values)."""
    v: dict[str, np.ndarray] = {}
    for part in (
        _basic,
        _tariff,
        _handset,
        _billing,
        _usage,
        _vas,
        _roaming,
        _service,
        _marketing,
        _credit,
        _key_account,
    ):
        v.update(part(c, v))
    return v


def _basic(c: _Context, v: dict) -> dict:
    old = c.join < np.datetime64("2013-09-01")
    verified = c.bern(np.where(old, 0.95, 0.998))
    campaign = c.between(
        np.full(c.n, np.datetime64("2013-09-01")), np.full(c.n, np.datetime64("2016-12-31"))
    )
    real_name_date = np.where(old, campaign, c.join)
    age = c.age
    rural = c.bern(0.2)
    segment = _pick(
        [age < 23, age >= 60, c.has_ka & c.bern(0.7), rural, age < 36],
        ["student", "senior", "business", "rural", "young_adult"],
        "family",
    )
    occupation = np.select(
        [segment == "student", segment == "senior", segment == "rural", segment == "business"],
        [
            "student",
            "retired",
            c.choice(["farmer", "self_employed", "other"], [0.6, 0.25, 0.15]),
            c.choice(["enterprise", "government"], [0.8, 0.2]),
        ],
        c.choice(["enterprise", "self_employed", "government", "other"], [0.5, 0.25, 0.1, 0.15]),
    )
    has_phone = c.bern(0.3)
    phone_prefix = c.choice(["13", "15", "18", "19"], [0.4, 0.25, 0.25, 0.1])
    has_email = c.bern(np.where(age < 50, 0.3, 0.08))
    domain = c.choice([f"@{d}" for d in EMAIL_DOMAINS], [0.3, 0.35, 0.2, 0.1, 0.05])
    return {
        "id_type": c.choice(
            ["id_card", "passport", "hk_macau_permit", "taiwan_permit", "military_id", "other"],
            [0.985, 0.004, 0.004, 0.001, 0.004, 0.002],
        ),
        "real_name_verified": verified,
        "real_name_date": np.where(verified, np.minimum(real_name_date, c.as_of), NAT),
        "join_channel": c.choice(
            ["own_store", "agent_store", "online", "telesales", "group_sales"],
            [0.3, 0.4, np.where(age < 35, 0.25, 0.08), 0.05, np.where(c.has_ka, 0.3, 0.02)],
        ),
        "area_type": np.where(rural, "rural", c.choice(["urban", "town"], [0.7, 0.3])),
        "customer_segment": segment,
        "occupation": occupation,
        "is_campus": (segment == "student") & c.bern(0.7),
        "contact_phone": _compose(c, has_phone, phone_prefix, 9, ""),
        "email": _compose(c, has_email, "u", 8, domain),
    }


def _tariff(c: _Context, v: dict) -> dict:
    fee = c.fee
    plan_days = np.minimum(c.rng.exponential(420, c.n).astype(np.int64), c.tenure_days)
    had_previous = (plan_days < c.tenure_days - 30) & c.bern(0.85)
    ladder_fee, ladder_code = _previous_plan(c)
    contract_type = c.choice(
        ["handset_subsidy", "prestore_gift", "broadband_bundle", "plan_discount"],
        [0.35, 0.3, 0.15, 0.2],
    )
    has_contract = ~np.isnat(c.contract_end)
    contract_months = c.choice([12, 24], [0.6, 0.4]).astype(np.int64)
    contract_start = c.contract_end - (contract_months * 30.4375).astype(np.int64) * DAY
    family = c.bern(np.where((c.age >= 28) & (c.age < 60) & (fee >= 58), 0.35, 0.15))
    head = family & c.bern(0.4)
    broadband = c.bern(np.where(family, 0.65, 0.25))
    data_gb = np.where(fee >= 200, np.round(fee * 0.4), np.round(fee * 0.3))
    return {
        "plan_name": _plan_names(c),
        "plan_start_date": c.as_of - plan_days * DAY,
        "plan_voice_quota": (np.round(fee * 4.5 / 50) * 50).astype(np.int64),
        "plan_data_quota_mb": data_gb * 1024.0,
        "plan_sms_quota": np.where(c.bern(0.2), c.choice([50, 100, 200], [0.5, 0.4, 0.1]), 0),
        "plan_discount_pct": np.where(
            c.bern(0.7), 100.0, c.choice([50.0, 60.0, 70.0, 80.0, 88.0, 90.0], [1, 1, 2, 3, 2, 2])
        ).astype(float),
        "previous_plan_code": np.where(had_previous, ladder_code, None),
        "previous_plan_fee": np.where(had_previous, ladder_fee, np.nan),
        "contract_type": np.where(has_contract, contract_type, None),
        "contract_start_date": np.where(has_contract, np.minimum(contract_start, c.as_of), NAT),
        "family_plan": family,
        "family_role": _pick([head, family], ["head", "member"], None),
        "family_members": np.where(family, c.rng.integers(2, 6, c.n), 0),
        "broadband_bundle": broadband,
        "broadband_mbps": np.where(
            broadband, c.choice([100, 200, 300, 500, 1000], [0.15, 0.25, 0.25, 0.2, 0.15]), 0
        ),
        "iptv_bundle": broadband & c.bern(0.5),
    }


def _previous_plan(c: _Context) -> tuple[np.ndarray, np.ndarray]:
    """A neighbouring step on the brand's fee ladder (down more often than up)."""
    fee_out = c.fee.copy()
    code_out = np.full(c.n, "UNKNOWN", dtype=object)
    step = c.choice([-2, -1, 1, 2], [0.1, 0.3, 0.45, 0.15])
    for brand, ladder in FEE_LADDER.items():
        rows = np.nonzero(c.brand == brand)[0]
        fees = np.array(ladder, float)
        codes = _options([f"{BRAND_PREFIX[brand]}{'5G' if f >= 39 else '4G'}_{f}" for f in ladder])
        pos = np.clip(np.searchsorted(fees, c.fee[rows]) + step[rows], 0, len(fees) - 1)
        fee_out[rows] = fees[pos]
        code_out[rows] = codes[pos]
    return fee_out, code_out


def _handset(c: _Context, v: dict) -> dict:
    brand = c.handset_brand
    base = _lookup(brand, HANDSET_BASE_PRICE, 1500.0).astype(float)
    cheap = np.zeros(c.n, bool)
    for model in CHEAP_MODELS:
        cheap |= c.handset_model == model
    price = base * np.where(cheap, 0.3, 1.0) * np.where(c.handset_5g, 1.15, 1.0)
    price = np.round(price * c.rng.lognormal(0, 0.2, c.n) / 100) * 100 - 1
    price = np.clip(price, 199, 20000)
    tier = _pick([price < 1000, price < 2500, price < 5000], ["low", "mid", "high"], "flagship")
    ios = brand == "Apple"
    harmony = (brand == "华为") & c.bern(0.85)
    since_year = c.handset_since.astype("datetime64[Y]").astype(np.int64) + 1970
    release = since_year - c.choice([0, 1, 2, 3], [0.45, 0.35, 0.15, 0.05]).astype(np.int64)
    subsidy = (v["contract_type"] == "handset_subsidy") | c.bern(0.02)
    return {
        "handset_os": _pick([ios, harmony], ["ios", "harmonyos"], "android"),
        "handset_price": price,
        "handset_price_tier": tier,
        "handset_release_year": release,
        "dual_mode": c.bern(np.where(release < 2015, 0.7, 0.98)),
        "dual_sim": c.bern(np.where(ios, 0.55, 0.92)),
        "volte_capable": c.bern(np.where(release >= 2016, 0.99, 0.5)),
        "esim_capable": c.bern(np.where(ios & (release >= 2019), 0.8, 0.03)),
        "subsidized_handset": subsidy,
        "smart_devices": c.rng.poisson(np.where(c.age < 40, 0.25, 0.08) + 0.1 * c.mid_high),
    }


def _billing(c: _Context, v: dict) -> dict:
    autopay = c.postpaid & c.bern(np.where(c.brand == "gotone", 0.45, 0.25))
    scale = np.where(c.postpaid, 12.0, 20.0)
    last_pay = np.minimum(c.days_back(scale, cap=400), c.as_of)
    amount = np.where(
        c.postpaid,
        np.round(c.fee * c.rng.lognormal(0, 0.15, c.n), 2),
        c.choice([30.0, 50.0, 100.0, 200.0, 300.0], [0.2, 0.35, 0.3, 0.1, 0.05]).astype(float),
    )
    channel = c.choice(
        ["app", "wechat", "alipay", "store", "self_service", "card"],
        [np.where(c.age < 50, 0.35, 0.15), 0.3, 0.15, np.where(c.age >= 60, 0.35, 0.1), 0.05, 0.05],
    )
    prestore = np.where(
        v["contract_type"] == "prestore_gift", np.round(c.fee * c.rng.uniform(0, 12, c.n), 2), 0.0
    )
    return {
        "account_id": _compose(c, np.ones(c.n, bool), "A", 10, ""),
        "bank_autopay": autopay,
        "auto_topup": ~c.postpaid & c.bern(0.08),
        "never_suspend": c.bern(np.where(c.star >= 4, 0.35, 0.08)),
        "e_bill": c.bern(np.where(c.age < 50, 0.8, 0.4)),
        "invoice_type": _pick(
            [c.has_ka & c.bern(0.5), c.bern(0.25)], ["company", "personal"], "none"
        ),
        "last_payment_date": last_pay,
        "last_payment_amount": amount,
        "last_payment_channel": np.where(autopay, "bank", channel),
        "prestore_balance": prestore,
        "low_balance_threshold": c.choice([10.0, 20.0, 30.0, 50.0], [0.4, 0.3, 0.2, 0.1]).astype(
            float
        ),
    }


def _usage(c: _Context, v: dict) -> dict:
    day = c.as_of_date.day
    next_month = (c.as_of.astype("datetime64[M]") + 1).astype("datetime64[D]")
    month_days = int((next_month - c.as_of.astype("datetime64[M]").astype("datetime64[D]")) // DAY)
    active = c.status == "active"
    spend = c.fee * day / month_days * c.rng.lognormal(0, 0.2, c.n)
    unlimited = (c.fee >= 128) & c.bern(0.4)
    g5_share = np.where(
        c.handset_5g & c.plan_5g,
        c.rng.beta(5, 3, c.n),
        np.where(c.handset_5g, c.rng.beta(2, 5, c.n), 0.0),
    )
    young = c.age < 35
    p2p = c.rng.poisson(np.where(young, 8, 20))
    return {
        "current_month_spend": np.where(active, np.round(spend, 2), 0.0),
        "volte_enabled": v["volte_capable"] & c.bern(0.9),
        "call_forwarding": c.bern(0.06),
        "data_addons": c.rng.poisson(np.where(c.fee < 58, 0.5, 0.15)),
        "unlimited_data": unlimited,
        "data_5g_share_m1": np.round(g5_share, 3),
        "days_on_5g_m1": np.where(c.handset_5g, c.rng.binomial(30, np.clip(g5_share, 0, 1)), 0),
        "speed_limited": unlimited & c.bern(0.15),
        "directed_data_pack": c.bern(np.where(young, 0.35, 0.15)),
        "mms_count_m1": c.rng.poisson(0.5, c.n),
        "sms_p2p_m1": p2p,
        "sms_received_m1": p2p + c.rng.poisson(60, c.n),
        "sms_marketing_opt_out": c.bern(0.12),
        "sms_spam_filter": c.bern(0.3),
        "sms_pack": c.bern(np.where(c.age >= 50, 0.1, 0.04)),
    }


def _vas(c: _Context, v: dict) -> dict:
    young = c.age < 35
    rich = c.fee >= 128
    flags = {
        "ringback_tone": c.bern(np.where(c.brand == "gotone", 0.5, 0.3)),
        "video_ringback": c.bern(np.where(c.handset_5g, 0.3, 0.1)),
        "caller_id_display": c.bern(0.9),
        "missed_call_alert": c.bern(0.5),
        "migu_video": c.bern(np.where(young, 0.18, 0.06)),
        "migu_music": c.bern(np.where(young, 0.12, 0.04)),
        "cloud_drive": c.bern(0.25),
        "mailbox_139": c.bern(0.15),
        "hejiaqin": c.bern(np.where(v["broadband_bundle"], 0.3, 0.05)),
        "rights_member": c.bern(np.where(rich, 0.3, 0.08)),
    }
    count = sum(f.astype(np.int64) for f in flags.values()) + c.rng.poisson(0.5, c.n)
    paid_flags = ("ringback_tone", "video_ringback", "migu_video", "migu_music", "rights_member")
    paid = sum(flags[k].astype(np.int64) for k in paid_flags) + flags["missed_call_alert"].astype(
        np.int64
    )
    fee = (
        5.0 * flags["ringback_tone"]
        + 6.0 * flags["video_ringback"]
        + 3.0 * flags["missed_call_alert"]
        + 15.0 * flags["migu_video"]
        + 10.0 * flags["migu_music"]
        + 19.9 * flags["rights_member"]
    )
    first = c.between(c.join, np.full(c.n, c.as_of))
    return {
        **flags,
        "vas_count": count,
        "vas_paid_count": np.minimum(paid, count),
        "vas_monthly_fee": np.round(fee, 2),
        "first_vas_date": np.where(count > 0, first, NAT),
    }


def _roaming(c: _Context, v: dict) -> dict:
    enabled = c.bern(np.where(c.brand == "gotone", 0.6, 0.2) + 0.1 * c.mid_high)
    roamed = c.bern(0.3)
    dom_days = np.where(roamed, np.minimum(c.rng.poisson(3, c.n) + 1, 31), 0)
    abroad = enabled & c.bern(0.04)
    province = c.choice(ROAMING_PROVINCES, [1.0] * len(ROAMING_PROVINCES))
    return {
        "intl_roaming_enabled": enabled,
        "intl_roaming_pack": enabled & c.bern(0.1),
        "domestic_roaming_days_m1": dom_days,
        "intl_roaming_days_m1": np.where(abroad, c.rng.integers(1, 16, c.n), 0),
        "frequent_roaming_province": np.where(roamed | c.bern(0.2), province, None),
    }


def _service(c: _Context, v: dict) -> dict:
    old = c.age >= 55
    served = c.mid_high | c.bern(0.4)
    last_service = c.days_back(np.where(c.mid_high, 45.0, 150.0), cap=720)
    days_since = (c.as_of - last_service) // DAY
    visited = c.bern(0.6)
    return {
        "preferred_channel": c.choice(
            ["phone", "sms", "app", "wechat", "store"],
            [0.3, 0.15, np.where(old, 0.08, 0.35), 0.15, np.where(old, 0.25, 0.05)],
        ),
        "preferred_contact_time": c.choice(
            ["morning", "afternoon", "evening", "any"], [0.2, 0.2, 0.2, 0.4]
        ),
        "last_service_date": np.where(served, last_service, NAT),
        "service_contacts_90d": np.where(served & (days_since <= 90), c.rng.poisson(1, c.n) + 1, 0),
        "satisfaction_score": np.clip(np.round(c.rng.normal(8.3, 1.5, c.n)), 0, 10),
        "complaint_sensitive": c.bern(0.02),
        "last_store_visit_date": np.where(visited, c.days_back(150.0, cap=1500), NAT),
    }


def _marketing(c: _Context, v: dict) -> dict:
    opt_out = c.bern(0.06) | (v["sms_marketing_opt_out"] & c.bern(0.3))
    reached = c.rng.poisson(np.where(opt_out, 0.3, 2.0 + 2.0 * c.mid_high))
    accepted = c.rng.binomial(reached, 0.15)
    recent = np.maximum(c.as_of - c.rng.integers(0, 181, c.n) * DAY, c.join)
    older = np.maximum(c.as_of - c.rng.integers(181, 541, c.n) * DAY, c.join)
    took_part = (accepted > 0) | c.bern(0.35)
    last_campaign = np.where(accepted > 0, recent, np.where(took_part, older, NAT))
    retention = c.bern(np.where(c.mid_high, 0.3, 0.12))
    app_user = c.bern(np.select([c.age < 30, c.age < 50, c.age < 65], [0.8, 0.65, 0.4], 0.15))
    login = c.days_back(10.0, cap=365)
    logged_30d = app_user & ((c.as_of - login) // DAY <= 29)
    return {
        "campaigns_reached_6m": reached,
        "campaigns_accepted_6m": accepted,
        "last_campaign_date": last_campaign,
        "last_campaign_type": np.where(
            took_part,
            c.choice(
                ["retention", "upsell", "handset", "broadband", "vas", "holiday"],
                [0.25, 0.25, 0.15, 0.1, 0.15, 0.1],
            ),
            None,
        ),
        "retention_offer": retention,
        "retention_offer_end_date": np.where(
            retention, c.as_of + c.rng.integers(1, 366, c.n) * DAY, NAT
        ),
        "marketing_opt_out": opt_out,
        "app_user": app_user,
        "app_last_login_date": np.where(app_user, login, NAT),
        "app_logins_30d": np.where(logged_30d, c.rng.poisson(6, c.n) + 1, 0),
        "wechat_bound": c.bern(0.5),
        "coupons_held": c.rng.poisson(np.where(app_user, 1.2, 0.3)),
        "coupons_used_6m": c.rng.poisson(np.where(app_user, 0.8, 0.2)),
        "e_channel_share_6m": np.round(
            np.where(app_user, c.rng.beta(4, 3, c.n), c.rng.beta(1, 5, c.n)), 3
        ),
        "family_circle_members": np.minimum(
            np.where(v["family_plan"], v["family_members"] - 1, 0) + c.rng.poisson(0.4, c.n), 20
        ),
        "top_contact_competitor": c.bern(0.25),
    }


def _credit(c: _Context, v: dict) -> dict:
    year = c.as_of_date.year
    jan1 = np.datetime64(f"{year}-01-01", "D")
    rated = np.minimum(np.maximum(jan1, c.join + 30 * DAY), c.as_of)
    earned = np.round(c.fee * 12 * c.rng.lognormal(0, 0.2, c.n)).astype(np.int64)
    redeems = c.bern(0.25)
    redeemed = np.where(redeems, (earned * c.rng.uniform(0.1, 1.2, c.n)).astype(np.int64), 0)
    year_end = np.datetime64(f"{year}-12-31", "D")
    expiry = year_end if c.as_of < year_end else np.datetime64(f"{year + 1}-12-31", "D")
    recent_redeem = c.as_of - c.rng.integers(0, 365, c.n) * DAY
    old_redeem = c.as_of - c.rng.integers(365, 1095, c.n) * DAY
    last_redeem = np.where(redeems, recent_redeem, np.where(c.bern(0.3), old_redeem, NAT))
    last_redeem = np.where(last_redeem < c.join, NAT, last_redeem)
    score = c.credit_score
    arrears = c.arrears_days > 0
    return {
        "star_level_date": rated,
        "star_level_expiry": rated + 365 * DAY,
        "previous_star_level": np.clip(
            c.star + c.choice([-1, 0, 1], [0.15, 0.7, 0.15]).astype(np.int64), 0, 7
        ),
        "points_earned_12m": earned,
        "points_redeemed_12m": redeemed,
        "points_expiring": (c.points * c.rng.uniform(0, 0.3, c.n)).astype(np.int64),
        "points_expiry_date": np.where(c.points > 0, expiry, NAT),
        "last_redemption_date": last_redeem,
        "credit_level": _pick(
            [score >= 750, score >= 650, score >= 550, score >= 400], ["AAA", "AA", "A", "B"], "C"
        ),
        "blacklisted": c.bern(np.where(c.arrears_days > 90, 0.2, 0.002)),
        "overdue_times_12m": np.where(
            c.postpaid, np.minimum(c.rng.poisson(np.where(arrears, 1.8, 0.3)), 12), 0
        ),
    }


def _key_account(c: _Context, v: dict) -> dict:
    ka = c.has_ka
    paid = ka & c.bern(0.35)
    out = {
        "group_paid": paid,
        "group_pay_amount": np.where(paid, np.round(c.fee * c.rng.uniform(0.3, 1.0, c.n)), 0.0),
        "vpmn_member": ka & c.bern(0.7),
        "group_products": np.where(ka, c.rng.poisson(1.2, c.n), 0),
        "mobile_office": ka & c.bern(0.25),
        "group_data_pool": ka & c.bern(0.15),
    }
    return {**out, **_unaffiliated(c, out["vpmn_member"])}


COMPANY_PREFIXES = ["华信", "恒通", "金石", "东方", "瑞丰", "宏达", "新元", "天成", "安和", "博远"]
COMPANY_TRADES = [
    "精密机械",
    "物流",
    "建材",
    "电子科技",
    "医药",
    "餐饮管理",
    "印务",
    "纺织",
    "软件",
]


def _company_name(i: int) -> str:
    name = COMPANY_PREFIXES[i % 10] + COMPANY_TRADES[(i // 10) % len(COMPANY_TRADES)]
    return f"{name}{'' if i < 90 else i // 90}有限公司"


def _unaffiliated(c: _Context, vpmn_member: np.ndarray) -> dict:
    """Employers and V网 of subscribers: a group's V网 for its members; for some subscribers of
    no group, a company without a group account (one per ~1,000 subscribers, sizes skewed), most
    of whose staff share a V网 too: the potential key accounts (潜在大客户) KeyCare finds. Their
    staff are mostly mid/high-value subscribers: the ones the application's archive holds."""
    companies = max(3, c.n // 1000)
    works = ~c.has_ka & c.bern(np.where(c.mid_high, 0.12, 0.01))
    idx = np.minimum((companies * c.rng.random(c.n) ** 1.5).astype(np.int64), companies - 1)
    names = np.array([_company_name(i) for i in range(companies)], dtype=object)
    employer = np.where(works, names[idx], None)
    own_vpmn = np.array([f"VPX{i:05d}" for i in range(companies)], dtype=object)
    group_vpmn = np.array([f"VP{k}" for k in np.where(c.has_ka, c.ka, "")], dtype=object)
    own = np.where(works & c.bern(0.6), own_vpmn[idx], None)
    vpmn = np.where(vpmn_member, group_vpmn, own)
    return {"employer_name": employer, "vpmn_id": vpmn}


# --------------------------------------------------------------------------- fallback & types


def _fallback(c: _Context, f: Field) -> np.ndarray:
    """Values for a catalog field without a dedicated generator: from its type and bounds."""
    if f.enum:
        return c.choice(list(f.enum), [1.0] * len(f.enum))
    if f.type == "bool":
        return c.bern(0.2)
    if f.type in ("int", "float"):
        lo, hi = f.range if f.range else (0, 100)
        hi = min(hi, lo + 100)
        values = c.rng.uniform(lo, hi, c.n)
        return np.round(values) if f.type == "int" else np.round(values, 2)
    if f.type == "date":
        return c.between(c.join, np.full(c.n, c.as_of))
    return np.strings.add(f"{f.code}_", c.rng.integers(1, 100, c.n).astype(str)).astype(object)


def _coerce(value, ftype: str, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != (n,):
        arr = np.broadcast_to(arr, (n,)).copy()
    if ftype == "string":
        return arr.astype(object)  # generators mark missing values with None
    if ftype == "bool":
        return arr.astype(bool)
    if ftype == "int":
        return arr.astype(np.int64)
    if ftype == "float":
        return arr.astype(np.float64)
    return arr.astype("datetime64[D]")


def _options(values) -> np.ndarray:
    """Choice values as an array: numbers keep their dtype, text becomes object."""
    options = np.asarray(list(values))
    if options.dtype.kind in "US":
        options = np.empty(len(values), dtype=object)
        options[:] = list(values)
    return options


def _pick(conditions, values, default) -> np.ndarray:
    """Like np.select over constant values (default None allowed), into an object array."""
    options = np.empty(len(values) + 1, dtype=object)
    options[:] = [*values, default]
    idx = np.select(conditions, np.arange(len(values)), default=len(values))
    return options[idx]


def _compose(c: _Context, mask: np.ndarray, prefix, width: int, suffix) -> np.ndarray:
    """Object array: prefix + ``width`` random digits + suffix where ``mask``, else None.

    Digits are drawn for every row (so the draw count does not depend on the mask) and
    turned into text only for the masked rows: int-to-text conversion is the slow part.
    """
    digits = c.rng.integers(0, 10, (c.n, width), dtype=np.uint8) + ord("0")
    rows = np.nonzero(mask)[0]
    text = np.ascontiguousarray(digits[rows]).view(f"S{width}").ravel().astype(f"U{width}")
    if not isinstance(prefix, str):
        prefix = prefix[rows].astype(str)
    if not isinstance(suffix, str):
        suffix = suffix[rows].astype(str)
    out = np.full(c.n, None, dtype=object)
    out[rows] = np.strings.add(np.strings.add(prefix, text), suffix)
    return out


def _plan_names(c: _Context) -> np.ndarray:
    """E.g. 全球通5G畅享188元套餐: built once per distinct (brand, 5G, fee), then indexed."""
    brand_idx = np.full(c.n, len(BRAND_ZH), np.int64)
    for i, brand in enumerate(BRAND_ZH):
        brand_idx[c.brand == brand] = i
    fees, fee_idx = np.unique(np.round(c.fee).astype(np.int64), return_inverse=True)
    key = (brand_idx * 2 + c.plan_5g) * len(fees) + fee_idx
    keys, inverse = np.unique(key, return_inverse=True)
    brands = [*BRAND_ZH.values(), ""]
    names = np.empty(len(keys), dtype=object)
    for j, k in enumerate(keys.tolist()):
        combo, fee_pos = divmod(k, len(fees))
        b, g5 = divmod(combo, 2)
        names[j] = f"{brands[b]}{'5G畅享' if g5 else '4G畅聊'}{fees[fee_pos]}元套餐"
    return names[inverse]


def _lookup(keys: np.ndarray, mapping: dict, default) -> np.ndarray:
    """Vectorised dict lookup (one comparison pass per mapping entry)."""
    out = np.full(len(keys), default, dtype=object)
    for key, value in mapping.items():
        out[keys == key] = value
    return out


def _float(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _int(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return np.nan_to_num(a, nan=0.0).astype(np.int64)


def _bool(a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == object:
        return np.array([bool(x) if x is not None else False for x in a], bool)
    return a.astype(bool)


def _obj(a) -> np.ndarray:
    """Categorical core column as an object array (compared elementwise, never converted)."""
    return np.asarray(a, dtype=object)


def _date(a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == object:
        return np.array([np.datetime64(x, "D") if x is not None else NAT for x in a])
    return a.astype("datetime64[D]")
