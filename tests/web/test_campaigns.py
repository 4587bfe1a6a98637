"""Campaign pages: list with progress, create from a segment, detail per manager, the
manager's tasks with an outcome; scoped, masked, bounded queries, bad input named."""

from datetime import timedelta

import pytest
from django.utils import timezone

from factories import make_city, make_user
from keycare.access import roles
from keycare.campaigns import actions as campaign_actions
from keycare.campaigns.models import Campaign, CampaignTask, Segment
from keycare.campaigns.segments import segment_customers
from keycare.core.models import AuditEvent
from keycare.web import campaigns as pages

pytestmark = pytest.mark.django_db

GOTONE = {"all": [{"field": "brand", "op": "eq", "value": "gotone"}]}


@pytest.fixture
def world(org, managers, make_customer):
    for n in range(10):
        make_customer(
            f"S{n:04d}", managers[n % 2], msisdn=f"1381234{n:04d}", name="欧阳修文",
            brand="gotone" if n < 8 else "mzone",
        )  # fmt: skip
    return managers


@pytest.fixture
def segment(world):
    return Segment.objects.create(name="全球通客户", filter=GOTONE)


def _form(segment, **extra):
    today = timezone.localdate()
    return {
        "name": "春节关怀", "segment": str(segment.pk), "start_date": today.isoformat(),
        "end_date": (today + timedelta(days=6)).isoformat(), "mode": "own", "script": "您好",
        **extra,
    }  # fmt: skip


def test_admin_creates_from_a_segment_each_to_own_manager(client, segment, login_as, world):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    page = client.get(f"/campaigns/new/?segment={segment.pk}").content.decode()
    assert '<strong style="font-size:1.3rem">8</strong>' in page  # preview of the segment
    response = client.post("/campaigns/new/", _form(segment))
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.pk}/"
    owners = set(campaign.tasks.values_list("customer__manager_id", "manager_id"))
    assert all(own == got for own, got in owners) and campaign.tasks.count() == 8
    assert AuditEvent.objects.filter(action="campaign.create").count() == 1


def test_spread_over_chosen_managers_within_capacity(client, segment, login_as, world):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    form = _form(segment, mode="spread", managers=[str(world[0].pk)])
    response = client.post("/campaigns/new/", form)
    assert response.status_code == 302
    assert set(CampaignTask.objects.values_list("manager_id", flat=True)) == {world[0].pk}
    # One day at 3 customers a day cannot hold 8 customers: refused, nothing created.
    type(world[0]).objects.filter(pk=world[0].pk).update(daily_capacity=3)
    today = timezone.localdate().isoformat()
    response = client.post("/campaigns/new/", {**form, "name": "二期", "end_date": today})
    assert response.status_code == 400
    assert "最多承接 3 位客户（日服务能力 × 活动天数），客户群有 8 位" in response.content.decode()
    assert Campaign.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"segment": "999"}, "请选择客户群"),
        ({"segment": "x"}, "请选择客户群"),
        ({"start_date": "2026-02-30"}, "开始日期无效"),
        ({"end_date": "2000-01-01"}, "结束日期不能早于开始日期"),
        ({"name": ""}, "请填写活动名称"),
        ({"mode": "drop"}, "分配方式无效"),
        ({"mode": "spread"}, "请选择参与活动的客户经理"),
        ({"managers": ["abc", "99999"]}, "不在您权限范围内"),
    ],
)
def test_bad_input_is_named_and_creates_nothing(client, segment, login_as, change, message):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.post("/campaigns/new/", {**_form(segment), **change})
    assert response.status_code == 400 and message in response.content.decode()
    assert not Campaign.objects.exists()


@pytest.fixture
def campaign(segment, world):
    admin = make_user("creator")
    admin.is_superuser = True
    return campaign_actions.create_campaign(
        admin, name="宽带融合", customers=segment_customers(admin, GOTONE["all"]),
        segment=segment, start_date=timezone.localdate(), end_date=timezone.localdate(),
        mode="own",
    )  # fmt: skip


