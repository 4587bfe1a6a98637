"""高风险客户 and 风险模型 pages: scope, masking, filters, export, audited promotion; the run
page's risk card with the drift alert."""

import io
import json
import re

import pytest
from openpyxl import load_workbook

from factories import DAY, make_place, make_risk_score
from factories import make_customer as build
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.engine.risk import registry
from keycare.runs.models import Run

pytestmark = pytest.mark.django_db
FULL_MOBILE = re.compile(rb"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture
def scores(org, managers, make_customer):
    m1, m2 = managers
    other_city = make_place("3202", "无锡市", county=("320202", "崇安区"), grid=("G9", "九网格"))
    rows = {
        "S1": make_risk_score(make_customer("S1", m1, msisdn="13812345671"), 0.72, has_moment=True),
        "S2": make_risk_score(make_customer("S2", m2, msisdn="13812345672"), 0.45),
        "S3": make_risk_score(make_customer("S3", m1), 0.05),
        "S4": make_risk_score(build(other_city, "S4", None, msisdn="13812345674"), 0.9),
    }
    return rows


def _ids(response) -> list[str]:
    return re.findall(r">(S\d)</a>", response.content.decode())


def test_province_admin_sees_every_city_above_the_threshold_masked(client, login_as, scores):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.get("/risk/high/")
    assert response.status_code == 200
    assert _ids(response) == ["S4", "S1", "S2"]  # highest risk first, S3 below 30%
    assert not FULL_MOBILE.search(response.content)
    assert "72.0%" in response.content.decode() and "异网通话占比上升" in response.content.decode()
    event = AuditEvent.objects.filter(action="search", object_type="runs.riskscore").get()
    assert event.detail["rows"] == 3


def test_filters_moment_city_and_threshold(client, login_as, scores):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    assert _ids(client.get("/risk/high/?moment=without")) == ["S4", "S2"]
    assert _ids(client.get("/risk/high/?moment=with")) == ["S1"]
    assert _ids(client.get("/risk/high/?city=3201")) == ["S1", "S2"]
    assert _ids(client.get("/risk/high/?min_risk=1")) == ["S4", "S1", "S2", "S3"]
    bad = client.get("/risk/high/?min_risk=abc&moment=with")
    assert bad.status_code == 200 and "0 到 100" in bad.content.decode()
    assert _ids(bad) == ["S1"]  # the other filter is kept, the default threshold used


def test_the_page_says_from_which_risk_the_run_gave_reasons(client, login_as, scores):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    assert 'id="reasons-floor"' not in client.get("/risk/high/").content.decode()
    Run.objects.filter(run_id=scores["S1"].run.run_id).update(
        record={"risk_model": {"reasons_above": 0.1, "explained": 3}}
    )
    page = client.get("/risk/high/?min_risk=1").content.decode()
    assert "风险原因只为离网风险不低于 10.0% 的客户计算" in page


def test_scope_manager_sees_own_customers_and_auditor_is_refused(
    client, login_as, scores, managers
):
    login_as(roles.ROLE_MANAGER, manager=managers[0])
    assert _ids(client.get("/risk/high/")) == ["S1"]
    client.logout()
    login_as(roles.ROLE_AUDITOR)
    assert client.get("/risk/high/").status_code == 403


def test_export_is_masked_filtered_and_audited(client, login_as, scores):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.get("/risk/high/?moment=without&export=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ["S4", "S2"]
    assert not any(FULL_MOBILE.search(str(c).encode()) for r in rows for c in r if c)
    assert AuditEvent.objects.filter(action="export", detail__rows=2).exists()


@pytest.fixture
def models(tmp_path, settings):
    settings.KEYCARE_RUNS_DIR = tmp_path / "runs"
    directory = tmp_path / "models"
    for version, auc in (("aaaa000011112222", 0.81), ("bbbb000011112222", 0.83)):
        (directory / version).mkdir(parents=True)
        meta = {
            "version": version,
            "trained_at": f"2026-11-0{1 if auc < 0.82 else 2}",
            "metrics": {
                "holdout": {
                    "as_of": "2026-10-01",
                    "auc": auc,
                    "lift_top_decile": 3.1,
                    "precision_at_capacity": 0.2,
                }
            },
        }
        if auc > 0.82:  # the newer model chose its configuration by inner CV
            meta["selection"] = {
                "selected": "medium",
                "inner_auc": {"shallow": 0.8, "medium": 0.8123},
            }
        (directory / version / "metadata.json").write_text(json.dumps(meta))
    registry.promote(directory, "aaaa000011112222", by="rule", reason="first")
    return directory


def test_models_page_shows_champion_and_challenger_and_promotes(client, login_as, models):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    page = client.get("/risk/models/").content.decode()
    assert "aaaa000011112222" in page and "bbbb000011112222" in page and "0.83" in page
    # Each version's configuration; a model from before the inner-CV choice was the default.
    assert "中等深度" in page and "浅层（默认）" in page and "medium" not in page
    refused = client.post("/risk/models/promote/", {"version": "bbbb000011112222", "reason": ""})
    assert refused.status_code == 302 and registry.promoted_version(models) == "aaaa000011112222"
    client.post("/risk/models/promote/", {"version": "bbbb000011112222", "reason": "AUC 更高"})
    assert registry.promoted_version(models) == "bbbb000011112222"
    event = AuditEvent.objects.get(action="risk.model.promote")
    assert event.object_id == "bbbb000011112222" and event.detail["reason"] == "AUC 更高"
    client.post("/risk/models/promote/", {"version": "../x", "reason": "bad"})
    assert registry.promoted_version(models) == "bbbb000011112222"


def test_only_province_admin_promotes(client, login_as, models):
    login_as(roles.ROLE_ANALYST)
    assert client.get("/risk/models/").status_code == 200
    response = client.post("/risk/models/promote/", {"version": "bbbb000011112222", "reason": "x"})
    assert response.status_code == 403
    assert registry.promoted_version(models) == "aaaa000011112222"
    client.logout()
    login_as(roles.ROLE_CITY_ADMIN)
    assert client.get("/risk/models/").status_code == 403


def test_run_page_shows_the_drift_alert(client, login_as):
    drift = {
        "score_psi": 0.02,
        "inputs": {"bill_total_m1": 0.4, "age": 0.01},
        "alert": True,
        "alerts": ["bill_total_m1"],
        "threshold": 0.25,
    }
    run = Run.objects.create(
        run_id="20261122-x",
        business_date=DAY,
        record={
            "risk_model": {
                "source": "promoted",
                "version": "abc",
                "scored": 99,
                "drift": drift,
                "baseline": {"since": "2026-11-01"},
            }
        },
    )
    login_as(roles.ROLE_PROVINCE_ADMIN)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'id="drift-alert"' in page and "2026-11-01" in page
    none = Run.objects.create(
        run_id="20261122-y",
        business_date=DAY,
        record={"risk_model": {"source": "none", "reason": "没有已提升的风险模型，今日不评分"}},
    )
    assert "没有已提升的风险模型" in client.get(f"/runs/{none.pk}/").content.decode()
