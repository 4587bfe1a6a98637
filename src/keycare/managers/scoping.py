"""Which managers a user may see: the one reading of scope for the manager rows themselves.

``Manager.scope`` has only a city path (a row cannot point at itself), so an account manager
would see none through ``restrict``; they see their own row instead. Pages and the API both
read managers through ``visible_managers`` (outside it is a 404).
"""

from __future__ import annotations

from keycare.access import roles
from keycare.access.querysets import user_scope
from keycare.org.models import Manager


def visible_managers(user):
    role, scope = user_scope(user)
    if role == roles.ROLE_MANAGER:
        return Manager.objects.filter(pk=scope) if scope else Manager.objects.none()
    # Administrators their scope; an analyst reads (masked) what the chokepoint gives them.
    return Manager.objects.restrict(user)


def is_admin(user) -> bool:
    return user_scope(user)[0] in (roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN)
