"""Chinese reason phrases for the model's per-feature contributions.

A customer's reasons are the features with the largest contributions (LightGBM
``pred_contrib``: log-odds added to the score). A numeric feature's phrase depends on which
side of the training median the customer's value is (a high competitor-call share and a low
one push the score for different reasons); a categorical feature has one phrase.
Every phrase in the table is distinct, so three features give three different phrases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# feature -> (phrase when the value is at or above the training median, phrase when below),
# or a single phrase for categorical features.
PHRASES: dict[str, tuple[str, str] | str] = {
    "plan_fee": ("套餐资费较高", "套餐资费较低"),
    "bill_total_m1": ("上月话费较高", "上月话费偏低"),
    "bill_avg_3m": ("近3月月均话费较高", "近3月月均话费偏低"),
    "bill_change_pct_m1": ("上月话费环比上升", "上月话费环比下降"),
    "bill_trend_3m": ("近3月话费上升", "近3月话费持续下降"),
    "overage_fee_m1": ("套餐外超出费用较高", "套餐外费用较少"),
    "supplementary_fee_m1": ("上月有补收费用", "无补收费用"),
    "voice_minutes_m1": ("通话时长较长", "通话时长偏少"),
    "voice_change_pct_m1": ("通话时长环比上升", "通话时长明显下降"),
    "data_mb_m1": ("流量使用较多", "流量使用偏少"),
    "data_change_pct_m1": ("流量使用环比上升", "流量使用明显下降"),
    "competitor_call_share_m1": ("异网通话占比高", "异网通话占比低"),
    "competitor_share_change_3m": ("异网通话占比上升", "异网通话占比下降"),
    "core_contacts_m1": ("通话圈核心联系人较多", "通话圈核心联系人较少"),
    "core_contacts_churned_m1": ("通话圈核心联系人离网", "通话圈稳定"),
    "complaints_90d": ("近3月有投诉", "近期无投诉"),
    "bill_queries_60d": ("近期频繁查询话费", "近期未查询话费"),
    "portability_inquiries_30d": ("近期咨询携号转网", "未咨询携号转网"),
    "fault_reports_30d": ("近期有故障报修", "近期无故障"),
    "tenure_months": ("入网时间较长", "入网时间较短"),
    "age": ("年龄偏大", "年龄偏小"),
    "days_silent": ("近期使用沉默", "近期使用活跃"),
    "days_to_contract_end": ("合约到期尚远", "合约即将到期或已到期"),
    "arrears_amount": ("存在欠费", "无欠费"),
    "handset_5g": ("使用5G终端", "未使用5G终端"),
    "brand": "所属品牌客群离网率较高",
    "payment_type": "付费方式客群离网率较高",
    "city_id": "所在地市离网率较高",
}


def phrase_for(feature: str, high: bool) -> str:
    entry = PHRASES.get(feature)
    if entry is None:
        return f"{feature}{'偏高' if high else '偏低'}"
    if isinstance(entry, str):
        return entry
    return entry[0] if high else entry[1]


def top_reasons(
    contributions: pd.DataFrame, x: pd.DataFrame, medians: dict[str, float], k: int = 3
) -> list[list[str]]:
    """For each row, the phrases of its ``k`` largest-contribution features (vectorised)."""
    features = list(contributions.columns)
    k = min(k, len(features))
    order = np.argsort(-contributions.to_numpy(), axis=1, kind="stable")[:, :k]
    # Phrase ids: 2*j for "high", 2*j+1 for "low" (categoricals use 2*j).
    highs = np.ones((len(x), len(features)), dtype=bool)
    for j, feature in enumerate(features):
        if feature in medians:
            values = x[feature].to_numpy(dtype=float)
            highs[:, j] = ~(values < medians[feature])  # NaN counts as "high"/neutral side
    table = np.array(
        [phrase_for(f, high) for f in features for high in (True, False)], dtype=object
    )
    rows = np.arange(len(x))[:, None]
    ids = 2 * order + (~highs[rows, order]).astype(int)
    return table[ids].tolist()
