"""Segments (目标客户群锁定) and campaigns (计划活动) with the customers they assign."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet
from keycare.core.models import TimeStampedModel
from keycare.tasks.models import ContactResult, Recommendation

# The tables keep the names they had in the workorders app (db_table): moving a model between
# apps moved no data (see the app's 0001 migration).


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
        "org.City", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope = {"city": "city"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "workorders_segment"
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
        "org.Manager", blank=True, related_name="campaigns", through="CampaignManager"
    )
    script = models.TextField(_("活动话术"), blank=True)
    city = models.ForeignKey(
        "org.City", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Through the explicit M2M table: the access layer filters on "<path>_id".
    scope = {"city": "city", "manager": "assignments__manager"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "workorders_campaign"
        ordering = ["-start_date", "name", "id"]
        verbose_name = _("计划活动")
        verbose_name_plural = _("计划活动")

    def __str__(self):
        return self.name


class CampaignManager(models.Model):
    """A manager assigned to a campaign (the M2M table, explicit so it can scope campaigns)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    manager = models.ForeignKey("org.Manager", on_delete=models.CASCADE, related_name="+")

    class Meta:
        db_table = "workorders_campaignmanager"
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
        "org.Manager", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
        db_table = "workorders_campaigntask"
        ordering = ["campaign", "done_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="uniq_campaign_customer")
        ]
        indexes = [models.Index(fields=["campaign", "manager", "done_at"])]
        verbose_name = _("活动任务")
        verbose_name_plural = _("活动任务")

    def __str__(self):
        return f"{self.campaign_id} {self.customer_id}"
