"""The demo step: a small simulation, evaluated and loaded, so 效果评估 has results."""

import pytest

from factories import make_org, make_user
from keycare.access import roles
from keycare.effects import demo
from keycare.effects.models import EffectReport, EffectRow

pytestmark = pytest.mark.django_db


def test_demo_step_fills_the_effect_page(settings, tmp_path, client):
    settings.KEYCARE_DATA_DIR = str(tmp_path)
    make_org()
    (step,) = demo.DEMO_STEPS
    assert step.phase == "after_loadrun"
    step.run(None)
    report = EffectReport.objects.get()
    assert report.horizons == [3, 7]
    measured = EffectRow.objects.filter(
        report=report, dimension="moment", city=None, metric="churn", ci_low__isnull=False
    )
    assert measured.count() >= 3
    client.force_login(make_user("prov", roles.ROLE_PROVINCE_ADMIN))
    response = client.get("/effects/")
    assert response.status_code == 200
    assert len(response.context["rows"]) >= 3
    # The loop trained a risk model, so the runs scored risk and the ranking is judged.
    assert set(report.qini["*"]) >= {"qini_auc", "uplift_at_30"}
    assert "按风险排序的 Qini 系数" in response.content.decode()
