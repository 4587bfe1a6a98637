"""keycare.engine.effect on hand-built sources whose answers are worked out by hand."""

import math
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from keycare.engine.effect import Z95, evaluate
from keycare.errors import UserError

D0 = date(2026, 1, 1)


def write_source(path, exposures, outcomes, complaints=()):
    path.mkdir(parents=True, exist_ok=True)
    cols = ["subscriber_id", "moment_code", "exposure_date", "arm", "decision", "manager_id",
            "city_id", "campaign", "tactic", "contacted", "recommended", "accepted", "risk"]  # fmt: skip
    rows = [dict(zip(cols, e, strict=True)) for e in exposures]
    pq.write_table(pa.Table.from_pylist(rows), path / "exposures.parquet")
    pq.write_table(
        pa.Table.from_pylist(
            [
                dict(
                    subscriber_id=s,
                    plan_fee=fee,
                    churn_date=c,
                    downgrade_date=g,
                    downgrade_factor=0.5,
                )  # fmt: skip
                for s, fee, c, g in outcomes
            ],
            schema=pa.schema(
                [
                    ("subscriber_id", pa.string()),
                    ("plan_fee", pa.float64()),
                    ("churn_date", pa.date32()),
                    ("downgrade_date", pa.date32()),
                    ("downgrade_factor", pa.float64()),
                ]
            ),  # fmt: skip
        ),
        path / "outcomes.parquet",
    )
    pq.write_table(
        pa.Table.from_pylist(
            [dict(subscriber_id=s, complaint_date=d) for s, d in complaints],
            schema=pa.schema([("subscriber_id", pa.string()), ("complaint_date", pa.date32())]),
        ),
        path / "complaints.parquet",
    )
    return path


def exposure(sub, arm, *, moment="A01", day=D0, tactic=None, manager="M1", city="3201",
             contacted=False, accepted=None, risk=0.1):  # fmt: skip
    decision = "control" if arm == "control" else "call"
    return (sub, moment, day, arm, decision, manager, city, "daily", tactic, contacted,
            tactic is not None, accepted, risk)  # fmt: skip


def day(n):
    return D0 + timedelta(days=n)


@pytest.fixture
def source(tmp_path):
    # Moment A01: 4 treated (1 churns on day 10), 4 control (3 churn: days 5, 20, 40).
    exposures = [exposure(f"T{i}", "treated", contacted=i < 3, accepted=(i == 0) if i < 3 else None,
                          tactic="T01" if i < 2 else None) for i in range(4)]  # fmt: skip
    exposures += [exposure(f"C{i}", "control") for i in range(4)]
    outcomes = [("T0", 100.0, day(10), None), ("T1", 100.0, None, day(3)),
                ("T2", 100.0, None, None), ("T3", 100.0, None, None),
                ("C0", 100.0, day(5), None), ("C1", 100.0, day(20), None),
                ("C2", 100.0, day(40), None), ("C3", 100.0, None, None)]  # fmt: skip
    complaints = [("T2", day(2)), ("C0", day(1)), ("C3", day(45)), ("C3", D0)]
    return write_source(tmp_path / "src", exposures, outcomes, complaints)


def row(report, dim, key, k, metric):
    return next(
        r for r in report.rows if (r.dimension, r.key, r.horizon, r.metric) == (dim, key, k, metric)
    )


def agresti_caffo(x_t, n_t, x_c, n_c):
    p_t, p_c = (x_t + 1) / (n_t + 2), (x_c + 1) / (n_c + 2)
    se = math.sqrt(p_t * (1 - p_t) / (n_t + 2) + p_c * (1 - p_c) / (n_c + 2))
    return p_t - p_c - Z95 * se, p_t - p_c + Z95 * se


def test_churn_uplift_and_interval_at_each_horizon(source):
    report = evaluate(source, day(90), horizons=(30, 60), qini=False)
    r30 = row(report, "moment", "A01", 30, "churn")
    assert (r30.treated, r30.control) == (4, 4)
    assert r30.uplift == pytest.approx(0.25 - 0.5)
    assert (r30.ci_low, r30.ci_high) == pytest.approx(agresti_caffo(1, 4, 2, 4))
    r60 = row(report, "moment", "A01", 60, "churn")
    assert r60.uplift == pytest.approx(0.25 - 0.75)


