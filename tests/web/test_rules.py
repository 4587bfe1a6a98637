"""关键时刻规则 pages: list, editor (roles, validation, optimistic locking), preview, versions."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from factories import make_city
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.moments import actions
from keycare.moments.models import CityThreshold, MomentDefinition, RuleVersion
from keycare.org.models import City, Manager
from keycare.web.rules import views

CODE = "A07"  # spend drop stacked with call-minute drop: thresholds spend_drop_pct, ...


@pytest.fixture
def synced(db):
    actions.sync_builtin_definitions(actor=None)
    return MomentDefinition.objects.get(code=CODE)


@pytest.fixture
def wuxi(org):
    return make_city("3202", "无锡市", org["city"].province)


@pytest.fixture
def province_admin(login_as):
    return login_as(roles.ROLE_PROVINCE_ADMIN, username="province")


@pytest.fixture
def city_admin(login_as, org):
    user = login_as(roles.ROLE_CITY_ADMIN, username="nanjing")
    user.staffprofile.city = org["city"]
    user.staffprofile.save()
    return user


def _form(moment, **overrides):
    """The editor's form as the page renders it for a province administrator."""
    data = {
        "version": str(moment.current_version),
        "enabled": "on" if moment.enabled else "",
        "sms_allowed": "on" if moment.sms_allowed else "",
        "priority": str(moment.priority),
        "channel": moment.channel,
        "script": moment.script,
        "sms_template": moment.sms_template,
        "note": "",
    }
    for name, value in moment.threshold_defaults().items():
        data[f"t__{name}"] = str(value)
    for city in City.objects.all():
        for name in moment.thresholds:
            data[f"c__{city.code}__{name}"] = ""
    data.update(overrides)
    return {k: v for k, v in data.items() if v != "" or k.startswith(("c__", "script", "sms"))}


# --- list ------------------------------------------------------------------------------


def test_list_shows_the_29_moments_with_version_and_last_change(client, synced, province_admin):
    response = client.get(reverse("web:rule-list"))
    assert response.status_code == 200
    page = response.context["page"]
    assert page.paginator.count == 37  # and the 8 group moments
    first = page.object_list[0]
    assert first.code == "A01" and first.current_version == 1 and first.changed_at is not None
    body = response.content.decode()
    assert "话费突然降低" in body and "v1" in body


def test_list_filters_by_category_enabled_and_search(client, synced, province_admin):
    MomentDefinition.objects.filter(code="S02").update(enabled=False)
    url = reverse("web:rule-list")
    assert client.get(url, {"category": "special"}).context["page"].paginator.count == 3
    assert client.get(url, {"category": "group"}).context["page"].paginator.count == 8
    disabled = client.get(url, {"enabled": "0"}).context["page"]
    assert [m.code for m in disabled] == ["S02"]
    assert [m.code for m in client.get(url, {"q": "余额"}).context["page"]] == ["A04"]
    assert client.get(url, {"q": "a03"}).context["page"][0].code == "A03"
    # Unknown filter values are ignored, not an error.
    assert client.get(url, {"category": "x", "enabled": "y"}).context["page"].paginator.count == 37


def test_list_query_count_does_not_grow_with_versions(client, synced, province_admin, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 10)
    url = reverse("web:rule-list")
    client.get(url)  # warm the session and user caches
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    for moment in MomentDefinition.objects.all()[:5]:
        actions.update_moment(province_admin, moment, {"priority": 11})
    with CaptureQueriesContext(connection) as after:
        response = client.get(url, {"page": 2})
    # session, user, profile, count, page (+ the session write): no query per row or version.
    assert len(after) == len(before) <= 8
    assert response.context["page"].number == 2 and len(response.context["page"]) == 10


@pytest.mark.parametrize("role", [roles.ROLE_MANAGER, roles.ROLE_AUDITOR, roles.ROLE_ANALYST])
def test_other_roles_are_refused_and_change_nothing(client, synced, login_as, role):
    login_as(role)
    for url in (
        reverse("web:rule-list"),
        reverse("web:rule-detail", args=[CODE]),
        reverse("web:rule-versions", args=[CODE]),
    ):
        assert client.get(url).status_code == 403
    response = client.post(reverse("web:rule-detail", args=[CODE]), _form(synced, priority="99"))
    assert response.status_code == 403
    assert client.post(reverse("web:rule-preview", args=[CODE]), _form(synced)).status_code == 403
    assert MomentDefinition.objects.get(code=CODE).current_version == 1


