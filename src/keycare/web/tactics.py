"""保有战术库: the tactics library and its matrix for administrators (read-only), its versions,
and the outcomes recorded per tactic; plus what the task page shows of it.

The library is versioned data (``moments/tactics.yaml`` imported by ``keycare syncmoments``,
``keycare.moments.actions.save_tactic_library``): this page changes nothing. Who may open it:
the province and city administrators, as the rule pages; the outcome counts are restricted to
the administrator's scope (``Outcome.objects.restrict``).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from keycare.core.parsing import posted_int
from keycare.customers.models import ValueTier
from keycare.moments.models import Category, Tactic, TacticLibraryVersion
from keycare.tasks.models import ContactResult, Outcome, Recommendation
from keycare.web.rules.views import Editor

BAND_LABELS = {
    "low": gettext_lazy("低风险"),
    "medium": gettext_lazy("中风险"),
    "high": gettext_lazy("高风险"),
}


# --- the task page ----------------------------------------------------------------------


def tactic_context(payload: dict, active: dict | None = None) -> dict:
    """What the task page needs: the suggestions (from the payload) and every active tactic
    for the outcome form, suggestions first; the first suggestion is the form's default.

    ``active``: code -> active Tactic, when the caller has read them already (the payload's
    ``Suggester`` has)."""
    suggested = payload.get("suggested_tactics") or []
    codes = [t["code"] for t in suggested]
    if active is None:
        active = {t.code: t for t in Tactic.objects.filter(active=True)}
    others = [t for code, t in active.items() if code not in codes]
    return {
        "suggested_tactics": suggested,
        "tactic_default": codes[0] if codes else "",
        "tactic_others": [{"code": t.code, "name": _name(t)} for t in others],
    }


def _name(tactic: Tactic) -> str:
    english = (get_language() or "").startswith("en")
    return (tactic.name_en if english and tactic.name_en else tactic.name_zh) or tactic.code


# --- the administrators' page -----------------------------------------------------------


@login_required
def tactic_library(request):
    editor = Editor(request.user)  # administrators only (403 for everyone else)
    versions = list(TacticLibraryVersion.objects.select_related("changed_by").order_by("-number"))
    shown = _shown_version(request, versions)
    document = shown.document if shown else {}
    names = {t.get("code"): t for t in document.get("tactics") or []}
    context = {
        "versions": versions,
        "shown": shown,
        "current": versions[0] if versions else None,
        "groups": _groups(document),
        "bands": _bands(document),
        "matrix": _matrix(document, names),
        "by_tactic": _by_tactic(editor.user),
    }
    return render(request, "web/tactics/tactic_library.html", context)


def _shown_version(request, versions):
    raw = request.GET.get("version", "")
    if not raw:
        return versions[0] if versions else None
    number = posted_int(raw, max_digits=9)
    shown = next((v for v in versions if v.number == number), None)
    if shown is None:
        raise Http404(_("保有战术库版本不存在"))
    return shown


def _groups(document: dict) -> list[dict]:
    groups = [
        {"code": g.get("code"), "name": g.get("zh"), "name_en": g.get("en"), "tactics": []}
        for g in document.get("groups") or []
    ]
    by_code = {g["code"]: g for g in groups}
    for tactic in document.get("tactics") or []:
        group = by_code.get(tactic.get("group"))
        if group is not None:
            group["tactics"].append(tactic)
    return [g for g in groups if g["tactics"]]


def _bands(document: dict) -> list[dict]:
    bands = sorted((document.get("risk_bands") or {}).items(), key=lambda item: item[1])
    rows = []
    for n, (name, lowest) in enumerate(bands):
        upper = bands[n + 1][1] if n + 1 < len(bands) else None
        rows.append(
            {"name": name, "label": BAND_LABELS.get(name, name), "low": lowest, "up": upper}
        )
    return rows


def _matrix(document: dict, names: dict) -> list[dict]:
    categories = dict(Category.choices)
    tiers = dict(ValueTier.choices)
    rows = []
    for n, rule in enumerate(document.get("matrix") or [], 1):
        when = rule.get("when") or {}
        rows.append(
            {
                "n": n,
                "moments": ", ".join(when.get("moments") or []),
                "categories": "、".join(
                    str(categories.get(c, c)) for c in when.get("categories") or []
                ),
                "tiers": "、".join(str(tiers.get(t, t)) for t in when.get("tiers") or []),
                "bands": "、".join(str(BAND_LABELS.get(b, b)) for b in when.get("bands") or []),
                "tactics": [
                    {"code": code, "name": (names.get(code) or {}).get("zh", "")}
                    for code in rule.get("tactics") or []
                ],
            }
        )
    return rows


def _by_tactic(user) -> list[dict]:
    """Outcomes recorded, reached and accepted per tactic, in the user's scope."""
    counts = (
        Outcome.objects.restrict(user)
        .values("tactic__code", "tactic__name_zh")
        .annotate(
            recorded=Count("id"),
            reached=Count("id", filter=Q(contact_result=ContactResult.REACHED)),
            accepted=Count("id", filter=Q(recommendation=Recommendation.ACCEPTED)),
        )
        .order_by("tactic__code")
    )
    rows = []
    for row in counts:
        rows.append(
            {
                "code": row["tactic__code"] or "",
                "name": row["tactic__name_zh"] or _("未记录战术"),
                "recorded": row["recorded"],
                "reached": row["reached"],
                "accepted": row["accepted"],
                "rate": row["accepted"] / row["reached"] if row["reached"] else None,
            }
        )
    rows.sort(key=lambda r: (r["code"] == "", r["code"]))  # "no tactic" last
    return rows
