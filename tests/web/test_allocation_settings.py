"""派送设置 pages: roles, validation that loses nothing, versions with optimistic locking and
restore (audited), the preview against capacity on a real published day, and the run reading
the live version."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest
from django.urls import reverse

from factories import make_city, make_manager
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.tasks import allocation_settings as spec
from keycare.tasks.models import AllocationSettingsVersion

DAY = date(2026, 11, 22)


@pytest.fixture
def province_admin(db, login_as):
    return login_as(roles.ROLE_PROVINCE_ADMIN, username="province")


@pytest.fixture
def city_admin(login_as, org):
    user = login_as(roles.ROLE_CITY_ADMIN, username="nanjing")
    user.staffprofile.city = org["city"]
    user.staffprofile.save()
    return user


def _form(**overrides) -> dict:
    """The form as the page renders it with the live settings."""
    values = spec.live_values()
    live = spec.live_version()
    data = {f.name: spec.form_value(f, values[f.name]) for f in spec.FIELDS}
    data.update(version=str(live.number if live else 0), note="")
    data.update(overrides)
    return data


def test_page_shows_the_defaults_and_roles(client, db, login_as):
    login_as(roles.ROLE_MANAGER, username="m")
    assert client.get(reverse("web:allocation-settings")).status_code == 403
    login_as(roles.ROLE_PROVINCE_ADMIN, username="p")
    response = client.get(reverse("web:allocation-settings"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "接触冷却期" in body and 'name="contact_cap_days" value="7"' in body
    assert 'name="control_share" value="5"' in body  # a share is shown in %


def test_save_makes_a_new_live_version_audited(client, province_admin):
    response = client.post(
        reverse("web:allocation-settings"),
        _form(contact_cap_days="10", control_share="8", control_rotation_days="7", note="周轮换"),
    )
    assert response.status_code == 302
    version = AllocationSettingsVersion.objects.get()
    assert version.number == 1 and version.changed_by == province_admin
    assert version.changes == {
        "contact_cap_days": [7, 10],
        "control_share": [0.05, 0.08],
        "control_rotation_days": [0, 7],
    }
    config = spec.live_config()
    assert config.contact_cap_days == 10 and config.control_share == 0.08
    assert config.settings_version == 1
    assert spec.run_kwargs(DAY, None)["allocation_config"] == config
    event = AuditEvent.objects.get(action="allocation.settings.save")
    assert event.actor == province_admin and event.detail["number"] == 1
    # Saving the same values again changes nothing.
    assert client.post(reverse("web:allocation-settings"), _form()).status_code == 302
    assert AllocationSettingsVersion.objects.count() == 1


def test_bad_input_names_the_field_and_keeps_what_was_typed(client, province_admin):
    form = _form(w_risk="abc", carry_over_days="0", control_share="80")
    response = client.post(reverse("web:allocation-settings"), form)
    assert response.status_code == 400
    body = response.content.decode()
    assert "离网风险权重必须是数字" in body and "顺延有效期必须在 1 到 90 之间" in body
    assert "对照组比例必须在 0 到 50 之间" in body
    assert 'value="abc"' in body and 'value="80"' in body
    assert not AllocationSettingsVersion.objects.exists()
    zero = {w: "0" for w in spec.WEIGHTS}
    response = client.post(reverse("web:allocation-settings"), _form(**zero))
    assert "四个权重不能全为 0" in response.content.decode()


def test_a_stale_editor_is_refused(client, province_admin):
    client.post(reverse("web:allocation-settings"), _form(age_cap="6"))
    stale = _form(age_cap="8", version="0")
    response = client.post(reverse("web:allocation-settings"), stale)
    assert response.status_code == 400
    assert "已被他人修改为版本 1" in response.content.decode()
    assert spec.live_config().age_cap == 6


def test_versions_and_restore(client, province_admin):
    client.post(reverse("web:allocation-settings"), _form(contact_cap_days="14"))
    client.post(reverse("web:allocation-settings"), _form(contact_cap_days="3"))
    listing = client.get(reverse("web:allocation-settings-versions"))
    assert listing.status_code == 200
    assert [r["version"].number for r in listing.context["rows"]] == [2, 1]
    assert "接触冷却期" in listing.content.decode()
    detail = client.get(reverse("web:allocation-settings-version", args=[1]))
    assert detail.status_code == 200 and "恢复此版本" in detail.content.decode()
    response = client.post(reverse("web:allocation-settings-restore", args=[1]), {"version": "2"})
    assert response.status_code == 302
    live = spec.live_version()
    assert live.number == 3 and live.restored_from == 1
    assert live.values["contact_cap_days"] == 14
    assert AuditEvent.objects.filter(action="allocation.settings.restore").count() == 1
    assert client.get(reverse("web:allocation-settings-version", args=[99])).status_code == 404


def test_city_admin_reads_but_cannot_save_or_restore(client, city_admin):
    response = client.get(reverse("web:allocation-settings"))
    assert response.status_code == 200 and "save-button" not in response.content.decode()
    assert client.post(reverse("web:allocation-settings"), _form()).status_code == 403
    assert client.post(reverse("web:allocation-settings-restore", args=[1])).status_code == 403


@pytest.fixture(scope="module")
def published_day(tmp_path_factory):
    from keycare.engine.pipeline import run_daily
    from keycare.synth.generator import generate

    base = tmp_path_factory.mktemp("alloc-settings")
    generate(base / "data", subscribers=400, months=6, seed=3, as_of=DAY)
    run_daily(DAY, base / "data", base / "runs", models_dir=base / "models")
    return base


@pytest.fixture
def delivery_managers(published_day, org):
    """The delivery's managers in the organisation, with a capacity of 3 calls a day."""
    cities = {org["city"].code: org["city"]}
    rows = pq.read_table(published_day / "data" / "managers.parquet").to_pylist()
    for row in rows:
        city = cities.get(row["city_id"]) or make_city(row["city_id"], f"城市{row['city_id']}")
        cities[row["city_id"]] = city
        make_manager(city, row["manager_id"], daily_capacity=3, active=True)
    return rows


