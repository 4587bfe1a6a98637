"""Key-moment definitions as administrators edit them, with every change versioned.

The built-in definitions live in ``keycare/engine/moments.yaml``; ``actions.sync_builtin_definitions``
imports them. From then on the database is the source of truth for the daily run:
``services.current_definitions()`` turns it back into what the engine expects.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet
from keycare.core.models import TimeStampedModel


class Category(models.TextChoices):
    FIRST = "first", _("第一时刻")
    ANOMALY = "anomaly", _("异动时刻")
    SPECIAL = "special", _("特殊时刻")
    NO_SERVICE = "no_service", _("免服务时刻")
    GROUP = "group", _("集团时刻")


class Cycle(models.TextChoices):
    DAILY = "daily", _("按日")
    WEEKLY = "weekly", _("按周")
    MONTHLY = "monthly", _("按月")


class Channel(models.TextChoices):
    CALL = "call", _("外呼")
    SMS = "sms", _("短信")


class MomentDefinition(TimeStampedModel):
    """One key moment (关键时刻): its rule, thresholds, handling and script."""

    # Fields an administrator may change through ``actions.update_moment``.
    EDITABLE_FIELDS = (
        "name_zh",
        "name_en",
        "enabled",
        "priority",
        "channel",
        "sms_allowed",
        "strategy",
        "script",
        "sms_template",
        "thresholds",
        "condition",
    )

    code = models.CharField(_("编码"), max_length=16, unique=True)
    name_zh = models.CharField(_("中文名称"), max_length=100)
    name_en = models.CharField(_("英文名称"), max_length=200, blank=True)
    category = models.CharField(_("类别"), max_length=16, choices=Category.choices)
    cycle = models.CharField(_("周期"), max_length=16, choices=Cycle.choices)
    enabled = models.BooleanField(_("启用"), default=True)
    priority = models.IntegerField(_("优先级"), default=50)
    channel = models.CharField(_("处理渠道"), max_length=8, choices=Channel.choices)
    sms_allowed = models.BooleanField(_("允许短信"), default=False)
    strategy = models.CharField(_("服务策略"), max_length=200, blank=True)
    script = models.TextField(_("服务话术"), blank=True)
    sms_template = models.TextField(_("短信模板"), blank=True)
    # Global thresholds, exactly as the YAML spells them (name -> default, or name -> spec
    # with a "default" key); ``threshold_defaults()`` gives name -> value either way.
    thresholds = models.JSONField(_("阈值"), default=dict, blank=True)
    condition = models.JSONField(_("条件"), default=dict, blank=True)
    # Keys of the YAML entry that have no column here, kept so the round trip is lossless.
    extra = models.JSONField(default=dict, blank=True)
    builtin = models.BooleanField(default=True)
    current_version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["code"]
        verbose_name = _("关键时刻")
        verbose_name_plural = _("关键时刻")

    def __str__(self):
        return f"{self.code} {self.name_zh}"

    def threshold_defaults(self) -> dict:
        return {name: threshold_value(spec) for name, spec in (self.thresholds or {}).items()}


def threshold_value(spec):
    """The default value of a threshold given either as a bare value or as a spec dict."""
    return spec.get("default") if isinstance(spec, dict) else spec


class CityThreshold(TimeStampedModel):
    """A per-city override of one named threshold (seed: 可以分地市对同一时刻设定不同的阈值)."""

    moment = models.ForeignKey(
        MomentDefinition, on_delete=models.CASCADE, related_name="city_thresholds"
    )
    city = models.ForeignKey("org.City", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("阈值名称"), max_length=64)
    # JSON keeps the type (an int stays an int) for the engine's validator.
    value = models.JSONField(_("阈值"))

    scope = {"city": "city"}

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["moment__code", "city", "name"]
        constraints = [
            models.UniqueConstraint(fields=["moment", "city", "name"], name="uniq_city_threshold")
        ]
        verbose_name = _("地市阈值")
        verbose_name_plural = _("地市阈值")

    def __str__(self):
        return f"{self.moment.code} {self.city} {self.name}={self.value}"


class RuleVersion(models.Model):
    """An immutable snapshot of one moment after a change: who, when and what changed."""

    moment = models.ForeignKey(MomentDefinition, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("版本号"))
    snapshot = models.JSONField(_("快照"))
    changes = models.JSONField(_("变更内容"), default=dict, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("修改人"),
    )
    changed_at = models.DateTimeField(_("修改时间"), auto_now_add=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        ordering = ["moment__code", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["moment", "number"], name="uniq_rule_version")
        ]
        verbose_name = _("规则版本")
        verbose_name_plural = _("规则版本")

    def __str__(self):
        return f"{self.moment.code} v{self.number}"


class DefinitionSetVersion(models.Model):
    """The whole definition set as handed to one or more runs, named by its content hash."""

    content_hash = models.CharField(_("内容哈希"), max_length=128, unique=True)
    # moment code -> RuleVersion.number in force when this set was taken.
    moment_versions = models.JSONField(default=dict)
    snapshot = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("规则集版本")
        verbose_name_plural = _("规则集版本")

    def __str__(self):
        return self.content_hash[:12]


class Tactic(TimeStampedModel):
    """One retention tactic (保有战术) of the library; outcomes record which one was used.

    The rows follow the current ``TacticLibraryVersion``: a tactic dropped from the library is
    deactivated, never deleted (recorded outcomes keep pointing at it).
    """

    code = models.CharField(_("编码"), max_length=8, unique=True)
    name_zh = models.CharField(_("中文名称"), max_length=100)
    name_en = models.CharField(_("英文名称"), max_length=200, blank=True)
    group = models.CharField(_("分组"), max_length=32)
    group_zh = models.CharField(_("分组名称"), max_length=100, blank=True)
    group_en = models.CharField(max_length=200, blank=True)
    description = models.TextField(_("说明"), blank=True)
    source = models.CharField(_("出处"), max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("保有战术")
        verbose_name_plural = _("保有战术")

    def __str__(self):
        return f"{self.code} {self.name_zh}"


class TacticLibraryVersion(models.Model):
    """An immutable version of the whole tactics library: tactics, risk bands and matrix."""

    number = models.PositiveIntegerField(_("版本号"), unique=True)
    content_hash = models.CharField(_("内容哈希"), max_length=64)
    document = models.JSONField(_("内容"))
    # What changed against the version before: added / removed / changed tactic codes,
    # whether the matrix or the risk bands changed.
    changes = models.JSONField(_("变更内容"), default=dict, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("修改人"),
    )
    changed_at = models.DateTimeField(_("修改时间"), auto_now_add=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("保有战术库版本")
        verbose_name_plural = _("保有战术库版本")

    def __str__(self):
        return f"v{self.number} {self.content_hash[:12]}"
