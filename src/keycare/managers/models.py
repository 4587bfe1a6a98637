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
