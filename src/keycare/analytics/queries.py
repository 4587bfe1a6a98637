"""Reading indicator values: the one query behind every chart, table, export and API answer.

A query names an indicator set (an analysis, or one indicator), a dimension, a month and an
optional city filter (drill-down). Periods are months: a bill indicator reads its month's
rows; a snapshot indicator reads the month's last published day. Month on month compares with
the month before, year on year with the same month a year earlier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from django.core.cache import cache
from django.db.models import Max, Min, Sum
from django.utils import translation

from keycare.access import roles
from keycare.access.querysets import user_scope
from keycare.analytics.models import Grain, IndicatorValue
from keycare.customers.models import Brand, ValueTier
from keycare.engine.indicators import Analysis, Indicator, load_indicators
from keycare.errors import UserError
from keycare.moments.models import MomentDefinition
from keycare.org.models import City, County, Grid, Manager

# Who reads indicators (pages and API): analysts and administrators, each in their scope.
ANALYST_ROLES = frozenset({roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST})
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
TREND_MONTHS = 13
MONTHS_CACHE_SECONDS = 300


class BadQuery(UserError):
    """A parameter the user typed is not valid; the message names it (answered with 400)."""


def definitions():
    return load_indicators()


def analysis_named(code: str) -> Analysis:
    analysis = definitions().analyses.get(code)
    if analysis is None:
        raise BadQuery(f"未知的分析 (unknown analysis): {code}")
    return analysis


def indicator_named(code: str) -> Indicator:
    indicator = definitions().indicators.get(code)
    if indicator is None:
        raise BadQuery(f"未知的指标 (unknown indicator): {code}")
    return indicator


def shift_month(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def parse_month(text: str | None, name: str = "period") -> date | None:
    if text in (None, ""):
        return None
    if not isinstance(text, str) or not MONTH_RE.match(text):
        raise BadQuery(f"参数 {name} 应为 YYYY-MM 格式的月份 (month expected): {str(text)[:20]}")
    return date(int(text[:4]), int(text[5:7]), 1)


@dataclass
class Query:
    indicators: list[Indicator]
    dimension: str
    month: date | None
    city: City | None = None
    allowed_dimensions: tuple[str, ...] = ()

    @property
    def params(self) -> dict:
        out = {"dimension": self.dimension}
        if self.month:
            out["period"] = f"{self.month:%Y-%m}"
        if self.city:
            out["city"] = self.city.code
        return out


def parse_query(user, indicators: list[Indicator], dimensions: tuple[str, ...], params) -> Query:
    """Validate ``dimension``, ``period`` and ``city``; BadQuery names the one that is wrong."""
    dimension = params.get("dimension") or dimensions[0]
    if dimension not in dimensions:
        raise BadQuery(
            f"参数 dimension 无效 (unknown dimension): {str(dimension)[:32]}；"
            f"可选 (choose one of): {', '.join(dimensions)}"
        )
    month = parse_month(params.get("period"))
    city = None
    if params.get("city"):
        code = str(params["city"])[:32]
        # A NUL byte is refused by PostgreSQL itself (a 500); it is never a city code anyway.
        city = None if "\x00" in code else City.objects.filter(code=code).first()
        if city is None or not _city_visible(user, city):
            raise BadQuery(f"参数 city 无效 (unknown city): {str(params['city'])[:32]}")
    query = Query(list(indicators), dimension, month, city, tuple(dimensions))
    if query.month is None:
        query.month = latest_month(user, indicators)
    return query


def _city_visible(user, city: City) -> bool:
    return IndicatorValue.objects.restrict(user).filter(city=city).exists() or (
        not IndicatorValue.objects.restrict(user).exists()
    )


def latest_month(user, indicators=None, months=None) -> date | None:
    """The newest month with a published value in the user's scope: of one of ``indicators``
    when given. A page opens on its own indicators' newest month: the survey job publishes
    this month's satisfaction while the run's figures are still of last month, and an analysis
    of revenue should not open on a month that has satisfaction only. ``months``: the user's
    ``months_available``, when the caller has already read them."""
    months = months_available(user) if months is None else months
    if indicators is None or not months:
        return months[0] if months else None
    # Every indicator has its province total (the constant dimension) whenever it has a
    # value: one probe of the lookup index per month, newest first, usually one.
    rows = IndicatorValue.objects.restrict(user).filter(
        indicator__in=[i.code for i in indicators], dimension="province"
    )
    for month in months:
        if rows.filter(period__gte=month, period__lt=shift_month(month, 1)).exists():
            return month
    return months[0]  # none of them published yet: the newest month, with its empty table


def months_available(user) -> list[date]:
    """Every month with a published value in the user's scope, newest first.

    Every analysis page and the workbench ask. Kept in the cache under the user's scope and
    the newest indicator row's id, which every load (a run's, the survey job's) raises, so a
    load shows at once; a deletion alone shows within MONTHS_CACHE_SECONDS.
    """
    role, scope = user_scope(user)
    version = IndicatorValue.objects.aggregate(v=Max("pk"))["v"] or 0
    key = f"analytics-months:{role}:{scope}:{version}"
    months = cache.get(key)
    if months is None:
        months = _scan_months(user)
        cache.set(key, months, MONTHS_CACHE_SECONDS)
    return list(months)


def _scan_months(user) -> list[date]:
    """A loose index scan: per grain, the first period, then the first period of a later
    month, one index probe (``analytics_iv_period``, or ``analytics_iv_city_period`` in a
    city's scope) per month found. A DISTINCT (or a MAX) over every row read them all: ~15M
    after 13 months of daily runs at 1M subscribers, 2-2.5 s a page (docs/performance.md)."""
    rows = IndicatorValue.objects.restrict(user)
    months: set[date] = set()
    for grain in Grain.values:
        scoped = rows.filter(grain=grain)
        day = scoped.aggregate(day=Min("period"))["day"]
        while day is not None:
            month = day.replace(day=1)
            months.add(month)
            later = scoped.filter(period__gte=shift_month(month, 1))
            day = later.aggregate(day=Min("period"))["day"]
    return sorted(months, reverse=True)


def _last_day(user, month: date) -> date | None:
    """The last published day of ``month`` (snapshot indicators' month figure)."""
    return (
        IndicatorValue.objects.restrict(user)
        .filter(grain=Grain.DAY, period__gte=month, period__lt=shift_month(month, 1))
        .aggregate(day=Max("period"))["day"]
    )


def sums(user, query: Query, month: date | None, dimension: str | None = None) -> dict:
    """{indicator code: {member: (num, den)}} for ``month`` (two queries at most)."""
    out: dict[str, dict[str, tuple]] = {i.code: {} for i in query.indicators}
    if month is None:
        return out
    dimension = dimension or query.dimension
    for grain in (Grain.DAY, Grain.MONTH):
        codes = [i.code for i in query.indicators if i.grain == grain]
        period = _last_day(user, month) if grain == Grain.DAY else month
        if not codes or period is None:
            continue
        rows = IndicatorValue.objects.restrict(user).filter(
            indicator__in=codes, dimension=dimension, grain=grain, period=period
        )
        if query.city is not None:
            rows = rows.filter(city=query.city)
        for r in rows.values("indicator", "member").annotate(num=Sum("num"), den=Sum("den")):
            out[r["indicator"]][r["member"]] = (r["num"], r["den"])
    return out


def change(current, previous):
    """Relative change in percent (None when either side is missing or previous is 0)."""
    if current is None or previous in (None, 0):
        return None
    return (current - previous) / abs(previous) * 100


@dataclass
class Cell:
    value: float | None
    mom: float | None
    yoy: float | None


@dataclass
class Table:
    query: Query
    rows: list[dict] = field(default_factory=list)  # {member, label, cells: [Cell]}
    total: list[Cell] = field(default_factory=list)


def table(user, query: Query) -> Table:
    """Members of the dimension with each indicator's value, month on month and year on year."""
    current = sums(user, query, query.month)
    previous = sums(user, query, query.month and shift_month(query.month, -1))
    last_year = sums(user, query, query.month and shift_month(query.month, -12))
    members = sorted({m for per in current.values() for m in per})
    labels = member_labels(query.dimension, members)
    result = Table(query)
    for member in members:
        cells = [_cell(i, member, current, previous, last_year) for i in query.indicators]
        result.rows.append({"member": member, "label": labels.get(member, member), "cells": cells})
    result.rows.sort(key=lambda r: -(r["cells"][0].value or 0))  # largest first
    totals = [sums(user, query, m, "province") for m in _three(query.month)]
    result.total = [_cell(i, "all", *totals) for i in query.indicators]
    return result


def _three(month):
    if month is None:
        return (None, None, None)
    return (month, shift_month(month, -1), shift_month(month, -12))


def _cell(indicator: Indicator, member, current, previous, last_year) -> Cell:
    def value(sums_):
        pair = sums_[indicator.code].get(member)
        return indicator.value(*pair) if pair else None

    now = value(current)
    if now is None and current[indicator.code]:
        now = 0.0 if indicator.den is None else None  # an absent additive row is zero
    return Cell(now, change(now, value(previous)), change(now, value(last_year)))


def trend(user, query: Query, indicator: Indicator, months: int = TREND_MONTHS) -> list[dict]:
    """[{month, value}] for the months up to the query's, at the filtered total."""
    if query.month is None:
        return []
    start = shift_month(query.month, -(months - 1))
    rows = IndicatorValue.objects.restrict(user).filter(
        indicator=indicator.code,
        dimension="province",
        period__gte=start,
        period__lt=shift_month(query.month, 1),
        grain=indicator.grain,
    )
    if query.city is not None:
        rows = rows.filter(city=query.city)
    by_period = {
        r["period"]: indicator.value(r["num"], r["den"])
        for r in rows.values("period").annotate(num=Sum("num"), den=Sum("den"))
    }
    if indicator.grain == Grain.DAY:  # the month's last published day
        by_month: dict[date, tuple] = {}
        for day, value in sorted(by_period.items()):
            by_month[day.replace(day=1)] = value
        by_period = by_month
    return [
        {"month": f"{m:%Y-%m}", "value": by_period.get(m)}
        for m in (shift_month(start, k) for k in range(months))
    ]


# --------------------------------------------------------------------------- labels


def member_labels(dimension: str, members) -> dict[str, str]:
    """Dimension members as users read them (names, not codes)."""
    members = [m for m in members if m]
    english = (translation.get_language() or "zh").startswith("en")
    labels: dict[str, str] = {"": "（未知）" if not english else "(unknown)"}
    if dimension == "province":
        labels["all"] = "Province" if english else "全省"
    elif dimension in ("city", "county", "grid"):
        model = {"city": City, "county": County, "grid": Grid}[dimension]
        labels.update(model.objects.filter(code__in=members).values_list("code", "name"))
    elif dimension == "manager":
        labels.update(
            Manager.objects.filter(manager_id__in=members).values_list("manager_id", "name")
        )
    elif dimension == "moment":
        for m in MomentDefinition.objects.filter(code__in=members):
            name = getattr(m, "name_en", "") if english else getattr(m, "name_zh", "")
            labels[m.code] = f"{m.code} {name or m.code}"
    elif dimension in ("tier", "brand"):
        choices = dict((ValueTier if dimension == "tier" else Brand).choices)
        labels.update({m: str(choices.get(m, m)) for m in members})
    return labels


def indicator_label(indicator: Indicator) -> str:
    english = (translation.get_language() or "zh").startswith("en")
    return indicator.en if english else indicator.zh


def dimension_label(code: str) -> str:
    dim = definitions().dimensions[code]
    english = (translation.get_language() or "zh").startswith("en")
    return dim.en if english else dim.zh
