"""满意度调查: the managers' survey list and answer form, and the satisfaction results
(index by dimension, city and trigger; low scores; the versioned index weights)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Avg, Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keycare.access import roles
from keycare.access.presenter import free_text, masked_customer
from keycare.access.querysets import require_role
from keycare.errors import UserError
from keycare.surveys import actions
from keycare.surveys.models import (
    Dimension,
    SurveyResponse,
    SurveyState,
    SurveyTask,
    Trigger,
)
from keycare.web.labels import value_label

TASK_ROLES = {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
RESULT_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST}
PAGE_SIZE = 30


@login_required
def survey_list(request):
    require_role(request.user, TASK_ROLES, _("只有客户经理和管理员可以处理满意度调查"))
    state = request.GET.get("state", SurveyState.OPEN)
    trigger = request.GET.get("trigger", "")
    tasks = SurveyTask.objects.restrict(request.user).select_related(
        "customer", "template", "manager"
    )
    if state in SurveyState.values:
        tasks = tasks.filter(state=state)
    if trigger in Trigger.values:
        tasks = tasks.filter(trigger=trigger)
    page = Paginator(tasks.order_by("due_on", "pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "task": t,
            "customer": masked_customer(t.customer),
            "trigger": value_label(Trigger, t.trigger),
            "state": value_label(SurveyState, t.state),
            "respondent": t.get_respondent_display(),
        }
        for t in page.object_list
    ]
    context = {
        "page": page,
        "rows": rows,
        "state": state,
        "trigger": trigger,
        "states": SurveyState.choices,
        "triggers": Trigger.choices,
        "filters": {"state": state, "trigger": trigger},
    }
    return render(request, "web/surveys/list.html", context)


@login_required
def survey_answer(request, pk):
    require_role(request.user, TASK_ROLES, _("只有客户经理和管理员可以处理满意度调查"))
    task = (
        SurveyTask.objects.restrict(request.user)
        .select_related("customer", "template")
        .filter(pk=pk)
        .first()
    )
    if task is None:
        raise Http404
    status = 200
    if request.method == "POST":
        try:
            response = actions.answer_survey(request.user, task.pk, request.POST)
        except SurveyTask.DoesNotExist:
            raise Http404 from None
        except UserError as error:
            messages.error(request, str(error))
            status = 400
        else:
            text = _("已记录回答，满意度指数 %(index).1f") % {"index": response.index}
            if response.follow_up_id:
                text += _("（低于阈值，已为客户经理创建明日跟进预约）")
            messages.success(request, text)
            return redirect(reverse("web:survey-list"))
    questions = [
        {
            **q,
            "dimension_label": value_label(Dimension, q["dimension"]),
            "value": request.POST.get(q["code"], ""),
        }
        for q in task.template.questions
    ]
    context = {
        "task": task,
        "customer": masked_customer(task.customer),
        "questions": questions,
        "scale": range(task.template.scale_max + 1),
        "answer": getattr(task, "response", None) if task.state == SurveyState.ANSWERED else None,
        "comment": free_text(request.POST.get("comment", "")),
    }
    return render(request, "web/surveys/answer.html", context, status=status)


@login_required
def satisfaction_results(request):
    """满意度分析 (§6.2.9): the index by dimension, city and trigger, low scores, weights."""
    role, _scope = require_role(
        request.user, RESULT_ROLES, _("只有分析员和管理员可以查看满意度分析")
    )
    responses = SurveyResponse.objects.restrict(request.user)
    model = actions.current_model()
    overall = responses.aggregate(index=Avg("index"), n=Count("pk"))
    by_city = list(
        responses.values("task__city__name")
        .annotate(index=Avg("index"), n=Count("pk"))
        .order_by("-index")
    )
    by_trigger = [
        {**r, "label": value_label(Trigger, r["task__trigger"])}
        for r in responses.values("task__trigger").annotate(index=Avg("index"), n=Count("pk"))
    ]
    dims = _dimension_averages(responses)
    low = Paginator(
        responses.filter(index__lt=model.low_threshold).select_related(
            "task__customer", "task__template", "task__manager"
        ),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    context = {
        "overall": overall,
        "by_city": by_city,
        "by_trigger": by_trigger,
        "dimensions": dims,
        "chart": {"labels": [d["label"] for d in dims], "values": [d["score"] for d in dims]},
        "model": model,
        "weights": [
            (value_label(Dimension, d), model.weights.get(d, 0), d) for d in Dimension.values
        ],
        "low": low,
        "low_rows": [
            {
                "response": r,
                "customer": masked_customer(r.task.customer),
                "comment": free_text(r.comment),
            }
            for r in low.object_list
        ],
        "page": low,
        "filters": {},
        "can_edit_model": role == roles.ROLE_PROVINCE_ADMIN,
    }
    return render(request, "web/surveys/results.html", context)


def _dimension_averages(responses) -> list[dict]:
    """Mean of each dimension's score over the answers that measured it (few thousand rows)."""
    sums: dict[str, list[float]] = {}
    for scores in responses.values_list("dimension_scores", flat=True).iterator():
        for dim, value in (scores or {}).items():
            sums.setdefault(dim, []).append(float(value))
    return [
        {
            "code": d,
            "label": value_label(Dimension, d),
            "score": round(sum(v) / len(v), 1),
            "n": len(v),
        }
        for d in Dimension.values
        if (v := sums.get(d))
    ]


@login_required
@require_POST
def satisfaction_model_new(request):
    require_role(request.user, {roles.ROLE_PROVINCE_ADMIN}, _("只有省级管理员可以修改满意度模型"))
    weights = {d: request.POST.get(f"w_{d}", "") for d in Dimension.values}
    try:
        threshold = float(request.POST.get("low_threshold", ""))
        model = actions.new_model_version(
            request.user, weights, threshold, request.POST.get("note", "")
        )
    except ValueError:
        messages.error(request, _("低分阈值应为数字"))
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("满意度模型已更新为第 %(v)s 版") % {"v": model.version})
    return redirect(reverse("web:satisfaction-results"))


def survey_link(request, token):
    """The customer's own survey page, opened from the SMS link (no login, no personal data)."""
    from django.utils import timezone

    today = timezone.localdate()
    task = actions.open_by_token(token, today)
    if task is None:
        return render(request, "web/surveys/link_closed.html", status=404)
    status = 200
    if request.method == "POST":
        try:
            actions.answer_by_token(token, request.POST, today)
        except UserError as error:
            messages.error(request, str(error))
            status = 400
        else:
            return render(request, "web/surveys/link_thanks.html")
    questions = [{**q, "value": request.POST.get(q["code"], "")} for q in task.template.questions]
    context = {
        "task": task,
        "questions": questions,
        "scale": range(task.template.scale_max + 1),
        "comment": free_text(request.POST.get("comment", "")),
    }
    return render(request, "web/surveys/link.html", context, status=status)
