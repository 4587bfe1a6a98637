"""Indicator API: the definitions and their values, from the same query as the pages.

- ``GET /api/indicators/``: every indicator (code, names, unit, group, grain, formula) and
  the dimensions it can be asked for;
- ``GET /api/indicators/{code}/values/?dimension=&period=YYYY-MM&city=``: one value per
  dimension member in the user's scope, with month on month and year on year, and the total;
- ``GET /api/analyses/``: the analyses (their indicators and dimensions).

Analysts and administrators only (403 for anyone else); a city user's answers are their
city's. A bad dimension, period or city is a 400 naming the parameter.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from keycare.access.querysets import user_scope
from keycare.analytics import queries
from keycare.engine.indicators import SURVEY_COLUMNS


class IsAnalyst(permissions.BasePermission):
    message = (
        "仅分析员和管理员可以使用指标接口 Only analysts and administrators may read indicators"
    )

    def has_permission(self, request, view):
        return user_scope(request.user)[0] in queries.ANALYST_ROLES


def _indicator(indicator) -> dict:
    return {
        "code": indicator.code,
        "name_zh": indicator.zh,
        "name_en": indicator.en,
        "group": indicator.group,
        "unit": indicator.unit,
        "grain": indicator.grain,
        "source": indicator.source,
        "num": indicator.num,
        "den": indicator.den,
        "scale": indicator.scale,
        "better": indicator.better,
        "dimensions": [
            d.code for d in queries.definitions().dimensions.values() if _offers(indicator, d)
        ],
    }


def _offers(indicator, dimension) -> bool:
    if indicator.source == "bills":
        return dimension.bills
    if indicator.source == "surveys":
        return dimension.constant or dimension.column in SURVEY_COLUMNS
    return True


class IndicatorListView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsAnalyst]

    @extend_schema(summary="指标定义 Indicator definitions", responses={200: dict})
    def get(self, request):
        defs = queries.definitions()
        return Response(
            {
                "version": defs.version,
                "count": len(defs.indicators),
                "results": [_indicator(i) for i in defs.indicators.values()],
            }
        )


class IndicatorValuesView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsAnalyst]

    @extend_schema(
        summary="指标取值 Indicator values per dimension member",
        parameters=[
            OpenApiParameter("dimension", str, description="city, county, grid, tier, ..."),
            OpenApiParameter("period", str, description="YYYY-MM (default: the newest)"),
            OpenApiParameter("city", str, description="a city code: drill into one city"),
        ],
        responses={200: dict},
    )
    def get(self, request, code):
        try:
            indicator = queries.indicator_named(code)
        except queries.BadQuery as error:
            raise NotFound(str(error)) from None
        dimensions = tuple(
            d.code for d in queries.definitions().dimensions.values() if _offers(indicator, d)
        )
        query = queries.parse_query(request.user, [indicator], dimensions, request.query_params)
        result = queries.table(request.user, query)
        return Response(
            {
                "indicator": _indicator(indicator),
                "dimension": query.dimension,
                "period": f"{query.month:%Y-%m}" if query.month else None,
                "city": query.city.code if query.city else None,
                "total": _cell(result.total[0]),
                "results": [
                    {"member": r["member"], "label": r["label"], **_cell(r["cells"][0])}
                    for r in result.rows
                ],
            }
        )


def _cell(cell) -> dict:
    return {"value": cell.value, "mom_pct": cell.mom, "yoy_pct": cell.yoy}


class AnalysisListView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsAnalyst]

    @extend_schema(summary="分析 Analyses", responses={200: dict})
    def get(self, request):
        analyses = queries.definitions().analyses.values()
        return Response(
            {
                "count": len(analyses),
                "results": [
                    {
                        "code": a.code,
                        "name_zh": a.zh,
                        "name_en": a.en,
                        "section": a.section,
                        "indicators": list(a.indicators),
                        "dimensions": list(a.dimensions),
                    }
                    for a in analyses
                ],
            }
        )
