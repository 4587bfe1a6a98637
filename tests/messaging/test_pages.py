"""短信发送记录 page and API: administrators only, scoped (out of scope is 404), masked numbers,
filters and counts per state, a message's receipts; viewing audited, resending audited."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from factories import make_manager, make_sms_message, make_sms_task, make_user, numbered_customer
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.messaging import actions
from keycare.messaging.models import SmsMessage, SmsState
from keycare.tasks.models import ServiceTask

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org, manager, moments):
    other_manager = make_manager(org["C0512"], "M900", name="苏经理")
    mine = [numbered_customer(org, n, manager) for n in (1, 2, 3)]
    theirs = numbered_customer(org, 9, other_manager, city="C0512")
    for c in [*mine, theirs]:
        make_sms_task(c, moments["A04"], balance=3)
    actions.queue_task_messages(None, ServiceTask.objects.all())
    by_customer = {m.customer_id: m for m in SmsMessage.objects.all()}
    delivered = by_customer[mine[0].pk]
    SmsMessage.objects.filter(pk=delivered.pk).update(
        state=SmsState.SUBMITTED, submitted_at=timezone.now()
    )
    actions.record_receipts(
        [
            {"message_id": delivered.pk, "dlr_type": 8, "gateway_id": "g-1"},
            {"message_id": delivered.pk, "dlr_type": 1, "gateway_id": "g-2"},
        ]
    )
    SmsMessage.objects.filter(pk=by_customer[mine[1].pk].pk).update(
        state=SmsState.HELD, hold_reason="quiet_hours", reason="非服务时段（09:00-21:00）"
    )
    return {
        "city_admin": make_user("ca", roles.ROLE_CITY_ADMIN, city=org["C025"].city),
        "province": make_user("pa", roles.ROLE_PROVINCE_ADMIN),
        "manager_user": make_user("mu", roles.ROLE_MANAGER, manager=manager),
        "delivered": delivered,
        "theirs": by_customer[theirs.pk],
        "mine": mine,
    }


def test_city_admin_sees_their_citys_messages_masked_with_counts(client, world):
    client.force_login(world["city_admin"])
    response = client.get("/sms/")
    assert response.status_code == 200
    page = response.content.decode()
    states = dict((v, n) for v, _label, n in response.context["states"])
    assert states["delivered"] == 1 and states["held"] == 1 and states["queued"] == 1
    assert len(response.context["rows"]) == 3
    assert "13812340001" not in page and "138****0001" in page
    assert "已送达" in page and "非服务时段" in page
    filtered = client.get("/sms/?state=delivered&moment=A04")
    assert [r["pk"] for r in filtered.context["rows"]] == [world["delivered"].pk]
    assert client.get("/sms/?moment=A03").context["rows"] == []
    bad = client.get("/sms/?date=2026-13-45&state=nonsense")
    assert bad.status_code == 200 and len(bad.context["rows"]) == 3
    assert "日期格式" in bad.content.decode()


def test_detail_shows_receipts_and_is_audited_out_of_scope_404(client, world):
    client.force_login(world["city_admin"])
    response = client.get(f"/sms/{world['delivered'].pk}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "短信中心已接收" in page and "g-1" in page and "138****0001" in page
    assert AuditEvent.objects.filter(action="sms.view", object_id=str(world["delivered"].pk))
    assert client.get(f"/sms/{world['theirs'].pk}/").status_code == 404
    client.force_login(world["province"])
    assert client.get(f"/sms/{world['theirs'].pk}/").status_code == 200


def test_managers_may_not_open_the_page(client, world):
    client.force_login(world["manager_user"])
    assert client.get("/sms/").status_code == 403
    assert client.get(f"/sms/{world['delivered'].pk}/").status_code == 403


def test_resend_a_held_message(client, world):
    client.force_login(world["city_admin"])
    held = SmsMessage.objects.get(state=SmsState.HELD)
    response = client.post(f"/sms/{held.pk}/resend/", follow=True)
    assert response.status_code == 200
    assert SmsMessage.objects.get(pk=held.pk).state == SmsState.QUEUED
    again = client.post(f"/sms/{held.pk}/resend/", follow=True)
    assert "只有发送失败" in again.content.decode()  # a clear message, nothing changed
    assert AuditEvent.objects.filter(action="sms.resend").count() == 1


def test_api_lists_scoped_masked_messages_and_receipts(world):
    api = APIClient()
    api.force_authenticate(world["city_admin"])
    body = api.get("/api/sms-messages/").json()
    rows = body["results"] if isinstance(body, dict) else body
    assert len(rows) == 3 and all("****" in r["recipient"] for r in rows)
    one = api.get("/api/sms-messages/?state=delivered").json()
    one = one["results"] if isinstance(one, dict) else one
    assert [r["id"] for r in one] == [world["delivered"].pk]
    receipts = api.get(f"/api/sms-messages/{world['delivered'].pk}/receipts/").json()
    assert [r["dlr_type"] for r in receipts] == [8, 1]
    assert api.get(f"/api/sms-messages/{world['theirs'].pk}/").status_code == 404
    api.force_authenticate(world["manager_user"])
    body = api.get("/api/sms-messages/").json()
    assert (body["results"] if isinstance(body, dict) else body) == []


def test_make_sms_message_factory_is_queued(org, manager):
    message = make_sms_message(numbered_customer(org, 4, manager))
    assert message.state == SmsState.QUEUED


def test_a_delivered_sms_handles_its_task_and_a_failed_one_shows(client, world):
    """The delivered message's task is handled (audited); a failed one stays open and shows why;
    the SMS-task list shows each task's message status linked to its 短信发送记录 page."""
    delivered_task = world["delivered"].task
    delivered_task.refresh_from_db()
    assert delivered_task.state == "handled_no_change" and delivered_task.handled_at
    assert delivered_task.version == 2
    handled = AuditEvent.objects.get(action="task.sms_delivered")
    assert handled.detail["tasks"] == [delivered_task.pk]
    failing = SmsMessage.objects.get(customer=world["mine"][2])
    SmsMessage.objects.filter(pk=failing.pk).update(state=SmsState.SUBMITTED)
    actions.record_receipts([{"message_id": failing.pk, "dlr_type": 2, "detail": "stat:UNDELIV"}])
    failing.task.refresh_from_db()
    assert failing.task.state == "unhandled"
    assert AuditEvent.objects.get(action="task.sms_failed").detail["tasks"] == [failing.task_id]
    # A repeated receipt moves nothing and audits nothing more.
    actions.record_receipts([{"message_id": world["delivered"].pk, "dlr_type": 1}])
    assert AuditEvent.objects.filter(action__startswith="task.sms_").count() == 2

    client.force_login(world["city_admin"])
    response = client.get("/sms-tasks/")
    page = response.content.decode()
    assert "稍后提供" not in page
    status = {row["pk"]: row["sms"] for row in response.context["rows"]}
    assert status[delivered_task.pk]["label"] == "已送达"
    assert status[delivered_task.pk]["url"] == f"/sms/{world['delivered'].pk}/"
    assert status[failing.task_id]["label"] == "发送失败"
    assert f'href="/sms/{failing.pk}/" title="stat:UNDELIV">发送失败</a>' in page


def test_the_page_states_the_reconciliation_policy(client, world):
    client.force_login(world["city_admin"])
    page = client.get("/sms/").content.decode()
    assert "提交超时的短信不重发" in page and "120 秒" in page and "30 分钟" in page
    unconfirmed = SmsMessage.objects.get(customer=world["mine"][2])
    SmsMessage.objects.filter(pk=unconfirmed.pk).update(state=SmsState.UNCONFIRMED)
    page = client.get(f"/sms/{unconfirmed.pk}/").content.decode()
    assert "未收到状态报告" in page and "/resend/" in page  # an administrator may resend it
