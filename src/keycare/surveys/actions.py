"""Writes of the surveys app: the built-in templates and model, drawing tasks, answering.

Every write takes the acting user (None for the daily job) and writes its audit event.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from keycare.core.audit import record
from keycare.errors import UserError
from keycare.keyaccounts.models import KeyAccountMember
from keycare.surveys.models import (
    Dimension,
    Respondent,
    SatisfactionModel,
    SurveyResponse,
    SurveyState,
    SurveyTask,
    SurveyTemplate,
    Trigger,
)
from keycare.tasks.models import Appointment, AppointmentKind, ServiceTask, TaskState
from keycare.workorders.models import WorkOrder

ANSWER_DAYS = 7  # a survey not answered within a week is stale: the experience has faded
QUIET_DAYS = 30  # never survey one customer twice within a month
PERIODIC_DAYS = 90  # key accounts: once a quarter
DEFAULT_WEIGHTS = {
    Dimension.PRODUCT: 0.25,
    Dimension.MANAGER: 0.25,
    Dimension.CHANNEL: 0.2,
    Dimension.COMMUNICATION: 0.15,
    Dimension.RELATIONSHIP: 0.15,
}
BUILTIN_TEMPLATES = {
    Trigger.MOMENT_SERVED: (
        "MOMENT",
        "关键时刻服务回访",
        [
            ("q1", "您对客户经理本次服务的态度和专业程度是否满意？", Dimension.MANAGER),
            ("q2", "本次服务是否解决了您的问题？", Dimension.RELATIONSHIP),
            ("q3", "您对推荐的业务或资费是否满意？", Dimension.PRODUCT),
        ],
    ),
    Trigger.WORKORDER_CLOSED: (
        "WORKORDER",
        "工单处理满意度回访",
        [
            ("q1", "您对问题处理的及时性是否满意？", Dimension.CHANNEL),
            ("q2", "您对处理结果是否满意？", Dimension.RELATIONSHIP),
            ("q3", "您对客户经理的跟进是否满意？", Dimension.MANAGER),
        ],
    ),
    Trigger.PERIODIC: (
        "GROUP",
        "集团客户满意度调查",
        [
            ("q1", "您对集团产品（专线、集团网、移动办公）的质量是否满意？", Dimension.PRODUCT),
            ("q2", "您对客户经理的服务是否满意？", Dimension.MANAGER),
            ("q3", "您对营业厅、热线等服务渠道是否满意？", Dimension.CHANNEL),
            ("q4", "您对集团业务和服务的宣传介绍是否满意？", Dimension.COMMUNICATION),
            ("q5", "您对我公司的客户关系维护（走访、关怀）是否满意？", Dimension.RELATIONSHIP),
        ],
    ),
}


def ensure_builtins() -> None:
    """The three built-in templates and model version 1 (idempotent)."""
    for trigger, (code, name, questions) in BUILTIN_TEMPLATES.items():
        SurveyTemplate.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "trigger": trigger,
                "questions": [{"code": c, "text": t, "dimension": d} for c, t, d in questions],
            },
        )
    if not SatisfactionModel.objects.exists():
        SatisfactionModel.objects.create(
            version=1,
            weights={str(k): v for k, v in DEFAULT_WEIGHTS.items()},
            note="默认权重（广东集团客户满意度模型的五项商业过程指标）",
        )


def current_model() -> SatisfactionModel:
    ensure_builtins()
    return SatisfactionModel.objects.order_by("-version").first()


@transaction.atomic
def new_model_version(actor, weights: dict, low_threshold: float, note: str = ""):
    """A new version of the index weights (validated: known dimensions, sum 1)."""
    clean = {}
    for dim in Dimension.values:
        try:
            clean[dim] = float(weights.get(dim, 0))
        except (TypeError, ValueError):
            raise UserError(f"权重 {dim} 应为数字 (weight must be a number)") from None
        if not 0 <= clean[dim] <= 1:
            raise UserError(f"权重 {dim} 应在 0 到 1 之间 (weight out of range)")
    if abs(sum(clean.values()) - 1) > 0.001:
        raise UserError(f"权重之和应为 1，现为 {sum(clean.values()):.3f} (weights must sum to 1)")
    if not 0 <= low_threshold <= 100:
        raise UserError("低分阈值应在 0 到 100 之间 (threshold out of range)")
    version = current_model().version + 1
    model = SatisfactionModel.objects.create(
        version=version,
        weights=clean,
        low_threshold=low_threshold,
        note=note[:200],
        created_by=actor,
    )
    record(actor, "surveys.model", model, version=version, changes=clean)
    return model


# --------------------------------------------------------------------------- drawing


@transaction.atomic
def draw_survey_tasks(actor, day: date) -> dict[str, int]:
    """Draw the day's surveys: served moments, closed work orders, key accounts due."""
    ensure_builtins()
    templates = {t.trigger: t for t in SurveyTemplate.objects.filter(active=True)}
    recent = set(
        SurveyTask.objects.filter(drawn_on__gt=day - timedelta(days=QUIET_DAYS)).values_list(
            "customer_id", flat=True
        )
    )
    start = timezone.make_aware(datetime.combine(day, time.min))
    end = start + timedelta(days=1)
    counts = {}
    served = ServiceTask.objects.filter(
        state__in=(TaskState.HANDLED_NO_CHANGE, TaskState.HANDLED_NEW_ALERT),
        handled_at__gte=start,
        handled_at__lt=end,
    ).select_related("customer")
    counts[Trigger.MOMENT_SERVED] = _draw(
        templates.get(Trigger.MOMENT_SERVED),
        ((t.customer, t.manager_id, f"task:{t.pk}", None, Respondent.INDIVIDUAL) for t in served),
        day,
        recent,
    )
    closed = WorkOrder.objects.filter(closed_at__gte=start, closed_at__lt=end).select_related(
        "customer", "task"
    )
    counts[Trigger.WORKORDER_CLOSED] = _draw(
        templates.get(Trigger.WORKORDER_CLOSED),
        (
            (
                w.customer,
                w.task.manager_id if w.task else w.customer.manager_id,
                f"workorder:{w.pk}",
                None,
                Respondent.INDIVIDUAL,
            )
            for w in closed
        ),
        day,
        recent,
    )
    counts[Trigger.PERIODIC] = _draw(
        templates.get(Trigger.PERIODIC), _key_account_people(day), day, recent
    )
    total = sum(counts.values())
    if total:
        record(
            actor,
            "surveys.draw",
            object_type="surveys.surveytask",
            business_date=day.isoformat(),
            created=total,
        )
    return {str(k): v for k, v in counts.items()}


