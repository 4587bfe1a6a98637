"""The application's decisions and outcomes as an effect source, and `keycare effect` on it."""

import io
import json
from datetime import UTC, date, datetime

import pytest
from django.core.management import call_command

from factories import make_task, numbered_customer
from keycare.customers.models import CustomerHistory
from keycare.effects.export import export_source
from keycare.engine.effect import evaluate
from keycare.runs.models import Run
from keycare.tasks.models import AllocationDecision, Outcome

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 1)


@pytest.fixture
def decided(org, manager, moments):
    """Eight customers decided for A03 on DAY: four called (S001 reached), four held out;
    S002 (treated) and S005, S006 (control) churned on Nov 10; S003 downgraded."""
    run = Run.objects.create(run_id="run-1101", business_date=DAY)
    customers = [numbered_customer(org, n, manager) for n in range(1, 9)]
    for i, customer in enumerate(customers):
        decision = "call" if i < 4 else "control"
        AllocationDecision.objects.create(run=run, customer=customer, moment=moments["A03"],
                                          manager=manager, business_date=DAY, decision=decision)  # fmt: skip
        # A later decision of the same moment is not a new exposure.
        AllocationDecision.objects.create(run=run, customer=customer, moment=moments["A03"],
                                          manager=manager, business_date=date(2026, 11, 5),
                                          decision="capped")  # fmt: skip
        if i in (1, 4, 5):
            customer.status, customer.status_date = "churned", date(2026, 11, 10)
            customer.save()
    task = make_task(customers[0], DAY, manager=manager)
    Outcome.objects.create(task=task, contact_result="reached", recommendation="accepted")
    change = CustomerHistory.objects.create(
        customer=customers[2], changes={"plan_fee": ["188.00", "88.00"]}
    )
    CustomerHistory.objects.filter(pk=change.pk).update(at=datetime(2026, 11, 8, 9, tzinfo=UTC))
    return customers


def test_export_then_evaluate(decided, tmp_path):
    source = export_source(tmp_path / "app")
    report = evaluate(source, date(2026, 12, 31), horizons=(30,), qini=False)
    (row,) = report.moments(30)
    assert (row["code"], row["treated"], row["control"]) == ("A03", 4, 4)
    assert row["uplift"] == pytest.approx(1 / 4 - 2 / 4)
    assert report.rates[("moment", "A03")]["contact_rate"] == pytest.approx(0.25)
    assert report.rates[("moment", "A03")]["accept_rate"] == 1.0
    downgrade = next(r for r in report.rows
                     if (r.dimension, r.metric) == ("moment", "downgrade"))  # fmt: skip
    assert downgrade.treated_mean == pytest.approx(0.25)


def test_effect_command_reads_the_application(decided, settings, tmp_path):
    settings.KEYCARE_DATA_DIR = str(tmp_path)
    stdout = io.StringIO()
    call_command("effect", "--date", "2026-12-31", "--json", stdout=stdout)
    payload = json.loads(stdout.getvalue().strip().splitlines()[-1])
    assert payload["moments"][0]["code"] == "A03"
    assert (tmp_path / "effects" / "app-2026-12-31" / "exposures.parquet").is_file()
