"""keycare.synth.extended: one well-typed, plausible array per extended catalog field."""

import datetime as dt

import numpy as np
import pytest

from keycare.catalog.fields import load_catalog
from keycare.synth.extended import extended_columns

AS_OF = dt.date(2026, 11, 23)
N = 1000
DTYPE_KINDS = {"string": "O", "bool": "b", "int": "i", "float": "f", "date": "M"}


def make_core(n: int = N, seed: int = 7) -> dict[str, np.ndarray]:
    """A hand-built chunk of core subscriber columns, typed as the synth helper types them."""
    r = np.random.default_rng(seed)
    day = np.timedelta64(1, "D")
    as_of = np.datetime64(AS_OF)

    def pick(values, p=None):
        return r.choice(np.array(values, dtype=object), n, p=p)

    has_ka = r.random(n) < 0.1
    return {
        "subscriber_id": np.array([f"S{i:010d}" for i in range(n)], dtype=object),
        "msisdn": np.array([f"139{i:08d}" for i in range(n)], dtype=object),
        "gender": pick(["M", "F"]),
        "birth_date": as_of - r.integers(16 * 365, 85 * 365, n) * day,
        "join_date": as_of - r.integers(1, 20 * 365, n) * day,
        "brand": pick(["gotone", "mzone", "easyown"]),
        "plan_code": pick(["GT5G_128", "MZ5G_59", "EO4G_18"]),
        "plan_fee": r.choice([8.0, 18.0, 59.0, 88.0, 128.0, 298.0], n),
        "payment_type": pick(["prepaid", "postpaid"]),
        "status": pick(["active", "suspended", "churned"], [0.9, 0.05, 0.05]),
        "value_tier": pick(["mid_high", "mass"]),
        "balance": r.normal(50, 40, n),
        "arrears_days": np.where(r.random(n) < 0.05, r.integers(1, 100, n), 0),
        "handset_brand": pick(["Apple", "华为", "小米", "OPPO", "vivo"]),
        "handset_model": pick(["iPhone 15", "Mate 60", "Redmi 9A", "A5", "X200"]),
        "handset_5g": r.random(n) < 0.6,
        "handset_since": as_of - r.integers(1, 2000, n) * day,
        "plan_5g": r.random(n) < 0.5,
        "contract_end_date": np.where(
            r.random(n) < 0.3, as_of + r.integers(-100, 400, n) * day, np.datetime64("NaT")
        ).astype("datetime64[D]"),
        "star_level": r.integers(0, 8, n),
        "credit_score": r.integers(300, 900, n),
        "points": r.integers(0, 50000, n),
        "key_account_id": np.where(has_ka, "KA0001", None).astype(object),
    }


@pytest.fixture(scope="module")
def core():
    return make_core()


@pytest.fixture(scope="module")
def columns(core):
    return extended_columns(np.random.default_rng(42), core, AS_OF)


@pytest.fixture(scope="module")
def extended():
    return [f for f in load_catalog().extended_fields if f.source == "subscribers"]


def test_exactly_the_extended_fields(columns, extended):
    assert list(columns) == [f.column for f in extended]
    core_columns = set(make_core(5))
    assert not core_columns & set(columns)


def test_types_and_lengths(columns, extended):
    for f in extended:
        values = columns[f.column]
        assert isinstance(values, np.ndarray), f.code
        assert values.shape == (N,), f.code
        assert values.dtype.kind == DTYPE_KINDS[f.type], (f.code, values.dtype)
        if f.type == "int":
            assert values.dtype == np.int64, f.code
        if f.type == "date":
            assert values.dtype == np.dtype("datetime64[D]"), f.code
        if f.type == "string":
            assert all(v is None or isinstance(v, str) for v in values), f.code


def test_values_respect_enum_and_range(columns, extended):
    for f in extended:
        values = columns[f.column]
        if f.enum:
            present = {v for v in values if v is not None}
            assert present <= set(f.enum), (f.code, present - set(f.enum))
        if f.range:
            numbers = values[~np.isnan(values)] if f.type == "float" else values
            assert numbers.min() >= f.range[0] and numbers.max() <= f.range[1], f.code


# One operator-wide date: points expire together at year end (missing without points).
CONSTANT_BY_DESIGN = {"points_expiry_date"}


def test_not_degenerate(columns, extended):
    """Every column varies: no all-null or all-same output (except by design)."""
    for f in extended:
        values = columns[f.column]
        if f.type == "string":
            distinct = {v for v in values if v is not None}
        elif f.type == "date":
            distinct = set(values[~np.isnat(values)].tolist())
        elif f.type == "float":
            distinct = set(values[~np.isnan(values)].tolist())
        else:
            distinct = set(values.tolist())
        assert len(distinct) >= (1 if f.code in CONSTANT_BY_DESIGN else 2), f.code


def test_deterministic_for_a_given_rng_state(core, columns):
    again = extended_columns(np.random.default_rng(42), core, AS_OF)
    for name, values in columns.items():
        assert values.dtype == again[name].dtype
        assert values.astype(str).tolist() == again[name].astype(str).tolist(), name
    other = extended_columns(np.random.default_rng(43), core, AS_OF)
    assert other["handset_price"].tolist() != columns["handset_price"].tolist()


def test_correlated_with_core(core, columns):
    as_of = np.datetime64(AS_OF)
    has_ka = core["key_account_id"] != None  # noqa: E711 - elementwise None test
    for flag in ("group_paid", "vpmn_member", "mobile_office", "group_data_pool"):
        assert not columns[flag][~has_ka].any(), flag
    assert (columns["group_products"][~has_ka] == 0).all()
    fees = [f"{round(fee)}元套餐" for fee in core["plan_fee"]]
    assert all(name.endswith(fee) for name, fee in zip(columns["plan_name"], fees, strict=True))
    apple = core["handset_brand"] == "Apple"
    assert set(columns["handset_os"][apple]) == {"ios"}
    family = columns["family_plan"]
    assert (columns["family_role"][~family] == None).all()  # noqa: E711
    assert set(columns["family_role"][family]) <= {"head", "member"}
    assert (columns["family_members"][family] >= 2).all()
    no_contract = np.isnat(core["contract_end_date"])
    assert (columns["contract_type"][no_contract] == None).all()  # noqa: E711
    assert np.isnat(columns["contract_start_date"][no_contract]).all()
    assert (columns["vas_paid_count"] <= columns["vas_count"]).all()
    assert (columns["campaigns_accepted_6m"] <= columns["campaigns_reached_6m"]).all()
    for date_field in ("last_payment_date", "plan_start_date", "app_last_login_date"):
        dates = columns[date_field]
        assert (dates[~np.isnat(dates)] <= as_of).all(), date_field
    known = ~np.isnat(columns["real_name_date"])
    assert (columns["real_name_date"][known] <= as_of).all()
    assert columns["real_name_verified"][known].all()
    score = core["credit_score"]
    assert set(columns["credit_level"][score >= 750]) == {"AAA"}
