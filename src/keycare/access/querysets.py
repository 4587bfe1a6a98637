"""The one chokepoint for data scope: every read of scoped data goes through ``restrict``.

A scoped model declares where its scope lives, as ORM paths::

    class Customer(models.Model):
        scope = {"city": "city", "manager": "manager"}
        objects = RestrictedQuerySet.as_manager()

``Model.objects.restrict(user)`` then keeps only the rows the user's role may see:

- province administrator: everything in the province
- city administrator, analyst with a city: their city
- account manager: their own portfolio
- auditor (and anyone without a role): nothing
- the outbound-call system (CTI): nothing, except for the ``"cti"`` action (the CTI feed),
  where it sees its city (or the province when its profile names none)
Superusers see everything. As in NetBox (``utilities/querysets.py``), views never filter
by hand, so none can forget to.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import models

from keycare.access import roles

# The action the CTI feed restricts with: only it opens rows to the outbound-call system.
CTI_ACTION = "cti"


def user_scope(user) -> tuple[str | None, object | None]:
    """(role, scope value) for a user: the city id for city roles, the manager id for managers."""
    if not getattr(user, "is_authenticated", False):
        return None, None
    if user.is_superuser:
        return roles.ROLE_PROVINCE_ADMIN, None
    profile = getattr(user, "staffprofile", None)
    if profile is None:
        return None, None
    if profile.role == roles.ROLE_MANAGER:
        return profile.role, profile.manager_id
    if profile.role in (roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST, roles.ROLE_CTI):
        return profile.role, profile.city_id
    return profile.role, None


def require_role(user, allowed, message: str = "") -> tuple[str | None, object | None]:
    """(role, scope) of a user whose role is in ``allowed``; anyone else is refused (403)."""
    role, scope = user_scope(user)
    if role not in allowed:
        raise PermissionDenied(message)
    return role, scope


class RestrictedQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view"):
        """Rows of this queryset that ``user`` may ``action``; empty when out of scope."""
        scope = getattr(self.model, "scope", None)
        if scope is None:
            raise TypeError(f"{self.model.__name__} declares no scope; it cannot be restricted")
        role, value = user_scope(user)
        if role == roles.ROLE_CTI:
            # A system account reads only through the CTI feed, never the ordinary resources.
            if action != CTI_ACTION or (value and "city" not in scope):
                return self.none()
            return self.filter(**{f"{scope['city']}_id": value}) if value else self
        if role == roles.ROLE_PROVINCE_ADMIN:
            return self
        if role == roles.ROLE_ANALYST and value is None:
            # A province-wide analyst: every row, masked on display.
            return self if action == "view" else self.none()
        if role in (roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST) and "city" in scope:
            if role == roles.ROLE_ANALYST and action != "view":
                return self.none()
            return self.filter(**{f"{scope['city']}_id": value}) if value else self.none()
        if role == roles.ROLE_MANAGER and "manager" in scope:
            return self.filter(**{f"{scope['manager']}_id": value}) if value else self.none()
        return self.none()
