"""下达任务 (§7.3): administrators give ad-hoc tasks to managers or a team with a deadline,
follow progress and overdue shares (过程控制) and evaluate the execution (执行评价); a manager
sees the tasks given to them and reports progress.

A task is visible when one of its shares is (``TaskAssignment.objects.restrict``): a city
administrator follows their managers' shares even of a task the province gave.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Avg, Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from keycare.access import roles
from keycare.access.presenter import free_text
from keycare.access.querysets import require_role
from keycare.core.parsing import DateTimeOutOfRange, posted_datetime, posted_int
from keycare.errors import UserError
from keycare.managers import actions
from keycare.managers.models import (
    AssignedTask,
    AssignmentStatus,
    ManagerProfile,
    ManagerStatus,
    TaskAssignment,
)
from keycare.managers.scoping import is_admin, visible_managers

PAGE_SIZE = 50
READER_ROLES = {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
ADMIN_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}


def visible_tasks(user):
    shares = TaskAssignment.objects.restrict(user)
    return AssignedTask.objects.filter(pk__in=shares.values("task_id"))


@login_required
def assigned_task_list(request):
    require_role(request.user, READER_ROLES, _("您的角色不能查看下达任务"))
    now = timezone.now()
    shares = TaskAssignment.objects.restrict(request.user)
    filters = {"state": request.GET.get("state", ""), "q": request.GET.get("q", "").strip()[:50]}
    tasks = visible_tasks(request.user)
    if filters["q"]:
        tasks = tasks.filter(title__icontains=filters["q"])
    open_shares = shares.exclude(status=AssignmentStatus.DONE)
    if filters["state"] == "open":
        tasks = tasks.filter(pk__in=open_shares.values("task_id"))
    elif filters["state"] == "overdue":
        tasks = tasks.filter(pk__in=open_shares.filter(task__deadline__lt=now).values("task_id"))
    elif filters["state"] == "done":
        tasks = tasks.exclude(pk__in=open_shares.values("task_id"))
    else:
        filters["state"] = ""
    page = Paginator(tasks.order_by("-created_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    summary = _summaries(shares, [t.pk for t in page], now)
    return render(
        request,
        "web/managers/assigned_task_list.html",
        {
            "page": page,
            "rows": [{"task": t, "title": free_text(t.title), **summary[t.pk]} for t in page],
            "filters": filters,
            "is_admin": is_admin(request.user),
            "overdue_total": open_shares.filter(task__deadline__lt=now).count(),
            "open_total": open_shares.count(),
        },
    )


def _summaries(shares, task_ids, now) -> dict[int, dict]:
    rows = (
        shares.filter(task_id__in=task_ids)
        .values("task_id")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(status=AssignmentStatus.DONE)),
            overdue=Count(
                "id", filter=~Q(status=AssignmentStatus.DONE) & Q(task__deadline__lt=now)
            ),
            progress=Avg("progress"),
            rated=Avg("rating"),
        )
        .order_by()
    )
    return {r["task_id"]: r for r in rows}


@login_required
@require_http_methods(["GET", "POST"])
def assigned_task_new(request):
    role, scope = require_role(request.user, ADMIN_ROLES, _("只有管理员可以下达任务"))
    candidates = (
        visible_managers(request.user)
        .exclude(profile__status=ManagerStatus.LEFT)
        .order_by("manager_id")
    )
    values = {"title": "", "description": "", "deadline": "", "team": "", "managers": []}
    if request.method == "POST":
        values = _posted(request)
        try:
            task = actions.assign_task(
                request.user,
                title=values["title"],
                description=values["description"],
                deadline=_deadline(values["deadline"]),
                managers=_chosen(candidates, values),
                team=values["team"],
                city_id=scope if role == roles.ROLE_CITY_ADMIN else None,
            )
        except UserError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("已下达任务：%(t)s") % {"t": task.title})
            return redirect("web:assigned-task-detail", pk=task.pk)
    teams = (
        ManagerProfile.objects.filter(manager__in=candidates)
        .exclude(team="")
        .order_by("team")
        .values_list("team", flat=True)
        .distinct()
    )
    return render(
        request,
        "web/managers/assigned_task_form.html",
        {"values": values, "candidates": candidates, "teams": list(teams)},
    )


def _posted(request) -> dict:
    return {
        "title": request.POST.get("title", "")[:300],
        "description": request.POST.get("description", "")[:4000],
        "deadline": request.POST.get("deadline", "").strip(),
        "team": request.POST.get("team", "").strip()[:64],
        "managers": [posted_int(v) for v in request.POST.getlist("managers")],
    }


def _deadline(raw):
    try:
        value = posted_datetime(raw) if raw else None
    except DateTimeOutOfRange as error:
        raise UserError(str(error)) from error
    if value is None:
        raise UserError(_("请填写有效的完成时限"))
    return value


def _chosen(candidates, values) -> list:
    """The chosen managers plus, for a team, every manager of it in scope."""
    wanted = {pk for pk in values["managers"] if pk is not None}
    chosen = list(candidates.filter(pk__in=wanted))
    if len(chosen) != len(wanted) or None in values["managers"]:
        raise UserError(_("经理无效，请从列表中选择"))
    if values["team"]:
        team = list(candidates.filter(profile__team=values["team"]))
        if not team:
            raise UserError(_("班组没有可接收任务的经理：%(t)s") % {"t": values["team"]})
        chosen += team
    return chosen


# --- detail -------------------------------------------------------------------------------


@login_required
def assigned_task_detail(request, pk):
    require_role(request.user, READER_ROLES, _("您的角色不能查看下达任务"))
    task = visible_tasks(request.user).select_related("created_by").filter(pk=pk).first()
    if task is None:
        raise Http404(_("任务不存在或不在您的权限范围内"))
    now = timezone.now()
    shares = (
        TaskAssignment.objects.restrict(request.user)
        .filter(task=task)
        .select_related("manager", "evaluated_by")
        .order_by("manager__manager_id")
    )
    admin = is_admin(request.user)
    return render(
        request,
        "web/managers/assigned_task_detail.html",
        {
            "task": task,
            "title": free_text(task.title),
            "description": free_text(task.description),
            "overdue": task.deadline < now,
            "rows": [_share_row(s, task, now, admin) for s in shares],
            "is_admin": admin,
        },
    )


def _share_row(share, task, now, admin) -> dict:
    done = share.status == AssignmentStatus.DONE
    return {
        "share": share,
        "note": free_text(share.progress_note),
        "evaluation": free_text(share.evaluation),
        "overdue": not done and task.deadline < now,
        "late": done and share.completed_at and share.completed_at > task.deadline,
        "can_report": not admin and not done,
        "can_evaluate": admin and (done or task.deadline < now),
    }


def _share(request, pk) -> TaskAssignment:
    share = (
        TaskAssignment.objects.restrict(request.user).select_related("task").filter(pk=pk).first()
    )
    if share is None:
        raise Http404(_("任务不存在或不在您的权限范围内"))
    return share


@login_required
@require_POST
def assignment_progress(request, pk):
    require_role(request.user, {roles.ROLE_MANAGER}, _("只有接收任务的经理可以填报进度"))
    share = _share(request, pk)
    progress = posted_int(request.POST.get("progress", ""), max_digits=3)
    try:
        if progress is None:
            raise UserError(_("进度须为 0 至 100 的整数"))
        actions.report_progress(
            request.user, share, progress=progress, note=request.POST.get("note", "")
        )
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("已更新进度"))
    return redirect("web:assigned-task-detail", pk=share.task_id)


@login_required
@require_POST
def assignment_evaluate(request, pk):
    if not is_admin(request.user):
        raise PermissionDenied(_("只有管理员可以评价任务执行"))
    share = _share(request, pk)
    rating = posted_int(request.POST.get("rating", ""), max_digits=1)
    try:
        actions.evaluate_assignment(
            request.user, share, rating=rating or 0, comment=request.POST.get("comment", "")
        )
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("已保存评价"))
    return redirect("web:assigned-task-detail", pk=share.task_id)
