"""`keycare simulate` and `keycare effect --json` end to end on a small simulation."""

import io
import json

import pytest
from django.core.management import CommandError, call_command


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmd") / "sim"
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(
        "simulate", "--subscribers", "2000", "--days", "4", "--seed", "5", "--out", str(out),
        "--policy", "control=0.3,capacity=0.5", "--json", stdout=stdout, stderr=stderr,
    )  # fmt: skip
    return out, stdout.getvalue(), stderr.getvalue()


def test_simulate_reports_progress_per_day_and_totals(sim_dir):
    out, stdout, stderr = sim_dir
    lines = [line.split(":", 1)[1].strip() for line in stderr.splitlines()]
    assert [line.split(":")[0] for line in lines if line.startswith("day ")] == [
        f"day {d}/4" for d in range(1, 5)
    ]
    assert lines[0] == "生成起始数据 generating the starting delivery (2,000 subscribers)", lines
    assert lines[1].startswith("训练流失风险模型 training the churn-risk model"), lines
    assert any(line.startswith("风险模型 risk model ") for line in lines[:-4]), lines
    totals = json.loads(stdout.strip().splitlines()[-1])
    assert totals["subscribers"] == 2000
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["policy"]["control_share"] == 0.3
    assert manifest["policy"]["capacity_factor"] == 0.5
    assert manifest["risk_model"]["trained"] and manifest["risk_model"]["rows"] > 0
    for name in ("exposures", "outcomes", "contacts", "daily", "truth", "complaints"):
        assert (out / f"{name}.parquet").is_file()


def test_effect_json_is_the_last_line_with_per_moment_rows(sim_dir):
    out = sim_dir[0]
    stdout = io.StringIO()
    call_command("effect", "--sim", str(out), "--date", "2026-11-25", "--json", stdout=stdout)
    payload = json.loads(stdout.getvalue().strip().splitlines()[-1])
    assert payload["date"] == "2026-11-25" and payload["horizon"] == 30
    # Nothing has 30 days behind it after four days: no moment is evaluated yet.
    assert payload["moments"] == []


def test_effect_on_a_short_horizon_reports_moments(sim_dir, tmp_path):
    from keycare.engine.effect import evaluate

    report = evaluate(sim_dir[0], horizons=(1,))
    rows = report.moments(1)
    assert rows and set(rows[0]) == {"code", "treated", "control", "uplift", "ci_low", "ci_high"}


def test_bad_input_is_named(sim_dir, tmp_path):
    with pytest.raises(CommandError, match="--date: 'yesterday'"):
        call_command("effect", "--sim", str(sim_dir[0]), "--date", "yesterday")
    with pytest.raises(CommandError, match="exposures.parquet"):
        call_command("effect", "--sim", str(tmp_path))
    with pytest.raises(CommandError, match="unknown key 'speed'"):
        call_command("simulate", "--subscribers", "10", "--out", str(tmp_path / "x"),
                     "--policy", "speed=2")  # fmt: skip


def test_compare_two_policies_side_by_side(tmp_path):
    stdout = io.StringIO()
    call_command(
        "simulate", "--subscribers", "1500", "--days", "3", "--seed", "2", "--out", str(tmp_path),
        "--compare", "name=lean,control=0.1,capacity=0.5", "name=rich,control=0.05,capacity=2",
        "--json", stdout=stdout, stderr=io.StringIO(),
    )  # fmt: skip
    lines = stdout.getvalue().strip().splitlines()
    rows = json.loads(lines[-1])
    assert [r["policy"] for r in rows] == ["lean", "rich"]
    assert rows[0]["capacity_factor"] == 0.5 and rows[1]["control_share"] == 0.05
    # The richer policy has more capacity, so its managers call at least as much.
    assert rows[1]["calls"] >= rows[0]["calls"]
    assert all("churn_avoided_per_100_hours" in r for r in rows)
    assert "每百工时避免离网(真值)" in "\n".join(lines[:-1])
    assert (tmp_path / "lean" / "manifest.json").is_file()
    assert (tmp_path / "rich" / "manifest.json").is_file()