def draw_periodic_surveys(actor, day: date) -> int:
    """Draw this quarter's key-account surveys (key persons and a sample of members) alone:
    the scheduler's quarterly job (``keycare schedule``). Someone surveyed in the last 30 days
    and a person already drawn for the quarter are skipped, so a repeat draws nothing."""
    ensure_builtins()
    template = SurveyTemplate.objects.filter(active=True, trigger=Trigger.PERIODIC).first()
    recent = set(
        SurveyTask.objects.filter(drawn_on__gt=day - timedelta(days=QUIET_DAYS)).values_list(
            "customer_id", flat=True
        )
    )
    quarter = f"{day.year}Q{(day.month - 1) // 3 + 1}"
    recent |= set(
        SurveyTask.objects.filter(source__endswith=f":{quarter}").values_list(
            "customer_id", flat=True
        )
    )
    drawn = _draw(template, _key_account_people(day), day, recent)
    if drawn:
        record(
            actor,
            "surveys.draw",
            object_type="surveys.surveytask",
            business_date=day.isoformat(),
            created=drawn,
        )
    return drawn


def _key_account_people(day: date):
    """Key persons (decision makers, contacts) and members of key accounts due this quarter."""
    quarter = f"{day.year}Q{(day.month - 1) // 3 + 1}"
    members = KeyAccountMember.objects.select_related("key_account", "customer").order_by(
        "key_account_id", "role", "customer_id"
    )
    per_account: dict[int, int] = {}
    for m in members:
        is_key = m.role == "key_person"
        taken = per_account.get(m.key_account_id, 0)
        if not is_key and taken >= 5:  # a sample of members, every key person
            continue
        per_account[m.key_account_id] = taken + 1
        respondent = Respondent.KEY_PERSON if is_key else Respondent.MEMBER
        manager = m.key_account.manager_id or m.customer.manager_id
        yield m.customer, manager, f"group:{m.key_account_id}:{quarter}", m.key_account, respondent


def _draw(template, candidates, day: date, recent: set) -> int:
    if template is None:
        return 0
    objects = []
    for customer, manager_id, source, key_account, respondent in candidates:
        if customer.pk in recent:
            continue
        recent.add(customer.pk)
        objects.append(
            SurveyTask(
                template=template,
                customer=customer,
                key_account=key_account,
                respondent=respondent,
                trigger=template.trigger,
                source=source,
                manager_id=manager_id,
                city_id=customer.city_id,
                drawn_on=day,
                due_on=day + timedelta(days=ANSWER_DAYS),
                token=secrets.token_urlsafe(24),
            )
        )
    SurveyTask.objects.bulk_create(objects, ignore_conflicts=True)
    return len(objects)


