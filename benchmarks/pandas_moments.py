"""The 29 key moments in plain pandas: what an analyst would write without KeyCare.

The baseline of ``benchmarks/daily_run.py``. It reads the delivery's Parquet files (only
the columns the moments need), aggregates the history tables per subscriber with
``groupby``, and evaluates every moment with the built-in default thresholds of
``src/keycare/engine/moments.yaml`` written out by hand as boolean masks. It returns the
same (subscriber_id, moment_code) pairs as KeyCare's ``detections`` and ``suppressions``
(parameters and explanation texts are not reproduced: an analyst would not format them).

It trusts the delivery (no validation or quarantine), so it agrees with KeyCare on a
delivery without quarantined rows, such as the synthetic operator.

    .venv/bin/python benchmarks/pandas_moments.py var/bench/synth-1000000-m7-s1

A NULL compared in SQL is unknown and the engine turns an unknown condition into "no";
numpy comparisons with NaN/NaT are False, which gives the same answer because no moment
negates a comparison (the only negation-like test, ``plan_5g IS NULL``, is written out).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import pandas as pd

from keycare.engine.calendar import nearest_holiday

WORK_MOMENTS = (
    "A01 A02 A03 A04 A05 A06 A07 A08 A09 A10 A11 A12 A13 A14 A15 A16 A17 "
    "F01 F02 F03 F04 F05 F06 F07 S01 S02 S03"
).split()
GUARDS = ("N01", "N02")

SUBSCRIBER_COLUMNS = [
    "subscriber_id", "birth_date", "join_date", "status", "last_active_date", "plan_fee",
    "payment_type", "value_tier", "plan_5g", "contract_end_date", "previous_plan_fee",
    "balance", "arrears_days", "handset_5g", "handset_since", "dnd", "dnd_start", "dnd_end",
]  # fmt: skip
BILL_COLUMNS = [
    "subscriber_id", "bill_month", "total_fee", "overage_fee", "supplementary_fee",
    "voice_minutes", "data_mb", "roaming_fee", "intl_roaming_fee",
]  # fmt: skip


def month_label(day: dt.date, months_back: int) -> str:
    index = day.year * 12 + day.month - 1 - months_back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def read(data_dir: Path, name: str, columns: list[str]) -> pd.DataFrame:
    return pd.read_parquet(Path(data_dir) / f"{name}.parquet", columns=columns)


# --------------------------------------------------------------------------- per-subscriber facts


def bill_facts(data_dir: Path, day: dt.date) -> pd.DataFrame:
    bills = read(data_dir, "bills", BILL_COLUMNS)
    m1, m2, m3 = (month_label(day, k) for k in (1, 2, 3))
    bills = bills[bills["bill_month"].isin([m1, m2, m3])]
    by_month = bills.pivot_table(
        index="subscriber_id",
        columns="bill_month",
        values=BILL_COLUMNS[2:],
        aggfunc="sum",
    )

    def col(value: str, month: str) -> pd.Series:
        if (value, month) in by_month.columns:
            return by_month[(value, month)]
        return pd.Series(0.0, index=by_month.index)

    return pd.DataFrame(
        {
            "bill_total_m1": col("total_fee", m1),
            "bill_total_m2": col("total_fee", m2),
            "bill_total_m3": col("total_fee", m3),
            "overage_fee_m1": col("overage_fee", m1),
            "supplementary_fee_m1": col("supplementary_fee", m1),
            "voice_minutes_m1": col("voice_minutes", m1),
            "voice_minutes_m2": col("voice_minutes", m2),
            "data_mb_m1": col("data_mb", m1),
            "roaming_fee_m1": col("roaming_fee", m1),
            "intl_roaming_fee_m1": col("intl_roaming_fee", m1),
        }
    ).fillna(0.0)


def call_circle_facts(data_dir: Path, day: dt.date) -> pd.DataFrame:
    circle = read(
        data_dir,
        "call_circle",
        ["subscriber_id", "month", "competitor_call_share", "core_contacts_churned"],
    )
    m1, m2 = month_label(day, 1), month_label(day, 2)
    last = circle[circle["month"] == m1].set_index("subscriber_id")
    before = circle[circle["month"] == m2].set_index("subscriber_id")
    return pd.DataFrame(
        {
            "competitor_call_share_m1": last["competitor_call_share"],
            "competitor_call_share_m2": before["competitor_call_share"],
            "core_contacts_churned_m1": last["core_contacts_churned"],
        }
    )


def event_facts(data_dir: Path, day: dt.date) -> pd.DataFrame:
    """Per subscriber: events of each type today, and in the look-back before today."""
    events = read(data_dir, "events", ["subscriber_id", "event_type", "category", "event_time"])
    today = pd.Timestamp(day)
    tomorrow = today + pd.Timedelta(days=1)
    events = events[
        (events["event_time"] >= today - pd.Timedelta(days=365)) & (events["event_time"] < tomorrow)
    ]
    is_today = events["event_time"] >= today
    kind = events["event_type"]
    intl = (kind == "roaming_activation") & (events["category"] == "international")

    def before(days: int) -> pd.Series:
        return ~is_today & (events["event_time"] >= today - pd.Timedelta(days=days))

    counts = {
        "complaint_today": (kind == "complaint") & is_today,
        "fault_today": (kind == "fault_report") & is_today,
        "handset_change_today": (kind == "handset_change") & is_today,
        "plan_change_today": (kind == "plan_change") & is_today,
        "portability_today": (kind == "portability_inquiry") & is_today,
        "subscription_today": (kind == "service_subscription") & is_today,
        "subscription_prior": (kind == "service_subscription") & before(180),
        "intl_roaming_today": intl & is_today,
        "intl_roaming_prior": intl & before(365),
        "bill_query_today": kind.isin(["bill_query", "balance_query"]) & is_today,
        "bill_query_prior": kind.isin(["bill_query", "balance_query"]) & before(60),
        "overage_today": (kind == "data_overage") & is_today,
        "overage_prior": (kind == "data_overage") & before(180),
    }
    flags = pd.DataFrame(counts).astype("int64")
    flags["subscriber_id"] = events["subscriber_id"].to_numpy()
    return flags.groupby("subscriber_id").sum()


def weekly_facts(data_dir: Path, day: dt.date) -> pd.DataFrame:
    usage = read(data_dir, "usage_weekly", ["subscriber_id", "week_start", "voice_minutes"])
    monday = pd.Timestamp(day - dt.timedelta(days=day.weekday()))
    week = pd.to_datetime(usage["week_start"])
    result = {}
    for name, weeks_back in (("voice_minutes_w1", 1), ("voice_minutes_w2", 2)):
        first = monday - pd.Timedelta(days=7 * weeks_back)
        rows = usage[(week >= first) & (week <= first + pd.Timedelta(days=6))]
        result[name] = rows.groupby("subscriber_id")["voice_minutes"].sum()
    return pd.DataFrame(result)


# --------------------------------------------------------------------------- moments


def anniversary(dates: pd.Series, day: dt.date, days_before: int, min_years: int) -> pd.Series:
    """The date's anniversary falls in [day, day + days_before] (Feb 29 -> Feb 28)."""
    dates = pd.to_datetime(dates)
    month, mday, year = dates.dt.month, dates.dt.day, dates.dt.year
    hit = pd.Series(False, index=dates.index)
    for offset in range(days_before, -1, -1):  # the nearest occurrence wins
        when = day + dt.timedelta(days=offset)
        same = (month == when.month) & (mday == when.day)
        leap_case = (when.month == 2 and when.day == 28 and not _is_leap(when.year)) & (
            (month == 2) & (mday == 29)
        )
        match = same | leap_case
        hit = hit | (match & (when.year - year >= min_years))
    return hit


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_between(earlier: pd.Series, later) -> pd.Series:
    return (pd.to_datetime(later) - pd.to_datetime(earlier)).dt.days


