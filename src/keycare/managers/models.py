"""The managers' work: archive details (§7.1), assigned tasks (§7.3), daily work records
(§7.2.2), work plans (§7.2.1) and KPI assessment (§7.4).

The manager as a person, and each user's staff profile, are ``keycare.org.models.Manager``
and ``StaffProfile``; this app's first migration created them under the managers label and
its second handed them to the org app without touching their tables. What the archive adds
(status, qualifications, capacity per channel, hand-overs) lives here, one-to-one with it.

Scoped models declare ``scope`` as described in ``keycare.customers.models``. Writes go
through ``keycare.managers.actions`` (one transaction, audited).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet


class ManagerStatus(models.TextChoices):
    ACTIVE = "active", _("在岗")
    LEAVE = "leave", _("休假")
    LEFT = "left", _("离岗")


class DigestChannel(models.TextChoices):
    SMS = "sms", _("短信")
    EMAIL = "email", _("邮件")


class QualificationKind(models.TextChoices):
    QUALIFICATION = "qualification", _("资格")
    CERTIFICATE = "certificate", _("证书")
    TRAINING = "training", _("培训")


class ManagerProfile(models.Model):
    """A manager's archive (大客户经理档案): what the delivered manager row does not carry."""

    manager = models.OneToOneField(
        "org.Manager", on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    status = models.CharField(
        _("状态"), max_length=8, choices=ManagerStatus.choices, default=ManagerStatus.ACTIVE
    )
    status_since = models.DateField(_("状态日期"), null=True, blank=True)
    title = models.CharField(_("职务"), max_length=64, blank=True)
    team = models.CharField(_("班组"), max_length=64, blank=True)
    hire_date = models.DateField(_("入职日期"), null=True, blank=True)
    education = models.CharField(_("学历"), max_length=32, blank=True)
    # Capacity per channel: calls a day (the allocation's daily capacity), visits a week,
    # key accounts served. The daily call capacity stays on Manager (the engine reads it).
    visit_capacity = models.PositiveSmallIntegerField(_("每周走访能力"), default=10)
    key_account_capacity = models.PositiveSmallIntegerField(_("集团客户容量"), default=30)
    notes = models.TextField(_("备注"), blank=True)
    # Opt-in daily digest of the workbench reminders (``keycare reminders digest``).
    digest_sms = models.BooleanField(_("短信提醒摘要"), default=False)
    digest_email = models.BooleanField(_("邮件提醒摘要"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    scope = {"city": "manager__city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("经理档案")
        verbose_name_plural = _("经理档案")
        indexes = [models.Index(fields=["status"]), models.Index(fields=["team"])]

    def __str__(self):
        return f"{self.manager_id} {self.status}"


class Qualification(models.Model):
    """A qualification, certificate or training a manager holds (资格认证)."""

    manager = models.ForeignKey(
        "org.Manager", on_delete=models.CASCADE, related_name="qualifications"
    )
    kind = models.CharField(_("类别"), max_length=16, choices=QualificationKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    issuer = models.CharField(_("发证机构"), max_length=100, blank=True)
    obtained_on = models.DateField(_("取得日期"))
    expires_on = models.DateField(_("有效期至"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope = {"city": "manager__city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["manager", "-obtained_on", "id"]
        verbose_name = _("资格认证")
        verbose_name_plural = _("资格认证")

    def __str__(self):
        return f"{self.manager_id} {self.name}"


class HandOver(models.Model):
    """One hand-over of a manager's whole portfolio (组合移交), e.g. when they leave."""

    manager = models.ForeignKey("org.Manager", on_delete=models.PROTECT, related_name="hand_overs")
    reason = models.CharField(_("原因"), max_length=200)
    # {target manager_id: {"customers": n, "key_accounts": n, "tasks": n, "appointments": n}}
    moved = models.JSONField(_("移交明细"), default=dict)
    customers = models.PositiveIntegerField(_("客户数"), default=0)
    key_accounts = models.PositiveIntegerField(_("集团客户数"), default=0)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("时间"), auto_now_add=True)

    scope = {"city": "manager__city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("组合移交")
        verbose_name_plural = _("组合移交")

    def __str__(self):
        return f"{self.manager_id} {self.at:%Y-%m-%d}"


# --- Assigned tasks (任务下达, §7.3) --------------------------------------------------------


class AssignmentStatus(models.TextChoices):
    OPEN = "open", _("未开始")
    IN_PROGRESS = "in_progress", _("进行中")
    DONE = "done", _("已完成")


class AssignedTask(models.Model):
    """An ad-hoc task an administrator gives to managers or a team (任务下达), with a deadline.

    ``city`` is the assigner's city (null: given by the province), so a city administrator
    sees the tasks of their city; each manager's share is a ``TaskAssignment``.
    """

    title = models.CharField(_("任务名称"), max_length=200)
    description = models.TextField(_("任务要求"), blank=True)
    team = models.CharField(_("班组"), max_length=64, blank=True)
    deadline = models.DateTimeField(_("完成时限"))
    city = models.ForeignKey(
        "org.City", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("下达时间"), auto_now_add=True)

    scope = {"city": "city"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("下达任务")
        verbose_name_plural = _("下达任务")

    def __str__(self):
        return self.title


class TaskAssignment(models.Model):
    """One manager's share of an assigned task: progress, completion and the evaluation."""

    task = models.ForeignKey(AssignedTask, on_delete=models.CASCADE, related_name="assignments")
    manager = models.ForeignKey(
        "org.Manager", on_delete=models.PROTECT, related_name="assigned_tasks"
    )
    # The manager's city, so a city administrator sees the work of their managers even on a
    # task the province gave.
    city = models.ForeignKey("org.City", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("状态"), max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.OPEN
    )
    progress = models.PositiveSmallIntegerField(_("进度（%）"), default=0)
    progress_note = models.TextField(_("进展说明"), blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    rating = models.PositiveSmallIntegerField(_("执行评价（1-5）"), null=True, blank=True)
    evaluation = models.TextField(_("评价意见"), blank=True)
    evaluated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    evaluated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)

    scope = {"city": "city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["task", "manager"]
        verbose_name = _("任务执行")
        verbose_name_plural = _("任务执行")
        constraints = [
            models.UniqueConstraint(fields=["task", "manager"], name="one_assignment_per_manager")
        ]
        indexes = [models.Index(fields=["manager", "status"])]

    def __str__(self):
        return f"{self.task_id}/{self.manager_id} {self.progress}%"


# --- Daily work: visits and call notes (日常工作管理, §7.2.2) ---------------------------------


class WorkKind(models.TextChoices):
    VISIT = "visit", _("走访")
    CALL = "call", _("电话沟通")


class WorkRecord(models.Model):
    """A visit (时间、地点、对象、内容、结果、下一步) or a call note, by the manager who did it,
    linked to the key account, the key persons met and the task it served."""

    manager = models.ForeignKey("org.Manager", on_delete=models.PROTECT, related_name="work")
    # The manager's city when recorded: a city administrator's scope reads this row alone.
    city = models.ForeignKey("org.City", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("类型"), max_length=8, choices=WorkKind.choices)
    at = models.DateTimeField(_("时间"))
    place = models.CharField(_("地点"), max_length=200, blank=True)
    key_account = models.ForeignKey(
        "keyaccounts.KeyAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="work_records",
        verbose_name=_("集团客户"),
    )
    # Who was met: the group's key persons (关键人 archive), and customers of the portfolio
    # (the linked task's customer, a key person who is also a subscriber).
    key_persons = models.ManyToManyField(
        "keyaccounts.KeyPerson", blank=True, related_name="+", verbose_name=_("关键人")
    )
    persons = models.ManyToManyField(
        "customers.Customer", blank=True, related_name="+", verbose_name=_("对象")
    )
    task = models.ForeignKey(
        "tasks.ServiceTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("预警任务"),
    )
    assignment = models.ForeignKey(
        TaskAssignment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="work",
        verbose_name=_("下达任务"),
    )
    content = models.TextField(_("内容"))
    result = models.TextField(_("结果"), blank=True)
    next_step = models.TextField(_("下一步"), blank=True)
    next_date = models.DateField(_("下一步日期"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    scope = {"city": "city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("工作记录")
        verbose_name_plural = _("工作记录")
        indexes = [
            models.Index(fields=["manager", "at"]),
            models.Index(fields=["city", "at"]),
            models.Index(fields=["key_account", "at"]),
        ]

    def __str__(self):
        return f"{self.manager_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


# --- Work plans (工作计划管理, §7.2.1) -------------------------------------------------------


class PlanPeriod(models.TextChoices):
    MONTH = "month", _("月计划")
    WEEK = "week", _("周计划")


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("待审批")
    APPROVED = "approved", _("已批准")
    RETURNED = "returned", _("已退回")


class PlanSource(models.TextChoices):
    STANDARD = "standard", _("服务标准")
    APPOINTMENT = "appointment", _("到期预约")
    MANUAL = "manual", _("手工添加")


class WorkPlan(models.Model):
    """A manager's monthly or weekly plan: generated, edited by the manager, submitted to and
    approved (or returned) by their administrator."""

    manager = models.ForeignKey("org.Manager", on_delete=models.PROTECT, related_name="plans")
    city = models.ForeignKey("org.City", on_delete=models.PROTECT, related_name="+")
    period = models.CharField(_("周期"), max_length=8, choices=PlanPeriod.choices)
    start = models.DateField(_("开始日期"))
    end = models.DateField(_("结束日期"))
    status = models.CharField(
        _("状态"), max_length=12, choices=PlanStatus.choices, default=PlanStatus.DRAFT
    )
    note = models.TextField(_("计划说明"), blank=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    review_comment = models.TextField(_("审批意见"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope = {"city": "city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-start", "manager"]
        verbose_name = _("工作计划")
        verbose_name_plural = _("工作计划")
        constraints = [
            models.UniqueConstraint(
                fields=["manager", "period", "start"], name="one_plan_per_manager_period"
            )
        ]
        indexes = [models.Index(fields=["city", "status"]), models.Index(fields=["status"])]

    def __str__(self):
        return f"{self.manager_id} {self.period} {self.start}"


class PlanItem(models.Model):
    """One planned visit or call, with the key account or customer it is for."""

    plan = models.ForeignKey(WorkPlan, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(_("类型"), max_length=8, choices=WorkKind.choices)
    due_date = models.DateField(_("计划日期"))
    source = models.CharField(_("来源"), max_length=12, choices=PlanSource.choices)
    key_account = models.ForeignKey(
        "keyaccounts.KeyAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    appointment = models.ForeignKey(
        "tasks.Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)

    scope = {"city": "plan__city", "manager": "plan__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "due_date", "id"]
        verbose_name = _("计划事项")
        verbose_name_plural = _("计划事项")

    def __str__(self):
        return f"{self.plan_id} {self.kind} {self.due_date}"


# --- KPI assessment (业绩考核, §7.4, §9.3.4) --------------------------------------------------


class IndicatorCategory(models.TextChoices):
    ABILITY = "ability", _("业务能力")
    WORK = "work", _("工作情况")
    RESULTS = "results", _("服务成效")


class IndicatorUnit(models.TextChoices):
    RATIO = "ratio", _("比率")
    RMB = "rmb", _("元/户/月")
    POINTS = "points", _("分")


class Indicator(models.Model):
    """One KPI as data: the formula it computes (a registered computation in
    ``keycare.managers.assessment``), its source, weight and target, per manager role
    (``role`` blank: every role not given its own row)."""

    code = models.CharField(_("指标编码"), max_length=32)
    role = models.CharField(_("适用岗位"), max_length=32, blank=True)
    name = models.CharField(_("指标名称"), max_length=64)
    category = models.CharField(_("类别"), max_length=8, choices=IndicatorCategory.choices)
    formula = models.CharField(_("计算公式"), max_length=200)
    source = models.CharField(_("数据来源"), max_length=200)
    weight = models.FloatField(_("权重"))
    target = models.FloatField(_("目标值"))
    # How a value reads: a share (shown as %), RMB per customer per month, or index points.
    unit = models.CharField(
        _("单位"), max_length=8, choices=IndicatorUnit.choices, default=IndicatorUnit.RATIO
    )
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["category", "code", "role"]
        verbose_name = _("考核指标")
        verbose_name_plural = _("考核指标")
        constraints = [
            models.UniqueConstraint(fields=["code", "role"], name="one_indicator_per_role")
        ]

    def __str__(self):
        return f"{self.code} {self.role or '*'}"


class PeriodStatus(models.TextChoices):
    COMPUTED = "computed", _("已计算")
    REVIEWED = "reviewed", _("已复核")
    APPROVED = "approved", _("已审批")
    LOCKED = "locked", _("已锁定")


class AssessmentPeriod(models.Model):
    """One assessment period (e.g. a month) for the whole province."""

    name = models.CharField(_("考核期"), max_length=32, unique=True)
    start = models.DateField(_("开始日期"))
    end = models.DateField(_("结束日期"))
    status = models.CharField(
        _("状态"), max_length=10, choices=PeriodStatus.choices, default=PeriodStatus.COMPUTED
    )
    computed_at = models.DateTimeField(_("计算时间"), null=True, blank=True)
    # Who moved it to its current status, and when.
    status_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status_at = models.DateTimeField(_("状态时间"), null=True, blank=True)

    class Meta:
        ordering = ["-start"]
        verbose_name = _("考核期")
        verbose_name_plural = _("考核期")

    def __str__(self):
        return self.name


class Assessment(models.Model):
    """One manager's assessment in a period: indicator values and scores, the total, an
    adjustment with its reason, and the rank within comparable managers (same city and
    role)."""

    period = models.ForeignKey(
        AssessmentPeriod, on_delete=models.CASCADE, related_name="assessments"
    )
    manager = models.ForeignKey("org.Manager", on_delete=models.PROTECT, related_name="assessments")
    city = models.ForeignKey("org.City", on_delete=models.PROTECT, related_name="+")
    role = models.CharField(_("岗位"), max_length=32)
    team = models.CharField(_("班组"), max_length=64, blank=True)
    # {code: {"value": float|None, "num": n, "den": d, "score": float|None, "weight": w}}
    values = models.JSONField(_("指标值"), default=dict)
    score = models.FloatField(_("计算得分"), default=0)
    adjustment = models.FloatField(_("调整分"), default=0)
    adjustment_reason = models.CharField(_("调整原因"), max_length=200, blank=True)
    adjusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    final_score = models.FloatField(_("最终得分"), default=0)
    rank = models.PositiveIntegerField(_("排名"), null=True, blank=True)
    group_size = models.PositiveIntegerField(_("同组人数"), default=0)

    scope = {"city": "city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["period", "city", "role", "rank", "manager"]
        verbose_name = _("考核结果")
        verbose_name_plural = _("考核结果")
        constraints = [
            models.UniqueConstraint(
                fields=["period", "manager"], name="one_assessment_per_manager_period"
            )
        ]
        indexes = [models.Index(fields=["period", "city", "role", "final_score"])]

    def __str__(self):
        return f"{self.period_id} {self.manager_id} {self.final_score:.1f}"


class ReminderDigest(models.Model):
    """One reminder digest sent to one manager on one day by one channel (the unique key makes
    ``keycare reminders digest`` idempotent per manager per day)."""

    manager = models.ForeignKey("org.Manager", on_delete=models.CASCADE, related_name="digests")
    city = models.ForeignKey("org.City", on_delete=models.PROTECT, related_name="+")
    day = models.DateField(_("日期"))
    channel = models.CharField(_("渠道"), max_length=8, choices=DigestChannel.choices)
    reminders = models.PositiveIntegerField(_("提醒数"), default=0)
    # The outbox row of an SMS digest (the messaging app sends it and records its receipts).
    sms = models.ForeignKey(
        "messaging.SmsMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipients = models.PositiveSmallIntegerField(_("收件人数"), default=0)
    sent_at = models.DateTimeField(_("发送时间"), auto_now_add=True)

    scope = {"city": "city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "manager", "channel"]
        verbose_name = _("提醒摘要")
        verbose_name_plural = _("提醒摘要")
        constraints = [
            models.UniqueConstraint(
                fields=["manager", "day", "channel"], name="one_digest_per_manager_day_channel"
            )
        ]

    def __str__(self):
        return f"{self.manager_id} {self.day} {self.channel}"