def test_anonymous_is_sent_to_login(client, synced):
    response = client.get(reverse("web:rule-list"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_unknown_moment_is_404(client, synced, province_admin):
    assert client.get(reverse("web:rule-detail", args=["Z99"])).status_code == 404


# --- edit ------------------------------------------------------------------------------


def test_province_admin_saves_global_and_city_thresholds_as_one_version(
    client, synced, province_admin, org
):
    form = _form(
        synced,
        priority="90",
        t__spend_drop_pct="35",
        **{"c__3201__spend_drop_pct": "40"},
        note="南京加严",
    )
    response = client.post(reverse("web:rule-detail", args=[CODE]), form)
    assert response.status_code == 302
    synced.refresh_from_db()
    assert synced.current_version == 2 and synced.priority == 90
    assert synced.threshold_defaults()["spend_drop_pct"] == 35
    assert CityThreshold.objects.get(city=org["city"]).value == 40
    version = RuleVersion.objects.get(moment=synced, number=2)
    assert version.changed_by == province_admin and version.note == "南京加严"
    assert version.changes["city.3201.spend_drop_pct"] == [None, 40]
    assert AuditEvent.objects.filter(action="moments.update", actor=province_admin).count() == 1
    page = client.get(response["Location"])
    assert "已保存为版本 2" in page.content.decode()


def test_saving_the_unchanged_form_makes_no_version(client, synced, province_admin, org):
    response = client.post(reverse("web:rule-detail", args=[CODE]), _form(synced))
    assert response.status_code == 302
    assert MomentDefinition.objects.get(code=CODE).current_version == 1


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("priority", "abc", "优先级应为 1 到 100 之间的整数"),
        ("priority", "0", "优先级应为 1 到 100 之间的整数"),
        ("t__spend_drop_pct", "很多", "之间的整数"),
        ("t__spend_drop_pct", "1000", "之间的整数"),
        ("c__3201__spend_drop_pct", "-5", "之间的整数"),
        ("channel", "fax", "请选择处理渠道"),
    ],
)
def test_invalid_input_is_shown_next_to_the_field_and_nothing_is_saved(
    client, synced, province_admin, org, field, value, message
):
    original = synced.priority
    form = _form(synced, **{"priority": "90", field: value})
    response = client.post(reverse("web:rule-detail", args=[CODE]), form)
    assert response.status_code == 400
    assert response.context["errors"][field].find(message.split(" ")[0]) >= 0
    body = response.content.decode()
    assert message in body and "未保存任何内容" in body
    assert f'value="{value}"' in body or field == "channel"  # the input is kept
    synced.refresh_from_db()
    assert synced.current_version == 1 and synced.priority == original
    assert not CityThreshold.objects.exists()
    assert not AuditEvent.objects.filter(action="moments.update").exists()


def test_a_template_with_an_unknown_placeholder_is_refused_by_the_engine(
    client, synced, province_admin, org
):
    form = _form(synced, script="您好 {no_such_field}")
    response = client.post(reverse("web:rule-detail", args=[CODE]), form)
    assert response.status_code == 400
    assert "no_such_field" in response.context["errors"]["script"]
    assert MomentDefinition.objects.get(code=CODE).current_version == 1


def test_city_admin_changes_only_their_own_city(client, synced, city_admin, org, wuxi):
    page = client.get(reverse("web:rule-detail", args=[CODE])).content.decode()
    assert 'name="c__3201__spend_drop_pct"' in page and "c__3202__" not in page
    form = _form(
        synced,
        priority="99",
        t__spend_drop_pct="50",
        **{"c__3201__spend_drop_pct": "45", "c__3202__spend_drop_pct": "60"},
    )
    response = client.post(reverse("web:rule-detail", args=[CODE]), form)
    assert response.status_code == 302
    synced.refresh_from_db()
    assert synced.current_version == 2
    # Global fields and the other city are not the city admin's to change: ignored.
    assert synced.priority != 99 and synced.threshold_defaults()["spend_drop_pct"] == 30
    assert {(r.city.code, r.value) for r in CityThreshold.objects.all()} == {("3201", 45)}
    # And they cannot restore a version (that would change global settings).
    restore = reverse("web:rule-restore", args=[CODE, 1])
    assert client.post(restore, {"version": "2"}).status_code == 403
    assert MomentDefinition.objects.get(code=CODE).current_version == 2


