"""Load a run's indicator values (a step of ``keycare.runs.loaders``, see AnalyticsConfig)."""

from __future__ import annotations

from datetime import date

from keycare.analytics.models import Grain, IndicatorValue
from keycare.org.models import City
from keycare.runs.loaders import BATCH, RunLoader


def period_date(grain: str, text: str) -> date:
    """'YYYY-MM-DD' for days, 'YYYY-MM' for months (stored on the month's first day)."""
    if grain == Grain.MONTH:
        return date.fromisoformat(f"{text[:7]}-01")
    return date.fromisoformat(text[:10])


def load_indicator_values(loader: RunLoader) -> None:
    """Replace the periods the run publishes: its day, and every bill month it restates."""
    rows = loader.tables.get("indicators")
    if rows is None:  # a run without the indicator step (detection only)
        loader.summary["indicator_values"] = 0
        return
    cities = dict(City.objects.values_list("code", "pk"))
    periods = {(r["grain"], period_date(r["grain"], r["period"])) for r in rows}
    periods.add((Grain.DAY.value, loader.date))
    for grain, period in periods:
        IndicatorValue.objects.filter(grain=grain, period=period).delete()
    objects = (
        IndicatorValue(
            indicator=r["indicator"],
            grain=r["grain"],
            period=period_date(r["grain"], r["period"]),
            dimension=r["dimension"],
            member=(r["member"] or "")[:64],
            city_id=cities.get(r["city_id"]),
            num=r["num"] or 0.0,
            den=r["den"],
            run_id=loader.fields["run_id"],
        )
        for r in rows
    )
    IndicatorValue.objects.bulk_create(objects, batch_size=BATCH)
    loader.summary["indicator_values"] = len(rows)
