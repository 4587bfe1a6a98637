"""集团服务规则: the service rules (004 §4) edited, previewed and published as versions; the
service standards edited, previewed and published; potential key accounts and their pipeline;
a group's points (ledger, redemption) and offers on its 360 page.

Publishing is a province administrator's; city administrators read. Candidates are scoped by
``restrict()`` (a key-account manager sees those shared out to them); the contact person is
masked. Every write goes through keycare.keyaccounts.actions (audited).
"""

from __future__ import annotations

import copy
import json
import math
from datetime import date, timedelta

import yaml
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from keycare.access import roles
from keycare.access.presenter import masked_customer
from keycare.access.querysets import require_role
from keycare.errors import UserError
from keycare.keyaccounts import actions, preferential, rules, standards
from keycare.keyaccounts.models import (
    KeyAccount,
    PointsEntry,
    PotentialKeyAccount,
    PotentialSource,
    PotentialStage,
    RuleKind,
    ServiceRule,
    Tier,
)

RULE_READERS = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
RULE_PUBLISHERS = {roles.ROLE_PROVINCE_ADMIN}
PIPELINE_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_MANAGER}
POINTS_ROLES = PIPELINE_ROLES
COMPUTED = {"credit", "definition", "potential"}
MAX_RULE_TEXT = 20_000
PAGE_SIZE = 50


def _text(value: str, limit: int) -> str:
    """Posted text without NUL (PostgreSQL refuses it), at most ``limit`` characters."""
    value = (value or "").strip()
    if "\x00" in value:
        raise UserError(_("输入含有无效字符"))
    if len(value) > limit:
        raise UserError(_("输入过长（最多 %(n)s 字）") % {"n": limit})
    return value


# --- service rules ----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def rule_list(request):
    require_role(request.user, RULE_READERS, "当前角色无权查看服务规则")
    rows = []
    for kind, label in RuleKind.choices:
        version, _data = rules.current(kind)
        rows.append({"kind": kind, "label": label, "version": version})
    return render(request, "web/keyaccounts/rules.html", {"rules": rows})


def _dump(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def _parse(text: str) -> dict:
    text = _text(text, MAX_RULE_TEXT)
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise UserError(_("规则嵌套过深")) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = _("第 %(n)s 行") % {"n": mark.line + 1} if mark else ""
        raise UserError(_("规则不是有效的 YAML %(where)s") % {"where": where}) from None
    # A round trip through JSON keeps only plain data (dates and the like are refused).
    try:
        return json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        raise UserError(_("规则只能包含数字、文字、列表和映射")) from None


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request, kind):
    role, _scope = require_role(request.user, RULE_READERS, "当前角色无权查看服务规则")
    if kind not in RuleKind.values:
        raise Http404("没有这个服务规则")
    version, data = rules.current(kind)
    text, result = _dump(data), None
    if request.method == "POST":
        if role not in RULE_PUBLISHERS:
            raise PermissionDenied("只有省级管理员可以调整服务规则")
        try:
            done = _rule_post(request, kind)
            if done:
                return done
            text = request.POST.get("rule", "")
            result = rules.module(kind).preview(_parse(text))
        except UserError as error:
            text = request.POST.get("rule", text)[:MAX_RULE_TEXT].replace("\x00", "")
            messages.error(request, str(error))
    return render(
        request,
        "web/keyaccounts/rule_edit.html",
        {
            "kind": kind,
            "label": RuleKind(kind).label,
            "version": version,
            "text": text,
            "result": result,
            "history": ServiceRule.objects.filter(kind=kind).select_related("created_by")[:20],
            "can_edit": role in RULE_PUBLISHERS,
            "computed": kind in COMPUTED,
        },
    )


def _rule_post(request, kind: str):
    """Publish or re-apply (a redirect), or None to preview."""
    action = request.POST.get("action")
    reason = _text(request.POST.get("reason", ""), 200)
    if action == "publish":
        rule, counts = actions.publish_rule(
            request.user, kind, _parse(request.POST.get("rule", "")),
            note=_text(request.POST.get("note", ""), 200), reason=reason,
        )  # fmt: skip
        messages.success(
            request,
            _("%(rule)s v%(v)s 已生效，%(n)s 个集团变化")
            % {"rule": RuleKind(kind).label, "v": rule.version, "n": counts.get("changed", 0)},
        )
        return redirect("web:keyaccount-rule", kind=kind)
    if action == "apply" and kind in COMPUTED:
        counts = actions.apply_rule(request.user, kind, reason=reason)
        messages.success(
            request,
            _("已按现行规则重新计算，%(n)s 个变化")
            % {"n": counts.get("changed", counts.get("new", 0))},
        )
        return redirect("web:keyaccount-rule", kind=kind)
    return None


