"""Writes to the organisation: departments (部门) that receive work orders.

Every function takes the acting user, runs in one transaction and writes an audit event.
"""

from __future__ import annotations

from django.db import transaction

from keycare.core.audit import record
from keycare.errors import UserError
from keycare.org.models import City, Department

# The departments a fresh organisation starts with, so a work order can be sent on day one:
# (code, name) serving the whole province, and (code suffix, name) made once per city.
PROVINCE_DEPARTMENTS = (("NET", "网络部"), ("BILL", "账务中心"), ("GOV", "政企部"))
CITY_DEPARTMENTS = (("FTTH", "家宽装维"), ("SHOP", "营业厅"))
CODE_MAX = 32
NAME_MAX = 100


def ensure_default_departments(actor=None) -> int:
    """Create the default departments when there are none at all; returns how many.

    Idempotent: once any department exists (even deactivated ones), the administrators own
    the list and nothing is added back.
    """
    with transaction.atomic():
        if Department.objects.exists():
            return 0
        wanted = [Department(code=code, name=name) for code, name in PROVINCE_DEPARTMENTS]
        for city in City.objects.order_by("code"):
            wanted += [
                Department(code=f"{city.code}-{suffix}", name=name, city=city)
                for suffix, name in CITY_DEPARTMENTS
            ]
        Department.objects.bulk_create(wanted)
        record(
            actor,
            "department.defaults",
            object_type="org.department",
            created=len(wanted),
            codes=[d.code for d in wanted],
        )
    return len(wanted)


def create_department(actor, *, code: str, name: str, city: City | None) -> Department:
    code, name = _clean(code, name)
    with transaction.atomic():
        if Department.objects.filter(code=code).exists():
            raise UserError(f"部门编码已存在：{code}")
        department = Department.objects.create(code=code, name=name, city=city)
        record(
            actor,
            "department.create",
            department,
            code=code,
            name=name,
            city=city.code if city else None,
        )
    return department


def update_department(
    actor, department: Department, *, code: str, name: str, city: City | None
) -> Department:
    code, name = _clean(code, name)
    with transaction.atomic():
        if Department.objects.filter(code=code).exclude(pk=department.pk).exists():
            raise UserError(f"部门编码已存在：{code}")
        before = {
            "code": department.code,
            "name": department.name,
            "city": department.city.code if department.city_id else None,
        }
        after = {"code": code, "name": name, "city": city.code if city else None}
        Department.objects.filter(pk=department.pk).update(code=code, name=name, city=city)
        department.code, department.name, department.city = code, name, city
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        record(actor, "department.update", department, changes=changes)
    return department


def set_department_active(actor, department: Department, active: bool) -> Department:
    """Deactivate (no new work orders) or reactivate a department; a no-op is refused."""
    with transaction.atomic():
        updated = Department.objects.filter(pk=department.pk, active=not active).update(
            active=active
        )
        if not updated:
            raise UserError("部门已是启用状态" if active else "部门已停用")
        department.active = active
        record(actor, "department.activate" if active else "department.deactivate", department)
    return department


def _clean(code: str, name: str) -> tuple[str, str]:
    code, name = (code or "").strip(), (name or "").strip()
    if not code or not name:
        raise UserError("请填写部门编码和名称")
    if len(code) > CODE_MAX or len(name) > NAME_MAX:
        raise UserError(f"部门编码最长 {CODE_MAX} 个字符，名称最长 {NAME_MAX} 个字符")
    return code, name
