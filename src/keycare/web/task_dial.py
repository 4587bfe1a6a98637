"""拨号: the task page's dial action. The task's own manager shows the customer's number once,
with a reason, to call them (``keycare.tasks.actions.dial_task``: audited as ``task.dial``,
limited per manager per day).

The number is in the answer to the POST only: that page is ``never_cache`` and nothing keeps
the number (no session, no message, no other page), so reloading the task page shows the masked
number again. The form on the task page is a partial (``web/partials/task_dial.html``) drawn by
the ``task_dial_form`` tag, so the task page itself does not change for it.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from keycare.access.presenter import masked_customer
from keycare.errors import UserError
from keycare.tasks import actions as task_actions
from keycare.tasks.models import DialReason, ServiceTask

NOTE_MAX = task_actions.DIAL_NOTE_MAX


def dial_form_context(user, task) -> dict:
    """What the dial form on the task page needs; ``show`` is False for anyone who may not dial."""
    if task_actions.dial_refusal(user, task):
        return {"show": False}
    limit = task_actions.dial_daily_limit()
    return {
        "show": True,
        "task": task,
        "reasons": DialReason.choices,
        "note_max": NOTE_MAX,
        "left": max(limit - task_actions.dials_today(user), 0),
        "limit": limit,
    }


@never_cache  # the clear number lives in this one response only; no cache may keep it
@login_required
@require_http_methods(["GET", "POST"])
def task_dial(request, pk):
    task = (
        ServiceTask.objects.restrict(request.user, "change")
        .select_related("customer")
        .filter(pk=pk)
        .first()
    )
    if task is None:
        raise Http404(_("任务不存在或不在您的权限范围内"))
    if request.method == "GET":  # a reload or a bookmark: the number is never shown again
        return redirect("web:task-detail", pk=task.pk)
    try:
        msisdn = task_actions.dial_task(
            request.user,
            task,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", "")[: NOTE_MAX * 4],
            ip=request.META.get("REMOTE_ADDR"),
        )
    except UserError as error:
        messages.error(request, str(error))
        return redirect("web:task-detail", pk=task.pk)
    limit = task_actions.dial_daily_limit()
    return render(
        request,
        "web/tasks/dial.html",
        {
            "task": task,
            "customer": masked_customer(task.customer, ("name",)),
            "msisdn": msisdn,
            "tel": "".join(ch for ch in msisdn if ch.isdigit() or ch == "+"),
            "reason": DialReason(request.POST["reason"]).label,
            "left": max(limit - task_actions.dials_today(request.user), 0),
        },
    )