def test_preview_against_capacity_on_the_published_day(
    client, province_admin, settings, published_day, delivery_managers
):
    settings.KEYCARE_RUNS_DIR = published_day / "runs"
    form = _form(control_share="0", contact_cap_days="0")
    response = client.post(reverse("web:allocation-settings-preview"), form)
    assert response.status_code == 200
    context = response.context
    decisions = {d["code"]: d for d in context["decisions"]}
    total_live = sum(d["live"] for d in decisions.values())
    assert total_live == sum(d["proposed"] for d in decisions.values()) > 0
    assert decisions["control"]["live"] > 0 and decisions["control"]["proposed"] == 0
    rows = context["rows"]
    assert rows and all(r["call"] <= r["capacity"] for r in rows)
    assert sum(r["capacity"] for r in rows) == 3 * len(delivery_managers)
    # Tasks per city; decisions count candidate rows (a task merges the customer's moments).
    assert 0 < context["totals"]["call"] <= decisions["call"]["proposed"]
    assert "2026-11-22" in response.content.decode()
    assert not AllocationSettingsVersion.objects.exists()  # nothing saved
    assert AuditEvent.objects.filter(action="allocation.settings.preview").count() == 1


def test_preview_of_bad_input_lists_the_errors_and_without_data_says_so(
    client, province_admin, settings, tmp_path
):
    response = client.post(reverse("web:allocation-settings-preview"), _form(age_cap="x"))
    assert "等待封顶必须是整数" in response.content.decode()
    settings.KEYCARE_RUNS_DIR = tmp_path / "none"
    response = client.post(reverse("web:allocation-settings-preview"), _form())
    assert "暂无可用数据" in response.content.decode()