def test_city_admin_without_a_city_can_change_nothing(client, synced, login_as, org):
    login_as(roles.ROLE_CITY_ADMIN, username="nocity")
    form = _form(synced, **{"c__3201__spend_drop_pct": "45"})
    client.post(reverse("web:rule-detail", args=[CODE]), form)
    assert not CityThreshold.objects.exists()


def test_the_second_of_two_concurrent_saves_is_refused(client, synced, province_admin, org):
    loaded = _form(synced)  # both admins opened version 1
    other = MomentDefinition.objects.get(code=CODE)
    actions.update_moment(None, other, {"priority": 70}, expected_version=1)
    loaded["t__spend_drop_pct"] = "33"
    response = client.post(reverse("web:rule-detail", args=[CODE]), loaded)
    assert response.status_code == 400
    assert "已被他人修改" in response.content.decode()
    synced.refresh_from_db()
    assert synced.current_version == 2 and synced.threshold_defaults()["spend_drop_pct"] == 30


def test_a_post_without_the_loaded_version_is_refused(client, synced, province_admin, org):
    form = _form(synced, priority="90")
    del form["version"]
    assert client.post(reverse("web:rule-detail", args=[CODE]), form).status_code == 400
    assert MomentDefinition.objects.get(code=CODE).current_version == 1


# --- versions ----------------------------------------------------------------------------


def test_versions_list_who_when_and_what_and_restore_makes_a_new_version(
    client, synced, province_admin, org
):
    original = synced.priority
    client.post(reverse("web:rule-detail", args=[CODE]), _form(synced, priority="90"))
    response = client.get(reverse("web:rule-versions", args=[CODE]))
    body = response.content.decode()
    assert [r["version"].number for r in response.context["rows"]] == [2, 1]
    assert "province" in body and "优先级" in body and "90" in body
    labels = [c["label"] for c in response.context["rows"][0]["changes"]]
    assert labels == ["优先级"]
    detail = client.get(reverse("web:rule-version-detail", args=[CODE, 1]))
    assert detail.status_code == 200 and 'id="restore-button"' in detail.content.decode()
    assert "<dd>外呼</dd>" in detail.content.decode()
    restore = client.post(reverse("web:rule-restore", args=[CODE, 1]), {"version": "2"})
    assert restore.status_code == 302
    synced.refresh_from_db()
    assert synced.current_version == 3 and synced.priority == original
    version = RuleVersion.objects.get(moment=synced, number=3)
    assert version.changes["priority"] == [90, original] and version.changed_by == province_admin
    assert AuditEvent.objects.filter(action="moments.update", detail__version=3).exists()


def test_restore_from_a_stale_page_is_refused(client, synced, province_admin, org):
    actions.update_moment(province_admin, synced, {"priority": 90})
    actions.update_moment(province_admin, synced, {"priority": 91})
    response = client.post(reverse("web:rule-restore", args=[CODE, 1]), {"version": "2"})
    assert response.status_code == 302
    assert MomentDefinition.objects.get(code=CODE).current_version == 3


def test_unknown_version_is_404(client, synced, province_admin):
    assert client.get(reverse("web:rule-version-detail", args=[CODE, 9])).status_code == 404


# --- preview -----------------------------------------------------------------------------


def test_preview_without_published_data_says_so(client, synced, province_admin, settings, tmp_path):
    settings.KEYCARE_RUNS_DIR = tmp_path / "runs"
    response = client.post(reverse("web:rule-preview", args=[CODE]), _form(synced))
    assert response.status_code == 200
    assert "暂无可用数据" in response.content.decode()
    assert MomentDefinition.objects.get(code=CODE).current_version == 1


def test_a_group_moment_is_edited_per_city_and_not_replayed(client, synced, province_admin, org):
    """Group moments (集团时刻) are rules like the others: a city threshold is saved as a new
    version and reaches the group run; the customer-view replay says it does not apply."""
    g06 = MomentDefinition.objects.get(code="G06")
    form = _form(g06, **{"c__3201__days": "10"})
    preview = client.post(reverse("web:rule-preview", args=["G06"]), form)
    assert "集团时刻暂不能按最新数据预览" in preview.content.decode()
    assert client.post(reverse("web:rule-detail", args=["G06"]), form).status_code == 302
    g06.refresh_from_db()
    assert g06.current_version == 2
    from keycare.moments.services import current_group_definitions

    assert current_group_definitions().by_code["G06"].thresholds_for("3201") == {"days": 10}


