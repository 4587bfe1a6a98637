"""Work order pages: department queues with filters, SLA clock, start/close by administrators,
closure reported back on the task, escalation visible; scoped, masked, bounded queries."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from factories import make_city, make_department, make_task, make_user
from keycare.access import roles
from keycare.tasks import actions as task_actions
from keycare.tasks.models import ServiceTask
from keycare.workorders import actions as workorder_actions
from keycare.workorders.models import WorkOrder, WorkOrderStatus

DAY = date(2026, 11, 22)

pytestmark = pytest.mark.django_db


@pytest.fixture
def departments(db):
    return [
        make_department("NET", "网络部"),
        make_department("BILL", "账务中心"),
    ]


@pytest.fixture
def orders(org, managers, make_customer, departments):
    """Six orders: three per manager, alternating departments and priorities."""
    creator = make_user("creator")
    made = []
    for n in range(6):
        manager = managers[n % 2]
        customer = make_customer(f"S{n:04d}", manager, msisdn=f"1391234{n:04d}", name="欧阳修文")
        task = make_task(customer, DAY)
        task_actions.claim_task(creator, task)
        made.append(
            workorder_actions.create_work_order(
                creator, task, department=departments[n % 2], title=f"诉求{n}",
                description="客户来电 13912340000 反映信号差",
                priority=("urgent", "normal", "low")[n % 3],
            )
        )  # fmt: skip
    return made


def test_admin_sees_queues_filters_and_sla(client, orders, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    html = client.get("/workorders/").content.decode()
    assert "共 6 条" in html and "网络部 3" in html and "账务中心 3" in html
    assert "欧阳**" in html and "欧阳修文" not in html and "13912340000" not in html
    assert "剩余 3小时59分" in html or "剩余 4小时0分" in html  # the urgent SLA clock
    assert "共 3 条" in client.get("/workorders/?department=NET").content.decode()
    assert "共 2 条" in client.get("/workorders/?priority=urgent").content.decode()
    assert "共 0 条" in client.get("/workorders/?overdue=1").content.decode()
    WorkOrder.objects.filter(pk=orders[0].pk).update(due_at=timezone.now() - timedelta(hours=2))
    overdue = client.get("/workorders/?overdue=1").content.decode()
    assert "共 1 条" in overdue and "已超时 2小时" in overdue


def test_manager_sees_only_orders_of_their_tasks(client, orders, login_as, managers):
    login_as(roles.ROLE_MANAGER, manager=managers[0])
    html = client.get("/workorders/").content.decode()
    assert "共 3 条" in html
    theirs = [o for o in orders if o.task.manager_id == managers[1].pk][0]
    assert client.get(f"/workorders/{theirs.pk}/").status_code == 404


def test_close_reports_back_on_the_task(client, orders, login_as, org):
    user = login_as(roles.ROLE_CITY_ADMIN)
    user.staffprofile.city = org["city"]
    user.staffprofile.save()
    order = orders[0]
    page = client.get(f"/workorders/{order.pk}/").content.decode()
    assert "受理" in page and "139****0000" in page and "13912340000" not in page
    client.post(f"/workorders/{order.pk}/", {"action": "start", "version": order.version})
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.IN_PROGRESS
    response = client.post(
        f"/workorders/{order.pk}/",
        {"action": "close", "version": order.version, "resolution": "已优化基站"},
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.CLOSED
    assert "已优化基站" in ServiceTask.objects.get(pk=order.task_id).feedback
    page = client.get(f"/workorders/{order.pk}/").content.decode()
    assert "在时限内关闭" in page and "受理" in page and "关闭" in page
    assert 'id="workorder-actions"' not in page


def test_stale_and_bad_posts_are_refused_with_a_reason(client, orders, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    order = orders[1]
    stale = order.version
    client.post(f"/workorders/{order.pk}/", {"action": "start", "version": stale})
    client.post(
        f"/workorders/{order.pk}/", {"action": "close", "version": stale, "resolution": "x"}
    )
    page = client.get(f"/workorders/{order.pk}/").content.decode()
    assert "已被他人更新" in page
    for bad in (
        {"action": "close", "version": "abc", "resolution": "x"},
        {"action": "close", "version": str(stale + 1), "resolution": "   "},
        {"action": "explode", "version": str(stale + 1)},
    ):
        assert client.post(f"/workorders/{order.pk}/", bad).status_code == 302
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.IN_PROGRESS


def test_manager_cannot_start_or_close(client, orders, login_as, managers):
    login_as(roles.ROLE_MANAGER, manager=managers[0])
    order = orders[0]
    response = client.post(
        f"/workorders/{order.pk}/", {"action": "close", "version": 1, "resolution": "x"}
    )
    assert response.status_code == 403
    assert WorkOrder.objects.get(pk=order.pk).status == WorkOrderStatus.OPEN


def test_escalation_is_visible(client, orders, login_as):
    workorder_actions.escalate_overdue_work_orders(now=timezone.now() + timedelta(hours=5))
    login_as(roles.ROLE_PROVINCE_ADMIN)
    html = client.get("/workorders/?status=escalated").content.decode()
    assert "共 2 条" in html and "已升级" in html
    page = client.get(f"/workorders/{orders[0].pk}/").content.decode()
    assert "因超时升级" in page and "超时升级" in page


def test_other_city_and_other_roles_see_nothing(client, orders, login_as, org):
    other = make_city("3202", "无锡市", org["city"].province)
    user = login_as(roles.ROLE_CITY_ADMIN)
    user.staffprofile.city = other
    user.staffprofile.save()
    assert "共 0 条" in client.get("/workorders/").content.decode()
    assert client.get(f"/workorders/{orders[0].pk}/").status_code == 404
    login_as(roles.ROLE_AUDITOR, username="aud")
    assert client.get("/workorders/").status_code == 403


def test_hostile_filters(client, orders, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    for hostile in ("<script>", "' OR 1=1 --", "-1", "9" * 30):
        response = client.get(
            "/workorders/",
            {"department": hostile, "status": hostile, "priority": hostile, "overdue": hostile,
             "page": hostile},
        )  # fmt: skip
        assert response.status_code == 200
        assert "<script>" not in response.content.decode().split("<main>")[1]


def test_queries_do_not_grow_with_rows(
    client, orders, login_as, make_customer, managers, departments, django_assert_max_num_queries
):
    creator = orders[0].created_by
    for n in range(60):
        customer = make_customer(f"T{n:04d}", managers[0])
        task = make_task(customer, DAY)
        task_actions.claim_task(creator, task)
        workorder_actions.create_work_order(creator, task, department=departments[0], title="x")
    login_as(roles.ROLE_PROVINCE_ADMIN)
    with django_assert_max_num_queries(11):
        first = client.get("/workorders/")
    with django_assert_max_num_queries(11):
        second = client.get("/workorders/?page=2&status=open")
    assert "共 66 条" in first.content.decode() and "第 2 / 2 页" in second.content.decode()
    with django_assert_max_num_queries(9):
        assert client.get(f"/workorders/{orders[0].pk}/").status_code == 200


def test_version_beyond_any_integer_is_refused(client, orders, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    for version in ("9" * 30, "-1", "1.5"):
        response = client.post(
            f"/workorders/{orders[0].pk}/", {"action": "start", "version": version}
        )
        assert response.status_code == 302
    assert WorkOrder.objects.get(pk=orders[0].pk).status == WorkOrderStatus.OPEN


def test_titles_typed_with_a_number_reach_the_page_masked(client, orders, login_as):
    """The page gets the title already masked from the view; the template masks nothing."""
    WorkOrder.objects.filter(pk=orders[0].pk).update(title="回电 13912345678")
    login_as(roles.ROLE_PROVINCE_ADMIN)
    for url in ("/workorders/", f"/workorders/{orders[0].pk}/"):
        html = client.get(url).content.decode()
        assert "回电 139****5678" in html and "13912345678" not in html
