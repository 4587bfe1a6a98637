"""An administrator changes a per-city threshold, previews it on the latest data, saves it and
finds the new version in the history -- in Chromium, against the live server.

The preview reads the latest published run: a small synthetic delivery is generated and run
through the daily pipeline (detection only) once per module, and KEYCARE_RUNS_DIR points at it.
"""

from datetime import date

import pytest

from keycare.engine.pipeline import run_daily
from keycare.moments import actions
from keycare.moments.models import CityThreshold, MomentDefinition, RuleVersion
from keycare.synth.generator import generate

DAY = date(2026, 11, 22)
CODE = "A04"  # low balance (daily): threshold min_balance, default 20 元
FIELD = "c__3201__min_balance"  # 南京市, the org fixture's city (the synthetic data's too)


@pytest.fixture(scope="module")
def published_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("rules-browser")
    generate(base / "data", subscribers=400, months=3, seed=3)
    run_daily(DAY, base / "data", base / "runs")
    return base / "runs"


def _preview_cell(page, city: str, column: str) -> int:
    row = page.locator("#preview-table tbody tr", has_text=city)
    return int(row.locator(f"td.{column}").inner_text())


def test_admin_changes_a_city_threshold_previews_saves_and_finds_the_version(
    page, page_log, login, shot, staff, settings, published_runs
):
    settings.KEYCARE_RUNS_DIR = published_runs
    actions.sync_builtin_definitions(actor=None)

    login(page, "provadmin")
    page.goto("/rules/")
    assert page.locator("table tbody tr").count() == 37  # 29 customer + 8 group moments
    shot(page, "admin_rules_01_list")

    page.get_by_role("link", name=CODE).click()
    page.wait_for_url(f"**/rules/{CODE}/")
    assert page.locator(f"input[name={FIELD}]").input_value() == "", "no override yet"
    page.fill(f"input[name={FIELD}]", "200")

    # Preview: the unsaved change on the latest data, per city, against capacity.
    page.click("#preview-button")
    page.wait_for_selector("#preview-table", timeout=60_000)
    assert "2026-11-22" in page.locator("#preview-result").inner_text()
    current = _preview_cell(page, "南京市", "current")
    changed = _preview_cell(page, "南京市", "changed")
    assert changed > current, "a 200 元 balance threshold catches more customers than 20 元"
    nanjing = page.locator("#preview-table tbody tr", has_text="南京市").inner_text()
    assert "80" in nanjing, "capacity: two managers x 40 a day"
    assert MomentDefinition.objects.get(code=CODE).current_version == 1, "preview saves nothing"
    shot(page, "admin_rules_02_preview")

    page.fill("input[name=note]", "南京余额提醒提前")
    with page.expect_navigation():
        page.click("#save-button")
    assert "已保存为版本 2" in page.locator("ul.messages").inner_text()
    assert page.locator(f"input[name={FIELD}]").input_value() == "200"
    assert CityThreshold.objects.get(moment__code=CODE, city__code="3201").value == 200

    page.get_by_role("link", name="版本历史").first.click()
    page.wait_for_url(f"**/rules/{CODE}/versions/")
    newest = page.locator("#versions tbody tr[data-version='2']")
    text = newest.inner_text()
    assert "provadmin" in text and "南京市（3201）阈值 余额阈值" in text and "200" in text
    assert "南京余额提醒提前" in text
    assert RuleVersion.objects.get(moment__code=CODE, number=2).changes == {
        "city.3201.min_balance": [None, 200]
    }
    shot(page, "admin_rules_03_versions")
    assert not page_log["http"], page_log["http"]
