"""Loading an evaluation into the application: rows per dimension, the city a row belongs
to, labels, the audit event."""

import json
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factories import make_manager, make_moment, make_org
from keycare.core.models import AuditEvent
from keycare.effects.actions import load_report
from keycare.effects.models import EffectRow

pytestmark = pytest.mark.django_db
D0 = date(2026, 11, 22)


def write_source(path):
    """Eight exposures of A03 in two cities; manager M001 (Nanjing) serves four of them."""
    path.mkdir()
    rows = []
    for i in range(8):
        rows.append(
            dict(subscriber_id=f"S{i}", moment_code="A03", exposure_date=D0,
                 arm="treated" if i % 2 else "control", decision="call" if i % 2 else "control",
                 manager_id="M001" if i < 4 else "M999", city_id="C025" if i < 4 else "C0512",
                 campaign="daily_moments", tactic="T01" if i % 2 else None,
                 contacted=bool(i % 2), recommended=bool(i % 2), accepted=None, risk=0.1 * i)
        )  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), path / "exposures.parquet")
    outcomes = pa.table(
        {
            "subscriber_id": [f"S{i}" for i in range(8)],
            "plan_fee": [100.0] * 8,
            "churn_date": pa.array(
                [D0 + timedelta(days=5) if i in (0, 2, 5) else None for i in range(8)], pa.date32()
            ),  # fmt: skip
            "downgrade_date": pa.array([None] * 8, pa.date32()),
            "downgrade_factor": [0.6] * 8,
        }
    )
    pq.write_table(outcomes, path / "outcomes.parquet")
    complaints = pa.table({"subscriber_id": pa.array([], pa.string()),
                           "complaint_date": pa.array([], pa.date32())})  # fmt: skip
    pq.write_table(complaints, path / "complaints.parquet")
    (path / "manifest.json").write_text(
        json.dumps({"totals": {"churn_avoided": 2}, "truth": [], "last_date": "2026-12-31"})
    )
    return path


def test_load_report_stores_rows_with_their_city_and_labels(tmp_path):
    places = make_org()
    make_manager(places["C025"], "M001", name="王经理")
    make_moment("A03")
    report = load_report(None, write_source(tmp_path / "sim"), horizons=(30,))
    assert report.source_kind == "simulation" and report.totals == {"churn_avoided": 2}
    province = EffectRow.objects.get(
        report=report, dimension="moment", key="A03", city=None, metric="churn"
    )
    assert (province.treated, province.control) == (4, 4)
    assert province.uplift == pytest.approx(1 / 4 - 2 / 4)
    assert province.label.startswith("A03 ")
    assert province.contact_rate == 1.0
    nanjing = EffectRow.objects.get(
        report=report, dimension="moment", city__code="C025", metric="churn"
    )
    assert (nanjing.treated, nanjing.control) == (2, 2)
    manager = EffectRow.objects.get(report=report, dimension="manager", key="M001", metric="churn")
    assert manager.city.code == "C025" and manager.label == "王经理"
    # A manager the application does not know keeps the province-wide scope (no city).
    assert (
        EffectRow.objects.get(report=report, dimension="manager", key="M999", metric="churn").city
        is None
    )
    assert (
        EffectRow.objects.get(
            report=report, dimension="city", key="C0512", metric="churn"
        ).city.code
        == "C0512"
    )
    event = AuditEvent.objects.get(action="effect.load")
    assert event.detail["rows"] == EffectRow.objects.filter(report=report).count()
