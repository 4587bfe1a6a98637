"""Risk in the browser: the province administrator opens 高风险客户 from the menu, narrows it
to customers without a moment, exports it; on 风险模型 compares the champion with a
challenger and promotes it with a reason; the list also works on a phone."""

import json

from factories import make_risk_score
from keycare.core.models import AuditEvent
from keycare.engine.risk import registry
from keycare.runs.models import Run


def _models(directory):
    for version, auc, day in (("aaaa000011112222", 0.81, 1), ("bbbb000011112222", 0.83, 2)):
        (directory / version).mkdir(parents=True)
        meta = {
            "version": version,
            "trained_at": f"2026-11-0{day}T01:00:00+00:00",
            "sample": {"rows": 200000, "population_rows": 5_000_000},
            "metrics": {
                "holdout": {
                    "as_of": "2026-10-01",
                    "auc": auc,
                    "lift_top_decile": 3.1,
                    "precision_at_capacity": 0.2,
                    "champion": {
                        "version": "aaaa000011112222",
                        "auc": 0.8,
                        "saw_test_month": False,
                    },
                }
            },
        }
        (directory / version / "metadata.json").write_text(json.dumps(meta))
    registry.promote(directory, "aaaa000011112222", by="rule", reason="first")


def test_high_risk_list_and_model_promotion(
    page, phone, login, menu, shot, staff, managers, make_customer, settings, tmp_path
):
    settings.KEYCARE_RUNS_DIR = tmp_path / "runs"
    _models(tmp_path / "models")
    make_risk_score(make_customer("S1", managers[0]), 0.72, has_moment=True)
    make_risk_score(make_customer("S2", managers[1]), 0.55)
    low = make_risk_score(make_customer("S3", managers[1]), 0.05)
    Run.objects.filter(pk=low.run_id).update(record={"risk_model": {"reasons_above": 0.1}})

    login(page, "provadmin")
    menu(page, "高风险客户")
    page.get_by_role("link", name="高风险客户").click()
    page.wait_for_url("**/risk/high/")
    rows = page.locator("#high-risk tbody tr")
    assert rows.count() == 2 and "72.0%" in rows.first.inner_text()
    assert "不低于 10.0% 的客户计算" in page.locator("#reasons-floor").inner_text()
    shot(page, "risk_01_high_risk_list")
    page.select_option("#risk-filters select[name=moment]", "without")
    page.click("#risk-filters button[type=submit]:not([name])")
    page.wait_for_url("**moment=without**")
    assert page.locator("#high-risk tbody tr").count() == 1
    assert "S2" in page.locator("#high-risk tbody").inner_text()
    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")
    assert AuditEvent.objects.filter(action="export", detail__rows=1).exists()

    menu(page, "风险模型")
    page.get_by_role("link", name="风险模型").click()
    page.wait_for_url("**/risk/models/")
    assert "aaaa000011112222" in page.locator("#champion").inner_text()
    shot(page, "risk_02_models_champion_challenger")
    form = page.locator("#models form").first
    form.locator("input[name=reason]").fill("留出月 AUC 更高")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/risk/models/")
    assert "已启用风险模型 bbbb000011112222" in page.locator("ul.messages").inner_text()
    assert registry.promoted_version(tmp_path / "models") == "bbbb000011112222"
    shot(page, "risk_03_promoted")

    login(phone, "provadmin")
    phone.goto("/risk/high/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"the page scrolls sideways at 390 px ({width})"
    shot(phone, "risk_04_high_risk_phone")
