"""部门管理: the departments that receive work orders (list, create, edit, deactivate).

A province administrator manages every department, province-wide ones (no city) included; a
city administrator manages their city's (``Department.objects.restrict``: another city's
department is a 404) and creates departments in their city only. Writes go through
``keycare.org.actions`` (one transaction, audited).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from keycare.access import roles
from keycare.access.querysets import require_role
from keycare.core.parsing import posted_int
from keycare.errors import UserError
from keycare.org import actions as org_actions
from keycare.org.models import City, Department

ADMIN_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}


def _require_admin(user):
    return require_role(user, ADMIN_ROLES, _("只有管理员可以管理部门"))


@login_required
def department_list(request):
    role, _scope = _require_admin(request.user)
    departments = (
        Department.objects.restrict(request.user)
        .select_related("city")
        .order_by("-active", "city__code", "code")
    )
    return render(
        request,
        "web/departments/list.html",
        {"departments": departments, "province_admin": role == roles.ROLE_PROVINCE_ADMIN},
    )


@login_required
@require_http_methods(["GET", "POST"])
def department_new(request):
    role, scope = _require_admin(request.user)
    values = {"code": "", "name": "", "city": scope or ""}
    if request.method == "POST":
        values = _posted(request)
        try:
            department = org_actions.create_department(
                request.user,
                code=values["code"],
                name=values["name"],
                city=_city(role, scope, values["city"]),
            )
        except UserError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("已创建部门：%(name)s") % {"name": department.name})
            return redirect("web:department-list")
    return _form(request, role, scope, values, department=None)


@login_required
@require_http_methods(["GET", "POST"])
def department_edit(request, pk):
    role, scope = _require_admin(request.user)
    department = _scoped(request.user, pk)
    values = {"code": department.code, "name": department.name, "city": department.city_id or ""}
    if request.method == "POST":
        values = _posted(request)
        try:
            org_actions.update_department(
                request.user,
                department,
                code=values["code"],
                name=values["name"],
                city=_city(role, scope, values["city"]),
            )
        except UserError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("已保存部门：%(name)s") % {"name": department.name})
            return redirect("web:department-list")
    return _form(request, role, scope, values, department=department)


@login_required
@require_POST
def department_active(request, pk):
    """Deactivate (``active=0``) or reactivate (``active=1``) a department."""
    _require_admin(request.user)
    department = _scoped(request.user, pk)
    active = request.POST.get("active", "") == "1"
    try:
        org_actions.set_department_active(request.user, department, active)
    except UserError as error:
        messages.error(request, str(error))
    else:
        text = _("已启用部门：%(name)s") if active else _("已停用部门：%(name)s")
        messages.success(request, text % {"name": department.name})
    return redirect("web:department-list")


def _scoped(user, pk):
    department = Department.objects.restrict(user, "change").filter(pk=pk).first()
    if department is None:
        raise Http404(_("部门不存在或不在您的权限范围内"))
    return department


def _posted(request) -> dict:
    return {
        "code": request.POST.get("code", "").strip(),
        "name": request.POST.get("name", "").strip(),
        "city": request.POST.get("city", "").strip(),
    }


def _city(role, scope, raw):
    """The department's city: a city administrator's own; for the province administrator the
    chosen one, or none (province-wide)."""
    if role == roles.ROLE_CITY_ADMIN:
        return City.objects.get(pk=scope)
    if raw == "":
        return None
    city_id = posted_int(raw)
    city = City.objects.filter(pk=city_id).first() if city_id is not None else None
    if city is None:
        raise UserError(_("地市无效，请从列表中选择"))
    return city


def _form(request, role, scope, values, *, department):
    cities = City.objects.order_by("code")
    if role == roles.ROLE_CITY_ADMIN:
        cities = cities.filter(pk=scope)
    return render(
        request,
        "web/departments/form.html",
        {
            "department": department,
            "values": values,
            "cities": cities,
            "province_admin": role == roles.ROLE_PROVINCE_ADMIN,
        },
    )
