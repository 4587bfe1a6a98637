"""The indicator values a run publishes, and the analyst's own things (followed indicators,
saved analyses, monthly reports)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet


class Grain(models.TextChoices):
    DAY = "day", _("日")
    MONTH = "month", _("月")


class IndicatorValue(models.Model):
    """One indicator for one dimension member in one city and period (engine/indicators.py).

    ``num`` and ``den`` are additive: a figure over several cities is sum(num) / sum(den).
    Month rows have ``period`` on the month's first day.
    """

    indicator = models.CharField(_("指标"), max_length=64)
    grain = models.CharField(_("粒度"), max_length=8, choices=Grain.choices)
    period = models.DateField(_("期间"))
    dimension = models.CharField(_("维度"), max_length=16)
    member = models.CharField(_("成员"), max_length=64, blank=True)
    city = models.ForeignKey(
        "org.City", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    num = models.FloatField()
    den = models.FloatField(null=True)
    run_id = models.CharField(_("批次号"), max_length=40)

    scope = {"city": "city"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(
                fields=["indicator", "dimension", "grain", "period"], name="analytics_iv_lookup"
            ),
            models.Index(fields=["grain", "period"], name="analytics_iv_period"),
            # A city's scope: its newest month and its months (queries.months_available).
            models.Index(fields=["city", "grain", "period"], name="analytics_iv_city_period"),
        ]

    def __str__(self):
        return f"{self.indicator} {self.period} {self.dimension}={self.member}"


class FollowedIndicator(models.Model):
    """An indicator an analyst keeps on their workbench."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    indicator = models.CharField(_("指标"), max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "indicator"], name="analytics_follow_once")
        ]
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.indicator


class SavedAnalysis(models.Model):
    """An analysis with its chosen dimension, period and filters, kept under a name."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.CharField(_("名称"), max_length=100)
    analysis = models.CharField(_("分析"), max_length=32)
    params = models.JSONField(_("参数"), default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.name


class ReportStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    DONE = "done", _("已生成")
    FAILED = "failed", _("失败")


class MonthlyReport(models.Model):
    """A monthly report (every analysis of one month, Excel and PDF) for one scope."""

    month = models.DateField(_("月份"))
    city = models.ForeignKey(
        "org.City", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=8, choices=ReportStatus.choices, default=ReportStatus.QUEUED
    )
    xlsx = models.BinaryField(null=True, editable=False)
    pdf = models.BinaryField(null=True, editable=False)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    scope = {"city": "city"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-month", "-pk"]

    def __str__(self):
        return f"{self.month:%Y-%m}"

    @property
    def has_pdf(self) -> bool:
        return bool(self.pdf)


class ScheduledRun(models.Model):
    """One run of a periodic job for one period (``keycare schedule``). The unique (job,
    period) row is claimed before the job runs, so a due job runs once however often, and
    from however many hosts, cron calls the command; a failed run is retried on the next call."""

    job = models.CharField(_("任务"), max_length=40)
    period = models.CharField(_("周期"), max_length=16)  # 2026-11-22, 2026-11, 2026Q4
    status = models.CharField(_("状态"), max_length=10)  # running | done | failed
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    summary = models.JSONField(_("结果"), default=dict)
    error = models.CharField(_("错误"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("定时任务运行")
        verbose_name_plural = _("定时任务运行")
        constraints = [models.UniqueConstraint(fields=["job", "period"], name="one_run_per_period")]
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"{self.job} {self.period} {self.status}"
