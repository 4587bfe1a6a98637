"""Writes about staff: the demo users, one per role, with their data scope."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Count, Q

from keycare.access import roles
from keycare.core import audit
from keycare.customers.models import Archive
from keycare.errors import UserError
from keycare.org.models import City, Manager, StaffProfile

DEMO_CITY = "南京"
CTI_CLEAR_CODENAME = "cti_clear_numbers"  # access.cti_clear_numbers (keycare.access.models)


@dataclass
class DemoLogin:
    username: str
    role: str
    scope: str
    password: str


def create_demo_users() -> list[DemoLogin]:
    """Create or reset one user per role with a fresh random password. Idempotent.

    Needs the organisation and managers loaded (``keycare load``): the city administrator
    is scoped to 南京 (or the first city) and the account manager is linked to the manager
    with the largest active portfolio.
    """
    city = _demo_city()
    manager = _demo_manager()
    plan = [
        (roles.ROLE_PROVINCE_ADMIN, None, None, "全省 province"),
        (roles.ROLE_CITY_ADMIN, city, None, f"{city.name} ({city.code})"),
        (roles.ROLE_MANAGER, None, manager, f"{manager.name} ({manager.manager_id})"),
        (roles.ROLE_ANALYST, None, None, "全省，脱敏 province, masked"),
        (roles.ROLE_AUDITOR, None, None, "审计日志 audit log only"),
        (roles.ROLE_CTI, None, None, "外呼系统 CTI feed (API), numbers in clear"),
    ]
    with transaction.atomic():
        groups = roles.ensure_groups()
        logins = [_demo_user(groups[r], r, c, m, scope) for r, c, m, scope in plan]
        # The demo outbound-call system receives its call list with the numbers in clear.
        cti = get_user_model().objects.get(username=f"demo_{roles.ROLE_CTI}")
        cti.user_permissions.add(
            Permission.objects.get(content_type__app_label="access", codename=CTI_CLEAR_CODENAME)
        )
        audit.record(None, "demo_users", usernames=[login.username for login in logins])
    return logins


def _demo_city() -> City:
    city = City.objects.filter(name__contains=DEMO_CITY).first() or City.objects.first()
    if city is None:
        raise UserError("no city in the database: load a delivery first (keycare load DIR)")
    return city


def _demo_manager() -> Manager:
    manager = (
        Manager.objects.annotate(
            portfolio=Count("customers", filter=Q(customers__archive=Archive.ACTIVE))
        )
        .order_by("-active", "-portfolio", "manager_id")
        .first()
    )
    if manager is None:
        raise UserError(
            "no account manager in the database: load a delivery first (keycare load DIR)"
        )
    return manager


def _demo_user(group, role, city, manager, scope) -> DemoLogin:
    username = f"demo_{role}"
    user, _created = get_user_model().objects.get_or_create(username=username)
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    user.is_active = True
    user.save()
    user.groups.set([group])
    StaffProfile.objects.update_or_create(
        user=user, defaults={"role": role, "city": city, "manager": manager}
    )
    if manager is not None and manager.user_id != user.pk:
        Manager.objects.filter(user=user).update(user=None)
        manager.user = user
        manager.save(update_fields=["user"])
    return DemoLogin(username, role, scope, password)
