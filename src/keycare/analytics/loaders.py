"""Load a run's indicator values (a step of ``keycare.runs.loaders``, see AnalyticsConfig)."""

from __future__ import annotations

from datetime import date

from keycare.analytics.models import Grain, IndicatorValue
from keycare.engine.indicators import load_indicators
from keycare.org.models import City
from keycare.runs.loaders import BATCH, RunLoader


def period_date(grain: str, text: str) -> date:
    """'YYYY-MM-DD' for days, 'YYYY-MM' for months (stored on the month's first day)."""
    if grain == Grain.MONTH:
        return date.fromisoformat(f"{text[:7]}-01")
    return date.fromisoformat(text[:10])


def load_indicator_values(loader: RunLoader) -> None:
    """Replace the periods the run publishes: its day, and the bill months it publishes.

    A closed bill month is published once, by the first run that holds it (月报固化, see
    docs/analytics.md); a later run publishes only the newer months, so the rows of earlier
    months stay as that first run loaded them."""
    rows = loader.tables.get("indicators")
    if rows is None:  # a run without the indicator step (detection only)
        loader.summary["indicator_values"] = 0
        return
    cities = dict(City.objects.values_list("code", "pk"))
    periods = {(r["grain"], period_date(r["grain"], r["period"])) for r in rows}
    periods.add((Grain.DAY.value, loader.date))
    published = (loader.run_record.get("indicators") or {}).get("bill_months") or ()
    periods |= {(Grain.MONTH.value, period_date(Grain.MONTH, m)) for m in published}
    surveys = [i.code for i in load_indicators().of_source("surveys")]  # not the run's
    for grain, period in periods:
        IndicatorValue.objects.filter(grain=grain, period=period).exclude(
            indicator__in=surveys
        ).delete()
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


# --- satisfaction surveys as indicators ------------------------------------------------------


def survey_rows(months: set[date] | None = None):
    """One Arrow row per answered survey (``SURVEY_COLUMNS``), optionally only those answered
    in ``months`` (first days)."""
    import pyarrow as pa

    from keycare.engine.indicators import SURVEY_COLUMNS, SURVEY_DIMENSIONS
    from keycare.surveys.models import SatisfactionModel, SurveyResponse

    thresholds = dict(SatisfactionModel.objects.values_list("pk", "low_threshold"))
    responses = SurveyResponse.objects.select_related(
        "task__city", "task__manager", "task__customer__county", "task__customer__grid",
        "task__key_account",
    )  # fmt: skip
    rows = []
    for r in responses.order_by("pk").iterator(chunk_size=BATCH):
        month = r.answered_at.date().replace(day=1)
        if months is not None and month not in months:
            continue
        task, customer = r.task, r.task.customer
        scores = r.dimension_scores or {}
        rows.append(
            {
                "month": month.strftime("%Y-%m"),
                "city_id": task.city.code,
                "county_id": customer.county.code if customer.county_id else None,
                "grid_id": customer.grid.code if customer.grid_id else None,
                "value_tier": customer.value_tier or None,
                "brand": customer.brand or None,
                "manager_id": task.manager.manager_id if task.manager_id else None,
                "industry": task.key_account.industry if task.key_account_id else None,
                "satisfaction_index": float(r.index),
                "low_score": r.index < thresholds.get(r.model_id, 60.0),
                **{f"dim_{d}": _score(scores.get(d)) for d in SURVEY_DIMENSIONS},
            }
        )
    text = {c: pa.string() for c in SURVEY_COLUMNS}
    types = text | {"satisfaction_index": pa.float64(), "low_score": pa.bool_()}
    types |= {f"dim_{d}": pa.float64() for d in SURVEY_DIMENSIONS}
    return pa.Table.from_pylist(rows, pa.schema([(c, types[c]) for c in SURVEY_COLUMNS]))


def _score(value):
    return float(value) if isinstance(value, int | float) else None


def load_survey_indicators(months: set[date] | None = None, run_id: str = "surveys") -> int:
    """Recompute the ``surveys`` indicators (engine/indicators.yaml) from the answered surveys
    and replace their values for the months concerned (all months when ``months`` is None).
    Idempotent: the same answers give the same rows."""
    from django.db import transaction

    from keycare.engine.indicators import compute_survey_indicators

    codes = [i.code for i in load_indicators().of_source("surveys")]
    table = compute_survey_indicators(survey_rows(months))
    cities = dict(City.objects.values_list("code", "pk"))
    with transaction.atomic():
        stale = IndicatorValue.objects.filter(indicator__in=codes, grain=Grain.MONTH)
        if months is not None:
            stale = stale.filter(period__in=months)
        stale.delete()
        IndicatorValue.objects.bulk_create(
            (
                IndicatorValue(
                    indicator=r["indicator"],
                    grain=Grain.MONTH,
                    period=period_date(Grain.MONTH, r["period"]),
                    dimension=r["dimension"],
                    member=(r["member"] or "")[:64],
                    city_id=cities.get(r["city_id"]),
                    num=r["num"] or 0.0,
                    den=r["den"],
                    run_id=run_id,
                )
                for r in table.to_pylist()
            ),
            batch_size=BATCH,
        )
    return table.num_rows


def load_survey_indicators_step(loader: RunLoader) -> None:
    """A run load step: the survey indicators of the run's month (answers keep arriving)."""
    month = loader.date.replace(day=1)
    loader.summary["survey_indicator_values"] = load_survey_indicators(
        {month}, run_id=loader.fields["run_id"]
    )
