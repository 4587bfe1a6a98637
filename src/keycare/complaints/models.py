"""Complaint and consultation texts from the delivery, with the classifier's reading."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet


class ComplaintKind(models.TextChoices):
    COMPLAINT = "complaint", _("投诉")
    BILL_QUERY = "bill_query", _("账单咨询")
    PORTABILITY = "portability_inquiry", _("携转咨询")


class LabelSource(models.TextChoices):
    MODEL = "model", _("模型预测")
    ANALYST = "analyst", _("人工更正")


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
    # Who set cause and need: the model, or an analyst's correction (then ``confidence`` is
    # still the model's, and a reload keeps the correction). ``label_version`` counts the
    # corrections (ComplaintLabel rows), for optimistic locking.
    label_source = models.CharField(
        _("标注来源"), max_length=8, choices=LabelSource.choices, default=LabelSource.MODEL
    )
    label_version = models.PositiveIntegerField(_("标注版本"), default=0)

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


class ComplaintLabel(models.Model):
    """One analyst correction of a complaint's cause and need (versioned: 1, 2, ...), with
    the reading it replaced. Corrections feed the next ``keycare complaints train``."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="labels")
    version = models.PositiveIntegerField(_("版本"))
    cause = models.CharField(_("更正原因"), max_length=32)
    need = models.CharField(_("更正需求"), max_length=32)
    previous_cause = models.CharField(_("原原因"), max_length=32, blank=True)
    previous_need = models.CharField(_("原需求"), max_length=32, blank=True)
    previous_source = models.CharField(
        _("原标注来源"), max_length=8, choices=LabelSource.choices, default=LabelSource.MODEL
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    corrected_at = models.DateTimeField(_("更正时间"), auto_now_add=True)

    scope = {"city": "complaint__customer__city", "manager": "complaint__customer__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["complaint", "version"]
        constraints = [
            models.UniqueConstraint(fields=["complaint", "version"], name="complaint_label_version")
        ]
        verbose_name = _("投诉标注更正")
        verbose_name_plural = _("投诉标注更正")

    def __str__(self):
        return f"{self.complaint_id} v{self.version}"
