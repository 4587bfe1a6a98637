"""客户群 (segments): compose conditions over catalog fields, see the live count, save.

Administrators compose and save segments; a campaign is then created from one. Conditions are
posted as parallel lists (``field``, ``op``, ``value``: one entry per row) and validated by
``keycare.campaigns.segments`` against the catalog; the count endpoint answers HTMX with the
number of matching customers in the user's scope, or with what is wrong.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from keycare.access import roles
from keycare.access.querysets import require_role
from keycare.campaigns import actions as campaign_actions
from keycare.campaigns.models import Segment
from keycare.campaigns.segments import (
    MAX_CONDITIONS,
    OPERATORS,
    TYPE_LABELS,
    SegmentError,
    as_form_rows,
    conditions_of,
    describe,
    grouped_fields,
    parse_conditions,
    segment_fields,
)
from keycare.campaigns.segments import segment_count as count_matching
from keycare.core.parsing import posted_int
from keycare.errors import UserError

PAGE_SIZE = 30
SEGMENT_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
EMPTY_ROW = {"field": "", "op": "", "value": ""}


def require_admin(user):
    """(role, scope) of an administrator; anyone else is refused."""
    return require_role(user, SEGMENT_ROLES, "只有管理员可以管理客户群和计划活动")


@login_required
def segment_list(request):
    require_admin(request.user)
    name = request.GET.get("q", "").strip()[:100]
    segments = Segment.objects.restrict(request.user)
    if name:
        segments = segments.filter(name__icontains=name)
    page = Paginator(
        segments.select_related("owner", "city")
        .annotate(campaign_count=Count("campaigns"))
        .order_by("-updated_at", "-id"),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    rows = [{"segment": s, "text": describe(conditions_of(s.filter))} for s in page]
    return render(
        request,
        "web/segments/list.html",
        {"page": page, "rows": rows, "q": name, "query": urlencode({"q": name} if name else {})},
    )


@login_required
@require_http_methods(["GET", "POST"])
def segment_new(request):
    return _edit(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def segment_edit(request, pk):
    require_admin(request.user)
    segment = Segment.objects.restrict(request.user, "change").filter(pk=pk).first()
    if segment is None:
        raise Http404("客户群不存在或不在您的权限范围内")
    return _edit(request, segment)


def _edit(request, segment):
    role, scope = require_admin(request.user)
    if request.method == "GET":
        rows = as_form_rows(conditions_of(segment.filter)) if segment else []
        form = {
            "name": segment.name if segment else "",
            "description": segment.description if segment else "",
        }
        return _render_form(request, segment, form, rows or [dict(EMPTY_ROW)])
    form = {
        "name": request.POST.get("name", ""),
        "description": request.POST.get("description", ""),
    }
    rows = posted_rows(request.POST)
    if "add_row" in request.POST:
        if len(rows) < MAX_CONDITIONS:
            rows.append(dict(EMPTY_ROW))
        return _render_form(request, segment, form, rows)
    if "remove_row" in request.POST:
        index = posted_int(request.POST.get("remove_row", ""), max_digits=3)
        if index is not None and index < len(rows):
            rows.pop(index)
        return _render_form(request, segment, form, rows or [dict(EMPTY_ROW)])
    try:
        saved = campaign_actions.save_segment(
            request.user,
            name=form["name"],
            description=form["description"],
            conditions=[r for r in rows if r["field"]],
            city_id=scope if role == roles.ROLE_CITY_ADMIN else None,
            segment=segment,
        )
    except UserError as error:
        messages.error(request, str(error))
        return _render_form(request, segment, form, rows, status=400)
    messages.success(request, f"客户群“{saved.name}”已保存")
    return redirect("web:segment-edit", pk=saved.pk)


def posted_rows(post) -> list[dict]:
    """The posted condition rows, aligned by position, capped in number."""
    fields, ops, values = post.getlist("field"), post.getlist("op"), post.getlist("value")
    rows = []
    for i in range(min(len(fields), MAX_CONDITIONS + 1)):
        rows.append(
            {
                "field": fields[i].strip()[:64],
                "op": ops[i].strip()[:16] if i < len(ops) else "",
                "value": values[i][:2000] if i < len(values) else "",
            }
        )
    return rows


def _render_form(request, segment, form, rows, status=200):
    count = _count_context(request.user, [r for r in rows if r["field"]])
    return render(
        request,
        "web/segments/form.html",
        {
            "segment": segment,
            "form": form,
            "rows": rows,
            "groups": grouped_fields(),
            "fields": segment_fields(),
            "operators": _operator_choices(),
            "count": count,
            "campaigns": list(segment.campaigns.order_by("-id")[:10]) if segment else [],
        },
        status=status,
    )


@login_required
@require_POST
def segment_count(request):
    """HTMX: how many customers in the user's scope match the posted conditions."""
    require_admin(request.user)
    rows = [r for r in posted_rows(request.POST) if r["field"]]
    return render(request, "web/segments/count.html", {"count": _count_context(request.user, rows)})


def _count_context(user, rows):
    if not rows:
        return {"errors": ["请添加筛选条件"], "n": None}
    try:
        clean = parse_conditions(rows)
        n = count_matching(user, clean)
    except SegmentError as error:
        return {"errors": error.messages, "n": None}
    except UserError as error:  # a derived field before any run is loaded
        return {"errors": [str(error)], "n": None}
    return {"errors": [], "n": n, "text": describe(clean)}


def _operator_choices():
    return [
        (op, label, "、".join(TYPE_LABELS[t] for t in types))
        for op, (label, types, _takes) in OPERATORS.items()
    ]
