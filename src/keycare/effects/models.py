"""Effect evaluations (效果评估) loaded into the application: one report per evaluation, one
row per dimension value, horizon and metric (see keycare.engine.effect)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet


class Dimension(models.TextChoices):
    MOMENT = "moment", _("关键时刻")
    CAMPAIGN = "campaign", _("计划活动")
    TACTIC = "tactic", _("保有战术")
    MANAGER = "manager", _("客户经理")
    CITY = "city", _("地市")


class Metric(models.TextChoices):
    CHURN = "churn", _("离网率")
    DOWNGRADE = "downgrade", _("降档率")
    BILL_CHANGE = "bill_change", _("月费变化（元）")
    REPEAT_COMPLAINT = "repeat_complaint", _("重复投诉率")


class SourceKind(models.TextChoices):
    SIMULATION = "simulation", _("闭环仿真")
    APPLICATION = "application", _("业务数据")


class EffectReport(models.Model):
    """One evaluation of treated vs control as of a date."""

    as_of = models.DateField(_("评估日期"))
    source_kind = models.CharField(_("数据来源"), max_length=16, choices=SourceKind.choices)
    source = models.CharField(_("来源目录"), max_length=500)
    horizons = models.JSONField(_("观察期（天）"), default=list)
    qini = models.JSONField(_("Qini 指标"), default=dict, blank=True)
    totals = models.JSONField(_("仿真汇总"), default=dict, blank=True)
    truth = models.JSONField(_("仿真真值"), default=list, blank=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    loaded_at = models.DateTimeField(_("加载时间"), auto_now_add=True)

    class Meta:
        ordering = ["-as_of", "-id"]
        verbose_name = _("效果评估")
        verbose_name_plural = _("效果评估")

    def __str__(self):
        return f"{self.as_of} {self.source_kind}"


class EffectRow(models.Model):
    """Treated vs control for one value of a dimension, one horizon and one metric.

    ``city`` is set on per-city rows (a city administrator sees only those of their city);
    province-wide rows have none and are seen by province-wide roles only.
    """

    report = models.ForeignKey(EffectReport, on_delete=models.CASCADE, related_name="rows")
    dimension = models.CharField(_("维度"), max_length=16, choices=Dimension.choices)
    key = models.CharField(_("维度值"), max_length=64)
    label = models.CharField(_("名称"), max_length=200, blank=True)
    city = models.ForeignKey(
        "org.City", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    horizon = models.PositiveSmallIntegerField(_("观察期（天）"))
    metric = models.CharField(_("指标"), max_length=20, choices=Metric.choices)
    treated = models.PositiveIntegerField(_("服务组"))
    control = models.PositiveIntegerField(_("对照组"))
    treated_mean = models.FloatField(_("服务组均值"), null=True, blank=True)
    control_mean = models.FloatField(_("对照组均值"), null=True, blank=True)
    uplift = models.FloatField(_("提升"), null=True, blank=True)
    ci_low = models.FloatField(_("95% 区间下限"), null=True, blank=True)
    ci_high = models.FloatField(_("95% 区间上限"), null=True, blank=True)
    contact_rate = models.FloatField(_("接触率"), null=True, blank=True)
    accept_rate = models.FloatField(_("建议接受率"), null=True, blank=True)

    scope = {"city": "city"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["dimension", "key", "horizon", "metric"]
        indexes = [models.Index(fields=["report", "dimension", "horizon", "metric"])]
        verbose_name = _("效果评估行")
        verbose_name_plural = _("效果评估行")

    def __str__(self):
        return f"{self.dimension}:{self.key} {self.horizon}d {self.metric}"

    @property
    def significant(self) -> bool:
        return (
            self.ci_low is not None
            and self.ci_high is not None
            and (self.ci_high < 0 or self.ci_low > 0)
        )