# --- service standards: edit, preview, publish ------------------------------------------------


def _posted_standards(post, base: dict) -> dict:
    """The standards in force with the form's values (a bad value: UserError)."""
    data = copy.deepcopy(base)
    for tier in Tier.values:
        spec = data["tiers"][tier]
        visits = {}
        for role in data["roles"]:
            raw = _text(post.get(f"{tier}.visit_months.{role}", ""), 4)
            if raw:
                visits[role] = _integer(raw, f"{tier} {data['roles'][role]}")
        spec["visit_months"] = visits
        for part in ("response_minutes", "restore_hours"):
            for fault in data["fault_classes"]:
                raw = _text(post.get(f"{tier}.{part}.{fault}", ""), 8)
                spec[part][fault] = _decimal(raw, f"{tier} {data['fault_classes'][fault]}")
        spec["manager_level"] = _text(post.get(f"{tier}.manager_level", ""), 100)
        channel = _text(post.get(f"{tier}.green_channel", ""), 500).replace("，", "、")
        spec["green_channel"] = [c.strip() for c in channel.split("、") if c.strip()]
    return standards.validate(data)


def _integer(raw: str, where: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise UserError(_("“%(v)s”不是整数（%(where)s）") % {"v": raw, "where": where})
    return int(raw)


def _decimal(raw: str, where: str) -> float | int:
    try:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
    except ValueError:
        raise UserError(
            _("“%(v)s”不是数字（%(where)s）") % {"v": raw or "—", "where": where}
        ) from None
    return int(value) if value.is_integer() else value


def _standards_diff(old: dict, new: dict) -> list[dict]:
    """Each changed cell: tier, item, old and new value as shown."""
    rows = []
    for tier in Tier.values:
        a, b = old["tiers"][tier], new["tiers"][tier]
        for part, names in (
            ("visit_months", new["roles"]),
            ("response_minutes", new["fault_classes"]),
            ("restore_hours", new["fault_classes"]),
        ):
            for code, name in names.items():
                if a[part].get(code) != b[part].get(code):
                    rows.append({"tier": tier, "item": f"{name} · {_PARTS[part]}",
                                 "old": a[part].get(code, "—"), "new": b[part].get(code, "—")})  # fmt: skip
        for part in ("manager_level", "green_channel"):
            if a[part] != b[part]:
                shown = (lambda v: "、".join(v) or "—") if part == "green_channel" else str
                rows.append({"tier": tier, "item": _PARTS[part], "old": shown(a[part]),
                             "new": shown(b[part])})  # fmt: skip
    return rows


_PARTS = {
    "visit_months": gettext_lazy("走访间隔（月）"),
    "response_minutes": gettext_lazy("响应时限（分钟）"),
    "restore_hours": gettext_lazy("恢复时限（小时）"),
    "manager_level": gettext_lazy("客户经理级别"),
    "green_channel": gettext_lazy("绿色通道"),
}


def this_month() -> tuple[date, date]:
    today = timezone.localdate()
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


def _standards_preview(old: dict, new: dict) -> dict:
    diff = _standards_diff(old, new)
    tiers = {d["tier"] for d in diff}
    groups = rules.active_groups()
    start, end = this_month()
    return {
        "diff": diff,
        "groups": groups.filter(tier__in=tiers).count(),
        "visits_before": len(standards.planned_visits(start, end, data=old)),
        "visits_after": len(standards.planned_visits(start, end, data=new)),
    }


@login_required
@require_http_methods(["GET", "POST"])
def service_standards(request):
    role, _scope = require_role(
        request.user, RULE_READERS | {roles.ROLE_MANAGER, roles.ROLE_ANALYST},
        "当前角色无权查看服务标准",
    )  # fmt: skip
    version, data = standards.current()
    shown, preview = data, None
    if request.method == "POST":
        if role not in RULE_PUBLISHERS:
            raise PermissionDenied("只有省级管理员可以发布服务标准")
        try:
            shown = _posted_standards(request.POST, data)
            if request.POST.get("action") == "publish":
                note = _text(request.POST.get("note", ""), 200)
                if len(note) < 2:
                    raise UserError(_("请填写版本说明"))
                published = actions.publish_standards(request.user, shown, note=note)
                messages.success(request, _("服务标准 v%(v)s 已发布") % {"v": published.version})
                return redirect("web:keyaccount-standards")
            preview = _standards_preview(data, shown)
        except UserError as error:
            messages.error(request, str(error))
    tiers = [
        {"tier": value, "label": label, **shown["tiers"][value]}
        for value, label in Tier.choices
        if value in shown["tiers"]
    ]
    return render(
        request,
        "web/keyaccounts/standards.html",
        {"version": version, "data": shown, "tiers": tiers, "preview": preview,
         "can_edit": role in RULE_PUBLISHERS},
    )  # fmt: skip


# --- potential key accounts -------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def potential_list(request):
    role, _scope = require_role(request.user, PIPELINE_ROLES, "当前角色无权查看潜在大客户")
    scoped = PotentialKeyAccount.objects.restrict(request.user)
    stage = request.GET.get("stage", "")
    rows = scoped.filter(stage=stage) if stage in PotentialStage.values else scoped
    rows = rows.select_related("city", "manager", "contact", "key_account")
    page = Paginator(rows.order_by("-score", "candidate_id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for p in page:
        p.contact_masked = masked_customer(p.contact) if p.contact else {}
        p.next_stages = [
            (s, PotentialStage(s).label) for s in sorted(actions.PIPELINE[PotentialStage(p.stage)])
        ]
    counts = dict.fromkeys(PotentialStage.values, 0)
    for value in scoped.values_list("stage", flat=True):
        counts[value] += 1
    return render(
        request,
        "web/keyaccounts/potential.html",
        {
            "page": page,
            "stage": stage if stage in PotentialStage.values else "",
            "stages": [(v, label, counts[v]) for v, label in PotentialStage.choices],
            "sources": dict(PotentialSource.choices),
        },
    )


@login_required
@require_POST
def potential_move(request, pk):
    require_role(request.user, PIPELINE_ROLES, "当前角色无权推进潜在大客户")
    potential = PotentialKeyAccount.objects.restrict(request.user, "change").filter(pk=pk).first()
    if potential is None:
        raise Http404("潜在大客户不存在或不在您的权限范围内")
    try:
        code = _text(request.POST.get("key_account", ""), 32)
        group = None
        if code:
            group = KeyAccount.objects.restrict(request.user).filter(key_account_id=code).first()
            if group is None:
                raise UserError(_("集团编号 %(code)s 不存在或不在您的权限范围内") % {"code": code})
        actions.move_potential(
            request.user, potential, request.POST.get("stage", ""),
            version=_integer(request.POST.get("version", "") or "x", "version"),
            note=_text(request.POST.get("note", ""), 200), key_account=group,
        )  # fmt: skip
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("%(name)s：%(stage)s")
            % {"name": potential.name, "stage": potential.get_stage_display()},
        )
    return redirect("web:keyaccount-potential")


# --- points and offers on the group 360 page --------------------------------------------------


def group_rules_context(group) -> dict:
    """The 360 page's points ledger and the offers of the group's tier."""
    version, data = rules.current("preferential")
    return {
        "ledger": list(PointsEntry.objects.filter(key_account=group).select_related("by")[:20]),
        "offers": preferential.offers(group.tier, data),
        "offers_version": version,
    }


@login_required
@require_POST
def points_redeem(request, pk):
    require_role(request.user, POINTS_ROLES, "当前角色无权兑换积分")
    group = KeyAccount.objects.restrict(request.user, "change").filter(pk=pk).first()
    if group is None:
        raise Http404("集团客户不存在或不在您的权限范围内")
    try:
        entry = actions.redeem_points(
            request.user, group, _text(request.POST.get("points", ""), 12),
            reason=_text(request.POST.get("reason", ""), 200),
        )  # fmt: skip
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("已兑换 %(n)s 积分，余额 %(balance)s")
            % {"n": -entry.points, "balance": entry.balance},
        )
    return redirect("web:keyaccount-detail", pk=group.pk)
