"""Real-time detections from network signalling, the minimal per-subscriber state the moments
need, and the consumer's checkpoint per stream.

Location tracks are sensitive personal information (PIPL Art. 28): no event is stored, only
whether a phone is off and in which country it roams, for as long as a moment can need it.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet


class Outcome(models.TextChoices):
    TASK = "task", _("紧急任务")
    SMS = "sms", _("短信")
    SUPPRESSED = "suppressed", _("免打扰")
    OUT_OF_SCOPE = "out_of_scope", _("不在服务范围")
    OPTED_OUT = "opted_out", _("已拒绝个性化营销")
    CAPPED = "capped", _("频次限制")
    NO_MANAGER = "no_manager", _("无客户经理")


class RealtimeDetection(models.Model):
    """One real-time moment of one customer in one window: unique, so a replay adds nothing."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    city = models.ForeignKey("org.City", on_delete=models.PROTECT, related_name="+")
    moment = models.CharField(_("实时触点"), max_length=8)
    window = models.CharField(_("窗口"), max_length=32)
    signal_time = models.DateTimeField(_("信令时间"))
    detected_at = models.DateTimeField(_("识别时间"))
    acted_at = models.DateTimeField(_("派发时间"), null=True, blank=True)
    outcome = models.CharField(_("处理结果"), max_length=16, choices=Outcome.choices)
    task = models.ForeignKey(
        "tasks.ServiceTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sms = models.ForeignKey(
        "messaging.SmsMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    facts = models.JSONField(_("依据"), default=dict, blank=True)

    scope = {"city": "city", "manager": "customer__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-detected_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "moment", "window"], name="uniq_realtime_detection"
            )
        ]
        indexes = [
            models.Index(fields=["detected_at"]),
            models.Index(fields=["city", "detected_at"]),
        ]
        verbose_name = _("实时触点识别")
        verbose_name_plural = _("实时触点识别")

    def __str__(self):
        return f"{self.moment} {self.customer_id} {self.window}"

    @property
    def latency_ms(self) -> dict:
        """The latency stamp in milliseconds: signal → detection, detection → action (task
        created or SMS queued), and for an SMS detection → sent (accepted by the gateway)."""
        sent = self.sms.submitted_at if self.sms_id and self.sms else None
        return {
            "detect": _ms(self.signal_time, self.detected_at),
            "act": _ms(self.detected_at, self.acted_at),
            "sent": _ms(self.detected_at, sent),
        }


def _ms(start, end) -> int | None:
    return None if start is None or end is None else round((end - start).total_seconds() * 1000)


class SignalState(models.Model):
    """Per subscriber, only what the moments need across events and restarts."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="+"
    )
    off_since = models.DateTimeField(null=True, blank=True)
    abroad_since = models.DateTimeField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"state {self.customer_id}"


class StreamCheckpoint(models.Model):
    """The consumer's event-time progress and counters per stream, committed with detections."""

    stream = models.CharField(max_length=128, unique=True)
    max_event_time = models.BigIntegerField(default=0)
    counts = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.stream


class StreamMinute(models.Model):
    """What one consumer did on one stream in one minute: the operations page's figures.

    Written by ``commit_batch`` in the transaction of the batch's detections (a batch replayed
    after a crash before its commit is counted once). No personal data: counts only.
    """

    stream = models.CharField(_("信令流"), max_length=128)
    consumer = models.CharField(_("消费者"), max_length=64)
    minute = models.DateTimeField(_("分钟"))
    batches = models.PositiveIntegerField(default=0)
    entries = models.PositiveIntegerField(_("读取事件"), default=0)
    admitted = models.PositiveIntegerField(_("受理事件"), default=0)
    duplicate = models.PositiveIntegerField(_("重复丢弃"), default=0)
    late = models.PositiveIntegerField(_("迟到丢弃"), default=0)
    invalid = models.PositiveIntegerField(_("格式不符"), default=0)
    detections = models.PositiveIntegerField(_("识别数"), default=0)
    busy_ms = models.PositiveBigIntegerField(_("处理耗时（毫秒）"), default=0)
    max_latency_ms = models.BigIntegerField(_("最大识别时延（毫秒）"), null=True, blank=True)
    # At the minute's last batch: entries not yet delivered to the group (XINFO GROUPS lag)
    # and delivered but not acknowledged (pending).
    lag = models.BigIntegerField(_("积压"), null=True, blank=True)
    pending = models.BigIntegerField(_("待确认"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-minute"]
        constraints = [
            models.UniqueConstraint(
                fields=["stream", "consumer", "minute"], name="uniq_stream_minute"
            )
        ]
        indexes = [models.Index(fields=["stream", "minute"])]
        verbose_name = _("信令流分钟统计")
        verbose_name_plural = _("信令流分钟统计")

    def __str__(self):
        return f"{self.stream} {self.consumer} {self.minute:%Y-%m-%d %H:%M}"
