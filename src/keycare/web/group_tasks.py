"""集团关键时刻: the group tasks of the daily run (group moments handed to each group's
manager), as a scoped list, a task page with the explanation and script, and the group 360's
panel. A key-account manager sees the tasks of their groups; administrators their scope;
out of scope is 404. Groups are companies: no personal data here.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from keycare.access import roles
from keycare.access.querysets import require_role
from keycare.errors import UserError
from keycare.moments.models import Category, MomentDefinition
from keycare.tasks.group_actions import MOVES, move_group_task
from keycare.tasks.models import GroupTask, TaskState

PAGE_SIZE = 50
VIEW_ROLES = {
    roles.ROLE_PROVINCE_ADMIN,
    roles.ROLE_CITY_ADMIN,
    roles.ROLE_MANAGER,
    roles.ROLE_ANALYST,
}
WORK_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_MANAGER}
OPEN = "open"


def moment_name(moment: MomentDefinition) -> str:
    english = (get_language() or "").startswith("en")
    return (moment.name_en if english and moment.name_en else moment.name_zh) or moment.code


def _with_names(tasks) -> list[GroupTask]:
    tasks = list(tasks)
    for task in tasks:
        task.moment_name = moment_name(task.moment)
    return tasks


def open_group_tasks(group) -> list[GroupTask]:
    """The group 360's panel: the group's open group tasks (the group is in scope already)."""
    tasks = (
        GroupTask.objects.filter(
            key_account=group, state__in=[TaskState.UNHANDLED, TaskState.IN_PROGRESS]
        )
        .select_related("moment", "manager")
        .order_by("-business_date", "-priority")[:20]
    )
    return _with_names(tasks)


def _filters(request) -> dict:
    """The list's filters; unknown values fall back to the default (open tasks, any moment)."""
    state = request.GET.get("state", OPEN)
    if state not in (OPEN, "all", *TaskState.values):
        state = OPEN
    code = request.GET.get("moment", "")
    if not MomentDefinition.objects.filter(code=code, category=Category.GROUP).exists():
        code = ""
    return {"state": state, "moment": code}


@login_required
def group_task_list(request):
    require_role(request.user, VIEW_ROLES, "当前角色无权查看集团预警任务")
    filters = _filters(request)
    tasks = GroupTask.objects.restrict(request.user).select_related(
        "key_account", "moment", "manager"
    )
    if filters["state"] == OPEN:
        tasks = tasks.filter(state__in=[TaskState.UNHANDLED, TaskState.IN_PROGRESS])
    elif filters["state"] != "all":
        tasks = tasks.filter(state=filters["state"])
    if filters["moment"]:
        tasks = tasks.filter(moment__code=filters["moment"])
    page = Paginator(tasks.order_by("-business_date", "-priority", "id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    page.object_list = _with_names(page.object_list)
    moments = MomentDefinition.objects.filter(category=Category.GROUP).order_by("code")
    return render(
        request,
        "web/group_tasks/list.html",
        {
            "page": page,
            "filters": filters,
            "states": TaskState.choices,
            "moments": [(m.code, moment_name(m)) for m in moments],
        },
    )


def _scoped_task(user, pk, action: str = "view") -> GroupTask:
    task = (
        GroupTask.objects.restrict(user, action)
        .select_related("key_account", "moment", "manager", "run")
        .filter(pk=pk)
        .first()
    )
    if task is None:
        raise Http404("集团预警任务不存在或不在您的权限范围内")
    return task


def _param_rows(task: GroupTask) -> list[tuple[str, object]]:
    """The detection's parameters by their Chinese names (group fields and thresholds)."""
    from keycare.engine.groups import GROUP_FIELDS

    names = {f.code: f.zh for f in GROUP_FIELDS}
    names.update(revenue_m1_drop_pct=_("收入降幅"), city_override=_("适用地市阈值"))
    for name, spec in (task.moment.thresholds or {}).items():
        if isinstance(spec, dict) and spec.get("zh"):
            names[name] = f"{spec['zh']}（{_('阈值')}）"
    return [(names.get(k, k), v) for k, v in sorted((task.params or {}).items())]


@login_required
@require_http_methods(["GET", "POST"])
def group_task_detail(request, pk):
    require_role(request.user, VIEW_ROLES, "当前角色无权查看集团预警任务")
    task = _scoped_task(request.user, pk)
    if request.method == "POST":
        require_role(request.user, WORK_ROLES, "当前角色无权处理集团预警任务")
        task = _scoped_task(request.user, pk, "change")
        try:
            move_group_task(
                request.user, task, request.POST.get("to", ""), note=request.POST.get("note", "")
            )
        except UserError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, task.get_state_display())
        return redirect("web:group-task-detail", pk=task.pk)
    task.moment_name = moment_name(task.moment)
    can_work = require_role(request.user, VIEW_ROLES)[0] in WORK_ROLES
    return render(
        request,
        "web/group_tasks/detail.html",
        {
            "task": task,
            "params": _param_rows(task),
            "moves": [
                (value, label)
                for value, label in TaskState.choices
                if value in MOVES.get(task.state, ())
            ]
            if can_work
            else [],
        },
    )
