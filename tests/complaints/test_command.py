"""keycare complaints classify / evaluate: the CSV in, the JSON last line out."""

import io
import json

import pytest
from django.core.management import CommandError, call_command


def _run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("complaints", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_classify_json_last_line_has_one_reading_per_row(home, tmp_path):
    path = tmp_path / "texts.csv"
    path.write_text(
        'id,text\n1,家里宽带从昨天开始断网，光猫红灯\n2,"去日本玩了三天,回来扣了五百多漫游费"\n',
        encoding="utf-8",
    )
    out, _ = _run("classify", str(path), "--json")
    rows = json.loads(out.strip().splitlines()[-1])
    assert [r["cause"] for r in rows] == ["broadband_fault", "roaming_charge"]
    assert all(set(r) >= {"cause", "need", "confidence"} for r in rows)


def test_classify_names_the_missing_column(home, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("content\n宽带坏了\n", encoding="utf-8")
    with pytest.raises(CommandError, match="missing column.*text"):
        _run("classify", str(path), "--json")


def test_classify_without_a_model_says_what_to_run(tmp_path, settings):
    settings.KEYCARE_HOME = tmp_path
    path = tmp_path / "t.csv"
    path.write_text("text\n宽带坏了\n", encoding="utf-8")
    with pytest.raises(CommandError, match="keycare complaints train"):
        _run("classify", str(path))


def test_evaluate_reports_both_sets(home):
    out, err = _run("evaluate")
    result = json.loads(out.strip().splitlines()[-1])
    assert result["synthetic_holdout"]["cause_macro_f1"] >= 0.9
    assert result["handwritten"]["rows"] >= 200
    assert "handwritten" in err