def moment_flags(subs: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """One boolean column per moment (default thresholds of moments.yaml)."""
    d = pd.Timestamp(day)
    s = subs
    mid_high = s["value_tier"] == "mid_high"
    scope = mid_high & s["status"].isin(["active", "suspended"])

    def change_down(now: str, base: str, pct: float) -> pd.Series:
        return (s[base] > 0) & ((s[base] - s[now]) * 100 >= pct * s[base])

    def change_up(now: str, base: str, pct: float) -> pd.Series:
        return (s[base] > 0) & ((s[now] - s[base]) * 100 >= pct * s[base])

    dnd_start, dnd_end = s["dnd_start"], s["dnd_end"]
    both = dnd_start.notna() & dnd_end.notna()
    start, end = dnd_start.where(both, ""), dnd_end.where(both, "")
    window_covers = both & (
        ((start <= end) & (start <= "09:00") & (end >= "21:00"))
        | ((start > end) & ((start <= "09:00") | (end >= "21:00")))
    )
    handset_today = pd.to_datetime(s["handset_since"]) == d
    arrears_amount = (-s["balance"]).clip(lower=0)
    holiday = nearest_holiday(day, 3, 0) is not None
    flags = {
        "N01": (s["dnd"] == True) | window_covers,  # noqa: E712 - nullable column
        "N02": s["status"] == "suspended",
        "A01": s["complaint_today"] >= 1,
        "A02": change_up("bill_total_m1", "bill_total_m2", 50) & (s["bill_total_m1"] >= 100),
        "A03": change_down("bill_total_m1", "bill_total_m2", 30) & (s["bill_total_m2"] >= 120),
        "A04": (s["payment_type"] == "prepaid") & (s["balance"] < 20) & (s["balance"] >= 0),
        "A05": (s["status"] == "active") & (arrears_amount >= 1) & (s["arrears_days"] >= 1),
        "A06": s["fault_today"] >= 1,
        "A07": change_down("bill_total_m1", "bill_total_m2", 30)
        & change_down("voice_minutes_m1", "voice_minutes_m2", 20),
        "A08": change_down("voice_minutes_w1", "voice_minutes_w2", 40)
        & (s["voice_minutes_w2"] >= 60),
        "A09": (s["overage_fee_m1"] >= 20) | (s["supplementary_fee_m1"] >= 10),
        "A10": s["handset_change_today"] >= 1,
        "A11": change_up("competitor_call_share_m1", "competitor_call_share_m2", 30)
        & (s["competitor_call_share_m1"] >= 0.2),
        "A12": s["core_contacts_churned_m1"] >= 2,
        "A13": days_between(d, s["contract_end_date"]).between(0, 30),
        "A14": (s["plan_change_today"] >= 1) & (s["plan_fee"] < s["previous_plan_fee"]),
        "A15": days_between(s["last_active_date"], d) >= 7,
        "A16": s["portability_today"] >= 1,
        "A17": (s["roaming_fee_m1"] >= 100) | (s["intl_roaming_fee_m1"] >= 100),
        "F01": (s["subscription_today"] >= 1) & (s["subscription_prior"] == 0),
        "F02": handset_today,
        "F03": (s["intl_roaming_today"] >= 1) & (s["intl_roaming_prior"] == 0),
        "F04": (s["bill_query_today"] >= 1) & (s["bill_query_prior"] == 0),
        "F05": (s["overage_today"] >= 1) & (s["overage_prior"] == 0),
        "F06": (s["handset_5g"] == True)  # noqa: E712
        & handset_today
        & ((s["plan_5g"] == False) | s["plan_5g"].isna()),  # noqa: E712
        "F07": pd.to_datetime(s["join_date"]).between(d - pd.Timedelta(days=30), d)
        | ((s["bill_total_m1"] >= 120) & (s["bill_total_m2"] < 120)),
        "S01": anniversary(s["birth_date"], day, 0, 1),
        "S02": pd.Series(holiday, index=s.index),
        "S03": anniversary(s["join_date"], day, 0, 1),
    }
    out = pd.DataFrame({code: flag.fillna(False).astype(bool) for code, flag in flags.items()})
    in_scope = {"N02": mid_high}
    for code in out.columns:
        out[code] &= in_scope.get(code, scope).fillna(False).to_numpy()
    out.insert(0, "subscriber_id", s["subscriber_id"].to_numpy())
    return out


def detect(data_dir: Path, day: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(detections, suppressions): subscriber_id and moment_code, sorted."""
    subs = read(data_dir, "subscribers", SUBSCRIBER_COLUMNS)
    facts = [
        bill_facts(data_dir, day),
        call_circle_facts(data_dir, day),
        event_facts(data_dir, day),
        weekly_facts(data_dir, day),
    ]
    subs = subs.set_index("subscriber_id", drop=False)
    for table in facts:
        subs = subs.join(table, how="left")
    zero_default = [c for t in facts for c in t.columns if not c.startswith("competitor")]
    subs[zero_default] = subs[zero_default].fillna(0)
    flags = moment_flags(subs.reset_index(drop=True), day)
    guarded = flags["N01"] | flags["N02"]
    detections = _pairs(flags[~guarded], WORK_MOMENTS)
    suppressions = _pairs(flags, GUARDS)
    return detections, suppressions


def _pairs(flags: pd.DataFrame, codes) -> pd.DataFrame:
    long = flags.melt(id_vars="subscriber_id", value_vars=list(codes), var_name="moment_code")
    long = long[long["value"]][["subscriber_id", "moment_code"]]
    return long.sort_values(["subscriber_id", "moment_code"]).reset_index(drop=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--date", help="business date (default: the manifest's)")
    parser.add_argument("--out", type=Path, help="write detections/suppressions Parquet here")
    args = parser.parse_args(argv)
    manifest = json.loads((args.data_dir / "manifest.json").read_text())
    day = dt.date.fromisoformat(args.date or manifest["business_date"])
    started = time.perf_counter()
    detections, suppressions = detect(args.data_dir, day)
    seconds = time.perf_counter() - started
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        detections.to_parquet(args.out / "detections.parquet", index=False)
        suppressions.to_parquet(args.out / "suppressions.parquet", index=False)
    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "detections": len(detections),
                "suppressions": len(suppressions),
                "by_moment": detections["moment_code"].value_counts().sort_index().to_dict(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
