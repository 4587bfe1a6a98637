"""Account managers (电话经理 / 客户经理) and staff profiles (user -> role and data scope).

Scoped models declare ``scope`` as described in ``keycare.customers.models``.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet
from keycare.access.roles import ROLE_CHOICES


class ManagerRole(models.TextChoices):
    PHONE = "phone_manager", _("电话经理")
    CUSTOMER = "customer_manager", _("客户经理")
    KEY_ACCOUNT = "key_account_manager", _("集团客户经理")


class Manager(models.Model):
    manager_id = models.CharField(_("manager ID"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    mobile = models.CharField(_("mobile number"), max_length=20)
    city = models.ForeignKey("customers.City", on_delete=models.PROTECT, related_name="managers")
    grid = models.ForeignKey(
        "customers.Grid", null=True, blank=True, on_delete=models.PROTECT, related_name="managers"
    )
    role = models.CharField(_("role"), max_length=32, choices=ManagerRole.choices)
    daily_capacity = models.PositiveSmallIntegerField(_("daily capacity"))
    active = models.BooleanField(_("active"), default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="manager",
    )

    # Only a city path: the chokepoint filters ``<path>_id`` and a row cannot point at itself.
    # An account manager reaches their own record through ``user.manager``.
    scope = {"city": "city"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["manager_id"]
        verbose_name = _("account manager")
        verbose_name_plural = _("account managers")
        indexes = [models.Index(fields=["city", "active"])]

    def __str__(self):
        return f"{self.manager_id} {self.name}"


class StaffProfile(models.Model):
    """A user's role and data scope: a city (city admin, optionally analyst) or a manager."""

    # Default accessor ``user.staffprofile``, which keycare.access.querysets reads.
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(_("role"), max_length=32, choices=ROLE_CHOICES)
    city = models.ForeignKey(
        "customers.City", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    manager = models.ForeignKey(
        Manager, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    scope = {"city": "city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self):
        return f"{self.user} ({self.role})"
