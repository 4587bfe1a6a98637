"""The closed-loop simulation (keycare.synth.loop) and the effect evaluation against its
ground truth: the evaluation must recover the known per-moment effects, and the check must
be able to fail."""

import json

import duckdb
import pytest
from scipy.stats import binom

from keycare.engine.effect import coverage_misses, evaluate
from keycare.synth.loop import Policy, SimConfig, simulate

HORIZON = 7
# Small but busy: many events and a high churn hazard so that a week's follow-up over eight
# days of exposures has the volume to see an effect of 60% on the hazard of every moment.
CONFIG = SimConfig(
    subscribers=8_000,
    days=14,
    seed=11,
    policy=Policy(control_share=0.5),
    effects={},
    default_effect=0.6,
    event_scale=20,
    churn_scale=8,
    horizons=(HORIZON,),
)
MIN_ARM = 50


def allowed_misses(checked: int) -> int:
    """Misses of k correct 95% intervals that chance explains (family risk 1%).

    Each interval covers its true effect with probability 95%, so k correct intervals all
    cover it only with 0.95**k (60% for ten moments): demanding zero misses would make the
    test fail on a correct evaluation whenever the simulated world changes. Allowing the
    99th percentile of Binomial(k, 0.05) keeps it a real check: a biased evaluation, or the
    zero truth below, misses far more often.
    """
    return int(binom.ppf(0.99, checked, 0.05))


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("loop") / "sim"
    days = []
    manifest = simulate(CONFIG, out, progress=lambda d, n, info: days.append((d, n, info)))
    return out, manifest, days


@pytest.fixture(scope="module")
def report(sim):
    return evaluate(sim[0], horizons=(HORIZON,))


def churn_truth(manifest):
    return {
        t["moment_code"]: t["true_uplift"]
        for t in manifest["truth"]
        if t["metric"] == "churn" and t["horizon"] == HORIZON
    }


def test_each_true_effect_lies_in_the_reported_interval(sim, report):
    _, manifest, _ = sim
    checked, misses = coverage_misses(report, manifest["truth"], HORIZON, min_arm=MIN_ARM)
    assert len(checked) >= 3, checked
    assert len(misses) <= allowed_misses(len(checked)), misses
    truth = churn_truth(manifest)
    # Not vacuous: among the moments checked some true effects are clearly non-zero.
    assert min(truth[c] for c in checked) < -0.03


def test_the_check_fails_for_a_zero_effect_reported_non_zero(sim, report):
    _, manifest, _ = sim
    zero = [dict(t, true_uplift=0.0) for t in manifest["truth"]]
    checked, misses = coverage_misses(report, zero, HORIZON, min_arm=MIN_ARM)
    assert len(misses) > allowed_misses(len(checked)), "the coverage check could never fail"
    assert {m["code"] for m in misses} <= set(checked)
    assert all(m["ci"][1] < 0 for m in misses)  # the service lowers churn, never raises it


def test_the_loop_runs_the_real_pipeline_every_day(sim):
    out, manifest, days = sim
    assert [d for d, _, _ in days] == list(range(1, CONFIG.days + 1))
    runs = sorted(p.name for p in (out / "work" / "runs").iterdir() if not p.name.startswith("."))
    published = [n for n in runs if len(n) == 10]
    assert len(published) == CONFIG.days
    assert manifest["effects"]["default"] == 0.6
    assert manifest["policy"]["control_share"] == 0.5


def test_managers_work_within_capacity_and_control_is_never_contacted(sim):
    out, manifest, _ = sim
    con = duckdb.connect()
    over = con.execute(
        f"""SELECT count(*) FROM (
              SELECT contact_date, manager_id, count(*) AS calls
              FROM '{out}/contacts.parquet' WHERE channel = 'call' GROUP BY ALL) c
            JOIN '{out}/base/managers.parquet' m USING (manager_id)
            WHERE c.calls > m.daily_capacity"""
    ).fetchone()[0]
    assert over == 0
    leaked = con.execute(
        f"""SELECT count(*) FROM '{out}/contacts.parquet' c
            JOIN '{out}/exposures.parquet' e USING (subscriber_id) WHERE e.arm = 'control'"""
    ).fetchone()[0]
    assert leaked == 0
    reached, calls = con.execute(
        f"""SELECT avg(CAST(reached AS DOUBLE)), count(*) FROM '{out}/contacts.parquet'
            WHERE channel = 'call'"""
    ).fetchone()
    assert calls > 100 and abs(reached - CONFIG.reach_rate) < 0.08
    totals = manifest["totals"]
    assert totals["churned"] <= totals["churned_without_service"]
    saved = json.loads((out / "manifest.json").read_text())
    assert saved["totals"] == totals
