"""Key (group) accounts (集团客户 / 大客户) and their member subscribers.

Scoped models declare ``scope`` as described in ``keycare.customers.models``.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet


class Tier(models.TextChoices):
    """集团客户分层分级 (seed 002): five levels in three classes."""

    A1 = "A1", _("A1（高值客户）")
    A2 = "A2", _("A2（战略客户）")
    B1 = "B1", _("B1（重点客户）")
    B2 = "B2", _("B2（成长客户）")
    C = "C", _("C（普通集团）")


# Tiers of deliveries made before the five levels (A-D), as read today.
LEGACY_TIERS = {"A": "A1", "B": "B1", "C": "B2", "D": "C"}


def read_tier(value: str | None) -> str:
    """A delivered tier code as one of the five levels ("" when absent)."""
    value = value or ""
    if value in Tier.values:
        return value
    return LEGACY_TIERS.get(value, "")


class KeyAccountArchive(models.TextChoices):
    """004 §3.1: the active archive (在网) and the retained archive (保留) of groups that left."""

    ACTIVE = "active", _("在网档案")
    RETAINED = "retained", _("保留档案")


class CreditRating(models.TextChoices):
    AAA = "AAA", _("AAA级")
    AA = "AA", _("AA级")
    A = "A", _("A级")
    B = "B", _("B级")
    C = "C", _("C级")


class KeyLevel(models.TextChoices):
    """004 §4.3 大客户级别: who manages the group."""

    PROVINCIAL = "provincial", _("省级大客户")
    CITY = "city", _("市级大客户")
    COUNTY = "county", _("县级大客户")


class KeyAccountStatus(models.TextChoices):
    ACTIVE = "active", _("正常")
    CHURNED = "churned", _("已离网")


class MemberRole(models.TextChoices):
    KEY_PERSON = "key_person", _("关键人")
    MEMBER = "member", _("成员")


class KeyAccount(models.Model):
    key_account_id = models.CharField(_("key account ID"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    industry = models.CharField(_("industry"), max_length=64)
    tier = models.CharField(_("tier"), max_length=2, choices=Tier.choices)
    # The operator's tier as delivered; ``tier`` is KeyCare's (``keycare tiers``).
    delivered_tier = models.CharField(
        _("delivered tier"), max_length=2, choices=Tier.choices, blank=True
    )
    value_score = models.FloatField(_("value score"), null=True, blank=True)
    city = models.ForeignKey("org.City", on_delete=models.PROTECT, related_name="key_accounts")
    manager = models.ForeignKey(
        "org.Manager",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="key_accounts",
    )
    annual_revenue = models.DecimalField(
        _("annual revenue (RMB)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    credit_rating = models.CharField(
        _("credit rating"), max_length=3, choices=CreditRating.choices, blank=True
    )
    # The points balance: the sum of the group's PointsEntry ledger (004 §4.2).
    points = models.PositiveBigIntegerField(_("points"), null=True, blank=True)
    credit_score = models.FloatField(_("credit score"), null=True, blank=True)
    # 004 §4.3: whether the group qualifies as a key customer and at which management level,
    # as KeyCare's definition rule computes it (None until computed).
    key_customer = models.BooleanField(_("key customer"), null=True, blank=True)
    key_level = models.CharField(
        _("key-customer level"), max_length=16, choices=KeyLevel.choices, blank=True
    )
    status = models.CharField(_("status"), max_length=16, choices=KeyAccountStatus.choices)
    archive = models.CharField(
        _("archive"),
        max_length=16,
        choices=KeyAccountArchive.choices,
        default=KeyAccountArchive.ACTIVE,
    )
    created_date = models.DateField(_("created"))
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    strategic = models.BooleanField(_("strategic"), default=False)
    address = models.CharField(_("address"), max_length=200, blank=True)
    # Captured by managers (004 §3.2): kept across loads, every change in KeyAccountChange.
    main_business = models.CharField(_("main business"), max_length=200, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(null=True, blank=True)

    scope = {"city": "city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["key_account_id"]
        verbose_name = _("key account")
        verbose_name_plural = _("key accounts")
        indexes = [
            models.Index(fields=["city", "tier"]),
            models.Index(fields=["manager"]),
            models.Index(fields=["status"]),
            models.Index(fields=["archive", "tier"]),
        ]

    def __str__(self):
        return f"{self.key_account_id} {self.name}"


class KeyAccountMember(models.Model):
    key_account = models.ForeignKey(KeyAccount, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=16, choices=MemberRole.choices)
    joined_date = models.DateField(_("joined"))

    scope = {"city": "key_account__city", "manager": "key_account__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["key_account", "customer"]
        verbose_name = _("key-account member")
        verbose_name_plural = _("key-account members")
        constraints = [
            models.UniqueConstraint(
                fields=["key_account", "customer"], name="unique_key_account_member"
            )
        ]

    def __str__(self):
        return f"{self.key_account_id}/{self.customer_id}"


# --- the archive: history, revenue, products, key persons, contracts --------------------------


class ChangeSource(models.TextChoices):
    LOAD = "load", _("数据加载")
    MANAGER = "manager", _("经理采集")
    TIERS = "tiers", _("分层分级")
    RULES = "rules", _("服务规则")


class KeyAccountChange(models.Model):
    """One field of a key account changed (004 §3.2 动态管理): by a load, a manager or the tiers."""

    key_account = models.ForeignKey(KeyAccount, on_delete=models.CASCADE, related_name="changes")
    version = models.PositiveIntegerField(_("version"))
    source = models.CharField(_("source"), max_length=16, choices=ChangeSource.choices)
    field = models.CharField(_("field"), max_length=64)
    old_value = models.TextField(_("old value"), blank=True)
    new_value = models.TextField(_("new value"), blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(_("time"), auto_now_add=True)

    scope = {"city": "key_account__city", "manager": "key_account__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("key-account change")
        verbose_name_plural = _("key-account changes")
        indexes = [models.Index(fields=["key_account", "-at"])]

    def __str__(self):
        return f"{self.key_account_id} v{self.version} {self.field}"


class KeyAccountRevenue(models.Model):
    key_account = models.ForeignKey(KeyAccount, on_delete=models.CASCADE, related_name="revenue")
    month = models.CharField(_("month"), max_length=7)
    total_revenue = models.DecimalField(_("total revenue"), max_digits=14, decimal_places=2)
    info_revenue = models.DecimalField(
        _("informatization revenue"), max_digits=14, decimal_places=2
    )

    scope = {"city": "key_account__city", "manager": "key_account__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["key_account", "month"]
        verbose_name = _("key-account revenue")
        verbose_name_plural = _("key-account revenue")
        constraints = [
            models.UniqueConstraint(fields=["key_account", "month"], name="unique_ka_revenue_month")
        ]

    def __str__(self):
        return f"{self.key_account_id} {self.month}"


class ProductType(models.TextChoices):
    DATA_LINE = "data_line", _("数据专线")
    INTERNET_LINE = "internet_line", _("互联网专线")
    VPMN = "vpmn", _("V网")
    GROUP_RING = "group_ring", _("集团彩铃")
    MAS = "mas", _("MAS企业信息机")
    CLOUD = "cloud", _("移动云")
    IOT = "iot", _("物联网")
    IDC = "idc", _("IDC机房")
    SMS_PLATFORM = "sms_platform", _("行业短信")
    CONFERENCE = "conference", _("云视讯会议")


class ProductStatus(models.TextChoices):
    ACTIVE = "active", _("在用")
    SUSPENDED = "suspended", _("暂停")
    CANCELLED = "cancelled", _("已退订")


class KeyAccountProduct(models.Model):
    product_id = models.CharField(_("product ID"), max_length=32, unique=True)
    key_account = models.ForeignKey(KeyAccount, on_delete=models.CASCADE, related_name="products")
    product_type = models.CharField(_("product type"), max_length=16, choices=ProductType.choices)
    name = models.CharField(_("name"), max_length=100)
    informatization = models.BooleanField(_("informatization"), default=False)
    bandwidth_mbps = models.PositiveIntegerField(_("bandwidth (Mbps)"), null=True, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), null=True, blank=True)
    monthly_fee = models.DecimalField(
        _("monthly fee"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    sla_availability = models.FloatField(_("availability (%)"), null=True, blank=True)
    sla_response_minutes = models.PositiveIntegerField(
        _("response (minutes)"), null=True, blank=True
    )
    sla_restore_hours = models.FloatField(_("restore (hours)"), null=True, blank=True)
    start_date = models.DateField(_("start"))
    end_date = models.DateField(_("end"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ProductStatus.choices)

    scope = {"city": "key_account__city", "manager": "key_account__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["key_account", "product_id"]
        verbose_name = _("group product")
        verbose_name_plural = _("group products")

    def __str__(self):
        return f"{self.product_id} {self.name}"


class KeyPersonRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", _("决策人")
    CONTACT = "contact", _("联系人")
    FINANCE = "finance", _("财务负责人")
    IT = "it", _("信息化负责人")
    OTHER = "other", _("其他关键人")


class Attitude(models.TextChoices):
    SUPPORTER = "supporter", _("支持")
    NEUTRAL = "neutral", _("中立")
    OPPONENT = "opponent", _("反对")


class KeyPerson(models.Model):
    """A key person (关键人) of a group. Name, mobile and birthday are personal: masked."""

    person_id = models.CharField(_("person ID"), max_length=32, unique=True)
    key_account = models.ForeignKey(
        KeyAccount, on_delete=models.CASCADE, related_name="key_persons"
    )
    role = models.CharField(_("role"), max_length=16, choices=KeyPersonRole.choices)
    name = models.CharField(_("name"), max_length=64)
    title = models.CharField(_("title"), max_length=64, blank=True)
    mobile = models.CharField(_("mobile"), max_length=11, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reports_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    influence = models.PositiveSmallIntegerField(_("influence"), null=True, blank=True)
    attitude = models.CharField(_("attitude"), max_length=16, choices=Attitude.choices, blank=True)

    scope = {"city": "key_account__city", "manager": "key_account__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["key_account", "person_id"]
        verbose_name = _("key person")
        verbose_name_plural = _("key persons")

    def __str__(self):
        return self.person_id


class ContractType(models.TextChoices):
    FRAMEWORK = "framework", _("框架协议")
    LINE = "line", _("专线合同")
    PRODUCT = "product", _("产品合同")
    PREFERENTIAL = "preferential", _("优惠协议")


class ContractStatus(models.TextChoices):
    ACTIVE = "active", _("履行中")
    EXPIRED = "expired", _("已到期")
    TERMINATED = "terminated", _("已终止")


class KeyAccountContract(models.Model):
    contract_id = models.CharField(_("contract ID"), max_length=32, unique=True)
    key_account = models.ForeignKey(KeyAccount, on_delete=models.CASCADE, related_name="contracts")
    title = models.CharField(_("title"), max_length=200)
    contract_type = models.CharField(
        _("contract type"), max_length=16, choices=ContractType.choices
    )
    signed_date = models.DateField(_("signed"))
    start_date = models.DateField(_("start"))
    end_date = models.DateField(_("end"))
    renewal_date = models.DateField(_("renewal date"), null=True, blank=True)
    amount = models.DecimalField(
        _("amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    status = models.CharField(_("status"), max_length=16, choices=ContractStatus.choices)

    scope = {"city": "key_account__city", "manager": "key_account__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["key_account", "end_date"]
        verbose_name = _("group contract")
        verbose_name_plural = _("group contracts")
        indexes = [models.Index(fields=["status", "end_date"])]

    def __str__(self):
        return f"{self.contract_id} {self.title}"


class ServiceStandardSet(models.Model):
    """One version of the per-tier service standards (visits, response and restore times,
    manager level, green channel). The newest version is in force; older ones are kept."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    data = models.JSONField(_("standards"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    published_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    published_at = models.DateTimeField(_("published"), auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("service standards")
        verbose_name_plural = _("service standards")

    def __str__(self):
        return f"v{self.version}"


class TierPolicyStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("生效中")
    RETIRED = "retired", _("已停用")


class TierPolicy(models.Model):
    """One version of the value-score weights and tier cut-offs (keycare.keyaccounts.tiers)."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    data = models.JSONField(_("policy"))
    status = models.CharField(
        _("status"), max_length=16, choices=TierPolicyStatus.choices, default=TierPolicyStatus.DRAFT
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("tier policy")
        verbose_name_plural = _("tier policies")

    def __str__(self):
        return f"v{self.version}"


class TierChange(models.Model):
    """A group moved from one tier to another, with the score, the policy and the reason."""

    key_account = models.ForeignKey(
        KeyAccount, on_delete=models.CASCADE, related_name="tier_changes"
    )
    from_tier = models.CharField(_("from"), max_length=2, choices=Tier.choices, blank=True)
    to_tier = models.CharField(_("to"), max_length=2, choices=Tier.choices)
    score = models.FloatField(_("value score"))
    policy_version = models.PositiveIntegerField(_("policy version"))
    reason = models.CharField(_("reason"), max_length=200)
    by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(_("time"), auto_now_add=True)

    scope = {"city": "key_account__city", "manager": "key_account__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")

    def __str__(self):
        return f"{self.key_account_id} {self.from_tier}->{self.to_tier}"


# --- service rules (004 §4) -------------------------------------------------------------------


class RuleKind(models.TextChoices):
    CREDIT = "credit", _("信誉度评定规则")
    POINTS = "points", _("积分规则")
    DEFINITION = "definition", _("大客户界定与级别规则")
    POTENTIAL = "potential", _("潜在大客户资格规则")
    PREFERENTIAL = "preferential", _("大客户优惠规则")


class ServiceRule(models.Model):
    """One version of a service rule (keycare.keyaccounts.rules): the newest active version of
    a kind is in force, older ones are kept retired. Tier policies are TierPolicy rows."""

    kind = models.CharField(_("rule"), max_length=16, choices=RuleKind.choices)
    version = models.PositiveIntegerField(_("version"))
    data = models.JSONField(_("rule"))
    status = models.CharField(
        _("status"), max_length=16, choices=TierPolicyStatus.choices, default=TierPolicyStatus.DRAFT
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)

    class Meta:
        ordering = ["kind", "-version"]
        verbose_name = _("service rule")
        verbose_name_plural = _("service rules")
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="unique_rule_version")
        ]

    def __str__(self):
        return f"{self.kind} v{self.version}"


class PointsKind(models.TextChoices):
    OPENING = "opening", _("期初余额")
    EARN = "earn", _("积分累积")
    REDEEM = "redeem", _("积分兑换")


class PointsEntry(models.Model):
    """One line of a group's points ledger: the balance is the sum of ``points``.

    An earn line per group and month (re-earning a month adds nothing); a redeem line is
    negative and never takes the balance below zero."""

    key_account = models.ForeignKey(
        KeyAccount, on_delete=models.CASCADE, related_name="points_entries"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=PointsKind.choices)
    points = models.BigIntegerField(_("points"))
    balance = models.BigIntegerField(_("balance"))
    month = models.CharField(_("month"), max_length=7, blank=True)
    rule_version = models.PositiveIntegerField(_("rule version"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(_("time"), auto_now_add=True)

    scope = {"city": "key_account__city", "manager": "key_account__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        constraints = [
            models.UniqueConstraint(
                fields=["key_account", "month"],
                condition=models.Q(kind="earn"),
                name="unique_points_earn_month",
            )
        ]
        indexes = [models.Index(fields=["key_account", "-at"])]

    def __str__(self):
        return f"{self.key_account_id} {self.kind} {self.points}"


class PotentialStage(models.TextChoices):
    CANDIDATE = "candidate", _("候选")
    CONTACTED = "contacted", _("已接触")
    QUALIFIED = "qualified", _("已确认资格")
    CONVERTED = "converted", _("已转化")
    DROPPED = "dropped", _("已放弃")


class PotentialSource(models.TextChoices):
    COMPANY = "company", _("同一单位")
    VPMN = "vpmn", _("同一V网")


class PotentialKeyAccount(models.Model):
    """A potential key account (潜在大客户, 004 §4.4): subscribers sharing a company or a V网
    but no group account, found by the potential rule and worked through the pipeline."""

    candidate_id = models.CharField(_("candidate ID"), max_length=64, unique=True)
    source = models.CharField(_("found by"), max_length=16, choices=PotentialSource.choices)
    name = models.CharField(_("name"), max_length=200)
    city = models.ForeignKey("org.City", on_delete=models.PROTECT, related_name="+")
    manager = models.ForeignKey(
        "org.Manager", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subscribers = models.PositiveIntegerField(_("subscribers"))
    monthly_spend = models.DecimalField(_("monthly spend (RMB)"), max_digits=14, decimal_places=2)
    score = models.FloatField(_("score"))
    # The highest-spending subscriber: the first person to contact (personal: masked).
    contact = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stage = models.CharField(
        _("stage"), max_length=16, choices=PotentialStage.choices, default=PotentialStage.CANDIDATE
    )
    key_account = models.ForeignKey(
        KeyAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule_version = models.PositiveIntegerField(_("rule version"))
    notes = models.TextField(_("notes"), blank=True)
    found_at = models.DateTimeField(_("found"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    version = models.PositiveIntegerField(default=1)

    scope = {"city": "city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-score", "candidate_id"]
        verbose_name = _("potential key account")
        verbose_name_plural = _("potential key accounts")
        indexes = [models.Index(fields=["city", "stage"])]

    def __str__(self):
        return f"{self.candidate_id} {self.name}"


class PotentialStep(models.Model):
    """A move of a potential key account along the pipeline, with who and why."""

    potential = models.ForeignKey(
        PotentialKeyAccount, on_delete=models.CASCADE, related_name="steps"
    )
    from_stage = models.CharField(_("from"), max_length=16, choices=PotentialStage.choices)
    to_stage = models.CharField(_("to"), max_length=16, choices=PotentialStage.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(_("time"), auto_now_add=True)

    scope = {"city": "potential__city", "manager": "potential__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("pipeline step")
        verbose_name_plural = _("pipeline steps")

    def __str__(self):
        return f"{self.potential_id} {self.from_stage}->{self.to_stage}"
