"""The organisation: province, city, county and grid; the departments that take work orders;
the account managers as people (the row tasks, customers and groups point at); and each
user's staff profile (role and data scope).

The models came from the customers, managers and workorders apps and keep their tables
(db_table), so the move changed no data (see migrations/0001_initial.py). Scoped models
declare ``scope`` as described in ``keycare.customers.models``.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from keycare.access.querysets import RestrictedQuerySet
from keycare.access.roles import ROLE_CHOICES


class Province(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)

    class Meta:
        db_table = "customers_province"
        ordering = ["code"]
        verbose_name = _("province")
        verbose_name_plural = _("provinces")

    def __str__(self):
        return self.name


class City(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="cities")

    class Meta:
        db_table = "customers_city"
        ordering = ["code"]
        verbose_name = _("city")
        verbose_name_plural = _("cities")

    def __str__(self):
        return self.name


class County(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="counties")

    scope = {"city": "city"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "customers_county"
        ordering = ["code"]
        verbose_name = _("county")
        verbose_name_plural = _("counties")

    def __str__(self):
        return self.name


class Grid(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="grids")
    # Denormalised from county so that lists and scoping need no extra join.
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="grids")

    scope = {"city": "city"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "customers_grid"
        ordering = ["code"]
        verbose_name = _("grid")
        verbose_name_plural = _("grids")

    def __str__(self):
        return self.name


class ManagerRole(models.TextChoices):
    PHONE = "phone_manager", _("电话经理")
    CUSTOMER = "customer_manager", _("客户经理")
    KEY_ACCOUNT = "key_account_manager", _("集团客户经理")


class Manager(models.Model):
    manager_id = models.CharField(_("manager ID"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    mobile = models.CharField(_("mobile number"), max_length=20)
    city = models.ForeignKey("City", on_delete=models.PROTECT, related_name="managers")
    grid = models.ForeignKey(
        "Grid", null=True, blank=True, on_delete=models.PROTECT, related_name="managers"
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
        db_table = "managers_manager"
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
        "City", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    manager = models.ForeignKey(
        Manager, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    scope = {"city": "city", "manager": "manager"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "managers_staffprofile"
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self):
        return f"{self.user} ({self.role})"


class Department(models.Model):
    """A department or channel that receives work orders (渠道协同).

    A department without a city serves the whole province; a city administrator manages the
    departments of their city (``restrict``), the province administrator all of them.
    """

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    city = models.ForeignKey(
        "City", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(_("启用"), default=True)

    scope = {"city": "city"}
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "workorders_department"
        ordering = ["code"]
        verbose_name = _("部门")
        verbose_name_plural = _("部门")

    def __str__(self):
        return self.name
