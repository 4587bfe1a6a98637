"""Writes of the analytics app: followed indicators and saved analyses (the analyst's own)."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404

from keycare.analytics import queries
from keycare.analytics.models import FollowedIndicator, SavedAnalysis

SAVED_PARAMS = ("dimension", "period", "city", "indicator")


def follow_indicator(user, code: str) -> FollowedIndicator:
    indicator = queries.indicator_named(code)
    return FollowedIndicator.objects.get_or_create(user=user, indicator=indicator.code)[0]


def unfollow_indicator(user, code: str) -> None:
    FollowedIndicator.objects.filter(user=user, indicator=code).delete()


@transaction.atomic
def save_analysis(user, name: str, code: str, params) -> SavedAnalysis:
    """Keep an analysis with its parameters; they are checked as the page checks them."""
    analysis = queries.analysis_named(code)
    name = (name or "").strip()[:100]
    if not name:
        raise queries.BadQuery("请填写名称 (a name is required)")
    kept = {k: str(params.get(k))[:32] for k in SAVED_PARAMS if params.get(k)}
    indicators = [queries.indicator_named(c) for c in analysis.indicators]
    queries.parse_query(user, indicators, analysis.dimensions, kept)
    if kept.get("indicator") and kept["indicator"] not in analysis.indicators:
        raise queries.BadQuery(f"参数 indicator 无效 (not in this analysis): {kept['indicator']}")
    return SavedAnalysis.objects.create(user=user, name=name, analysis=code, params=kept)


def delete_saved_analysis(user, pk: int) -> None:
    deleted, _ = SavedAnalysis.objects.filter(user=user, pk=pk).delete()
    if not deleted:
        raise Http404
