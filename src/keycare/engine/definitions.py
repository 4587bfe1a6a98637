"""Key-moment definitions: load, validate, version, and pick the ones due on a date.

The built-in 29 moments live in ``moments.yaml`` beside this module. A document is
``{defaults: {scope: <condition>}, moments: [<moment>, ...]}``; per-city threshold overrides
come separately as ``{city_id: {moment_code: {threshold: value}}}`` (the shape the moments app
stores). Every problem is a UserError naming the moment, the field or threshold and what is
wrong. ``DefinitionSet.version`` hashes the normalised definitions and overrides, so any change
is a new version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from keycare.engine import conditions as cond
from keycare.engine import explain
from keycare.engine.conditions import DefinitionError, Schema, ThresholdSpec
from keycare.engine.view import FieldInfo, catalog_fields, field_types
from keycare.yamlio import safe_load

DEFAULT_PATH = Path(__file__).with_name("moments.yaml")
CONTRACT_PATH = Path(__file__).resolve().parent.parent / "catalog" / "contract.yaml"

CATEGORIES = {
    "first": "第一时刻",
    "anomaly": "异动时刻",
    "special": "特殊时刻",
    "no_service": "免服务时刻",
    "group": "集团时刻",  # group (key-account) moments: engine/group_moments.yaml
}
CYCLES = ("daily", "weekly", "monthly")
CHANNELS = ("call", "sms")
NO_SERVICE = "no_service"
REQUIRED = ("code", "zh", "en", "category", "cycle", "priority", "channel", "condition")
OPTIONAL = (
    "enabled",
    "sms_allowed",
    "strategy",
    "script",
    "sms_template",
    "explanation",
    "thresholds",
    "scope",
    "description",
    "show",
    "urgent",
)
TEMPLATE_BUILTINS = ("business_date", "city_id")


@dataclass(frozen=True)
class MomentDef:
    code: str
    zh: str
    en: str
    category: str
    cycle: str
    priority: int
    channel: str
    sms_allowed: bool
    strategy: str
    script: str
    sms_template: str
    explanation: str
    threshold_specs: dict[str, ThresholdSpec]
    condition: object  # parsed tree (keycare.engine.conditions nodes)
    scope: object  # parsed tree
    enabled: bool = True
    show: tuple[str, ...] = ()  # extra fields carried in the parameters
    # Urgent (紧急) moments are served even inside the contact cool-down (allocation).
    urgent: bool = False
    city_thresholds: dict[str, dict] = field(default_factory=dict)  # city -> {name: value}
    data: dict = field(default_factory=dict)  # the entry as written

    @property
    def thresholds(self) -> dict:
        """name -> default value."""
        return {name: spec.default for name, spec in self.threshold_specs.items()}

    @property
    def category_zh(self) -> str:
        return CATEGORIES[self.category]

    @property
    def is_no_service(self) -> bool:
        return self.category == NO_SERVICE

    def thresholds_for(self, city_id: str | None) -> dict:
        return cond.resolve_thresholds(self.threshold_specs, self.city_thresholds, city_id)

    def param_names(self, personal=frozenset()) -> list[str]:
        names = cond.param_names(self.condition, personal)
        return names + [f for f in self.show if f not in names and f not in personal]


@dataclass(frozen=True)
class DefinitionSet:
    moments: list[MomentDef]
    version: str
    city_overrides: dict  # city_id -> {moment code: {threshold: value}}
    document: dict
    fields: list[FieldInfo] = field(default_factory=list, repr=False)

    @property
    def by_code(self) -> dict[str, MomentDef]:
        return {m.code: m for m in self.moments}

    def with_city_overrides(self, overrides: dict | None) -> DefinitionSet:
        """A new set (new version) with these per-city overrides merged over the current ones."""
        merged = json.loads(json.dumps(self.city_overrides))
        for city, per_moment in (overrides or {}).items():
            for code, values in (per_moment or {}).items():
                merged.setdefault(str(city), {}).setdefault(code, {}).update(values or {})
        return parse_definitions(self.document, merged, fields=self.fields)


# --------------------------------------------------------------------------- loading


def load_definitions(path=None, city_overrides: dict | None = None, catalog=None) -> DefinitionSet:
    """Read a definitions YAML (default: the built-in 29 moments) and validate it."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError(f"moment definitions {path}: cannot read ({exc.strerror})") from None
    try:
        document = safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise DefinitionError(f"moment definitions {path}: not valid YAML ({exc})") from None
    return parse_definitions(document, city_overrides, catalog=catalog)


