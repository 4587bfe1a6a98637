"""``keycare load`` and ``keycare run`` read a delivery through the same contract code.

One synthetic CSV delivery with an impossible date (2019-02-30) in one row and the
contract's short booleans (Y/N, 1/0, T/F, any case) everywhere: both commands accept and
quarantine exactly the same rows of the files the load reads.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from keycare.customers import loader
from keycare.customers.models import Customer, LoadBatch
from keycare.engine import publish as pub
from keycare.org.models import Manager
from keycare.synth.generator import generate

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 22)
SHORT = {"true": ["Y", "1", "T", "y", "t"], "false": ["N", "0", "F", "n", "f"]}


def _rewrite(path: Path, change) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    names = list(rows[0])
    for i, row in enumerate(rows):
        change(i, row)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def spoiled(tmp_path) -> tuple[Path, str]:
    """The delivery directory and the subscriber whose birth date is 2019-02-30."""
    out = tmp_path / "delivery"
    generate(out, subscribers=150, months=7, seed=3, as_of=DAY, fmt="csv")
    with (out / "key_account_members.csv").open(encoding="utf-8") as fh:
        members = {r["subscriber_id"] for r in csv.DictReader(fh)}
    with (out / "subscribers.csv").open(encoding="utf-8") as fh:
        bad = next(
            r["subscriber_id"]
            for r in csv.DictReader(fh)
            if r["value_tier"] == "mid_high" and r["subscriber_id"] not in members
        )

    def subscribers(i, row):
        row["dnd"] = SHORT[row["dnd"]][i % 5]
        if row["subscriber_id"] == bad:
            row["birth_date"] = "2019-02-30"

    def managers(i, row):
        row["active"] = SHORT["false" if i == 0 else row["active"]][i % 5]

    _rewrite(out / "subscribers.csv", subscribers)
    _rewrite(out / "managers.csv", managers)
    return out, bad


def test_load_and_run_accept_and_quarantine_the_same_rows(spoiled, tmp_path):
    data, bad = spoiled
    runs = tmp_path / "runs"
    out = StringIO()
    call_command(
        "run", date=DAY.isoformat(), data=str(data), runs_dir=str(runs), json=True, stdout=out
    )
    assert json.loads(out.getvalue().strip().splitlines()[-1])["status"] == "published"
    run = pub.read_published(runs, DAY)
    run_quarantine = run.table("quarantine").to_pylist()

    out = StringIO()
    call_command("load", str(data), stdout=out)
    load_report = LoadBatch.objects.get().counts["quarantine"]

    assert set(load_report) == {f"{name}.csv" for name in loader.READ_FILES}
    for name in loader.READ_FILES:
        ran, loaded = run.record["inputs"][name], load_report[f"{name}.csv"]
        assert (loaded["rows_in"], loaded["accepted"], loaded["quarantined"]) == (
            ran["rows_in"],
            ran["accepted"],
            ran["quarantined"],
        ), name
        assert loaded["by_rule"] == ran["quarantined_by_rule"], name
        quarantined_rows = [q["row_number"] for q in run_quarantine if q["file"] == f"{name}.csv"]
        assert loaded["row_numbers"] == sorted(quarantined_rows), name

    # The impossible date is the one row refused, by both, with the same rule.
    [refused] = [q for q in run_quarantine if q["file"] in {f"{n}.csv" for n in loader.FILES}]
    assert (refused["file"], refused["rule"]) == ("subscribers.csv", "type")
    assert "birth_date" in refused["reason"] and "2019-02-30" in refused["reason"]
    assert load_report["subscribers.csv"]["row_numbers"] == [refused["row_number"]]
    assert "subscribers.csv: 读入 150 行, 接受 149 行, 隔离 1 行" in out.getvalue()
    assert not Customer.objects.filter(subscriber_id=bad).exists()

    # The short booleans were read, and read right.
    with (data / "subscribers.csv").open(encoding="utf-8") as fh:
        delivered = {r["subscriber_id"]: r["dnd"] for r in csv.DictReader(fh)}
    archived = Customer.objects.values_list("subscriber_id", "attributes")
    assert archived.count() > 5
    for sid, attributes in archived:
        assert attributes["dnd"] is (delivered[sid] in SHORT["true"]), sid
    with (data / "managers.csv").open(encoding="utf-8") as fh:
        active = {r["manager_id"]: r["active"] in SHORT["true"] for r in csv.DictReader(fh)}
    assert dict(Manager.objects.values_list("manager_id", "active")) == active
    assert False in active.values() and True in active.values()
