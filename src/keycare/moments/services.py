"""Read side of the moments app: the database state turned into what the engine expects.

The engine (``keycare.engine.definitions``) owns the definition format and its validation;
this module only converts between its YAML entries and ``MomentDefinition`` rows.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

from keycare.moments.models import CityThreshold, DefinitionSetVersion, MomentDefinition
from keycare.yamlio import safe_load

# YAML key of a moment entry -> MomentDefinition column.
YAML_TO_COLUMN = {
    "code": "code",
    "zh": "name_zh",
    "en": "name_en",
    "category": "category",
    "cycle": "cycle",
    "enabled": "enabled",
    "priority": "priority",
    "channel": "channel",
    "sms_allowed": "sms_allowed",
    "strategy": "strategy",
    "script": "script",
    "sms_template": "sms_template",
    "thresholds": "thresholds",
    "condition": "condition",
}
COLUMN_TO_YAML = {column: key for key, column in YAML_TO_COLUMN.items()}


def builtin_yaml_path() -> Path:
    from keycare.engine import definitions

    return Path(
        getattr(definitions, "DEFAULT_PATH", Path(definitions.__file__).with_name("moments.yaml"))
    )


def read_builtin_document() -> dict:
    """The built-in YAML document, parsed (top-level keys kept so the round trip is exact)."""
    path = builtin_yaml_path()
    return copy.deepcopy(_parsed_yaml(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _parsed_yaml(path: Path, mtime_ns: int) -> dict:
    """Parsed once per file version: every validation needs the document's top-level keys."""
    with path.open(encoding="utf-8") as fh:
        document = safe_load(fh) or {}
    if isinstance(document, list):  # a bare list of moments
        document = {"moments": document}
    return document


def moment_entries(document: dict) -> list[dict]:
    moments = document.get("moments", [])
    if isinstance(moments, dict):  # code -> entry
        return [{"code": code, **entry} for code, entry in moments.items()]
    return list(moments)


def entry_to_columns(entry: dict) -> dict:
    """One YAML entry -> MomentDefinition field values (unknown keys go to ``extra``)."""
    columns = {column: entry[key] for key, column in YAML_TO_COLUMN.items() if key in entry}
    columns["extra"] = {k: v for k, v in entry.items() if k not in YAML_TO_COLUMN}
    for text in ("name_en", "strategy", "script", "sms_template"):
        if columns.get(text) is None:
            columns[text] = ""
    if isinstance(columns.get("strategy"), list):
        columns["strategy"] = "、".join(map(str, columns["strategy"]))
    return columns


def moment_to_entry(moment: MomentDefinition) -> dict:
    """A MomentDefinition row -> its YAML entry, as the engine's loader reads it."""
    entry = copy.deepcopy(moment.extra or {})
    for column, key in COLUMN_TO_YAML.items():
        entry[key] = copy.deepcopy(getattr(moment, column))
    return entry


def moment_snapshot(moment: MomentDefinition, city_values: dict | None = None) -> dict:
    """Everything that defines one moment now, including its per-city thresholds."""
    if city_values is None:
        city_values = city_thresholds_of(moment)
    return {"definition": moment_to_entry(moment), "city_thresholds": city_values}


def city_thresholds_of(moment: MomentDefinition) -> dict:
    """city code -> {threshold name: value} for one moment."""
    values: dict[str, dict] = {}
    rows = CityThreshold.objects.filter(moment=moment).select_related("city").order_by("id")
    for row in rows:
        values.setdefault(row.city.code, {})[row.name] = row.value
    return values


def all_city_overrides() -> dict:
    """city code -> {moment code: {threshold name: value}}, as the engine takes them."""
    overrides: dict[str, dict] = {}
    rows = CityThreshold.objects.select_related("city", "moment").order_by("id")
    for row in rows:
        overrides.setdefault(row.city.code, {}).setdefault(row.moment.code, {})[row.name] = (
            row.value
        )
    return overrides


def definitions_document(moments=None) -> dict:
    """The built-in document with its moments replaced by the database's (or ``moments``)."""
    try:
        document = read_builtin_document()
    except FileNotFoundError:
        document = {}
    document = {k: v for k, v in document.items() if k != "moments"}
    if moments is None:
        moments = customer_moments().order_by("code")
    document["moments"] = [moment_to_entry(m) for m in moments]
    return document


def load_engine_definitions(document: dict, city_overrides: dict):
    """Validate and parse a definitions document with the engine; UserError when invalid."""
    from keycare.engine.definitions import parse_definitions

    return parse_definitions(copy.deepcopy(document), copy.deepcopy(city_overrides) or None)


def current_definitions():
    """(DefinitionSet, city_overrides) for the daily run, from the database.

    Falls back to the built-in YAML when the definitions were never synced. Records the
    set's content hash as a ``DefinitionSetVersion`` so a run can be traced to the rule
    versions it used.
    """
    if not MomentDefinition.objects.exists():
        from keycare.engine.definitions import load_definitions

        return load_definitions(), {}
    overrides = split_overrides(all_city_overrides())[0]
    moments = list(customer_moments().order_by("code"))
    definition_set = load_engine_definitions(definitions_document(moments), overrides)
    record_definition_set(definition_set.version, moments, overrides)
    return definition_set, overrides


def record_definition_set(content_hash: str, moments, overrides: dict) -> DefinitionSetVersion:
    version, _ = DefinitionSetVersion.objects.get_or_create(
        content_hash=content_hash,
        defaults={
            "moment_versions": {m.code: m.current_version for m in moments},
            "snapshot": {"moments": [m.code for m in moments], "city_overrides": overrides},
        },
    )
    return version


# --- group moments (集团时刻: engine/group_moments.yaml) ---------------------------------------

GROUP = "group"


def customer_moments():
    """The customer moments (the 29 and any added beside them); group moments run apart."""
    return MomentDefinition.objects.exclude(category=GROUP)


def read_group_document() -> dict:
    from keycare.engine.groups import DEFAULT_PATH

    return copy.deepcopy(_parsed_yaml(DEFAULT_PATH, DEFAULT_PATH.stat().st_mtime_ns))


def split_overrides(overrides: dict) -> tuple[dict, dict]:
    """(customer moments' overrides, group moments' overrides), by the moments' category."""
    groups = set(MomentDefinition.objects.filter(category=GROUP).values_list("code", flat=True))
    split: tuple[dict, dict] = ({}, {})
    for city, per_moment in overrides.items():
        for code, values in per_moment.items():
            split[code in groups].setdefault(city, {})[code] = values
    return split


def current_group_definitions():
    """The group moments for the daily run, from the database (the built-in YAML when they
    were never synced), with their per-city thresholds."""
    from keycare.engine.groups import load_group_definitions

    rows = list(MomentDefinition.objects.filter(category=GROUP).order_by("code"))
    if not rows:
        return load_group_definitions()
    return load_group_engine_definitions(rows, split_overrides(all_city_overrides())[1])


def load_group_engine_definitions(moments, city_overrides: dict):
    """Validate and parse group moment rows with the engine; UserError when invalid."""
    from keycare.engine.groups import parse_group_definitions

    document = {k: v for k, v in read_group_document().items() if k != "moments"}
    document["moments"] = [moment_to_entry(m) for m in moments]
    return parse_group_definitions(document, copy.deepcopy(city_overrides) or None)
