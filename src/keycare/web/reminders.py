"""日常事务提醒 (§7.2.3): the reminder list (``keycare.managers.reminders``) as a page and as
the panel the manager workbench loads after it renders (so the workbench stays fast)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from keycare.access import roles
from keycare.access.querysets import require_role
from keycare.managers.reminders import reminders_for

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
    return render(request, "web/managers/reminders.html", {"rows": _rows(request.user)})


@login_required
def reminder_panel(request):
    require_role(request.user, READER_ROLES, _("您的角色没有事务提醒"))
    return render(request, "web/managers/_reminder_panel.html", {"rows": _rows(request.user)})