def test_manager_sees_and_completes_own_tasks_masked(client, campaign, login_as, world):
    login_as(roles.ROLE_MANAGER, manager=world[0])
    listing = client.get("/campaigns/").content.decode()
    assert "宽带融合" in listing and "共 1 条" in listing
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert page.count('name="contact_result"') == 4  # only the manager's four customers
    assert "欧阳**" in page and "欧阳修文" not in page and "13812340000" not in page
    task = CampaignTask.objects.filter(manager=world[0]).first()
    response = client.post(
        f"/campaigns/tasks/{task.pk}/complete/",
        {"version": task.version, "contact_result": "reached", "recommendation": "accepted",
         "back": "state=open&page=1&evil=http://x"},
    )  # fmt: skip
    assert response["Location"] == f"/campaigns/{campaign.pk}/?state=open&page=1"
    task.refresh_from_db()
    assert task.done_at and task.recommendation == "accepted"
    # The same form again (stale version): refused with a reason, the result kept.
    client.post(
        f"/campaigns/tasks/{task.pk}/complete/", {"version": 1, "contact_result": "refused"}
    )
    task.refresh_from_db()
    assert task.contact_result == "reached"
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "已被他人处理或更新" in page and page.count('name="contact_result"') == 3


def test_manager_cannot_touch_another_managers_task(client, campaign, login_as, world):
    login_as(roles.ROLE_MANAGER, manager=world[0])
    other = CampaignTask.objects.filter(manager=world[1]).first()
    response = client.post(
        f"/campaigns/tasks/{other.pk}/complete/", {"version": 1, "contact_result": "reached"}
    )
    assert response.status_code == 404
    assert CampaignTask.objects.get(pk=other.pk).done_at is None


def test_admin_cannot_record_a_managers_call(client, campaign, login_as, world):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    task = CampaignTask.objects.first()
    response = client.post(
        f"/campaigns/tasks/{task.pk}/complete/", {"version": 1, "contact_result": "reached"}
    )
    assert response.status_code == 403 and CampaignTask.objects.get(pk=task.pk).done_at is None


def test_progress_per_manager_and_today(client, campaign, login_as, world):
    for task in CampaignTask.objects.filter(manager=world[1])[:3]:
        campaign_actions.complete_campaign_task(None, task, contact_result="reached")
    login_as(roles.ROLE_PROVINCE_ADMIN)
    listing = client.get("/campaigns/").content.decode()
    assert 'aria-valuenow="38"' in listing  # 3 of 8
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'aria-valuenow="75"' in page  # M2: 3 of 4
    assert 'aria-valuenow="0"' in page  # M1: none yet
    done = client.get(f"/campaigns/{campaign.pk}/?state=done").content.decode()
    assert "共 3 条" in done
    assert "共 4 条" in client.get(f"/campaigns/{campaign.pk}/?manager=M1").content.decode()


def test_city_admin_of_another_city_sees_nothing(client, campaign, login_as, org):
    other = make_city("3202", "无锡市", org["city"].province)
    user = login_as(roles.ROLE_CITY_ADMIN)
    user.staffprofile.city = other
    user.staffprofile.save()
    assert "共 0 条" in client.get("/campaigns/").content.decode()
    assert client.get(f"/campaigns/{campaign.pk}/").status_code == 404


@pytest.mark.parametrize("role", [roles.ROLE_AUDITOR, roles.ROLE_ANALYST])
def test_other_roles_are_refused(client, campaign, login_as, role):
    login_as(role)
    assert client.get("/campaigns/").status_code == 403
    assert client.get("/campaigns/new/").status_code == 403


def test_manager_cannot_create(client, segment, login_as, world):
    login_as(roles.ROLE_MANAGER, manager=world[0])
    assert client.post("/campaigns/new/", _form(segment)).status_code == 403
    assert not Campaign.objects.exists()


