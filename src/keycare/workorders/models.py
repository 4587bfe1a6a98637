"""Runs loaded from the data plane, and the work they create: tasks, outcomes, appointments,
campaigns and work orders.

Scoping follows the convention in ``keycare.customers.models``: ``scope`` names the ORM
paths to the City and to the Manager a row belongs to.

Writes go through ``keycare.workorders.actions`` (state machine, optimistic locking, audit)
and ``keycare.workorders.loaders`` (bulk load of a published run).
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet
from keycare.core.models import TimeStampedModel
from keycare.customers.models import Customer

CUSTOMER_SCOPE = {"city": "customer__city", "manager": "customer__manager"}


# --- runs and what they detected -------------------------------------------------------


class RunStatus(models.TextChoices):
    SUCCEEDED = "succeeded", _("成功")
    FAILED = "failed", _("失败")
    SUPERSEDED = "superseded", _("已被重跑替换")


class Run(models.Model):
    """One published daily run, as loaded into the application."""

    run_id = models.CharField(_("批次号"), max_length=80, unique=True)
    business_date = models.DateField(_("业务日期"), db_index=True)
    status = models.CharField(_("状态"), max_length=16, default=RunStatus.SUCCEEDED)
    engine = models.CharField(_("引擎"), max_length=32, blank=True)
    definitions_version = models.CharField(_("规则集版本"), max_length=128, blank=True)
    definition_set = models.ForeignKey(
        "moments.DefinitionSetVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
    )
    model_version = models.CharField(_("风险模型版本"), max_length=128, blank=True)
    inputs = models.JSONField(_("输入文件及校验和"), default=dict, blank=True)
    timings = models.JSONField(_("各步骤耗时"), default=dict, blank=True)
    counts = models.JSONField(_("各时刻数量"), default=dict, blank=True)
    quarantined = models.PositiveIntegerField(_("隔离行数"), default=0)
    suppressed = models.PositiveIntegerField(_("免打扰数"), default=0)
    detected = models.PositiveIntegerField(_("预警数"), default=0)
    record = models.JSONField(_("运行记录"), default=dict, blank=True)  # run.json as published
    load_summary = models.JSONField(_("加载结果"), default=dict, blank=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    loaded_at = models.DateTimeField(_("加载时间"), null=True, blank=True)

    class Meta:
        ordering = ["-business_date", "-id"]
        verbose_name = _("批次")
        verbose_name_plural = _("批次")

    def __str__(self):
        return self.run_id


class QuarantineRow(models.Model):
    """An input row the run rejected, with the rule it broke (drill-down from a run)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="quarantine_rows")
    file = models.CharField(_("文件"), max_length=100)
    row_number = models.BigIntegerField(_("行号"), null=True, blank=True)
    raw = models.TextField(_("原始内容"), blank=True)
    rule = models.CharField(_("规则"), max_length=100, blank=True)
    reason = models.TextField(_("原因"), blank=True)

    class Meta:
        ordering = ["run", "file", "row_number", "id"]
        indexes = [models.Index(fields=["run", "file", "row_number"])]
        verbose_name = _("隔离行")
        verbose_name_plural = _("隔离行")

    def __str__(self):
        return f"{self.file}:{self.row_number} {self.rule}"


class Detection(models.Model):
    """One detection (预警) of one moment for one customer in one run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="detections")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    moment = models.ForeignKey(
        "moments.MomentDefinition", on_delete=models.PROTECT, related_name="detections"
    )
    rule_version = models.PositiveIntegerField(_("规则版本"), null=True, blank=True)
    business_date = models.DateField(_("业务日期"))
    priority = models.IntegerField(_("优先级"), default=0)
    channel = models.CharField(_("渠道"), max_length=8, blank=True)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    explanation = models.TextField(_("说明"), blank=True)

    scope = CUSTOMER_SCOPE

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-business_date", "-priority", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "customer", "moment"], name="uniq_detection_per_run"
            )
        ]
        indexes = [
            models.Index(fields=["business_date", "moment"]),
            models.Index(fields=["customer", "business_date"]),
        ]
        verbose_name = _("预警")
        verbose_name_plural = _("预警")

    def __str__(self):
        return f"{self.business_date} {self.customer_id} {self.moment_id}"


class Suppression(models.Model):
    """A customer the no-service moments (N01 免打扰 / N02 停机) kept out of proactive service."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="suppressions")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    moment = models.ForeignKey(
        "moments.MomentDefinition", on_delete=models.PROTECT, related_name="+"
    )
    business_date = models.DateField(_("业务日期"))
    reason = models.TextField(_("原因"), blank=True)
    suppressed_codes = models.JSONField(_("被抑制的时刻"), default=list, blank=True)

    scope = CUSTOMER_SCOPE

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-business_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "customer", "moment"], name="uniq_suppression_per_run"
            )
        ]
        indexes = [models.Index(fields=["business_date", "moment"])]
        verbose_name = _("免服务")
        verbose_name_plural = _("免服务")

    def __str__(self):
        return f"{self.business_date} {self.customer_id} {self.moment_id}"


