"""Writes of the effects app: loading an evaluation into EffectReport / EffectRow.

One transaction, the acting user, one audit event (see keycare.core.audit).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from django.db import transaction

from keycare.core.audit import record
from keycare.effects.models import EffectReport, EffectRow, SourceKind
from keycare.engine.effect import HORIZONS, evaluate
from keycare.moments.models import MomentDefinition, Tactic
from keycare.org.models import City, Manager

CAMPAIGN_LABELS = {"daily_moments": "日常关键时刻服务"}


def load_report(
    actor, source: str | Path, as_of: date | None = None, *, horizons=HORIZONS
) -> EffectReport:
    """Evaluate ``source`` (a ``keycare simulate`` directory) and store the result."""
    source = Path(source)
    result = evaluate(source, as_of, horizons=tuple(horizons), by_city=True)
    manifest = _manifest(source)
    with transaction.atomic():
        report = EffectReport.objects.create(
            as_of=result.as_of,
            source_kind=SourceKind.SIMULATION if manifest else SourceKind.APPLICATION,
            source=str(source),
            horizons=list(result.horizons),
            qini=result.qini,
            totals=manifest.get("totals", {}),
            truth=manifest.get("truth", []),
            loaded_by=actor if getattr(actor, "pk", None) else None,
        )
        rows = _rows(report, result)
        EffectRow.objects.bulk_create(rows, batch_size=2000)
        # Detail keys already labelled on the audit page (web.labels.AuditDetailKey).
        record(actor, "effect.load", report, delivery=str(source), rows=len(rows),
               business_date=result.as_of.isoformat())  # fmt: skip
    return report


def _manifest(source: Path) -> dict:
    try:
        return json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _rows(report: EffectReport, result) -> list[EffectRow]:
    cities = dict(City.objects.values_list("code", "id"))
    managers = {m.manager_id: (m.name, m.city_id) for m in Manager.objects.all()}
    labels = _labels(cities, managers)
    rows = []
    for r in result.rows:
        city_id = _row_city(r, cities, managers)
        if r.city is not None and city_id is None:
            continue  # a per-city row of a city the application does not know
        rates = result.rates.get((r.dimension, r.key), {}) if r.city is None else {}
        rows.append(
            EffectRow(
                report=report,
                dimension=r.dimension,
                key=r.key[:64],
                label=labels.get((r.dimension, r.key), r.key)[:200],
                city_id=city_id,
                horizon=r.horizon,
                metric=r.metric,
                treated=r.treated,
                control=r.control,
                treated_mean=r.treated_mean,
                control_mean=r.control_mean,
                uplift=r.uplift,
                ci_low=r.ci_low,
                ci_high=r.ci_high,
                contact_rate=rates.get("contact_rate"),
                accept_rate=rates.get("accept_rate"),
            )
        )
    return rows


def _row_city(r, cities: dict, managers: dict):
    """The city a row belongs to: its own for per-city, city and manager rows."""
    if r.city is not None:
        return cities.get(r.city)
    if r.dimension == "city":
        return cities.get(r.key)
    if r.dimension == "manager":
        return managers.get(r.key, (None, None))[1]
    return None


def _labels(cities: dict, managers: dict) -> dict:
    labels = {("moment", code): f"{code} {name}"
              for code, name in MomentDefinition.objects.values_list("code", "name_zh")}  # fmt: skip
    labels.update({("tactic", code): f"{code} {name}"
                   for code, name in Tactic.objects.values_list("code", "name_zh")})  # fmt: skip
    labels.update({("city", code): name for code, name in City.objects.values_list("code", "name")})
    labels.update({("manager", mid): name for mid, (name, _c) in managers.items()})
    labels.update({("campaign", key): text for key, text in CAMPAIGN_LABELS.items()})
    return labels
