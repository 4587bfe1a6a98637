"""The four health scores of seed 001 slide 4 (健康度), 0-100, higher is healthier.

Each starts at 100 and loses capped penalties for the warning signs of its area; every
input is a catalog field code (keycare/catalog/fields.yaml), missing values count as "no
sign". The formulas (also in docs/risk.md):

品牌资费 tariff & brand  = 100 - min(40, 0.8 * max(0, -bill_change_pct_m1))
                        - min(30, 100 * (overage_fee_m1 + supplementary_fee_m1) / max(bill_total_m1, 1))
                        - (20 if 0 <= days_to_contract_end <= 60)
                        - min(10, arrears_amount / 10)
通话圈 call circle       = 100 - min(50, 100 * competitor_call_share_m1)
                        - min(20, 200 * max(0, competitor_call_share_m1 - competitor_call_share_m3))
                        - min(30, 10 * core_contacts_churned_m1)
服务 service             = 100 - min(50, 15 * complaints_90d + 10 * complaints_30d)
                        - min(20, 5 * bill_queries_60d) - min(20, 10 * fault_reports_7d)
                        - (30 if portability_inquiries_30d > 0)
业务 business            = 100 - min(40, 0.6 * max(0, -voice_change_pct_m1))
                        - min(30, 0.4 * max(0, -data_change_pct))   (data_mb_m1 vs data_mb_m2)
                        - min(30, days_silent)
each clamped to [0, 100].
"""

from __future__ import annotations

HEALTH_COLUMNS = {
    "health_tariff_brand": "品牌资费健康度",
    "health_call_circle": "通话圈健康度",
    "health_service": "服务健康度",
    "health_business": "业务健康度",
}

HEALTH_FIELDS = [
    "bill_change_pct_m1",
    "overage_fee_m1",
    "supplementary_fee_m1",
    "bill_total_m1",
    "days_to_contract_end",
    "arrears_amount",
    "competitor_call_share_m1",
    "competitor_call_share_m3",
    "core_contacts_churned_m1",
    "complaints_30d",
    "complaints_90d",
    "bill_queries_60d",
    "fault_reports_7d",
    "portability_inquiries_30d",
    "voice_change_pct_m1",
    "data_mb_m1",
    "data_mb_m2",
    "days_silent",
]


def _z(field: str) -> str:
    return f"COALESCE({field}, 0)"


def _clamp(expr: str) -> str:
    return f"CAST(GREATEST(0, LEAST(100, {expr})) AS DOUBLE)"


def health_expressions() -> dict[str, str]:
    data_change = f"100.0 * ({_z('data_mb_m1')} - {_z('data_mb_m2')}) / NULLIF(data_mb_m2, 0)"
    return {
        "health_tariff_brand": _clamp(
            f"100 - LEAST(40, 0.8 * GREATEST(0, -{_z('bill_change_pct_m1')}))"
            f" - LEAST(30, 100.0 * ({_z('overage_fee_m1')} + {_z('supplementary_fee_m1')})"
            f" / GREATEST({_z('bill_total_m1')}, 1))"
            " - CASE WHEN days_to_contract_end BETWEEN 0 AND 60 THEN 20 ELSE 0 END"
            f" - LEAST(10, {_z('arrears_amount')} / 10.0)"
        ),
        "health_call_circle": _clamp(
            f"100 - LEAST(50, 100.0 * {_z('competitor_call_share_m1')})"
            f" - LEAST(20, 200.0 * GREATEST(0, {_z('competitor_call_share_m1')}"
            f" - COALESCE(competitor_call_share_m3, competitor_call_share_m1, 0)))"
            f" - LEAST(30, 10.0 * {_z('core_contacts_churned_m1')})"
        ),
        "health_service": _clamp(
            f"100 - LEAST(50, 15.0 * {_z('complaints_90d')} + 10.0 * {_z('complaints_30d')})"
            f" - LEAST(20, 5.0 * {_z('bill_queries_60d')})"
            f" - LEAST(20, 10.0 * {_z('fault_reports_7d')})"
            f" - CASE WHEN {_z('portability_inquiries_30d')} > 0 THEN 30 ELSE 0 END"
        ),
        "health_business": _clamp(
            f"100 - LEAST(40, 0.6 * GREATEST(0, -{_z('voice_change_pct_m1')}))"
            f" - LEAST(30, 0.4 * GREATEST(0, -COALESCE({data_change}, 0)))"
            f" - LEAST(30, {_z('days_silent')})"
        ),
    }


def health_sql(relation: str) -> str:
    """subscriber_id + the four scores, over any relation with the HEALTH_FIELDS columns
    (this package's ``risk_features`` or the shared ``unified_view``)."""
    columns = ", ".join(f"{expr} AS {name}" for name, expr in health_expressions().items())
    return f"SELECT subscriber_id, {columns} FROM {relation}"
