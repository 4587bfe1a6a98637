"""Value score and tier of every key account in the daily run (集团客户分层分级, seed 002).

The same arithmetic as ``keycare.keyaccounts.tiers.score`` / ``tier_of`` (the application's
preview), as one SQL statement over the delivered files, so 100k groups score in the engine
instead of row by row in the ORM. The policy (weights, reference values, cut-offs, key
industries, revenue months) comes in as data -- the version in force in the application --
and is written into the output, so a published run says which policy placed each group.

A number scores ``weight * min(1, sqrt(value / reference))``, a flag its weight or 0; the
score is rounded to 2 decimals; cut-offs A1 > A2 > B1 > B2 place it, below B2 is C; a
strategic group scoring B1 is an A2. Revenue is the average over the last
``revenue_months`` delivered months (the group's annual revenue / 12 when it has none).
"""

from __future__ import annotations

import time

from keycare.engine.view import sql_string

GROUP_TIERS = "group_tiers"
GROUP_TIERS_ORDER = "key_account_id"
NUMERIC = ("employees", "monthly_revenue", "info_revenue", "info_products")
CUT_TIERS = ("A1", "A2", "B1", "B2")


def _num(value) -> str:
    return repr(float(value))


def group_tiers_sql(policy: dict, version: int) -> str:
    weights, refs = policy["weights"], policy["references"]
    months = int(policy.get("revenue_months", 3))
    industries = policy.get("key_industries") or []
    in_key = (
        f"industry IN ({', '.join(sql_string(i) for i in industries)})" if industries else "FALSE"
    )
    parts = [
        f"{_num(weights[n])} * LEAST(1.0, SQRT(GREATEST(COALESCE(CAST({n} AS DOUBLE), 0.0), 0.0)"
        f" / {_num(refs[n])}))"
        for n in NUMERIC
    ]
    parts.append(f"CASE WHEN {in_key} THEN {_num(weights['key_industry'])} ELSE 0.0 END")
    parts.append(f"CASE WHEN strategic THEN {_num(weights['strategic'])} ELSE 0.0 END")
    cuts = policy["cutoffs"]
    tier_case = " ".join(
        f"WHEN value_score >= {_num(cuts[t])} THEN {sql_string(t)}" for t in CUT_TIERS
    )
    return f"""
WITH months AS (
  SELECT month FROM (SELECT DISTINCT month FROM key_account_revenue) m
  ORDER BY month DESC LIMIT {months}
),
revenue AS (
  SELECT r.key_account_id, AVG(r.total_revenue) AS monthly_revenue,
    AVG(r.info_revenue) AS info_revenue
  FROM key_account_revenue r JOIN months USING (month)
  GROUP BY r.key_account_id
),
products AS (
  SELECT key_account_id, COUNT(*) AS info_products FROM key_account_products
  WHERE informatization AND status = 'active' GROUP BY key_account_id
),
facts AS (
  SELECT g.key_account_id, g.tier AS delivered_tier, g.industry,
    COALESCE(g.strategic, FALSE) AS strategic, g.employees,
    COALESCE(r.monthly_revenue, COALESCE(g.annual_revenue, 0.0) / 12.0) AS monthly_revenue,
    COALESCE(r.info_revenue, 0.0) AS info_revenue,
    COALESCE(p.info_products, 0) AS info_products
  FROM key_accounts g
  LEFT JOIN revenue r ON r.key_account_id = g.key_account_id
  LEFT JOIN products p ON p.key_account_id = g.key_account_id
  WHERE g.status = 'active'
),
scored AS (
  SELECT key_account_id, strategic, ROUND({" + ".join(parts)}, 2) AS value_score FROM facts
),
placed AS (
  SELECT key_account_id, strategic, value_score,
    CASE {tier_case} ELSE 'C' END AS cut_tier
  FROM scored
)
SELECT key_account_id, value_score,
  CASE WHEN strategic AND cut_tier = 'B1' THEN 'A2' ELSE cut_tier END AS tier,
  {int(version)} AS policy_version
FROM placed
"""


def score_tiers(backend, policy: dict, version: int) -> dict:
    """Register ``group_tiers`` (one row per active group); returns counts and seconds."""
    started = time.perf_counter()
    backend.materialize(GROUP_TIERS, group_tiers_sql(policy, version))
    rows = backend.to_arrow(
        f"SELECT tier, COUNT(*) AS n FROM {GROUP_TIERS} GROUP BY tier"
    ).to_pylist()
    by_tier = {r["tier"]: int(r["n"]) for r in rows}
    return {
        "policy_version": int(version),
        "groups": sum(by_tier.values()),
        "by_tier": dict(sorted(by_tier.items())),
        "seconds": round(time.perf_counter() - started, 3),
    }
