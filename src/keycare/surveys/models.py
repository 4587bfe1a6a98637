"""Satisfaction surveys: templates, survey tasks drawn by rule, answers and the index model.

The index follows Guangdong's group-customer satisfaction model (seed 002): the business
process dimensions 集团产品 product, 客户经理 account manager, 服务渠道 channels, 业务宣传
communication and 客户关系维护 relationship care, weighted into one 0-100 index; the weights
are data (SatisfactionModel), versioned, and each answer keeps the version it was scored with.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet


class Dimension(models.TextChoices):
    PRODUCT = "product", _("集团产品")
    MANAGER = "manager", _("客户经理")
    CHANNEL = "channel", _("服务渠道")
    COMMUNICATION = "communication", _("业务宣传")
    RELATIONSHIP = "relationship", _("客户关系维护")


class Trigger(models.TextChoices):
    MOMENT_SERVED = "moment_served", _("关键时刻服务后")
    WORKORDER_CLOSED = "workorder_closed", _("工单关闭后")
    PERIODIC = "periodic", _("集团客户定期调查")


class Respondent(models.TextChoices):
    INDIVIDUAL = "individual", _("个人客户")
    KEY_PERSON = "key_person", _("集团关键人")
    MEMBER = "member", _("集团成员")


class SurveyState(models.TextChoices):
    OPEN = "open", _("待调查")
    ANSWERED = "answered", _("已回答")
    EXPIRED = "expired", _("已过期")


class SurveyTemplate(models.Model):
    """Questions on a scale, each measuring one dimension."""

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    trigger = models.CharField(_("触发"), max_length=20, choices=Trigger.choices)
    scale_max = models.PositiveSmallIntegerField(_("量表最高分"), default=10)
    # [{"code": "q1", "text": "...", "dimension": "manager"}]
    questions = models.JSONField(_("题目"), default=list)
    active = models.BooleanField(_("启用"), default=True)

    def __str__(self):
        return self.name


class SatisfactionModel(models.Model):
    """The index weights; a change is a new version (answers keep theirs)."""

    version = models.PositiveIntegerField(_("版本"), unique=True)
    weights = models.JSONField(_("维度权重"))  # {dimension: weight}, summing to 1
    low_threshold = models.FloatField(_("低分阈值"), default=60.0)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self):
        return f"v{self.version}"


class SurveyTask(models.Model):
    """One survey to put to one customer, drawn by a rule, answered by their manager."""

    template = models.ForeignKey(SurveyTemplate, on_delete=models.PROTECT, related_name="tasks")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="surveys"
    )
    key_account = models.ForeignKey(
        "keyaccounts.KeyAccount", on_delete=models.CASCADE, null=True, blank=True
    )
    respondent = models.CharField(_("受访对象"), max_length=16, choices=Respondent.choices)
    trigger = models.CharField(_("触发"), max_length=20, choices=Trigger.choices)
    source = models.CharField(_("来源"), max_length=64, blank=True)  # task:12, workorder:3
    manager = models.ForeignKey("org.Manager", on_delete=models.SET_NULL, null=True, blank=True)
    city = models.ForeignKey("org.City", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(
        _("状态"), max_length=10, choices=SurveyState.choices, default=SurveyState.OPEN
    )
    # The customer's own link (/s/<token>/, sent by SMS): random, unguessable, single use.
    token = models.CharField(max_length=43, unique=True, null=True, blank=True, editable=False)
    drawn_on = models.DateField(_("抽取日期"))
    due_on = models.DateField(_("截止日期"))

    scope = {"city": "city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "pk"]
        indexes = [models.Index(fields=["manager", "state", "due_on"])]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "trigger", "source"], name="surveys_task_once_per_source"
            )
        ]

    def __str__(self):
        return f"{self.template} {self.customer_id}"


class SurveyResponse(models.Model):
    task = models.OneToOneField(SurveyTask, on_delete=models.CASCADE, related_name="response")
    answers = models.JSONField(_("回答"))  # {question code: score}
    dimension_scores = models.JSONField(_("维度得分"))  # {dimension: 0-100}
    index = models.FloatField(_("满意度指数"))
    model = models.ForeignKey(SatisfactionModel, on_delete=models.PROTECT)
    channel = models.CharField(_("渠道"), max_length=16, default="manager")
    comment = models.TextField(_("意见"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    answered_at = models.DateTimeField()
    follow_up = models.ForeignKey(
        "tasks.Appointment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    scope = {"city": "task__city", "manager": "task__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-answered_at", "-pk"]

    def __str__(self):
        return f"{self.task_id}: {self.index:.1f}"
