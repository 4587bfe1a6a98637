"""The daily run: steps, run record, determinism, the quarantine limit and `keycare run`."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
from builders import write_delivery
from django.core.management import CommandError, call_command
from standin import standin_steps

from keycare.engine import pipeline
from keycare.engine import publish as pub
from keycare.engine.definitions import load_definitions
from keycare.engine.pipeline import Step, allocation_steps, index_of, run_daily
from keycare.errors import UserError

DAY = date(2026, 11, 23)  # a Monday
SUBSCRIBERS = [
    {},
    {"dnd": True},  # N01: suppressed
    {"balance": 3.0},  # prepaid, low balance: A04
    {"plan_fee": 12000.0},  # out of range: quarantined
]


@pytest.fixture
def delivery(tmp_path):
    return write_delivery(tmp_path / "in", {"subscribers": SUBSCRIBERS})


def _versions(runs):
    return sorted(p.name for p in runs.iterdir() if p.name.startswith(DAY.isoformat() + "."))


def test_run_publishes_detections_suppressions_quarantine_and_record(
    backend_name, delivery, tmp_path
):
    runs = tmp_path / "runs"
    summary = run_daily(DAY, delivery, runs, engine=backend_name, quarantine_limit=0.5)
    run = pub.read_published(runs, DAY)
    assert run.path == summary.path and run.run_id == summary.run_id
    assert summary.run_id.startswith("20261123-")

    detections = run.table("detections").to_pylist()
    assert [(d["subscriber_id"], d["moment_code"]) for d in detections] == [("S000003", "A04")]
    assert "3.00" in detections[0]["explanation"]
    suppressions = run.table("suppressions").to_pylist()
    assert [(s["subscriber_id"], s["moment_code"]) for s in suppressions] == [("S000002", "N01")]
    quarantine = run.table("quarantine").to_pylist()
    assert [(q["file"], q["row_number"], q["rule"]) for q in quarantine] == [
        ("subscribers.parquet", 4, "range")
    ]

    record = run.record
    subs = record["inputs"]["subscribers"]
    assert (subs["rows_in"], subs["accepted"], subs["quarantined"]) == (4, 3, 1)
    assert subs["sha256"] == pub.sha256_file(delivery / "subscribers.parquet")
    assert all(f["rows_in"] == f["accepted"] + f["quarantined"] for f in record["inputs"].values())
    assert [s["name"] for s in record["steps"]] == ["ingest", "view", "detect", "groups", "write"]
    assert all(s["seconds"] >= 0 for s in record["steps"])
    assert record["definitions_version"] == load_definitions().version
    assert record["counts"]["A04"] == 1 and record["suppressed"] == 1
    assert record["quarantined"] == 1
    assert "N01" in record["moments"] and "A08" in record["moments"]  # weekly, due on Monday
    assert record["content_hash"] == pub.content_hash(run.path)[0]
    counts = dict(zip(*run.table("moment_counts").to_pydict().values(), strict=True))
    assert counts["A04"] == 1 and counts["N01"] == 1 and counts["A01"] == 0


def test_rerun_is_identical_and_replaces_the_previous_version(delivery, tmp_path):
    runs = tmp_path / "runs"
    first = run_daily(DAY, delivery, runs, quarantine_limit=0.5)
    second = run_daily(DAY, delivery, runs, quarantine_limit=0.5)
    assert second.run_id == first.run_id
    assert second.content_hash == first.content_hash
    assert _versions(runs) == [second.path.name]
    assert not first.path.exists()


def test_changed_input_gets_a_new_run_id(delivery, tmp_path):
    runs = tmp_path / "runs"
    first = run_daily(DAY, delivery, runs, quarantine_limit=0.5, steps=standin_steps())
    write_delivery(delivery, {"subscribers": [*SUBSCRIBERS, {"plan_fee": 38.0}]})
    second = run_daily(DAY, delivery, runs, quarantine_limit=0.5, steps=standin_steps())
    assert second.run_id != first.run_id
    assert second.content_hash != first.content_hash
    assert pub.read_published(runs, DAY).run_id == second.run_id
    assert len(_versions(runs)) == 1


def test_quarantine_limit_fails_before_publishing_and_keeps_the_previous_run(delivery, tmp_path):
    runs = tmp_path / "runs"
    good = run_daily(DAY, delivery, runs, quarantine_limit=0.5, steps=standin_steps())
    with pytest.raises(UserError, match="subscribers.parquet 隔离率 25.00%"):
        run_daily(DAY, delivery, runs, steps=standin_steps())  # default limit 5%
    assert pub.read_published(runs, DAY).run_id == good.run_id
    assert _versions(runs) == [good.path.name]
    assert not list(runs.glob(".staging-*"))


def test_requested_moments_run_with_the_guards_and_unknown_codes_fail_first(delivery, tmp_path):
    runs = tmp_path / "runs"
    summary = run_daily(DAY, delivery, runs, moments=["A04"], quarantine_limit=0.5)
    assert summary.record["moments"] == ["A04", "N01", "N02"]
    assert summary.counts == {"A04": 1}
    with pytest.raises(UserError, match="Z99"):
        run_daily(DAY, delivery, tmp_path / "other", moments=["Z99"])
    assert pub.read_published(tmp_path / "other", DAY) is None


def test_weekly_and_monthly_cycles_follow_the_configured_days():
    defs = load_definitions()
    weekly = {m.code for m in defs.moments if m.cycle == "weekly" and m.enabled}
    monthly = {m.code for m in defs.moments if m.cycle == "monthly" and m.enabled}
    assert weekly and monthly

    def codes(day, **cycle):
        ctx = SimpleNamespace(
            definitions=defs,
            business_date=day,
            requested_moments=None,
            weekly_weekday=cycle.get("weekly_weekday", 0),
            monthly_day=cycle.get("monthly_day", 3),
        )
        return set(pipeline.select_moments(ctx))

    tuesday = date(2026, 11, 24)
    assert not weekly & codes(tuesday)
    assert weekly <= codes(tuesday, weekly_weekday=1)
    assert monthly <= codes(date(2026, 12, 3))
    assert not monthly & codes(date(2026, 12, 1))
    assert monthly <= codes(date(2026, 12, 1), monthly_day=1)


def test_steps_are_pluggable_timed_and_reported(delivery, tmp_path):
    seen = []

    def score_risk(ctx):
        ctx.backend.register_arrow("risk_scores", pa.table({"subscriber_id": ["S000001"]}))
        return 1

    steps = standin_steps()
    steps.insert(index_of(steps, "write"), Step("risk", score_risk))
    summary = run_daily(
        DAY,
        delivery,
        tmp_path / "runs",
        quarantine_limit=0.5,
        steps=steps,
        progress=lambda step, event, info: seen.append((step, event)),
    )
    names = [s["name"] for s in summary.record["steps"]]
    assert names == ["ingest", "standin_detect", "risk", "write"]
    assert summary.record["steps"][2]["rows"] == 1
    assert [e for e in seen if e[1] != "file"] == [
        (name, event) for name in names for event in ("start", "done")
    ]
    assert ("ingest", "file") in seen


def test_the_run_bounds_duckdb_memory_and_spills_inside_its_own_scratch(delivery, tmp_path):
    seen = {}

    def probe(ctx):
        setting = ctx.backend.scalar
        seen["limit"] = setting("SELECT current_setting('memory_limit')")
        seen["spill"] = Path(setting("SELECT current_setting('temp_directory')"))
        seen["scratch"] = ctx.staging.work
        return 0

    steps = standin_steps()
    steps.insert(index_of(steps, "write"), Step("probe", probe))
    run_daily(DAY, delivery, tmp_path / "runs", quarantine_limit=0.5, steps=steps)
    assert seen["limit"] == "4.6 GiB"  # RUN_MEMORY_LIMIT, 5GB, as DuckDB shows it
    assert seen["spill"].parent == seen["scratch"]  # never published, removed with the run
    assert not seen["scratch"].exists()


def test_the_terminal_summary_says_how_many_scores_have_reasons():
    from keycare.runs.management.commands.run import _human_summary

    record = {
        "decisions": {"call": 2},
        "model_version": "abc",
        "risk_model": {"source": "promoted", "scored": 100, "reasons_above": 0.1, "explained": 3},
    }
    summary = SimpleNamespace(
        run_id="r",
        business_date=DAY,
        counts={},
        suppressed=0,
        quarantined=0,
        path="p",
        record=record,
    )
    assert "风险评分 (risk scores): 100 位, 其中风险不低于 10.0% 的 3 位附原因" in _human_summary(
        summary
    )


def test_bad_arguments_are_user_errors(delivery, tmp_path):
    with pytest.raises(UserError, match="not found"):
        run_daily(DAY, tmp_path / "absent", tmp_path / "runs")
    with pytest.raises(UserError, match="quarantine limit"):
        run_daily(DAY, delivery, tmp_path / "runs", quarantine_limit=2)
    with pytest.raises(UserError, match="unknown engine"):
        run_daily(DAY, delivery, tmp_path / "runs", engine="oracle")


# --------------------------------------------------------------------------- keycare run


def _call(*args, **opts):
    out = io.StringIO()
    call_command("run", *args, stdout=out, stderr=io.StringIO(), **opts)
    return out.getvalue()


def _json_summary_of_a04_run(delivery, tmp_path) -> dict:
    """`keycare run --json` for A04 (and the N01 guard); its last line, parsed."""
    out = _call(
        date="2026-11-23",
        data=str(delivery),
        runs_dir=str(tmp_path / "runs"),
        quarantine_limit="50%",
        moments="a04,N01",
        json=True,
    )
    return json.loads(out.strip().splitlines()[-1])


def test_command_json_summary_is_the_last_line(db, delivery, tmp_path):
    summary = _json_summary_of_a04_run(delivery, tmp_path)
    assert summary["status"] == "published"
    assert summary["business_date"] == "2026-11-23"
    assert summary["counts"] == {"A04": 1}
    assert (summary["suppressed"], summary["quarantined"]) == (1, 1)
    assert set(summary["timings"]) == {s.name for s in allocation_steps()}  # keycare run: all
    assert pub.read_published(tmp_path / "runs", DAY).run_id == summary["run_id"]


def test_command_json_summary_counts_rows_per_file(db, delivery, tmp_path):
    summary = _json_summary_of_a04_run(delivery, tmp_path)
    files = summary["files"]
    record = pub.read_published(tmp_path / "runs", DAY).record["inputs"]
    assert set(files) == set(record) and "subscribers" in files
    for name, f in files.items():
        assert f == {k: record[name][k] for k in ("rows_in", "accepted", "quarantined")}
        assert f["rows_in"] == f["accepted"] + f["quarantined"], name
    assert files["subscribers"]["rows_in"] == len(SUBSCRIBERS)
    assert files["subscribers"]["quarantined"] == 1
    assert sum(f["quarantined"] for f in files.values()) == summary["quarantined"]


def test_command_runs_the_rules_as_configured_in_the_app(db, delivery, tmp_path):
    from keycare.moments.actions import sync_builtin_definitions, update_moment
    from keycare.moments.models import MomentDefinition

    sync_builtin_definitions()
    a04 = MomentDefinition.objects.get(code="A04")
    update_moment(None, a04, {"thresholds": {"min_balance": 0}}, note="test: nobody is below 0")
    summary = _json_summary_of_a04_run(delivery, tmp_path)
    assert summary["status"] == "published"
    assert summary["counts"].get("A04", 0) == 0  # the built-in YAML would fire it once


@pytest.mark.parametrize(
    "opts, message",
    [
        ({"date": "2026-02-30"}, "--date"),
        ({"data": "/nonexistent/keycare"}, "--data"),
        ({"engine": "oracle"}, "--engine"),
        ({"quarantine_limit": "lots"}, "--quarantine-limit"),
        ({"moments": "Z99"}, "Z99"),
        ({"monthly_day": "31"}, "--monthly-day"),
    ],
)
def test_command_rejects_bad_arguments_with_exit_code_2(db, delivery, tmp_path, opts, message):
    base = {"date": "2026-11-23", "data": str(delivery), "runs_dir": str(tmp_path / "runs")}
    with pytest.raises(CommandError, match=message) as err:
        _call(**{**base, **opts})
    assert err.value.returncode == 2
    assert "\n" not in str(err.value)
    assert pub.read_published(tmp_path / "runs", DAY) is None


def test_command_json_reports_failure_as_last_line(db, delivery, tmp_path):
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "run",
            date="2026-11-23",
            data=str(delivery),
            runs_dir=str(tmp_path / "runs"),
            json=True,
            stdout=out,
        )
    failure = json.loads(out.getvalue().strip().splitlines()[-1])
    assert failure["status"] == "failed" and "隔离率" in failure["error"]
