"""Complaint and consultation texts from the delivery, with the classifier's reading."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet


class ComplaintKind(models.TextChoices):
    COMPLAINT = "complaint", _("投诉")
    BILL_QUERY = "bill_query", _("账单咨询")
    PORTABILITY = "portability_inquiry", _("携转咨询")


class Complaint(models.Model):
    """One complaint or consultation event that carries a text (events file, contract v1)."""

    event_id = models.CharField(_("事件编号"), max_length=32, unique=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="complaints"
    )
    kind = models.CharField(_("类型"), max_length=24, choices=ComplaintKind.choices)
    topic = models.CharField(_("投诉类别"), max_length=32, blank=True)
    channel = models.CharField(_("渠道"), max_length=16, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"))
    text = models.TextField(_("客户原话"))
    handling_result = models.TextField(_("处理结果"), blank=True)
    resolved = models.BooleanField(_("是否解决"), null=True)
    cause = models.CharField(_("预测原因"), max_length=32, blank=True, db_index=True)
    cause_group = models.CharField(_("原因大类"), max_length=32, blank=True)
    need = models.CharField(_("预测需求"), max_length=32, blank=True)
    confidence = models.FloatField(_("置信度"), null=True)
    model_version = models.CharField(_("模型版本"), max_length=40, blank=True)

    scope = {"city": "customer__city", "manager": "customer__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="complaint_customer_time"),
            models.Index(fields=["occurred_at", "cause"], name="complaint_time_cause"),
        ]
        verbose_name = _("投诉与咨询")
        verbose_name_plural = _("投诉与咨询")

    def __str__(self):
        return self.event_id
