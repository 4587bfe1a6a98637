"""An administrator opens 派送设置 from the navigation, changes the cool-down and the control
share, previews them against capacity on the latest published day, saves, and finds the
version in the history -- in Chromium, against the live server."""

from datetime import date

import pyarrow.parquet as pq
import pytest

from factories import make_city, make_manager
from keycare.engine.pipeline import run_daily
from keycare.synth.generator import generate
from keycare.tasks.models import AllocationSettingsVersion

DAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def published_day(tmp_path_factory):
    base = tmp_path_factory.mktemp("alloc-browser")
    generate(base / "data", subscribers=400, months=6, seed=3, as_of=DAY)
    run_daily(DAY, base / "data", base / "runs", models_dir=base / "models")
    return base


def _delivery_managers(published_day, org):
    cities = {org["city"].code: org["city"]}
    for row in pq.read_table(published_day / "data" / "managers.parquet").to_pylist():
        city = cities.get(row["city_id"]) or make_city(row["city_id"], f"城市{row['city_id']}")
        cities[row["city_id"]] = city
        make_manager(city, row["manager_id"], daily_capacity=3)


def test_admin_previews_and_saves_allocation_settings(
    page, page_log, login, menu, shot, staff, settings, published_day, org
):
    settings.KEYCARE_RUNS_DIR = published_day / "runs"
    _delivery_managers(published_day, org)
    login(page, "provadmin")
    page.goto("/")
    menu(page, "派送设置")
    page.get_by_role("link", name="派送设置").first.click()
    page.wait_for_url("**/allocation/settings/")
    assert page.locator("#live-version").inner_text() == "默认"
    assert page.locator("#id_contact_cap_days").input_value() == "7"
    page.fill("#id_contact_cap_days", "3")
    page.fill("#id_control_share", "0")
    page.fill("#id_control_rotation_days", "7")

    page.click("#preview-button")
    page.wait_for_selector("#preview-capacity", timeout=60_000)
    assert "2026-11-22" in page.locator("#preview-result").inner_text()
    control = page.locator("#preview-decisions tr[data-decision='control']")
    assert int(control.locator("td.live").inner_text()) > 0
    assert int(control.locator("td.proposed").inner_text()) == 0
    assert page.locator("#preview-capacity tbody tr").count() >= 1
    assert not AllocationSettingsVersion.objects.exists(), "preview saves nothing"
    shot(page, "allocation_settings_01_preview")

    page.fill("input[name=note]", "冷却期缩短为 3 天")
    with page.expect_navigation():
        page.click("#save-button")
    assert "派送设置已保存为版本 1" in page.locator("ul.messages").inner_text()
    assert page.locator("#id_contact_cap_days").input_value() == "3"

    page.get_by_role("link", name="版本历史").first.click()
    page.wait_for_url("**/allocation/settings/versions/")
    text = page.locator("#versions tbody tr[data-version='1']").inner_text()
    assert "provadmin" in text and "接触冷却期" in text and "冷却期缩短为 3 天" in text
    shot(page, "allocation_settings_02_versions")
    assert not page_log["http"], page_log["http"]
