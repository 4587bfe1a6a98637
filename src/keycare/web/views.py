"""Entry pages: home sends each role to its own workbench."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse

from keycare.access import roles
from keycare.access.querysets import user_scope

HOME_BY_ROLE = {
    roles.ROLE_MANAGER: "web:manager-workbench",
    roles.ROLE_PROVINCE_ADMIN: "web:admin-workbench",
    roles.ROLE_CITY_ADMIN: "web:admin-workbench",
    roles.ROLE_ANALYST: "web:analytics-home",
    roles.ROLE_AUDITOR: "web:audit-list",
}


@login_required
def home(request):
    role, _scope = user_scope(request.user)
    try:
        return redirect(reverse(HOME_BY_ROLE[role]))
    except (KeyError, NoReverseMatch):
        return render(request, "web/home.html", {"role": role})