def test_only_exposures_with_the_whole_horizon_behind_them_count(source):
    report = evaluate(source, day(45), horizons=(30, 60), qini=False)
    assert row(report, "moment", "A01", 30, "churn").treated == 4
    assert not [r for r in report.rows if r.horizon == 60]


def test_downgrade_bill_change_and_repeat_complaints(source):
    report = evaluate(source, day(90), horizons=(30,), qini=False)
    assert row(report, "moment", "A01", 30, "downgrade").uplift == pytest.approx(0.25)
    # Treated: T0 churned (-100), T1 downgraded (-50); control: C0, C1 churned (-100 each).
    bill = row(report, "moment", "A01", 30, "bill_change")
    assert bill.treated_mean == pytest.approx(-37.5)
    assert bill.control_mean == pytest.approx(-50.0)
    assert bill.ci_low < bill.uplift < bill.ci_high
    # A complaint after the exposure day within the horizon: T2 and C0 (C3's are outside).
    rc = row(report, "moment", "A01", 30, "repeat_complaint")
    assert (rc.treated_mean, rc.control_mean) == (0.25, 0.25)


def test_contact_and_acceptance_rates(source):
    report = evaluate(source, day(90), horizons=(30,), qini=False)
    rates = report.rates[("moment", "A01")]
    assert rates["contact_rate"] == pytest.approx(0.75)
    assert rates["recommendations"] == 3
    assert rates["accept_rate"] == pytest.approx(1 / 3)


def test_tactic_is_compared_with_the_control_of_its_moments(tmp_path):
    # Tactic T01 is used on A01 (1 of 2 churn) and A02 (0 of 2); control churns 1/2 on A01
    # and 2/2 on A02: its standardised control mean is 0.5 * 0.5 + 0.5 * 1.0.
    exposures = [exposure("a", "treated", tactic="T01"), exposure("b", "treated", tactic="T01"),
                 exposure("c", "treated", moment="A02", tactic="T01"),
                 exposure("d", "treated", moment="A02", tactic="T01"),
                 exposure("e", "control"), exposure("f", "control"),
                 exposure("g", "control", moment="A02"), exposure("h", "control", moment="A02")]  # fmt: skip
    churned = {"a", "e", "g", "h"}
    outcomes = [(s, 50.0, day(3) if s in churned else None, None) for s in "abcdefgh"]
    report = evaluate(write_source(tmp_path / "s", exposures, outcomes), day(60), horizons=(30,))
    r = row(report, "tactic", "T01", 30, "churn")
    assert (r.treated, r.control, r.treated_mean) == (4, 4, 0.25)
    assert r.control_mean == pytest.approx(0.75)
    assert r.uplift == pytest.approx(-0.5)


def test_dimensions_manager_and_city(source):
    report = evaluate(source, day(90), horizons=(30,), qini=False)
    assert row(report, "manager", "M1", 30, "churn").uplift == pytest.approx(-0.25)
    assert row(report, "city", "3201", 30, "churn").treated == 4
    assert row(report, "campaign", "daily", 30, "churn").control == 4


def test_a_directory_that_is_no_source_is_refused_by_name(tmp_path):
    with pytest.raises(UserError, match="exposures.parquet"):
        evaluate(tmp_path)


def test_per_city_rows_for_city_administrators(tmp_path):
    exposures = [exposure("a", "treated", city="3201"), exposure("b", "control", city="3201"),
                 exposure("c", "treated", city="3202"), exposure("d", "control", city="3202")]  # fmt: skip
    outcomes = [(s, 50.0, day(3) if s in "bc" else None, None) for s in "abcd"]
    report = evaluate(write_source(tmp_path / "s", exposures, outcomes), day(60), horizons=(30,),
                      qini=False, by_city=True)  # fmt: skip
    per_city = {r.city: r.uplift for r in report.rows
                if (r.dimension, r.metric) == ("moment", "churn") and r.city}  # fmt: skip
    assert per_city == {"3201": -1.0, "3202": 1.0}
    assert [m["uplift"] for m in report.moments(30)] == [0.0]