def parse_definitions(
    document,
    city_overrides: dict | None = None,
    catalog=None,
    fields: list[FieldInfo] | None = None,
) -> DefinitionSet:
    """Validate a parsed definitions document (+ per-city overrides) into a DefinitionSet."""
    if isinstance(document, list):
        document = {"moments": document}
    if not isinstance(document, dict) or not isinstance(document.get("moments"), list | dict):
        raise DefinitionError("moment definitions: expected a mapping with a `moments` list")
    entries = document["moments"]
    if isinstance(entries, dict):
        entries = [{"code": code, **entry} for code, entry in entries.items()]
    fields = fields if fields is not None else catalog_fields(catalog)
    types = field_types(fields)
    personal = frozenset(f.code for f in fields if f.personal)
    event_types = _event_types()
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise DefinitionError("moment definitions: `defaults` must be a mapping")

    overrides = _normalise_overrides(city_overrides)
    moments = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        moment = parse_moment(entry, types, personal, event_types, defaults, index)
        if moment.code in seen:
            raise DefinitionError(f"moment {moment.code}: defined twice")
        seen.add(moment.code)
        moments.append(moment)
    by_code = {m.code: m for m in moments}
    per_moment = _check_overrides(overrides, by_code)
    moments = [
        _with_cities(m, per_moment.get(m.code, {})) for m in sorted(moments, key=lambda m: m.code)
    ]
    version = _content_hash(document, overrides)
    return DefinitionSet(moments, version, overrides, document, fields)


def _event_types() -> frozenset[str] | None:
    try:
        contract = safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))
        return frozenset(contract["files"]["events"]["fields"]["event_type"]["enum"])
    except (OSError, KeyError, TypeError):
        return None


def parse_moment(
    entry,
    types: dict[str, str],
    personal=frozenset(),
    event_types=None,
    defaults: dict | None = None,
    index: int = 0,
) -> MomentDef:
    """Validate one moment entry. Errors name the moment (or its position) and the problem."""
    if not isinstance(entry, dict):
        raise DefinitionError(f"moment #{index + 1}: expected a mapping, got {entry!r}")
    code = entry.get("code")
    where = f"moment {code}" if isinstance(code, str) and code else f"moment #{index + 1}"
    for key in REQUIRED:
        if entry.get(key) in (None, ""):
            raise DefinitionError(f"{where}: missing {key}")
    unknown = set(entry) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise DefinitionError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    _check_choice(entry["category"], CATEGORIES, where, "category")
    _check_choice(entry["cycle"], CYCLES, where, "cycle")
    _check_choice(entry["channel"], CHANNELS, where, "channel")
    priority = entry["priority"]
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 100:
        raise DefinitionError(
            f"{where}: priority must be a whole number in [1, 100], got {priority!r}"
        )
    for key in ("enabled", "sms_allowed", "urgent"):
        if key in entry and not isinstance(entry[key], bool):
            raise DefinitionError(f"{where}: {key} must be true or false")

    raw_thresholds = entry.get("thresholds") or {}
    if not isinstance(raw_thresholds, dict):
        raise DefinitionError(f"{where}: thresholds must be a mapping name -> value or spec")
    specs = {name: cond.parse_threshold(name, spec, where) for name, spec in raw_thresholds.items()}
    schema = Schema(types, specs, event_types, personal, where)
    condition = cond.parse_condition(entry["condition"], schema, "condition")
    scope_data = entry.get("scope", (defaults or {}).get("scope"))
    scope = cond.parse_condition(scope_data, schema, "scope") if scope_data else None

    show = entry.get("show") or []
    if not isinstance(show, list):
        raise DefinitionError(f"{where}: show must be a list of field names")
    for shown in show:
        if shown not in types:
            raise DefinitionError(f"{where}: show: unknown field {shown!r}")
        if shown in personal:
            raise DefinitionError(f"{where}: show: field {shown} is personal data")
    params = cond.param_names(condition, personal)
    params += [f for f in show if f not in params]
    clash = set(params) & set(specs)
    if clash:
        raise DefinitionError(f"{where}: threshold {sorted(clash)[0]} has the name of a parameter")
    unused = [
        name
        for name in specs
        if name
        not in cond.used_thresholds(condition) + (cond.used_thresholds(scope) if scope else [])
    ]
    if unused:
        raise DefinitionError(f"{where}: threshold {unused[0]} is declared but never used")
    known = [*params, *specs, *TEMPLATE_BUILTINS]
    texts = {}
    for key in ("explanation", "script", "sms_template"):
        value = entry.get(key) or ""
        if not isinstance(value, str):
            raise DefinitionError(f"{where}: {key} must be text")
        problem = explain.check_template(value, known, f"{where}: {key}")
        if problem:
            raise DefinitionError(problem)
        texts[key] = value
    strategy = entry.get("strategy") or ""
    if isinstance(strategy, list):
        strategy = "、".join(map(str, strategy))
    return MomentDef(
        code=code,
        zh=str(entry["zh"]),
        en=str(entry["en"]),
        category=entry["category"],
        cycle=entry["cycle"],
        priority=priority,
        channel=entry["channel"],
        sms_allowed=bool(entry.get("sms_allowed", entry["channel"] == "sms")),
        strategy=str(strategy),
        script=texts["script"],
        sms_template=texts["sms_template"],
        explanation=texts["explanation"],
        threshold_specs=specs,
        condition=condition,
        scope=scope,
        enabled=bool(entry.get("enabled", True)),
        show=tuple(show),
        urgent=bool(entry.get("urgent", False)),
        data=entry,
    )


