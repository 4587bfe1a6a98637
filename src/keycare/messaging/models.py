"""The SMS outbox (短信发送记录): one row per message a task sends, and the receipts the gateway
reports for it.

States::

    queued --claim--> sending --gateway accepted--> submitted --DLR--> delivered | failed | expired
      │                 │
      │                 └─ gateway unreachable: back to queued, attempts + 1, next_attempt_at later
      └─ send-time rules: held (do-not-disturb list, quiet hours, frequency cap) with a reason;
         quiet-hours holds go back to queued when the window opens

``idempotency_key`` is unique: a task is queued once, however often its run is loaded.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet
from keycare.core.models import TimeStampedModel


class SmsState(models.TextChoices):
    QUEUED = "queued", _("待发送")
    SENDING = "sending", _("发送中")
    SUBMITTED = "submitted", _("已提交网关")
    # The submit timed out after the request left: the gateway may have taken it. Never sent
    # again until reconciled (actions.reconcile).
    SUBMIT_UNKNOWN = "submit_unknown", _("提交结果待核对")
    DELIVERED = "delivered", _("已送达")
    FAILED = "failed", _("发送失败")
    EXPIRED = "expired", _("已过期")
    HELD = "held", _("已拦截")
    # Handed to the gateway, but no delivery report came within the wait (actions.reconcile):
    # not sent again automatically, which could double it.
    UNCONFIRMED = "unconfirmed", _("未收到状态报告")


OPEN_STATES = (SmsState.QUEUED, SmsState.SENDING, SmsState.SUBMITTED, SmsState.SUBMIT_UNKNOWN)
FINAL_STATES = (
    SmsState.DELIVERED,
    SmsState.FAILED,
    SmsState.EXPIRED,
    SmsState.HELD,
    SmsState.UNCONFIRMED,
)
# Messages the gateway has (or may have): a second message to the customer would double up.
IN_FLIGHT_STATES = (SmsState.SUBMITTED, SmsState.SUBMIT_UNKNOWN, SmsState.UNCONFIRMED)


class HoldReason(models.TextChoices):
    DND_LIST = "dnd_list", _("免打扰名单")
    OUT_OF_SCOPE = "out_of_scope", _("不在服务范围")
    OPTED_OUT = "opted_out", _("已拒绝个性化营销")
    QUIET_HOURS = "quiet_hours", _("非服务时段")
    DND_WINDOW = "dnd_window", _("客户免打扰时段")
    FREQUENCY_CAP = "frequency_cap", _("频次控制")
    NO_NUMBER = "no_number", _("无有效号码")
    NO_TEXT = "no_text", _("无短信内容")


class SmsMessage(TimeStampedModel):
    task = models.ForeignKey(
        "tasks.ServiceTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sms_messages",
        verbose_name=_("预警任务"),
    )
    # A campaign's messages carry its reference (campaigns sit above messaging in the layers).
    campaign_ref = models.CharField(_("计划活动"), max_length=64, blank=True)
    # Blank for a message to staff (a manager's reminder digest): no customer's rules apply.
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sms_messages",
    )
    city = models.ForeignKey(
        "org.City", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    manager = models.ForeignKey(
        "org.Manager", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    business_date = models.DateField(_("业务日期"))
    moment_codes = models.JSONField(_("关键时刻"), default=list, blank=True)
    # The number in clear is needed to send; pages and the API show it masked (presenter).
    recipient = models.CharField(_("接收号码"), max_length=32)
    text = models.TextField(_("短信内容"))
    state = models.CharField(
        _("状态"), max_length=16, choices=SmsState.choices, default=SmsState.QUEUED
    )
    hold_reason = models.CharField(
        _("拦截原因"), max_length=16, choices=HoldReason.choices, blank=True
    )
    reason = models.TextField(_("说明"), blank=True)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    gateway_message_id = models.CharField(_("网关消息编号"), max_length=64, blank=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    submit_status = models.CharField(_("提交回执"), max_length=64, blank=True)
    delivered_at = models.DateTimeField(_("回执时间"), null=True, blank=True)
    delivery_status = models.CharField(_("状态报告"), max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=80, unique=True)

    scope = {"city": "city", "manager": "manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sender's claim: due queued messages, oldest first.
            models.Index(fields=["state", "next_attempt_at", "id"], name="sms_due"),
            models.Index(fields=["city", "business_date", "state"], name="sms_city_date_state"),
            models.Index(fields=["business_date", "state"], name="sms_date_state"),
            models.Index(fields=["customer", "state", "submitted_at"], name="sms_customer_sent"),
        ]
        verbose_name = _("短信")
        verbose_name_plural = _("短信发送记录")

    def __str__(self):
        return f"{self.pk} {self.state}"


class ReceiptKind(models.TextChoices):
    SUBMIT = "submit", _("提交回执")
    DELIVERY = "delivery", _("状态报告")


class ReceiptStatus(models.TextChoices):
    """What a receipt says (the ``status`` stored on a receipt), for labels."""

    ACCEPTED = "accepted_by_smsc", _("短信中心已接收")
    QUEUED = "queued_at_smsc", _("短信中心排队")
    REJECTED = "rejected_by_smsc", _("短信中心拒绝")
    DELIVERED = "delivered", _("已送达")
    UNDELIVERED = "undelivered", _("未送达")
    EXPIRED = "expired", _("已过期")


class SmsReceipt(models.Model):
    """One report from the gateway about a message (Kannel DLR types 1, 2, 4, 8, 16)."""

    message = models.ForeignKey(SmsMessage, on_delete=models.CASCADE, related_name="receipts")
    kind = models.CharField(_("回执类型"), max_length=16, choices=ReceiptKind.choices)
    status = models.CharField(_("状态"), max_length=32)
    dlr_type = models.PositiveIntegerField(_("报告类型码"))
    gateway_message_id = models.CharField(_("网关消息编号"), max_length=64, blank=True)
    detail = models.TextField(_("网关说明"), blank=True)
    reported_at = models.DateTimeField(_("报告时间"))
    received_at = models.DateTimeField(_("接收时间"), auto_now_add=True)

    scope = {"city": "message__city", "manager": "message__manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["reported_at", "id"]
        constraints = [
            # A DLR the gateway repeats (it retries callbacks) is recorded once.
            models.UniqueConstraint(fields=["message", "dlr_type"], name="uniq_sms_receipt_type")
        ]
        verbose_name = _("短信回执")
        verbose_name_plural = _("短信回执")

    def __str__(self):
        return f"{self.message_id} {self.kind} {self.status}"
