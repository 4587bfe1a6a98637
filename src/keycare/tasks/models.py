"""Service tasks (预警任务) and the work on them: the moments a task carries, allocation
decisions, outcomes and appointments.

Writes go through ``keycare.tasks.actions`` (state machine, optimistic locking, audit).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet
from keycare.core.models import TimeStampedModel
from keycare.customers.models import Customer

# The tables keep the names they had in the workorders app (db_table): moving a model between
# apps moved no data (see the app's 0001 migration).


class TaskState(models.TextChoices):
    UNHANDLED = "unhandled", _("未处理")
    IN_PROGRESS = "in_progress", _("处理中")
    HANDLED_NO_CHANGE = "handled_no_change", _("处理后无变化")
    HANDLED_NEW_ALERT = "handled_new_alert", _("处理后有新预警")


class TaskChannel(models.TextChoices):
    CALL = "call", _("外呼")
    SMS = "sms", _("短信")


class ServiceTask(TimeStampedModel):
    """The work item (预警任务): one per customer per cycle, merging all the customer's moments."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="service_tasks"
    )
    manager = models.ForeignKey(
        "org.Manager",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="service_tasks",
    )
    run = models.ForeignKey(
        "runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    # The customer's city when the task was made, copied so a city administrator's scope reads
    # the task rows alone: joining the customers table cost each dashboard query ~0.4 s at
    # 1M customers (docs/performance.md). Filled by save() and by the daily-run loader.
    city = models.ForeignKey(
        "org.City",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    business_date = models.DateField(_("业务日期"))
    cycle = models.CharField(_("周期"), max_length=16, default="daily")
    priority_score = models.FloatField(_("优先级得分"), default=0)
    risk_probability = models.FloatField(_("离网风险概率"), null=True, blank=True)
    risk_reasons = models.JSONField(_("风险原因"), default=list, blank=True)
    health_scores = models.JSONField(_("健康度"), default=dict, blank=True)
    channel = models.CharField(_("渠道"), max_length=8, choices=TaskChannel.choices)
    state = models.CharField(
        _("状态"), max_length=20, choices=TaskState.choices, default=TaskState.UNHANDLED
    )
    # Optimistic lock: every write does UPDATE ... WHERE id=? AND version=? and bumps it.
    version = models.PositiveIntegerField(default=1)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_at = models.DateTimeField(_("领取时间"), null=True, blank=True)
    handled_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    # Closure of work orders raised from this task, reported back (渠道协同闭环).
    feedback = models.TextField(_("协同反馈"), blank=True)

    scope = {"city": "city", "manager": "manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "workorders_servicetask"
        ordering = ["-business_date", "-priority_score", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "business_date", "cycle"], name="uniq_task_per_customer_cycle"
            )
        ]
        indexes = [
            models.Index(fields=["manager", "business_date", "state"]),
            models.Index(fields=["business_date", "state"]),
            # The task lists' order (web and API): the first page without sorting a whole day.
            models.Index(
                fields=["-business_date", "-priority_score", "id"], name="task_list_order"
            ),
            # The administrators' ranking: per-manager counts over a date window and the join
            # to outcomes, both index-only (hence the id).
            models.Index(
                fields=["business_date", "manager", "state"],
                include=["id"],
                name="task_date_manager_state_id",
            ),
            # The same for a city administrator's dashboards.
            models.Index(
                fields=["city", "business_date", "manager", "state"],
                include=["id"],
                name="task_city_date_manager_state",
            ),
        ]
        verbose_name = _("预警任务")
        verbose_name_plural = _("预警任务")

    def __str__(self):
        return f"{self.business_date} {self.customer_id} ({self.get_state_display()})"

    def save(self, *args, **kwargs):
        if self.city_id is None and self.customer_id is not None:
            self.city_id = self.customer.city_id
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.state in (TaskState.UNHANDLED, TaskState.IN_PROGRESS)


def fill_task_cities(tasks) -> int:
    """Copy the customer's city onto ``tasks`` that have none (one UPDATE, for bulk creates)."""
    city = Customer.objects.filter(pk=models.OuterRef("customer_id")).values("city_id")[:1]
    return tasks.filter(city__isnull=True).update(city_id=models.Subquery(city))


class TaskMoment(models.Model):
    """One moment a task carries, copied from its detection so reloads never alter worked tasks."""

    task = models.ForeignKey(ServiceTask, on_delete=models.CASCADE, related_name="moments")
    moment = models.ForeignKey(
        "moments.MomentDefinition", on_delete=models.PROTECT, related_name="+"
    )
    rule_version = models.PositiveIntegerField(null=True, blank=True)
    priority = models.IntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    explanation = models.TextField(blank=True)

    scope = {"city": "task__city", "manager": "task__manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "workorders_taskmoment"
        ordering = ["task", "-priority", "moment__code"]
        constraints = [models.UniqueConstraint(fields=["task", "moment"], name="uniq_task_moment")]

    def __str__(self):
        return f"{self.task_id} {self.moment_id}"


class Decision(models.TextChoices):
    CALL = "call", _("外呼")
    SMS = "sms", _("短信")
    DEFERRED = "deferred", _("顺延")
    CAPPED = "capped", _("频次限制")
    SUPPRESSED = "suppressed", _("免打扰")
    CONTROL = "control", _("对照组")
    EXPIRED = "expired", _("等待过期")


class AllocationDecision(models.Model):
    """What allocation decided for one candidate (a customer's moment) in one run, and why.

    Every candidate ends with exactly one decision, so nothing is dropped silently.
    """

    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="decisions")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    moment = models.ForeignKey(
        "moments.MomentDefinition",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    manager = models.ForeignKey(
        "org.Manager", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    business_date = models.DateField(_("业务日期"))
    cycle = models.CharField(_("周期"), max_length=16, default="daily")
    decision = models.CharField(_("决策"), max_length=16, choices=Decision.choices)
    reason = models.TextField(_("原因"), blank=True)
    age_days = models.PositiveIntegerField(_("顺延次数"), default=0)
    priority_score = models.FloatField(_("优先级得分"), null=True, blank=True)
    source = models.CharField(_("来源"), max_length=16, blank=True)  # new / carried over

    scope = {"city": "customer__city", "manager": "manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "workorders_allocationdecision"
        ordering = ["-business_date", "decision", "id"]
        indexes = [
            models.Index(fields=["business_date", "decision"]),
            models.Index(fields=["run", "customer"]),
            models.Index(fields=["business_date", "manager", "decision"]),
        ]
        verbose_name = _("派送决策")
        verbose_name_plural = _("派送决策")

    def __str__(self):
        return f"{self.business_date} {self.customer_id} {self.decision}"


class ContactResult(models.TextChoices):
    REACHED = "reached", _("已接通")
    NOT_REACHED = "not_reached", _("未接通")
    WRONG_NUMBER = "wrong_number", _("号码错误")
    REFUSED = "refused", _("拒绝沟通")


class Recommendation(models.TextChoices):
    ACCEPTED = "accepted", _("接受建议")
    DECLINED = "declined", _("拒绝建议")
    NONE = "none", _("未推荐")


class Outcome(models.Model):
    """What happened when the manager contacted the customer."""

    # Indexed with the recommendation below (the ranking counts accepted outcomes index-only).
    task = models.ForeignKey(
        ServiceTask, on_delete=models.CASCADE, related_name="outcomes", db_index=False
    )
    contact_result = models.CharField(_("接触结果"), max_length=16, choices=ContactResult.choices)
    recommendation = models.CharField(
        _("建议结果"), max_length=16, choices=Recommendation.choices, default=Recommendation.NONE
    )
    notes = models.TextField(_("备注"), blank=True)
    # The retention tactic the manager used (保有战术), so results can be compared by tactic.
    tactic = models.ForeignKey(
        "moments.Tactic",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="outcomes",
        verbose_name=_("保有战术"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    scope = {"city": "task__city", "manager": "task__manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "workorders_outcome"
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["task", "recommendation"], name="outcome_task_recommendation")
        ]
        verbose_name = _("处理结果")
        verbose_name_plural = _("处理结果")

    def __str__(self):
        return f"{self.task_id} {self.contact_result}"


class DialReason(models.TextChoices):
    """Why a manager shows a task's number to dial it (audited with every dial)."""

    OUTBOUND_SERVICE = "outbound_service", _("外呼服务")
    CALLBACK = "callback", _("预约回访")
    CUSTOMER_REQUEST = "customer_request", _("客户要求回电")
    COMPLAINT = "complaint", _("投诉处理")


class CtiCall(models.Model):
    """One call the outbound-call system (CTI) reported, by its own call id: the id is unique,
    so a repeated report finds this row and records no second outcome."""

    cti_call_id = models.CharField(_("外呼流水号"), max_length=64, unique=True)
    task = models.ForeignKey(ServiceTask, on_delete=models.CASCADE, related_name="cti_calls")
    outcome = models.OneToOneField(Outcome, on_delete=models.CASCADE, related_name="cti_call")
    started_at = models.DateTimeField(_("开始时间"))
    ended_at = models.DateTimeField(_("结束时间"))
    result = models.CharField(_("接触结果"), max_length=16, choices=ContactResult.choices)
    recording_ref = models.CharField(_("录音编号"), max_length=200, blank=True)
    # Whether this report claimed the task (it was unhandled when the result came in).
    claimed = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    scope = {"city": "task__city", "manager": "task__manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("外呼记录")
        verbose_name_plural = _("外呼记录")

    def __str__(self):
        return f"{self.cti_call_id} {self.task_id} {self.result}"


class AppointmentKind(models.TextChoices):
    CARE_MARKETING = "care_marketing", _("关怀营销类预约")
    ALERT = "alert", _("预警类预约")


class Appointment(TimeStampedModel):
    """A scheduled follow-up (预约): due when ``due_at`` has passed, handled when ``done_at`` is set."""

    task = models.ForeignKey(
        ServiceTask, null=True, blank=True, on_delete=models.CASCADE, related_name="appointments"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="appointments"
    )
    manager = models.ForeignKey(
        "org.Manager",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="appointments",
    )
    kind = models.CharField(_("预约类型"), max_length=16, choices=AppointmentKind.choices)
    due_at = models.DateTimeField(_("预约时间"))
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    notes = models.TextField(_("备注"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope = {"city": "customer__city", "manager": "manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "workorders_appointment"
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["manager", "done_at", "due_at"])]
        verbose_name = _("预约")
        verbose_name_plural = _("预约")

    def __str__(self):
        return f"{self.customer_id} {self.kind} {self.due_at:%Y-%m-%d %H:%M}"


class AllocationSettingsVersion(models.Model):
    """One version of the allocation settings (派送设置): weights, caps, cool-down, control
    group, carry-over. The highest number is live; the daily run reads it. Versions are never
    edited: a change or a restore adds one (``keycare.tasks.actions``)."""

    number = models.PositiveIntegerField(_("版本号"), unique=True)
    values = models.JSONField(_("设置"))  # keycare.engine.allocate.AllocationConfig fields
    changes = models.JSONField(_("修改内容"), default=dict, blank=True)  # name -> [old, new]
    note = models.CharField(_("修改说明"), max_length=200, blank=True)
    restored_from = models.PositiveIntegerField(_("恢复自版本"), null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(_("修改时间"), auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("派送设置版本")
        verbose_name_plural = _("派送设置版本")

    def __str__(self):
        return f"v{self.number}"


class GroupTask(TimeStampedModel):
    """A group moment (集团关键时刻) handed to the group's manager: one per group, moment and
    business date, copied from the run's detection so reloads never alter worked tasks."""

    key_account = models.ForeignKey(
        "keyaccounts.KeyAccount", on_delete=models.CASCADE, related_name="group_tasks"
    )
    moment = models.ForeignKey(
        "moments.MomentDefinition", on_delete=models.PROTECT, related_name="+"
    )
    manager = models.ForeignKey(
        "org.Manager", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey(
        "runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The group's city, copied so a city administrator's scope reads the task rows alone.
    city = models.ForeignKey(
        "org.City",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    business_date = models.DateField(_("业务日期"))
    priority = models.IntegerField(_("优先级"), default=0)
    params = models.JSONField(default=dict, blank=True)
    explanation = models.TextField(_("预警说明"), blank=True)
    state = models.CharField(
        _("状态"), max_length=20, choices=TaskState.choices, default=TaskState.UNHANDLED
    )

    scope = {"city": "city", "manager": "manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-business_date", "-priority", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key_account", "moment", "business_date"], name="uniq_group_task"
            )
        ]
        indexes = [models.Index(fields=["manager", "state", "business_date"])]
        verbose_name = _("集团预警任务")
        verbose_name_plural = _("集团预警任务")

    def __str__(self):
        return f"{self.business_date} {self.key_account_id} {self.moment_id}"

    @property
    def is_open(self) -> bool:
        return self.state in (TaskState.UNHANDLED, TaskState.IN_PROGRESS)