# --- tasks ------------------------------------------------------------------------------


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
        "managers.Manager",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="service_tasks",
    )
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    # The customer's city when the task was made, copied so a city administrator's scope reads
    # the task rows alone: joining the customers table cost each dashboard query ~0.4 s at
    # 1M customers (docs/performance.md). Filled by save() and by the daily-run loader.
    city = models.ForeignKey(
        "customers.City",
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


class AllocationDecision(models.Model):
    """What allocation decided for one candidate (a customer's moment) in one run, and why.

    Every candidate ends with exactly one decision, so nothing is dropped silently.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="decisions")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    moment = models.ForeignKey(
        "moments.MomentDefinition",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    manager = models.ForeignKey(
        "managers.Manager", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    scope = {"city": "task__city", "manager": "task__manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["task", "recommendation"], name="outcome_task_recommendation")
        ]
        verbose_name = _("处理结果")
        verbose_name_plural = _("处理结果")

    def __str__(self):
        return f"{self.task_id} {self.contact_result}"


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
        "managers.Manager",
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
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["manager", "done_at", "due_at"])]
        verbose_name = _("预约")
        verbose_name_plural = _("预约")

    def __str__(self):
        return f"{self.customer_id} {self.kind} {self.due_at:%Y-%m-%d %H:%M}"


# --- campaigns --------------------------------------------------------------------------


class Segment(TimeStampedModel):
    """A saved, re-runnable customer selection (目标客户群锁定) over catalog fields."""

    name = models.CharField(_("名称"), max_length=100)
    description = models.TextField(_("说明"), blank=True)
    # e.g. {"all": [{"field": "bill_total_m1", "op": ">=", "value": 200}, ...]}
    filter = models.JSONField(_("筛选条件"), default=dict)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    city = models.ForeignKey(
        "customers.City", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope = {"city": "city"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("客户群")
        verbose_name_plural = _("客户群")

    def __str__(self):
        return self.name


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("进行中")
    FINISHED = "finished", _("已结束")


class Campaign(TimeStampedModel):
    """A planned activity (计划活动) for a segment, assigned to managers."""

    name = models.CharField(_("活动名称"), max_length=100)
    description = models.TextField(_("说明"), blank=True)
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns"
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    start_date = models.DateField(_("开始日期"), null=True, blank=True)
    end_date = models.DateField(_("结束日期"), null=True, blank=True)
    managers = models.ManyToManyField(
        "managers.Manager", blank=True, related_name="campaigns", through="CampaignManager"
    )
    script = models.TextField(_("活动话术"), blank=True)
    city = models.ForeignKey(
        "customers.City", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Through the explicit M2M table: the access layer filters on "<path>_id".
    scope = {"city": "city", "manager": "assignments__manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date", "name", "id"]
        verbose_name = _("计划活动")
        verbose_name_plural = _("计划活动")

    def __str__(self):
        return self.name


class CampaignManager(models.Model):
    """A manager assigned to a campaign (the M2M table, explicit so it can scope campaigns)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    manager = models.ForeignKey("managers.Manager", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "manager"], name="uniq_campaign_manager")
        ]

    def __str__(self):
        return f"{self.campaign_id} {self.manager_id}"


