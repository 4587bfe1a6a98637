"""Published daily runs as loaded into the application: the run, what it detected and
suppressed, the rows it quarantined, and the runs administrators start from the web UI.

Scoping follows the convention in ``keycare.customers.models``: ``scope`` names the ORM
paths to the City and to the Manager a row belongs to. Loading a published run lives in
``keycare.runs.loaders``; background run jobs in ``keycare.runs.jobs``.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet

# The tables keep the names they had in the workorders app (db_table): moving a model between
# apps moved no data (see the app's 0001 migration).

CUSTOMER_SCOPE = {"city": "customer__city", "manager": "customer__manager"}


class RunStatus(models.TextChoices):
    SUCCEEDED = "succeeded", _("成功")
    FAILED = "failed", _("失败")
    SUPERSEDED = "superseded", _("已被重跑替换")


class Run(models.Model):
    """One published daily run, as loaded into the application."""

    run_id = models.CharField(_("批次号"), max_length=80, unique=True)
    business_date = models.DateField(_("业务日期"), db_index=True)
    status = models.CharField(_("状态"), max_length=16, default=RunStatus.SUCCEEDED)
    engine = models.CharField(_("引擎"), max_length=32, blank=True)
    definitions_version = models.CharField(_("规则集版本"), max_length=128, blank=True)
    definition_set = models.ForeignKey(
        "moments.DefinitionSetVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
    )
    model_version = models.CharField(_("风险模型版本"), max_length=128, blank=True)
    inputs = models.JSONField(_("输入文件及校验和"), default=dict, blank=True)
    timings = models.JSONField(_("各步骤耗时"), default=dict, blank=True)
    counts = models.JSONField(_("各时刻数量"), default=dict, blank=True)
    quarantined = models.PositiveIntegerField(_("隔离行数"), default=0)
    suppressed = models.PositiveIntegerField(_("免打扰数"), default=0)
    detected = models.PositiveIntegerField(_("预警数"), default=0)
    record = models.JSONField(_("运行记录"), default=dict, blank=True)  # run.json as published
    load_summary = models.JSONField(_("加载结果"), default=dict, blank=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    loaded_at = models.DateTimeField(_("加载时间"), null=True, blank=True)

    class Meta:
        db_table = "workorders_run"
        ordering = ["-business_date", "-id"]
        verbose_name = _("批次")
        verbose_name_plural = _("批次")

    def __str__(self):
        return self.run_id


class QuarantineRow(models.Model):
    """An input row the run rejected, with the rule it broke (drill-down from a run)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="quarantine_rows")
    file = models.CharField(_("文件"), max_length=100)
    row_number = models.BigIntegerField(_("行号"), null=True, blank=True)
    raw = models.TextField(_("原始内容"), blank=True)
    rule = models.CharField(_("规则"), max_length=100, blank=True)
    reason = models.TextField(_("原因"), blank=True)

    class Meta:
        db_table = "workorders_quarantinerow"
        ordering = ["run", "file", "row_number", "id"]
        indexes = [models.Index(fields=["run", "file", "row_number"])]
        verbose_name = _("隔离行")
        verbose_name_plural = _("隔离行")

    def __str__(self):
        return f"{self.file}:{self.row_number} {self.rule}"


class Detection(models.Model):
    """One detection (预警) of one moment for one customer in one run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="detections")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    moment = models.ForeignKey(
        "moments.MomentDefinition", on_delete=models.PROTECT, related_name="detections"
    )
    rule_version = models.PositiveIntegerField(_("规则版本"), null=True, blank=True)
    business_date = models.DateField(_("业务日期"))
    priority = models.IntegerField(_("优先级"), default=0)
    channel = models.CharField(_("渠道"), max_length=8, blank=True)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    explanation = models.TextField(_("说明"), blank=True)

    scope = CUSTOMER_SCOPE

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "workorders_detection"
        ordering = ["-business_date", "-priority", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "customer", "moment"], name="uniq_detection_per_run"
            )
        ]
        indexes = [
            models.Index(fields=["business_date", "moment"]),
            models.Index(fields=["customer", "business_date"]),
        ]
        verbose_name = _("预警")
        verbose_name_plural = _("预警")

    def __str__(self):
        return f"{self.business_date} {self.customer_id} {self.moment_id}"


class Suppression(models.Model):
    """A customer the no-service moments (N01 免打扰 / N02 停机) kept out of proactive service."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="suppressions")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    moment = models.ForeignKey(
        "moments.MomentDefinition", on_delete=models.PROTECT, related_name="+"
    )
    business_date = models.DateField(_("业务日期"))
    reason = models.TextField(_("原因"), blank=True)
    suppressed_codes = models.JSONField(_("被抑制的时刻"), default=list, blank=True)

    scope = CUSTOMER_SCOPE

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "workorders_suppression"
        ordering = ["-business_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "customer", "moment"], name="uniq_suppression_per_run"
            )
        ]
        indexes = [models.Index(fields=["business_date", "moment"])]
        verbose_name = _("免服务")
        verbose_name_plural = _("免服务")

    def __str__(self):
        return f"{self.business_date} {self.customer_id} {self.moment_id}"