def test_hostile_query_strings(client, campaign, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    for hostile in ("<script>", "' OR 1=1 --", "99999999999999999999"):
        for url in ("/campaigns/", f"/campaigns/{campaign.pk}/"):
            response = client.get(
                url, {"status": hostile, "q": hostile, "page": hostile, "state": hostile,
                      "manager": hostile, "result": hostile, "mpage": hostile}
            )  # fmt: skip
            assert response.status_code == 200
            assert "<script>" not in response.content.decode().split("<main>")[1]


def test_queries_do_not_grow_with_rows(
    client, segment, login_as, world, django_assert_max_num_queries
):
    admin = login_as(roles.ROLE_PROVINCE_ADMIN)
    for n in range(35):
        campaign_actions.create_campaign(
            admin, name=f"活动{n}", customers=segment_customers(admin, GOTONE["all"]),
            segment=segment, mode="own",
        )  # fmt: skip
    client.get("/campaigns/")  # the session write of the first request is not the page's
    with django_assert_max_num_queries(9):
        first = client.get("/campaigns/")
    with django_assert_max_num_queries(9):
        second = client.get("/campaigns/?page=2")
    assert "共 35 条" in first.content.decode() and "活动0" in second.content.decode()
    campaign = Campaign.objects.first()
    with django_assert_max_num_queries(12):
        assert client.get(f"/campaigns/{campaign.pk}/").status_code == 200
    manager = login_as(roles.ROLE_MANAGER, manager=world[0], username="m1")
    assert manager
    client.get("/campaigns/")
    with django_assert_max_num_queries(9):
        assert "共 35 条" in client.get("/campaigns/").content.decode()
    with django_assert_max_num_queries(12):
        assert client.get(f"/campaigns/{campaign.pk}/").status_code == 200


def test_out_of_range_ids_are_not_found(client, campaign, segment, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    huge = "9" * 30
    assert client.get("/campaigns/new/", {"segment": huge}).status_code == 200
    response = client.post("/campaigns/new/", {**_form(segment), "segment": huge})
    assert response.status_code == 400 and "请选择客户群" in response.content.decode()
    response = client.post("/campaigns/new/", _form(segment, mode="spread", managers=[huge]))
    assert response.status_code == 400 and "不在您权限范围内" in response.content.decode()
    assert client.get(f"/campaigns/{huge}/").status_code == 404
    assert client.get(f"/segments/{huge}/").status_code == 404
    assert client.get(f"/workorders/{huge}/").status_code == 404


def test_admin_finishes_a_campaign_and_managers_can_no_longer_record(
    client, campaign, login_as, world
):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    assert "结束活动" in client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert client.post(f"/campaigns/{campaign.pk}/finish/").status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "finished"
    assert AuditEvent.objects.get(action="campaign.finish").detail == {"open_tasks": 8}
    client.post(f"/campaigns/{campaign.pk}/finish/")
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "不在进行中" in page and "已结束" in page
    login_as(roles.ROLE_MANAGER, manager=world[0], username="m1")
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'name="contact_result"' not in page and "活动已结束" in page
    task = CampaignTask.objects.filter(manager=world[0]).first()
    client.post(
        f"/campaigns/tasks/{task.pk}/complete/", {"version": 1, "contact_result": "reached"}
    )
    assert CampaignTask.objects.get(pk=task.pk).done_at is None
    assert client.post(f"/campaigns/{campaign.pk}/finish/").status_code == 403


def test_version_beyond_any_integer_is_refused(client, campaign, login_as, world):
    login_as(roles.ROLE_MANAGER, manager=world[0])
    task = CampaignTask.objects.filter(manager=world[0]).first()
    for version in ("9" * 30, "9" * 12, "-1"):
        response = client.post(
            f"/campaigns/tasks/{task.pk}/complete/",
            {"version": version, "contact_result": "reached"},
        )
        assert response.status_code == 302
    assert CampaignTask.objects.get(pk=task.pk).done_at is None


def test_too_large_a_selection_is_refused(client, segment, login_as, monkeypatch):
    monkeypatch.setattr(pages, "MAX_CAMPAIGN_CUSTOMERS", 5)
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.post("/campaigns/new/", _form(segment))
    assert response.status_code == 400
    assert "客户群有 8 位客户，一个活动最多 5 位" in response.content.decode()
    assert not Campaign.objects.exists()
