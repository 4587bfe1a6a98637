"""Key (group) accounts (集团客户 / 大客户) and their member subscribers.

Scoped models declare ``scope`` as described in ``keycare.customers.models``.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet


class Tier(models.TextChoices):
    A = "A", _("A类")
    B = "B", _("B类")
    C = "C", _("C类")
    D = "D", _("D类")


class CreditRating(models.TextChoices):
    AAA = "AAA", _("AAA级")
    AA = "AA", _("AA级")
    A = "A", _("A级")
    B = "B", _("B级")
    C = "C", _("C级")


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
    tier = models.CharField(_("tier"), max_length=1, choices=Tier.choices)
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
    points = models.PositiveBigIntegerField(_("points"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=KeyAccountStatus.choices)
    created_date = models.DateField(_("created"))

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