# The daily run's steps as a person reads them (the job's progress and the runs page).
STEP_LABELS = {
    "ingest": _("接收校验"),
    "view": _("统一视图"),
    "detect": _("时刻识别"),
    "risk": _("风险评分"),
    "allocate": _("派单"),
    "risk_tasks": _("风险任务"),
    "write": _("写出结果"),
    "load": _("加载到应用"),
}


class RunRequestStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("运行中")
    SUCCEEDED = "succeeded", _("成功")
    FAILED = "failed", _("失败")


class RunRequest(models.Model):
    """A daily run an administrator asked for from the UI, run by ``keycare runjob <id>``.

    The job process writes its progress here (step, percent, message); the page polls it.
    ``active`` is True while the request is queued or running and NULL afterwards: a unique
    column, so the database itself refuses a second concurrent run (NULLs never collide).
    """

    business_date = models.DateField(_("业务日期"))
    delivery = models.CharField(_("数据目录"), max_length=200)  # relative to KEYCARE_DATA_DIR
    status = models.CharField(
        _("状态"),
        max_length=16,
        choices=RunRequestStatus.choices,
        default=RunRequestStatus.QUEUED,
    )
    active = models.BooleanField(null=True, default=True, unique=True)
    step = models.CharField(_("当前步骤"), max_length=32, blank=True)
    percent = models.PositiveSmallIntegerField(_("进度"), default=0)
    message = models.CharField(_("进度说明"), max_length=300, blank=True)
    error = models.TextField(_("错误信息"), blank=True)
    pid = models.IntegerField(_("进程号"), null=True, blank=True)
    host = models.CharField(_("主机"), max_length=100, blank=True)
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    summary = models.JSONField(_("运行结果"), default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        db_table = "workorders_runrequest"
        ordering = ["-requested_at", "-id"]
        verbose_name = _("运行申请")
        verbose_name_plural = _("运行申请")

    def __str__(self):
        return f"RR-{self.pk} {self.business_date} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in (RunRequestStatus.QUEUED, RunRequestStatus.RUNNING)

    def progress_text(self) -> str:
        """The request's state in the reader's language (the stored message is the job's)."""
        if self.status == RunRequestStatus.QUEUED:
            return gettext("排队中，等待作业进程启动")
        if self.status == RunRequestStatus.RUNNING:
            if self.step not in STEP_LABELS:
                return gettext("作业已启动")
            return gettext("正在%(step)s…") % {"step": STEP_LABELS[self.step]}
        if self.status == RunRequestStatus.SUCCEEDED:
            return gettext("运行完成并已加载")
        return gettext("运行失败")


class RiskScore(models.Model):
    """One customer's churn risk on one business date, as the daily run scored it.

    The run scores every live in-scope customer (with or without a moment that day): the
    calibrated probability, the seed's interpretable score, the four health scores and the
    top-3 reasons. Only the latest ``RISK_SCORE_DAYS`` business dates are kept (a 10M base
    scores millions of customers a day; history lives in the published runs).
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="risk_scores")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    business_date = models.DateField(_("业务日期"))
    risk_probability = models.FloatField(_("离网风险"))
    seed_score = models.FloatField(_("离网风险综合评价得分"), null=True, blank=True)
    health_tariff_brand = models.FloatField(_("品牌资费健康度"), null=True, blank=True)
    health_call_circle = models.FloatField(_("通话圈健康度"), null=True, blank=True)
    health_service = models.FloatField(_("服务健康度"), null=True, blank=True)
    health_business = models.FloatField(_("业务健康度"), null=True, blank=True)
    reasons = models.JSONField(_("风险原因"), default=list, blank=True)
    model_version = models.CharField(_("风险模型版本"), max_length=64, blank=True)
    has_moment = models.BooleanField(_("当日有关键时刻"), default=False)

    scope = CUSTOMER_SCOPE

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-business_date", "-risk_probability", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "customer"], name="uniq_risk_score_per_run")
        ]
        indexes = [models.Index(fields=["business_date", "-risk_probability"])]
        verbose_name = _("离网风险评分")
        verbose_name_plural = _("离网风险评分")

    def __str__(self):
        return f"{self.business_date} {self.customer_id} {self.risk_probability:.3f}"
