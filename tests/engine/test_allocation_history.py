"""The allocate step reads its history from earlier published runs (keycare.engine.history).

Day 1 on the synthetic delivery, then day 2 on the same delivery re-dated (manifest
business_date + 1). Between them the contact log records which of day 1's calls reached the
customer (every other one): only those customers are in the cool-down on day 2, unless an
urgent moment is among their candidates; candidates deferred on day 1 (A05 made call-only,
every manager's capacity 1) come back as carry-over with age 1; re-running day 2 publishes
the same content.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from keycare.engine import publish as pub
from keycare.engine.definitions import load_definitions
from keycare.engine.history import (
    contact_log_info,
    previous_contacts,
    previous_deferred,
    previous_indicators,
    write_contact_log,
)
from keycare.engine.indicators import Published
from keycare.engine.pipeline import run_daily
from keycare.synth.generator import generate
from runs.published import publish_run

DAY1 = date(2026, 11, 22)
DAY2 = DAY1 + timedelta(days=1)
CALL_ONLY = "A05"  # detected on the synthetic delivery, normally SMS on overflow


def _redated(source, target, day):
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest["business_date"] = day.isoformat()
    (target / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    return target


def _capacity_one(data_dir):
    managers = pq.read_table(data_dir / "managers.parquet")
    at = managers.schema.get_field_index("daily_capacity")
    ones = pa.array([1] * managers.num_rows, managers.schema.field("daily_capacity").type)
    pq.write_table(managers.set_column(at, "daily_capacity", ones), data_dir / "managers.parquet")


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    base = tmp_path_factory.mktemp("history")
    day1 = base / "day1"
    generate(day1, subscribers=3000, months=6, seed=1)
    _capacity_one(day1)
    day2 = _redated(day1, base / "day2", DAY2)
    defs = load_definitions()
    call_only = [replace(m, sms_allowed=False) if m.code == CALL_ONLY else m for m in defs.moments]
    defs = replace(defs, moments=call_only)
    runs, models = base / "runs", base / "models"

    def run(day, data):
        return run_daily(day, data, runs, models_dir=models, definitions=defs)

    first = run(DAY1, day1)
    called = sorted(
        {d["subscriber_id"] for d in _decisions(first) if d["decision"] in ("call", "sms")}
    )
    reached = called[::2]  # every other contact was made; the rest never connected
    log = pa.table(
        {
            "subscriber_id": reached,
            "contact_date": [DAY1] * len(reached),
            "channel": ["call"] * len(reached),
        }
    )
    write_contact_log(runs, log)
    second = run(DAY2, day2)
    second_decisions = pub.read_published(runs, DAY2).table("decisions").to_pylist()
    again = run(DAY2, day2)  # replaces the first day-2 version (same content)
    return first, (second, second_decisions), again, runs, set(reached)


def _decisions(summary):
    if isinstance(summary, tuple):  # (day-2 summary, its decisions read before the re-run)
        return summary[1]
    return pq.read_table(summary.path / "decisions.parquet").to_pylist()


def test_only_contacts_made_are_in_the_cool_down(history):
    first, second, _, runs, reached = history
    urgent = {m.code for m in load_definitions().moments if m.urgent}
    assert urgent == {"A01", "A05", "A16"}
    decided = {d["subscriber_id"] for d in _decisions(first) if d["decision"] in ("call", "sms")}
    today: dict[str, set] = {}
    moments: dict[str, set] = {}
    for d in _decisions(second):
        today.setdefault(d["subscriber_id"], set()).add(d["decision"])
        moments.setdefault(d["subscriber_id"], set()).add(d["moment_code"])
    made = {s for s in reached & set(today) if not moments[s] & urgent}
    assert made, "some reached customers are candidates again on day 2"
    assert all(today[sid] == {"capped"} for sid in made)
    not_made = (decided - reached) & set(today)
    assert not_made, "some decided-but-not-reached customers are candidates again"
    assert not any("capped" in today[sid] for sid in not_made)
    urgent_again = {s for s in reached & set(today) if moments[s] & urgent}
    assert urgent_again, "some reached customers have an urgent moment on day 2"
    assert not any("capped" in today[sid] for sid in urgent_again)
    contacts = previous_contacts(runs, DAY2, 7).to_pylist()
    assert {c["subscriber_id"] for c in contacts} == reached
    assert {c["last_contact_date"] for c in contacts} == {DAY1}
    history = second[0].record["allocation"]["history"]
    assert history["recent_contact"] >= len(made)
    assert history["contact_log"] == contact_log_info(runs)
    assert history["contact_log"]["rows"] == len(reached)
    assert first.record["allocation"]["history"]["contact_log"] is None


def test_contact_log_window_excludes_the_day_itself_and_old_contacts(tmp_path):
    log = pa.table(
        {
            "subscriber_id": ["S1", "S1", "S2", "S3", None],
            "contact_date": [
                DAY1 - timedelta(days=3),
                DAY1 - timedelta(days=1),
                DAY1,
                DAY1 - timedelta(days=8),
                DAY1 - timedelta(days=1),
            ],
            "channel": ["call", "sms", "call", "call", "sms"],
        }
    )
    write_contact_log(tmp_path, log)
    rows = previous_contacts(tmp_path, DAY1, 7).to_pylist()
    assert rows == [{"subscriber_id": "S1", "last_contact_date": DAY1 - timedelta(days=1)}]
    assert previous_contacts(tmp_path, DAY1, 0).num_rows == 0
    assert previous_contacts(tmp_path / "none", DAY1, 7).num_rows == 0


def test_deferred_yesterday_is_carried_over_with_age(history):
    first, second, _, runs, _reached = history
    deferred = {
        (d["subscriber_id"], d["moment_code"])
        for d in _decisions(first)
        if d["decision"] == "deferred"
    }
    assert deferred, "capacity 1 and a call-only moment defer some candidates on day 1"
    carry, source = previous_deferred(runs, DAY2)
    assert source == first.run_id
    assert {(r["subscriber_id"], r["moment_code"]) for r in carry.to_pylist()} == deferred
    assert {r["age"] for r in carry.to_pylist()} == {1}
    carried = {
        (d["subscriber_id"], d["moment_code"]): d
        for d in _decisions(second)
        if d["source"] == "carry_over"
    }
    assert set(carried) == deferred
    for row in carried.values():  # deferred again counts a second cycle
        assert row["age"] == (2 if row["decision"] == "deferred" else 1)
    assert second[0].record["allocation"]["history"]["carried_over"] == len(deferred)
    assert first.record["allocation"]["history"]["carried_over"] == 0


def test_history_ignores_same_and_later_dates(history):
    first, second, again, runs, _reached = history
    assert again.content_hash == second[0].content_hash
    assert again.run_id == second[0].run_id
    assert previous_contacts(runs, DAY1, 7).num_rows == 0
    assert previous_deferred(runs, DAY1)[0].num_rows == 0
    assert pub.read_published(runs, DAY2).run_id == again.run_id


def test_capped_candidates_carry_over_with_their_first_date(history):
    _first, second, _, runs, _reached = history
    waiting = {}
    for d in _decisions(second):
        if d["decision"] in ("capped", "deferred"):
            key = (d["subscriber_id"], d["moment_code"])
            waiting[key] = min(waiting.get(key, d["first_date"]), d["first_date"])
    assert any(d["decision"] == "capped" for d in _decisions(second))
    carry, _ = previous_deferred(runs, DAY2 + timedelta(days=1))
    rows = {(r["subscriber_id"], r["moment_code"]): r for r in carry.to_pylist()}
    assert {k: r["first_date"] for k, r in rows.items()} == waiting
    # Value comes with them from the day's allocation input (capped customers have no task).
    assert all(r["value"] is not None for r in rows.values())


def _months(table) -> set[str]:
    return {r["period"] for r in table.to_pylist() if r["grain"] == "month"}


def test_day_two_publishes_no_bill_month_day_one_published(history):
    """月报固化: day 1 (the first run) publishes every bill month of the delivery; day 2, on
    the same months, publishes none of them again, only its day; its re-run does the same."""
    first, second, again, runs, _reached = history
    one, two = first.record["indicators"], second[0].record["indicators"]
    day_one = _months(pq.read_table(first.path / "indicators.parquet"))
    assert len(day_one) >= 6
    assert one["previous_run"] is None
    assert one["bill_months"] == one["months"] == sorted(day_one)
    assert two["previous_run"] == first.run_id
    assert two["bill_months"] == [] and two["months"] == one["months"]
    rows = pub.read_published(runs, DAY2).table("indicators")
    assert rows.num_rows > 0 and _months(rows) == set()
    assert again.record["indicators"] == two
    assert previous_indicators(runs, DAY2 + timedelta(days=1)) == (
        Published(one["version"], frozenset(one["months"])),
        again.run_id,
    )


def _indicator_rows(*months):
    return [
        {"indicator": "revenue", "grain": "month", "period": m, "dimension": "city",
         "member": "C1", "city_id": "C1", "num": 1.0, "den": None}
        for m in months
    ]  # fmt: skip


def test_previous_indicators_reads_the_newest_earlier_run_with_indicators(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    assert previous_indicators(runs, DAY2) == (None, None)
    info = {
        "version": "v1",
        "rows": 1,
        "bill_months": ["2026-10"],
        "months": ["2026-09", "2026-10"],
    }
    publish_run(runs, "a", business_date="2026-11-20", run_id="R20",
                extra={"indicators": _indicator_rows("2026-10")}, record={"indicators": info})  # fmt: skip
    publish_run(runs, "b", business_date="2026-11-21", run_id="R21")  # detection only
    publish_run(runs, "c", business_date=DAY1.isoformat(), run_id="R22",
                extra={"indicators": []}, record={"indicators": {"version": "v9"}})  # fmt: skip
    # The runs of the date itself and later never count; a detection-only run is skipped.
    assert previous_indicators(runs, DAY1) == (Published("v1", frozenset(info["months"])), "R20")


def test_previous_indicators_of_an_older_or_a_broken_run(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    # Written before the rule (no months in run.json): it published every month in its file.
    publish_run(runs, "a", business_date="2026-11-20", run_id="R20",
                extra={"indicators": _indicator_rows("2026-09", "2026-10")},
                record={"indicators": {"version": "v1", "rows": 2}})  # fmt: skip
    assert previous_indicators(runs, DAY1) == (
        Published("v1", frozenset({"2026-09", "2026-10"})),
        "R20",
    )
    # Its output is gone: nothing is known to be published (every month is published again).
    (runs / "2026-11-20" / "indicators.parquet").unlink()
    assert previous_indicators(runs, DAY1) == (None, "R20")
