"""任务下达: an administrator gives a task to managers or a team with a deadline; managers
report progress; overdue shares show; the assigner evaluates. Pages scoped by role."""

from datetime import timedelta

import pytest
from django.utils import timezone

from factories import make_manager, make_org, make_user
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.errors import UserError
from keycare.managers import actions
from keycare.managers.models import AssignedTask, AssignmentStatus, TaskAssignment

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    places = make_org()
    nj, sz = places["C025"], places["C0512"]
    m1, m2, m3 = make_manager(nj, "M1"), make_manager(nj, "M2"), make_manager(sz, "M3")
    admin = make_user("admin", roles.ROLE_CITY_ADMIN, city=nj.city)
    actions.update_profile(admin, m2, daily_capacity=40, team="一组")
    return {"nj": nj, "m1": m1, "m2": m2, "m3": m3, "admin": admin}


def later(**delta):
    return (timezone.localtime() + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M")


def test_assign_progress_and_evaluate(client, world):
    client.force_login(world["admin"])
    response = client.post(
        "/assigned-tasks/new/",
        {
            "title": "走访重点集团",
            "deadline": later(days=3),
            "managers": [world["m1"].pk],
            "team": "一组",
        },
    )
    task = AssignedTask.objects.get()
    assert response.status_code == 302 and task.city == world["nj"].city
    assert set(task.assignments.values_list("manager__manager_id", flat=True)) == {"M1", "M2"}
    assert AuditEvent.objects.filter(action="assigned_task.create").exists()
    share = TaskAssignment.objects.get(manager=world["m1"])
    # The manager reports progress on their own share only.
    user = make_user("m1", roles.ROLE_MANAGER, manager=world["m1"])
    client.force_login(user)
    page = client.get(f"/assigned-tasks/{task.pk}/")
    assert [r["share"].manager.manager_id for r in page.context["rows"]] == ["M1"]
    client.post(f"/assigned-tasks/shares/{share.pk}/progress/", {"progress": "100", "note": "完成"})
    share.refresh_from_db()
    assert share.status == AssignmentStatus.DONE and share.completed_at
    other = TaskAssignment.objects.get(manager=world["m2"])
    assert (
        client.post(f"/assigned-tasks/shares/{other.pk}/progress/", {"progress": "5"}).status_code
        == 404
    )
    # The assigner evaluates the finished share; the unfinished one is not due yet.
    client.force_login(world["admin"])
    client.post(f"/assigned-tasks/shares/{share.pk}/evaluate/", {"rating": "4", "comment": "好"})
    share.refresh_from_db()
    assert share.rating == 4 and share.evaluated_by == world["admin"]
    response = client.post(
        f"/assigned-tasks/shares/{other.pk}/evaluate/", {"rating": "3"}, follow=True
    )
    assert "任务完成或超过时限后才能评价" in response.content.decode()


def test_overdue_shows_and_can_be_evaluated(client, world):
    task = actions.assign_task(
        world["admin"],
        title="T",
        description="",
        deadline=timezone.now() + timedelta(hours=1),
        managers=[world["m1"]],
    )
    AssignedTask.objects.filter(pk=task.pk).update(deadline=timezone.now() - timedelta(hours=1))
    client.force_login(world["admin"])
    listing = client.get("/assigned-tasks/?state=overdue")
    assert listing.context["overdue_total"] == 1 and len(listing.context["rows"]) == 1
    assert listing.context["rows"][0]["overdue"] == 1
    share = task.assignments.get()
    share.refresh_from_db()
    actions.evaluate_assignment(world["admin"], share, rating=1, comment="未完成")
    assert client.get("/assigned-tasks/?state=done").context["rows"] == []


def test_scope_and_bad_input(client, world):
    actions.assign_task(
        world["admin"],
        title="苏州任务",
        description="",
        deadline=timezone.now() + timedelta(days=1),
        managers=[world["m3"]],
    )
    client.force_login(world["admin"])
    assert client.get("/assigned-tasks/").context["rows"] == []
    response = client.post(
        "/assigned-tasks/new/",
        {"title": "X", "deadline": later(days=1), "managers": [world["m3"].pk]},
    )
    assert "经理无效" in response.content.decode() and AssignedTask.objects.count() == 1
    response = client.post(
        "/assigned-tasks/new/",
        {"title": "X", "deadline": later(days=-1), "managers": [world["m1"].pk]},
    )
    assert "完成时限须晚于现在" in response.content.decode()
    with pytest.raises(UserError, match="进度"):
        share = actions.assign_task(
            world["admin"],
            title="Y",
            description="",
            deadline=timezone.now() + timedelta(days=1),
            managers=[world["m1"]],
        ).assignments.get()
        actions.report_progress(None, share, progress=101, note="")
    analyst = make_user("an", roles.ROLE_ANALYST)
    client.force_login(analyst)
    assert client.get("/assigned-tasks/").status_code == 403
