"""The customer archive (在网档案库 / 保留档案库).

Scope convention
----------------
Every model holding data that only some users may see declares a class attribute ``scope``:
a dict naming the ORM paths from the model to the ``City`` and to the ``Manager`` that the
row belongs to, for example::

    class Customer(models.Model):
        scope = {"city": "city", "manager": "manager"}

    class CustomerHistory(models.Model):
        scope = {"city": "customer__city", "manager": "customer__manager"}

Every path ends at a foreign key: the access layer (``keycare.access.querysets``) filters
``<path>_id = <city or manager pk>``, so ``Model.objects.restrict(user)`` keeps a city
administrator to their city and an account manager to their portfolio. A missing key means
the model cannot be scoped that way (that role sees none of its rows). Models without
``scope`` are not row-scoped: reference data anyone signed in may read (``org.Province``,
``org.City``) and administration data (``LoadBatch``) that views must guard by permission.
Scoped models use ``RestrictedQuerySet`` as their manager.

Loading happens in ``keycare.customers.loader`` (``keycare load DIR``); models carry no logic.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet


class Brand(models.TextChoices):
    GOTONE = "gotone", _("全球通")
    MZONE = "mzone", _("动感地带")
    EASYOWN = "easyown", _("神州行")


class PaymentType(models.TextChoices):
    PREPAID = "prepaid", _("预付费")
    POSTPAID = "postpaid", _("后付费")


class Status(models.TextChoices):
    ACTIVE = "active", _("在网")
    SUSPENDED = "suspended", _("停机")
    CHURNED = "churned", _("离网")


class ValueTier(models.TextChoices):
    MID_HIGH = "mid_high", _("中高端")
    MASS = "mass", _("大众")


class Archive(models.TextChoices):
    ACTIVE = "active", _("在用档案")
    RETAINED = "retained", _("留存档案")


class Gender(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class Customer(models.Model):
    """One archived subscriber: high-value individuals and key-account members.

    Personal fields (name, msisdn, id_number, birth_date, address) are stored as delivered;
    masking happens when they are displayed. ``attributes`` holds the delivery's other raw
    catalog columns (balance, handset, DND...) so the 360 view can show them.
    """

    subscriber_id = models.CharField(_("subscriber ID"), max_length=32, unique=True)
    msisdn = models.CharField(_("mobile number"), max_length=20, db_index=True)
    name = models.CharField(_("name"), max_length=100)
    id_number = models.CharField(_("ID number"), max_length=18, blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    join_date = models.DateField(_("join date"))
    city = models.ForeignKey("org.City", on_delete=models.PROTECT, related_name="customers")
    county = models.ForeignKey("org.County", on_delete=models.PROTECT, related_name="customers")
    grid = models.ForeignKey("org.Grid", on_delete=models.PROTECT, related_name="customers")
    brand = models.CharField(_("brand"), max_length=16, choices=Brand.choices)
    plan_code = models.CharField(_("plan"), max_length=32)
    plan_fee = models.DecimalField(_("plan fee (RMB/month)"), max_digits=9, decimal_places=2)
    payment_type = models.CharField(_("payment type"), max_length=16, choices=PaymentType.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    status_date = models.DateField(_("status since"))
    value_tier = models.CharField(_("value tier"), max_length=16, choices=ValueTier.choices)
    star_level = models.PositiveSmallIntegerField(_("star level"), null=True, blank=True)
    credit_score = models.PositiveSmallIntegerField(_("credit score"), null=True, blank=True)
    points = models.PositiveBigIntegerField(_("points"), null=True, blank=True)
    key_account = models.ForeignKey(
        "keyaccounts.KeyAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
    )
    manager = models.ForeignKey(
        "org.Manager",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
        help_text=_("Current assignment; history in Assignment."),
    )
    archive = models.CharField(
        _("archive"), max_length=16, choices=Archive.choices, default=Archive.ACTIVE
    )
    attributes = models.JSONField(_("other attributes"), default=dict, blank=True)
    # Hash of the delivered record: lets a load find changed rows without reading them all.
    row_hash = models.CharField(max_length=32, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope = {"city": "city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["subscriber_id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["city", "archive", "value_tier"]),
            # A manager's portfolio by value tier, index-only (the workbench, every request).
            models.Index(fields=["manager", "archive", "value_tier"], name="customer_manager_tier"),
            # City scope of the rows that belong to a customer (detections, appointments...):
            # the join reads this index instead of the wide customers table.
            models.Index(fields=["city", "id"], name="customer_city_id"),
            models.Index(fields=["status"]),
            models.Index(fields=["archive", "status"]),
        ]

    def __str__(self):
        return self.subscriber_id


class CustomerHistory(models.Model):
    """One change of one customer: ``changes`` maps field -> [old, new] (JSON values)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="history")
    load = models.ForeignKey(
        "LoadBatch", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    changes = models.JSONField(default=dict)

    scope = {"city": "customer__city", "manager": "customer__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["customer", "-at", "-id"]
        verbose_name = _("customer change")
        verbose_name_plural = _("customer changes")

    def __str__(self):
        return f"{self.customer_id}: {', '.join(self.changes)}"


class Assignment(models.Model):
    """A period during which a manager served a customer; ``end_date`` null = current."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="assignments")
    manager = models.ForeignKey("org.Manager", on_delete=models.PROTECT, related_name="assignments")
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("to"), null=True, blank=True)
    load = models.ForeignKey(
        "LoadBatch", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    scope = {"city": "customer__city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["customer", "-start_date", "-id"]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        indexes = [models.Index(fields=["manager", "end_date"])]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(end_date__isnull=True),
                name="one_current_assignment_per_customer",
            )
        ]

    def __str__(self):
        return f"{self.customer_id} -> {self.manager_id} from {self.start_date}"


class LoadBatch(models.Model):
    """One run of ``keycare load``: where from, what it found and what it changed."""

    source_dir = models.CharField(_("source directory"), max_length=500)
    business_date = models.DateField(_("business date"), null=True, blank=True)
    checksums = models.JSONField(_("file checksums (sha256)"), default=dict)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    retained = models.PositiveIntegerField(
        default=0, help_text=_("Customers of this delivery in the retained archive.")
    )
    counts = models.JSONField(default=dict, help_text=_("Other counts (org, managers, ...)."))
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("load")
        verbose_name_plural = _("loads")

    def __str__(self):
        return f"load {self.pk} of {self.source_dir}"


class ConsentPurpose(models.TextChoices):
    """Purposes of processing that need their own consent or legal basis (PIPL Art. 14, 17)."""

    MARKETING = "marketing", _("个性化营销")
    LOCATION = "location", _("位置信息实时服务")


class LegalBasis(models.TextChoices):
    """PIPL Art. 13: consent, or a basis that needs none."""

    CONSENT = "consent", _("个人同意")
    CONTRACT = "contract", _("履行合同所必需")
    LEGAL_DUTY = "legal_duty", _("履行法定职责或义务")


class ConsentRecord(models.Model):
    """The basis on which one customer's data is processed for one purpose, and whether the
    customer has opted out (withdrawn consent, or refused personalised marketing: Art. 24).
    No row: the purpose's configured default basis (``settings.PRIVACY_DEFAULT_BASIS``)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(_("处理目的"), max_length=16, choices=ConsentPurpose.choices)
    basis = models.CharField(_("合法性基础"), max_length=16, choices=LegalBasis.choices)
    opted_out = models.BooleanField(_("已拒绝或撤回"), default=False)
    source = models.CharField(_("来源"), max_length=64, blank=True)
    recorded_at = models.DateTimeField(_("记录时间"), auto_now=True)

    scope = {"city": "customer__city", "manager": "customer__manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "purpose"], name="uniq_consent_purpose")
        ]
        indexes = [models.Index(fields=["purpose", "opted_out"])]
        verbose_name = _("个人信息处理依据")
        verbose_name_plural = _("个人信息处理依据")

    def __str__(self):
        return f"{self.customer_id} {self.purpose} {self.basis}"
