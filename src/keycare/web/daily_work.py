"""日常工作 (§7.2.2): a manager records visits and call notes (时间、地点、对象、内容、结果、
下一步) from the phone, linked to the key account, its key persons and the task served;
administrators read their scope's records. Writes go through ``keycare.managers.actions``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from keycare.access import roles
from keycare.access.masking import mask_field
from keycare.access.presenter import free_text, masked_customer
from keycare.access.querysets import require_role
from keycare.core.parsing import DateTimeOutOfRange, posted_datetime, posted_int
from keycare.errors import UserError
from keycare.keyaccounts.models import KeyAccount, KeyPerson
from keycare.managers import actions
from keycare.managers.models import AssignmentStatus, TaskAssignment, WorkKind, WorkRecord
from keycare.org.models import Manager
from keycare.tasks.models import ServiceTask

PAGE_SIZE = 30
TASK_CHOICES = 30
READER_ROLES = {roles.ROLE_MANAGER, roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}


@login_required
def work_list(request):
    role, scope = require_role(request.user, READER_ROLES, _("您的角色不能查看工作记录"))
    filters, records = _filtered(request, WorkRecord.objects.restrict(request.user))
    page = Paginator(
        records.select_related("manager", "key_account").prefetch_related("persons", "key_persons"),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "web/managers/work_list.html",
        {
            "page": page,
            "rows": [_row(r) for r in page],
            "filters": filters,
            "kinds": WorkKind.choices,
            "is_manager": role == roles.ROLE_MANAGER and scope is not None,
        },
    )


def _filtered(request, records):
    filters = {
        "kind": request.GET.get("kind", ""),
        "manager": request.GET.get("manager", "").strip()[:32],
        "date_from": request.GET.get("date_from", "").strip()[:10],
        "date_to": request.GET.get("date_to", "").strip()[:10],
        "q": request.GET.get("q", "").strip()[:50],
    }
    if filters["kind"] in WorkKind.values:
        records = records.filter(kind=filters["kind"])
    else:
        filters["kind"] = ""
    if filters["manager"]:
        records = records.filter(manager__manager_id=filters["manager"])
    for key, lookup in (("date_from", "at__date__gte"), ("date_to", "at__date__lte")):
        day = _day(filters[key])
        if day is None:
            filters[key] = ""
        else:
            records = records.filter(**{lookup: day})
    if filters["q"]:
        records = records.filter(key_account__name__icontains=filters["q"])
    return filters, records.order_by("-at", "-id")


def _day(raw):
    try:
        return parse_date(raw) if raw else None
    except ValueError:
        return None


def _row(record) -> dict:
    return {
        "record": record,
        "persons": [key_person_label(p) for p in record.key_persons.all()]
        + [masked_customer(p)["name"] for p in record.persons.all()],
        "content": free_text(record.content),
        "result": free_text(record.result),
        "next_step": free_text(record.next_step),
        "place": free_text(record.place),
    }


# --- new record (the manager, on the phone) -----------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def work_new(request):
    _role, scope = require_role(
        request.user, {roles.ROLE_MANAGER}, _("只有客户经理可以记录走访和电话沟通")
    )
    manager = Manager.objects.filter(pk=scope).first() if scope else None
    if manager is None:
        raise Http404(_("您的账号没有关联客户经理"))
    values = _initial(request)
    if request.method == "POST":
        values = {key: request.POST.get(key, "").strip() for key in values}
        values["key_persons"] = request.POST.getlist("key_persons")
        try:
            actions.record_work(request.user, manager, **_parsed(manager, values))
        except UserError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("已保存工作记录"))
            return redirect("web:work-list")
    return render(
        request,
        "web/managers/work_form.html",
        {"values": values, "kinds": WorkKind.choices, **work_choices(manager)},
    )


def _initial(request) -> dict:
    return {
        "kind": request.GET.get("kind", WorkKind.VISIT),
        "at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "place": "",
        "key_account": request.GET.get("key_account", ""),
        "task": request.GET.get("task", ""),
        "assignment": request.GET.get("assignment", ""),
        "content": "",
        "result": "",
        "next_step": "",
        "next_date": "",
        "key_persons": request.GET.getlist("key_persons"),
    }


def work_choices(manager) -> dict:
    """What a record may link to: the manager's key accounts with their key persons, open
    tasks and open assigned tasks (names masked)."""
    accounts = list(KeyAccount.objects.filter(manager=manager).order_by("name"))
    people = (
        KeyPerson.objects.filter(key_account__in=accounts)
        .select_related("key_account")
        .order_by("key_account__name", "person_id")
    )
    tasks = (
        ServiceTask.objects.filter(manager=manager, state__in=actions.OPEN_TASK_STATES)
        .select_related("customer")
        .order_by("-business_date", "-priority_score")[:TASK_CHOICES]
    )
    return {
        "accounts": accounts,
        "key_persons": [
            {"pk": p.pk, "account": p.key_account.name, "label": key_person_label(p)}
            for p in people
        ],
        "tasks": [
            {"pk": t.pk, "day": t.business_date, **masked_customer(t.customer)} for t in tasks
        ],
        "shares": TaskAssignment.objects.filter(manager=manager)
        .exclude(status=AssignmentStatus.DONE)
        .select_related("task"),
    }


def key_person_label(person) -> str:
    """A key person as lists show them: masked name and title."""
    name = mask_field("name", person.name)
    return f"{name}（{person.title}）" if person.title else name


def _parsed(manager, values) -> dict:
    try:
        at = posted_datetime(values["at"]) if values["at"] else None
    except DateTimeOutOfRange as error:
        raise UserError(str(error)) from error
    next_date = _day(values["next_date"])
    if values["next_date"] and next_date is None:
        raise UserError(_("下一步日期无效：%(v)s") % {"v": values["next_date"][:20]})
    return {
        "kind": values["kind"],
        "at": at,
        "content": values["content"][:4000],
        "links": {
            "key_account": _own(KeyAccount.objects.filter(manager=manager), values["key_account"]),
            "task": _own(ServiceTask.objects.filter(manager=manager), values["task"]),
            "assignment": _own(
                TaskAssignment.objects.filter(manager=manager), values["assignment"]
            ),
            "key_persons": _key_persons(manager, values["key_persons"]),
        },
        "place": values["place"][:200],
        "result": values["result"][:4000],
        "next_step": values["next_step"][:4000],
        "next_date": next_date,
    }


def _own(queryset, raw):
    if not raw:
        return None
    pk = posted_int(raw)
    found = queryset.filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise UserError(_("所选关联对象无效，请从列表中选择"))
    return found


def _key_persons(manager, raw_ids) -> list:
    ids = [posted_int(v) for v in raw_ids]
    found = list(
        KeyPerson.objects.filter(key_account__manager=manager, pk__in=[i for i in ids if i])
    )
    if None in ids or len(found) != len(set(ids)):
        raise UserError(_("所选对象无效，请从列表中选择"))
    return found