# --------------------------------------------------------------------------- answering


def score(template: SurveyTemplate, model: SatisfactionModel, answers: dict):
    """(dimension scores 0-100, index 0-100) for answers on the template's scale.

    A dimension nobody asked about is left out and the weights of the others renormalised.
    """
    per_dim: dict[str, list[float]] = {}
    for question in template.questions:
        value = answers[question["code"]]
        per_dim.setdefault(question["dimension"], []).append(value / template.scale_max * 100)
    dims = {d: sum(v) / len(v) for d, v in per_dim.items()}
    weights = {d: float(model.weights.get(d, 0)) for d in dims}
    total = sum(weights.values())
    if total <= 0:
        index = sum(dims.values()) / len(dims)
    else:
        index = sum(dims[d] * weights[d] for d in dims) / total
    return {d: round(v, 2) for d, v in dims.items()}, round(index, 2)


def parse_answers(template: SurveyTemplate, data) -> dict[str, int]:
    answers = {}
    for question in template.questions:
        raw = data.get(question["code"])
        try:
            value = int(str(raw))
        except (TypeError, ValueError):
            raise UserError(f"第 {question['code']} 题未作答或不是整数 (answer required)") from None
        if not 0 <= value <= template.scale_max:
            raise UserError(f"第 {question['code']} 题应在 0 到 {template.scale_max} 分之间")
        answers[question["code"]] = value
    return answers


@transaction.atomic
def answer_survey(actor, task_id: int, data, channel: str = "manager") -> SurveyResponse:
    """Record an answer (the task must be open and in the actor's scope, else 404/error).

    A low index raises a follow-up: an alert appointment for the customer's manager tomorrow.
    """
    task = (
        SurveyTask.objects.restrict(actor, "change")
        .select_for_update()
        .select_related("template", "customer")
        .get(pk=task_id)
    )
    return record_answer(
        actor, task, parse_answers(task.template, data), channel, str(data.get("comment") or "")
    )


@transaction.atomic
def record_answer(actor, task, answers: dict, channel: str, comment: str = "") -> SurveyResponse:
    """Score and keep an answer to an open survey (its scope already checked by the caller)."""
    if task.state != SurveyState.OPEN:
        raise UserError("该调查已回答或已过期 (survey is not open)")
    model = current_model()
    dims, index = score(task.template, model, answers)
    now = timezone.now()
    response = SurveyResponse.objects.create(
        task=task,
        answers=answers,
        dimension_scores=dims,
        index=index,
        model=model,
        channel=channel,
        comment=comment[:1000],
        answered_by=actor,
        answered_at=now,
    )
    if index < model.low_threshold:
        response.follow_up = Appointment.objects.create(
            customer=task.customer,
            manager_id=task.manager_id,
            kind=AppointmentKind.ALERT,
            due_at=now + timedelta(days=1),
            notes=f"满意度回访低分 {index:.0f} 分（{task.template.name}），请跟进",
            created_by=actor,
        )
        response.save(update_fields=["follow_up"])
    task.state = SurveyState.ANSWERED
    task.save(update_fields=["state"])
    record(actor, "surveys.answer", task, channel=channel, rows=len(answers))
    return response


def draw_after_load(loader) -> None:
    """A run load step: draw the business date's surveys with the day's other work."""
    loader.summary["surveys_drawn"] = sum(draw_survey_tasks(None, loader.date).values())


def open_by_token(token: str, today: date) -> SurveyTask | None:
    """The open, unexpired survey a customer's link names (None for anything else)."""
    if not token or len(token) > 43:
        return None
    return (
        SurveyTask.objects.select_related("template")
        .filter(token=token, state=SurveyState.OPEN, due_on__gte=today)
        .first()
    )


@transaction.atomic
def answer_by_token(token: str, data, today: date) -> SurveyResponse:
    """The customer answers through their SMS link (no login: the token is the key)."""
    task = open_by_token(token, today)
    if task is None:
        raise UserError("该调查链接已失效 (this survey link is no longer valid)")
    task = (
        SurveyTask.objects.select_for_update()
        .select_related("template", "customer")
        .get(pk=task.pk)
    )
    answers = parse_answers(task.template, data)
    return record_answer(None, task, answers, "sms", str(data.get("comment") or ""))