def test_preview_of_an_invalid_form_lists_the_errors(client, synced, province_admin, org):
    form = _form(synced, priority="x", **{"c__3201__spend_drop_pct": "abc"})
    response = client.post(reverse("web:rule-preview", args=[CODE]), form)
    body = response.content.decode()
    assert "优先级：优先级应为 1 到 100 之间的整数" in body
    assert "南京市（3201）阈值 消费降幅阈值：请输入" in body


def test_preview_rows_join_counts_with_capacity(org, managers, wuxi):
    from keycare.engine.preview import CityCount, PreviewResult, PreviewSource

    Manager.objects.filter(manager_id="M2").update(active=False)
    result = PreviewResult(
        "A07", PreviewSource(None, None, "r"), [CityCount("3201", 30, 50)], True, True, 0.1
    )
    editor = type("E", (), {})()
    rows = views._preview_rows(result, [org["city"], wuxi], True)
    assert rows[0] == {
        "code": "3201", "name": "南京市", "current": 30, "changed": 50, "delta": 20,
        "capacity": 40, "over_capacity": True,
    }  # fmt: skip
    assert rows[1]["changed"] == 0 and rows[1]["capacity"] is None
    assert editor is not None


@pytest.fixture(scope="module")
def published_runs(tmp_path_factory):
    from datetime import date

    from keycare.engine.pipeline import run_daily
    from keycare.synth.generator import generate

    base = tmp_path_factory.mktemp("rules-web")
    generate(base / "data", subscribers=400, months=3, seed=3)
    run_daily(date(2026, 11, 22), base / "data", base / "runs")
    return base / "runs"


def test_city_admin_previews_their_own_city_only_and_it_is_audited(
    client, synced, city_admin, org, wuxi, managers, settings, published_runs
):
    settings.KEYCARE_RUNS_DIR = published_runs
    a04 = MomentDefinition.objects.get(code="A04")
    form = {"version": "1", "c__3201__min_balance": "200", "c__3202__min_balance": "200"}
    response = client.post(reverse("web:rule-preview", args=["A04"]), form)
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r["code"] for r in rows] == ["3201"], "a city admin sees their city, no other"
    assert rows[0]["changed"] > rows[0]["current"] and rows[0]["capacity"] == 80
    assert "2026-11-22" in response.content.decode()
    a04.refresh_from_db()
    assert a04.current_version == 1 and not CityThreshold.objects.exists()
    event = AuditEvent.objects.get(action="moments.preview")
    assert event.actor == city_admin and event.detail["business_date"] == "2026-11-22"


class _FormFields(HTMLParser):
    """The values a browser would submit for ``#rule-form`` (enabled inputs only)."""

    def __init__(self):
        super().__init__()
        self.data, self._textarea, self._select = {}, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "disabled" in a or "name" not in a and tag != "option":
            return
        if tag == "input" and a.get("type") == "checkbox":
            if "checked" in a:
                self.data[a["name"]] = "on"
        elif tag == "input":
            self.data[a["name"]] = a.get("value") or ""
        elif tag == "textarea":
            self._textarea = a["name"]
            self.data[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data


def test_saving_every_rule_form_unchanged_creates_no_version(client, synced, province_admin, org):
    """What the page renders parses back to the same values, for all 29 moments (floats,
    time-of-day patterns, empty templates): a save without edits never makes a version."""
    actions.update_moment(province_admin, synced, {}, {"3201": {"spend_drop_pct": 40}})
    for moment in MomentDefinition.objects.order_by("code"):
        page = client.get(reverse("web:rule-detail", args=[moment.code]))
        assert page.status_code == 200, moment.code
        fields = _FormFields()
        fields.feed(page.content.decode())
        fields.data.pop("csrfmiddlewaretoken", None)
        response = client.post(reverse("web:rule-detail", args=[moment.code]), fields.data)
        assert response.status_code == 302, (
            moment.code,
            response.context and response.context["errors"],
        )
    assert RuleVersion.objects.filter(number__gt=1).count() == 1  # only the set-up change
    assert MomentDefinition.objects.get(code=CODE).current_version == 2
