"""日常事务提醒 (§7.2.3): the reminder list (``keycare.managers.reminders``) as a page and as
the panel the manager workbench loads after it renders (so the workbench stays fast); on the
page a manager opts in or out of the daily digest by SMS and e-mail."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keycare.access import roles
from keycare.access.querysets import require_role, user_scope
from keycare.managers import actions
from keycare.managers.reminders import reminders_for
from keycare.org.models import Manager

READER_ROLES = {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}


def _rows(user) -> list[dict]:
    rows = []
    for reminder in reminders_for(user):
        url = ""
        if reminder.target:
            name, args, query = reminder.target
            url = reverse(name, args=args) + (f"?{query}" if query else "")
        rows.append({"r": reminder, "url": url})
    return rows


@login_required
def reminder_list(request):
    require_role(request.user, READER_ROLES, _("您的角色没有事务提醒"))
    manager = _own_manager(request.user)
    return render(
        request,
        "web/managers/reminders.html",
        {
            "rows": _rows(request.user),
            "digest": actions.profile_of(manager) if manager else None,
        },
    )


def _own_manager(user) -> Manager | None:
    role, scope = user_scope(user)
    if role != roles.ROLE_MANAGER or not scope:
        return None
    return Manager.objects.filter(pk=scope).first()


@login_required
@require_POST
def reminder_digest(request):
    """The manager's own opt-in to the daily digest (SMS to their mobile, e-mail)."""
    require_role(request.user, {roles.ROLE_MANAGER}, _("只有客户经理可以设置提醒摘要"))
    manager = _own_manager(request.user)
    if manager is None:
        raise Http404(_("您的账号没有关联客户经理"))
    sms, email = request.POST.get("sms") == "on", request.POST.get("email") == "on"
    actions.set_digest(request.user, manager, sms=sms, email=email)
    messages.success(request, _("已保存提醒摘要设置"))
    return redirect("web:reminder-list")


@login_required
def reminder_panel(request):
    require_role(request.user, READER_ROLES, _("您的角色没有事务提醒"))
    return render(request, "web/managers/_reminder_panel.html", {"rows": _rows(request.user)})
