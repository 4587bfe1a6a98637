"""Effect evaluation against the control group (no Django).

Input (Parquet files in one directory, as ``keycare simulate`` writes them; the application
exports the same columns from its decisions and outcomes):

* ``exposures``  one row per customer and moment: the first randomised allocation decision
  (``arm`` treated = call/sms/deferred, control = held out), its date, manager, city,
  campaign, the tactic used, whether the customer was contacted and accepted the
  recommendation, and the run's churn-risk probability (the targeting score);
* ``outcomes``   per customer: plan fee at the start, churn date, downgrade date and factor;
* ``complaints`` complaint dates.

For every dimension (moment, campaign, tactic, manager, city), value, horizon (30/60/90
days) and metric (churn, downgrade, repeat complaint: rates; bill change: RMB/month) the
evaluation compares the treated and control arms of the exposures that have the whole
horizon behind them on the evaluation date:

    uplift = mean(treated) - mean(control),  95% CI = uplift +- 1.96 * sqrt(s_T^2/n_T + s_C^2/n_C)

(Welch's normal interval; randomisation makes the arms comparable). For the rates the
interval is Agresti-Caffo's (one success and one failure added to each arm), which keeps its
coverage for small arms and rare events where the plain interval collapses to a point. Tactics exist only in
the treated arm, so a tactic's control mean is the control mean of each moment weighted by
the tactic's moment mix (direct standardisation). Qini AUC and uplift@30% (scikit-uplift) say
whether ranking by churn risk puts the customers whom service keeps first.

DuckDB does the per-row work (joins, horizons, aggregates); Python sees only aggregates and,
for the Qini, per-moment columns of numbers.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np

from keycare.errors import UserError

HORIZONS = (30, 60, 90)
METRICS = ("churn", "downgrade", "bill_change", "repeat_complaint")
BINARY = {"churn", "downgrade", "repeat_complaint"}
DIMENSIONS = {
    "moment": "moment_code",
    "campaign": "campaign",
    "tactic": "tactic",
    "manager": "manager_id",
    "city": "city_id",
}
Z95 = 1.959963984540054
REQUIRED = ("exposures", "outcomes", "complaints")
UPLIFT_AT = 0.3


@dataclass
class EffectRow:
    dimension: str
    key: str
    horizon: int
    metric: str
    treated: int
    control: int
    treated_mean: float | None
    control_mean: float | None
    uplift: float | None
    ci_low: float | None
    ci_high: float | None
    city: str | None = None  # set on the per-city rows of a dimension (city admins' view)


@dataclass
class EffectReport:
    as_of: date
    horizons: tuple
    rows: list[EffectRow] = field(default_factory=list)
    rates: dict = field(default_factory=dict)  # (dimension, key) -> contact / acceptance rates
    qini: dict = field(default_factory=dict)  # moment (or "*") -> {qini_auc, uplift_at_30}

    def moments(self, horizon: int, metric: str = "churn") -> list[dict]:
        """Per moment ``{code, treated, control, uplift, ci_low, ci_high}`` (the CLI's JSON)."""
        return [
            {
                "code": r.key,
                "treated": r.treated,
                "control": r.control,
                "uplift": r.uplift,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
            }
            for r in self.rows
            if r.dimension == "moment"
            and r.horizon == horizon
            and r.metric == metric
            and r.city is None
        ]


def evaluate(
    source: str | Path,
    as_of: date | None = None,
    *,
    horizons=HORIZONS,
    dimensions=tuple(DIMENSIONS),
    qini: bool = True,
    threads: int | None = None,
    by_city: bool = False,
) -> EffectReport:
    """Evaluate the exposures in ``source`` as of ``as_of`` (default: the last exposure day)."""
    source = Path(source)
    missing = [n for n in REQUIRED if not (source / f"{n}.parquet").is_file()]
    if missing:
        raise UserError(
            f"{source}: 缺少 {', '.join(m + '.parquet' for m in missing)} (not an effect source)"
        )
    unknown = set(dimensions) - set(DIMENSIONS)
    if unknown:
        raise UserError(f"unknown dimension(s): {', '.join(sorted(unknown))}")
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    try:
        _register(con, source)
        if as_of is None:
            as_of = _manifest_last_date(source)
        if as_of is None:
            as_of = con.execute("SELECT max(exposure_date) FROM exposures").fetchone()[0]
            if as_of is None:
                raise UserError(f"{source}: no exposures to evaluate")
        report = EffectReport(as_of=as_of, horizons=tuple(horizons))
        _outcome_rows(con, as_of, tuple(horizons))
        for dim in dimensions:
            report.rows += _compare(con, dim)
            report.rates.update(_rates(con, dim))
            if by_city and dim not in ("city", "manager", "tactic"):
                report.rows += _compare(con, dim, per_city=True)
        if qini:
            report.qini = _qini(con, min(horizons))
        return report
    finally:
        con.close()


def _manifest_last_date(source: Path) -> date | None:
    """A simulation's last day: exposures of its last days still count as followed up."""
    import json

    try:
        return date.fromisoformat(json.loads((source / "manifest.json").read_text())["last_date"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _register(con, source: Path) -> None:
    for name in REQUIRED:
        path = str(source / f"{name}.parquet").replace("'", "''")
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")


def _outcome_rows(con, as_of: date, horizons: tuple) -> None:
    """One row per exposure and horizon with its four outcomes (only full horizons)."""
    ks = ", ".join(f"({int(k)})" for k in horizons)
    con.execute(
        f"""
        CREATE TEMP TABLE rows AS
        WITH h(k) AS (VALUES {ks}),
        x AS (
            SELECT e.*, h.k, o.plan_fee, o.churn_date, o.downgrade_date, o.downgrade_factor,
                   e.exposure_date + CAST(h.k AS INTEGER) AS horizon_end
            FROM exposures e JOIN outcomes o USING (subscriber_id), h
            WHERE e.exposure_date + CAST(h.k AS INTEGER) <= DATE '{as_of.isoformat()}' + 1
        ),
        c AS (
            SELECT x.subscriber_id, x.moment_code, x.k, count(*) AS n
            FROM x JOIN complaints p ON p.subscriber_id = x.subscriber_id
             AND p.complaint_date > x.exposure_date AND p.complaint_date < x.horizon_end
            GROUP BY ALL
        )
        SELECT x.subscriber_id, x.moment_code, x.k, x.arm, x.campaign, x.tactic, x.manager_id,
               x.city_id, x.contacted, x.accepted, x.risk,
               CAST(COALESCE(x.churn_date < x.horizon_end, FALSE) AS DOUBLE) AS churn,
               CAST(COALESCE(x.downgrade_date >= x.exposure_date
                             AND x.downgrade_date < x.horizon_end, FALSE) AS DOUBLE) AS downgrade,
               (CASE WHEN x.churn_date < x.horizon_end THEN 0
                     WHEN x.downgrade_date < x.horizon_end THEN x.plan_fee * x.downgrade_factor
                     ELSE x.plan_fee END)
               - (CASE WHEN x.downgrade_date < x.exposure_date
                       THEN x.plan_fee * x.downgrade_factor ELSE x.plan_fee END) AS bill_change,
               CAST(COALESCE(c.n, 0) > 0 AS DOUBLE) AS repeat_complaint
        FROM x LEFT JOIN c USING (subscriber_id, moment_code, k)
        """
    )


def _aggregates(con, column: str, extra_key: str | None = None) -> list[tuple]:
    keys = f"{column}, {extra_key}" if extra_key else column
    metrics = ", ".join(f"avg({m}), var_samp({m})" for m in METRICS)
    return con.execute(
        f"""SELECT CAST({column} AS VARCHAR), {"CAST(" + extra_key + " AS VARCHAR)," if extra_key else ""}
                   k, arm, count(*), {metrics}
            FROM rows WHERE {column} IS NOT NULL GROUP BY {keys}, k, arm"""
    ).fetchall()


def _compare(con, dim: str, per_city: bool = False) -> list[EffectRow]:
    """Treated vs control per value of ``dim`` (per city and value with ``per_city``)."""
    column = DIMENSIONS[dim]
    if dim == "tactic":
        return _standardised(con)
    arms: dict = {}
    if per_city:
        for key, city, k, arm, n, *stats in _aggregates(con, column, "city_id"):
            arms.setdefault((key, k, city), {})[arm] = (n, stats)
    else:
        for key, k, arm, n, *stats in _aggregates(con, column):
            arms.setdefault((key, k, None), {})[arm] = (n, stats)
    rows = []
    for (key, k, city), pair in sorted(arms.items(), key=lambda kv: tuple(map(str, kv[0]))):
        t = pair.get("treated", (0, [None] * 8))
        c = pair.get("control", (0, [None] * 8))
        for i, metric in enumerate(METRICS):
            row = _row(dim, key, k, metric, t[0], t[1][2 * i], t[1][2 * i + 1], c[0],
                       c[1][2 * i], _var_of_mean(c[1][2 * i + 1], c[0]))  # fmt: skip
            row.city = city
            rows.append(row)
    return rows


def _standardised(con) -> list[EffectRow]:
    """Tactic vs the control arm of the same moments, weighted by the tactic's moment mix."""
    control: dict = {}
    for code, k, arm, n, *stats in _aggregates(con, "moment_code"):
        if arm == "control":
            control[(code, k)] = (n, stats)
    groups: dict = {}
    for tactic, code, k, arm, n, *stats in _aggregates(con, "tactic", "moment_code"):
        if arm == "treated":
            groups.setdefault((tactic, k), []).append((code, n, stats))
    rows = []
    for (tactic, k), parts in sorted(groups.items()):
        n_t = sum(n for _, n, _ in parts)
        n_c = sum(control.get((code, k), (0,))[0] for code, _, _ in parts)
        for i, metric in enumerate(METRICS):
            t_mean = sum(n * s[2 * i] for _, n, s in parts) / n_t
            t_var = _pooled_var(parts, i, t_mean)
            c_mean, c_var = _weighted_control(parts, control, k, i, n_t)
            rows.append(_row("tactic", tactic, k, metric, n_t, t_mean, t_var, n_c, c_mean, c_var))
    return rows


def _pooled_var(parts, i: int, mean: float) -> float | None:
    n = sum(p[1] for p in parts)
    if n < 2:
        return None
    ss = sum((m - 1) * (s[2 * i + 1] or 0.0) + m * (s[2 * i] - mean) ** 2 for _, m, s in parts)
    return ss / (n - 1)


def _weighted_control(parts, control: dict, k: int, i: int, n_t: int):
    mean = var = 0.0
    for code, n, _ in parts:
        if (code, k) not in control:
            return None, None
        n_c, stats = control[(code, k)]
        w = n / n_t
        mean += w * stats[2 * i]
        v = _var_of_mean(stats[2 * i + 1], n_c)
        if v is None:
            return mean, None
        var += w * w * v
    return mean, var


def _var_of_mean(var, n: int):
    return None if var is None or not n else var / n


def _row(dim, key, k, metric, n_t, t_mean, t_var, n_c, c_mean, c_var_of_mean) -> EffectRow:
    """c_var_of_mean: the variance of the control mean (already divided by n)."""
    uplift = low = high = None
    if n_t and n_c and t_mean is not None and c_mean is not None:
        uplift = t_mean - c_mean
        if metric in BINARY and dim != "tactic":
            low, high = _agresti_caffo(t_mean * n_t, n_t, c_mean * n_c, n_c)
            return EffectRow(dim, key, int(k), metric, int(n_t), int(n_c), t_mean, c_mean,
                             uplift, low, high)  # fmt: skip
        t_vm = (t_var or 0.0) / n_t if n_t > 1 else None
        if t_vm is not None and c_var_of_mean is not None and n_c > 1:
            se = math.sqrt(t_vm + c_var_of_mean)
            low, high = uplift - Z95 * se, uplift + Z95 * se
    return EffectRow(
        dim, key, int(k), metric, int(n_t), int(n_c), t_mean, c_mean, uplift, low, high
    )


def _agresti_caffo(x_t: float, n_t: int, x_c: float, n_c: int) -> tuple[float, float]:
    p_t, p_c = (x_t + 1) / (n_t + 2), (x_c + 1) / (n_c + 2)
    se = math.sqrt(p_t * (1 - p_t) / (n_t + 2) + p_c * (1 - p_c) / (n_c + 2))
    centre = p_t - p_c
    return centre - Z95 * se, centre + Z95 * se


def _rates(con, dim: str) -> dict:
    """Contact rate (treated exposures reached) and acceptance rate (of recommendations)."""
    column = DIMENSIONS[dim]
    result = con.execute(
        f"""SELECT CAST({column} AS VARCHAR), count(*),
                   avg(CAST(contacted AS DOUBLE)), count(accepted), avg(CAST(accepted AS DOUBLE))
            FROM exposures WHERE arm = 'treated' AND {column} IS NOT NULL GROUP BY 1"""
    ).fetchall()
    return {
        (dim, key): {"treated": n, "contact_rate": cr, "recommendations": na, "accept_rate": ar}
        for key, n, cr, na, ar in result
    }


def _qini(con, horizon: int) -> dict:
    """Qini AUC and uplift@30% of ranking by churn risk, on retention at ``horizon`` days."""
    from sklift.metrics import qini_auc_score, uplift_at_k

    data = con.execute(
        f"""SELECT moment_code, 1 - churn, arm = 'treated', risk FROM rows
            WHERE k = {int(horizon)} AND risk IS NOT NULL ORDER BY moment_code"""
    ).fetchnumpy()
    codes = data["moment_code"]
    y = np.asarray(data["(1 - churn)"], float)
    t = np.asarray(data["(arm = 'treated')"], int)
    score = np.asarray(data["risk"], float)
    out = {}
    for code in ["*", *sorted(set(codes.tolist()))]:
        sel = np.ones(len(y), bool) if code == "*" else codes == code
        if t[sel].sum() < 10 or (1 - t[sel]).sum() < 10 or len(set(y[sel].tolist())) < 2:
            continue  # too few in an arm, or nobody churned: no ranking to judge
        with warnings.catch_warnings():
            # scikit-uplift 0.5.1 calls sklearn's stable_cumsum, deprecated in 1.8 (gone in 1.10).
            warnings.simplefilter("ignore", FutureWarning)
            out[code] = {
                "horizon": horizon,
                "qini_auc": float(qini_auc_score(y[sel], score[sel], t[sel])),
                "uplift_at_30": float(
                    uplift_at_k(y[sel], score[sel], t[sel], strategy="overall", k=UPLIFT_AT)
                ),
            }
    return out


def coverage_misses(
    report: EffectReport, truth: list[dict], horizon: int, *, metric="churn", min_arm: int = 30
) -> tuple[list[str], list[dict]]:
    """Check the reported intervals against a simulation's true effects.

    ``truth``: the manifest's rows ``{metric, moment_code, horizon, true_uplift}``, each for
    the whole province, so only the province-wide moment rows are checked (a city's exposures
    have their own true effect), and of those only moments with at least ``min_arm``
    exposures in each arm. Returns the moments checked and the misses (true effect outside
    the reported 95% interval).
    """
    true = {
        t["moment_code"]: t["true_uplift"]
        for t in truth
        if t["metric"] == metric and t["horizon"] == horizon
    }
    checked, misses = [], []
    for row in report.rows:
        if (row.dimension, row.horizon, row.metric, row.city) != ("moment", horizon, metric, None):
            continue
        if row.key not in true or min(row.treated, row.control) < min_arm or row.ci_low is None:
            continue
        checked.append(row.key)
        if not row.ci_low <= true[row.key] <= row.ci_high:
            misses.append({"code": row.key, "true": true[row.key], "ci": [row.ci_low, row.ci_high]})
    return checked, misses