class CampaignTask(TimeStampedModel):
    """One customer of a campaign, for one manager to serve."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tasks")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    manager = models.ForeignKey(
        "managers.Manager", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    contact_result = models.CharField(
        _("接触结果"), max_length=16, choices=ContactResult.choices, blank=True
    )
    recommendation = models.CharField(
        _("建议结果"), max_length=16, choices=Recommendation.choices, blank=True
    )
    notes = models.TextField(_("备注"), blank=True)
    version = models.PositiveIntegerField(default=1)

    scope = {"city": "customer__city", "manager": "manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["campaign", "done_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="uniq_campaign_customer")
        ]
        indexes = [models.Index(fields=["campaign", "manager", "done_at"])]
        verbose_name = _("活动任务")
        verbose_name_plural = _("活动任务")

    def __str__(self):
        return f"{self.campaign_id} {self.customer_id}"


# --- work orders ------------------------------------------------------------------------


class Department(models.Model):
    """A department or channel that receives work orders (渠道协同)."""

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    city = models.ForeignKey(
        "customers.City", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("部门")
        verbose_name_plural = _("部门")

    def __str__(self):
        return self.name


class WorkOrderPriority(models.TextChoices):
    URGENT = "urgent", _("紧急")
    HIGH = "high", _("高")
    NORMAL = "normal", _("普通")
    LOW = "low", _("低")


# SLA clock per priority: the order must be closed within this time of creation.
SLA_BY_PRIORITY = {
    WorkOrderPriority.URGENT: timedelta(hours=4),
    WorkOrderPriority.HIGH: timedelta(hours=24),
    WorkOrderPriority.NORMAL: timedelta(hours=72),
    WorkOrderPriority.LOW: timedelta(days=7),
}


class WorkOrderStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    IN_PROGRESS = "in_progress", _("处理中")
    ESCALATED = "escalated", _("已升级")
    CLOSED = "closed", _("已关闭")


class WorkOrder(TimeStampedModel):
    """A request routed from a task to a department queue (工单), with an SLA clock."""

    task = models.ForeignKey(
        ServiceTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_orders"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="work_orders"
    )
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="work_orders")
    priority = models.CharField(
        _("优先级"),
        max_length=16,
        choices=WorkOrderPriority.choices,
        default=WorkOrderPriority.NORMAL,
    )
    title = models.CharField(_("标题"), max_length=200)
    description = models.TextField(_("描述"), blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=WorkOrderStatus.choices, default=WorkOrderStatus.OPEN
    )
    due_at = models.DateTimeField(_("SLA 截止时间"))
    escalated_at = models.DateTimeField(_("升级时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    resolution = models.TextField(_("处理结果"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    scope = {"city": "customer__city", "manager": "task__manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["department", "status", "due_at"]),
            models.Index(fields=["status", "due_at"]),
        ]
        verbose_name = _("工单")
        verbose_name_plural = _("工单")

    def __str__(self):
        return f"WO-{self.pk} {self.title}"

    @staticmethod
    def sla_due(priority: str, created_at):
        return created_at + SLA_BY_PRIORITY[WorkOrderPriority(priority)]


# --- run requests (a daily run started from the web UI) --------------------------------


class RunRequestStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("运行中")
    SUCCEEDED = "succeeded", _("成功")
    FAILED = "failed", _("失败")


class RunRequest(models.Model):
    """A daily run an administrator asked for from the UI, run by ``keycare runjob <id>``.

    The job process writes its progress here (step, percent, message); the page polls it.
    ``active`` is True while the request is queued or running and NULL afterwards: a unique
    column, so the database itself refuses a second concurrent run (NULLs never collide).
    """

    business_date = models.DateField(_("业务日期"))
    delivery = models.CharField(_("数据目录"), max_length=200)  # relative to KEYCARE_DATA_DIR
    status = models.CharField(
        _("状态"),
        max_length=16,
        choices=RunRequestStatus.choices,
        default=RunRequestStatus.QUEUED,
    )
    active = models.BooleanField(null=True, default=True, unique=True)
    step = models.CharField(_("当前步骤"), max_length=32, blank=True)
    percent = models.PositiveSmallIntegerField(_("进度"), default=0)
    message = models.CharField(_("进度说明"), max_length=300, blank=True)
    error = models.TextField(_("错误信息"), blank=True)
    pid = models.IntegerField(_("进程号"), null=True, blank=True)
    host = models.CharField(_("主机"), max_length=100, blank=True)
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    summary = models.JSONField(_("运行结果"), default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("运行申请")
        verbose_name_plural = _("运行申请")

    def __str__(self):
        return f"RR-{self.pk} {self.business_date} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in (RunRequestStatus.QUEUED, RunRequestStatus.RUNNING)

    def progress_text(self) -> str:
        from keycare.workorders.runjobs import progress_text

        return progress_text(self)
