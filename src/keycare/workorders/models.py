"""Work orders (工单): a request routed from a task to a department's queue, with an SLA
clock and escalation.

Writes go through ``keycare.workorders.actions``.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet
from keycare.core.models import TimeStampedModel


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
        "tasks.ServiceTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="work_orders",
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="work_orders"
    )
    department = models.ForeignKey(
        "org.Department", on_delete=models.PROTECT, related_name="work_orders"
    )
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
    # A group member's order: its SLA is the group's tier standard for the fault class
    # (keycare.keyaccounts.standards), the response due by ``response_due_at``.
    fault_class = models.CharField(_("故障等级"), max_length=16, blank=True)
    sla_tier = models.CharField(_("SLA 依据层级"), max_length=2, blank=True)
    sla_standards_version = models.PositiveIntegerField(_("服务标准版本"), null=True, blank=True)
    response_due_at = models.DateTimeField(_("响应截止时间"), null=True, blank=True)
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