def _check_choice(value, choices, where: str, what: str) -> None:
    if value not in choices:
        raise DefinitionError(f"{where}: {what} must be one of {', '.join(choices)}, got {value!r}")


def _normalise_overrides(overrides) -> dict:
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise DefinitionError("city overrides: expected {city_id: {moment: {threshold: value}}}")
    result = {}
    for city, per_moment in overrides.items():
        if not isinstance(per_moment, dict):
            raise DefinitionError(f"city {city}: expected {{moment: {{threshold: value}}}}")
        for code, values in per_moment.items():
            if not isinstance(values, dict):
                raise DefinitionError(f"city {city}, moment {code}: expected {{threshold: value}}")
            if values:
                result.setdefault(str(city), {})[code] = dict(values)
    return result


def _check_overrides(overrides: dict, by_code: dict[str, MomentDef]) -> dict:
    """Validate; return moment code -> {city: {threshold: value}}."""
    per_moment: dict[str, dict] = {}
    for city, moments in sorted(overrides.items()):
        for code, values in moments.items():
            moment = by_code.get(code)
            where = f"city {city}, moment {code}"
            if moment is None:
                raise DefinitionError(f"{where}: unknown moment")
            for name, value in values.items():
                spec = moment.threshold_specs.get(name)
                if spec is None:
                    raise DefinitionError(f"{where}: unknown threshold {name}")
                values[name] = spec.check(value, where)
            per_moment.setdefault(code, {})[city] = dict(values)
    return per_moment


def _with_cities(moment: MomentDef, cities: dict) -> MomentDef:
    if not cities:
        return moment
    return MomentDef(**{**moment.__dict__, "city_thresholds": cities})


def _content_hash(document: dict, overrides: dict) -> str:
    payload = json.dumps(
        {"definitions": document, "city_overrides": overrides},
        sort_keys=True,
        ensure_ascii=False,
        default=_json_default,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _json_default(value):
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


# --------------------------------------------------------------------------- schedule


def due_moments(
    defs: DefinitionSet, business_date: dt.date, weekly_weekday: int = 0, monthly_day: int = 3
) -> list[MomentDef]:
    """Enabled moments whose cycle runs on ``business_date``: daily always, weekly on
    ``weekly_weekday`` (0 = Monday), monthly on day ``monthly_day`` of the month."""
    due = []
    for moment in defs.moments:
        if not moment.enabled:
            continue
        if (
            moment.cycle == "daily"
            or (moment.cycle == "weekly" and business_date.weekday() == weekly_weekday)
            or (moment.cycle == "monthly" and business_date.day == monthly_day)
        ):
            due.append(moment)
    return due
