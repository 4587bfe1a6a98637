"""审计日志 page: auditors only, filters, pagination, audited search and a safe Excel export."""

import io
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from factories import make_user
from keycare.access import roles
from keycare.core.audit import record
from keycare.core.models import AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db
URL = "/audit/"
HOSTILE = "=cmd|' /C calc'!A0"


def _event(action, at=None, actor="alice", **detail):
    if at is None:
        return record(actor, action, object_type="customers.customer", object_id="S1", **detail)
    with mock.patch("django.utils.timezone.now", return_value=at):
        return record(actor, action, object_type="customers.customer", object_id="S1", **detail)


def test_url_name():
    assert reverse("web:audit-list") == URL


@pytest.mark.parametrize(
    "role",
    [roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_MANAGER, roles.ROLE_ANALYST],
)
def test_other_roles_are_refused(client, login_as, role):
    login_as(role)
    assert client.get(URL).status_code == 403
    assert client.get(URL, {"export": "xlsx"}).status_code == 403
    assert not AuditEvent.objects.filter(action__in=["search", "export"]).exists()


def test_anonymous_is_sent_to_login(client):
    assert client.get(URL).status_code == 302


def test_auditor_and_superuser_see_events_newest_first_with_personal_data_scrubbed(
    client, login_as
):
    _event("view_customer", at=datetime(2026, 11, 1, 2, tzinfo=UTC), note="打给13812345678")
    _event("unmask", at=datetime(2026, 11, 2, 2, tzinfo=UTC), note="身份证320102199001011234")
    login_as(roles.ROLE_AUDITOR)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    # actions and details are shown with their labels, never as codes or raw JSON
    assert [r["action"] for r in response.context["rows"]][-2:] == ["查看明文", "查看客户"]
    assert response.context["rows"][-1]["detail"] == "备注：打给138****5678"
    assert "view_customer" not in html.replace('value="view_customer"', "")
    assert "13812345678" not in html and "138****5678" in html
    assert "320102199001011234" not in html and "320102********1234" in html
    admin = get_user_model().objects.create_superuser("root", password="x")
    client.force_login(admin)
    assert client.get(URL).status_code == 200


def test_filters_and_search_is_audited(client, login_as):
    _event("sign_in", at=datetime(2026, 11, 1, 2, tzinfo=UTC), actor="alice")
    _event("export", at=datetime(2026, 11, 5, 2, tzinfo=UTC), actor="bob")
    _event("sign_in", at=datetime(2026, 11, 9, 2, tzinfo=UTC), actor="bobby")
    auditor = login_as(roles.ROLE_AUDITOR)

    def actors(**params):
        rows = client.get(URL, params).context["rows"]
        return [r["actor"] for r in rows]

    assert actors(actor="bob") == ["bobby", "bob"]
    assert actors(action="sign_in") == ["bobby", "alice"]
    assert actors(object_type="customers.customer", object_id="S1", actor="alice") == ["alice"]
    assert actors(object_id="nope") == []
    assert actors(date_from="2026-11-02", date_to="2026-11-06") == ["bob"]
    assert "bob" in actors(date_from="not-a-date", action="export")  # malformed date ignored
    search = AuditEvent.objects.filter(action="search", actor=auditor).order_by("id").first()
    assert search.detail["filters"] == {"actor": "bob"}


def test_export_is_valid_xlsx_neutralised_and_audited(client, login_as):
    _event("sign_in", actor="alice")
    _event("note", actor="mallory", comment=HOSTILE)
    record(HOSTILE, "sign_in")  # NUL cannot be stored in PostgreSQL text; see test_exports
    auditor = login_as(roles.ROLE_AUDITOR)
    response = client.get(URL, {"action": "sign_in", "export": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][1] == "操作人"
    assert [r[1] for r in rows[1:]] == ["'" + HOSTILE, "alice"]
    export = AuditEvent.objects.get(action="export", actor=auditor)
    assert export.detail["rows"] == 2 and export.detail["filters"] == {"action": "sign_in"}
    # values inside the detail reach the sheet after their key's label, never as a formula
    response = client.get(URL, {"actor": "mallory", "export": "xlsx"})
    detail = load_workbook(io.BytesIO(response.content)).active["F2"].value
    assert detail.startswith("comment：") and "=cmd" in detail


def test_query_count_constant_across_pages(client, login_as):
    for i in range(120):
        _event("sign_in", actor=f"user{i}")
    login_as(roles.ROLE_AUDITOR)
    counts = []
    for page in (1, 2, 3):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL, {"action": "sign_in", "page": page})
        assert response.status_code == 200
        counts.append(len(queries))
    assert len(response.context["rows"]) == 20  # 120 events: 50 + 50 + 20
    assert counts[0] == counts[1] == counts[2]
    assert counts[0] <= 10


def test_audit_events_cannot_be_updated_or_deleted():
    event = _event("sign_in")
    event.action = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "sign_in"


def test_a_number_typed_into_a_filter_is_shown_back_masked(client, db):
    auditor = make_user("aud_mask", "auditor")
    client.force_login(auditor)
    response = client.get("/audit/", {"object_id": "13812345678x", "actor": "110101199003077777"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "13812345678" not in body and "110101199003077777" not in body
    assert "138****5678" in body


def test_events_written_before_the_apps_split_read_as_today(client, login_as):
    """An event recorded as workorders.servicetask (before the split) is a 预警任务 event, and
    filtering on today's label tasks.servicetask finds it with the new ones."""
    record("alice", "task.claim", object_type="workorders.servicetask", object_id="7")
    record("alice", "task.complete", object_type="tasks.servicetask", object_id="7")
    login_as(roles.ROLE_AUDITOR)
    html = client.get(URL, {"object_type": "tasks.servicetask"}).content.decode()
    assert html.count("预警任务") >= 2
    assert "workorders.servicetask" not in html
