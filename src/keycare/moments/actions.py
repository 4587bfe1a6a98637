"""Writes to moment definitions. Each function takes the acting user, runs in one transaction,
validates through the engine, creates a RuleVersion (who / when / what changed) and audits.
"""

from __future__ import annotations

import copy

from django.db import transaction

from keycare.core.audit import record
from keycare.errors import UserError
from keycare.moments import services, tactic_services
from keycare.moments.models import (
    CityThreshold,
    MomentDefinition,
    RuleVersion,
    Tactic,
    TacticLibraryVersion,
    threshold_value,
)
from keycare.moments.tactics import read_builtin_document as read_builtin_tactics
from keycare.org.models import City

_MISSING = object()


class StaleVersionError(UserError):
    """Someone saved a newer version after the editor loaded theirs (optimistic locking)."""


def sync_builtin_definitions(actor=None) -> dict:
    """Import the built-in moments that are not in the database yet (version 1 each).

    Idempotent: existing moments, including their administrators' edits, are left alone.
    """
    from keycare.engine.groups import parse_group_definitions

    document = services.read_builtin_document()
    services.load_engine_definitions(document, {})  # the shipped YAML must itself be valid
    groups = services.read_group_document()
    parse_group_definitions(groups)  # and the group moments beside them
    entries = services.moment_entries(document) + services.moment_entries(groups)
    with transaction.atomic():
        existing = set(MomentDefinition.objects.values_list("code", flat=True))
        created = []
        for entry in entries:
            if entry["code"] in existing:
                continue
            moment = MomentDefinition.objects.create(
                **services.entry_to_columns(entry), current_version=1
            )
            RuleVersion.objects.create(
                moment=moment,
                number=1,
                snapshot=services.moment_snapshot(moment, {}),
                changes={},
                changed_by=_user_or_none(actor),
                note="内置定义导入",
            )
            created.append(moment.code)
        if created:
            record(actor, "moments.sync", object_type="moments.momentdefinition", created=created)
    return {"created": len(created), "existing": len(existing), "codes": created}


def update_moment(
    actor,
    moment: MomentDefinition,
    changes: dict,
    city_thresholds: dict | None = None,
    note="",
    expected_version: int | None = None,
) -> RuleVersion | None:
    """Change a moment and/or its per-city thresholds; returns the new version (None: no change).

    ``changes``: column -> value for ``MomentDefinition.EDITABLE_FIELDS``; ``thresholds`` is
    a partial name -> value map of the global defaults. ``city_thresholds``: city (City, pk or
    code) -> {threshold name: value}; a value of None removes that city's override.
    ``expected_version``: the version the editor loaded (optimistic locking); when someone
    saved a newer one meanwhile the change is refused and nothing is written.
    """
    moment = MomentDefinition.objects.get(pk=moment.pk)
    _check_version(moment, expected_version)
    new_columns = _apply_changes(moment, changes or {})
    new_cities = _merge_city_values(moment, services.city_thresholds_of(moment), city_thresholds)
    return _save_new_version(actor, moment, new_columns, new_cities, note)


def candidate_definitions(moment: MomentDefinition, changes: dict, city_thresholds=None):
    """Dry run of ``update_moment``: (current set, changed set), both validated, nothing saved.

    Used by the preview: the changed set is the whole definition set with this moment and its
    per-city thresholds replaced, exactly as the daily run would read it after the save.
    """
    moment = MomentDefinition.objects.get(pk=moment.pk)
    new_columns = _apply_changes(moment, changes or {})
    new_cities = _merge_city_values(moment, services.city_thresholds_of(moment), city_thresholds)
    candidate = copy.copy(moment)
    for field, value in new_columns.items():
        setattr(candidate, field, value)
    if moment.category == services.GROUP:
        current = services.current_group_definitions()
    else:
        current = services.load_engine_definitions(
            services.definitions_document(),
            services.split_overrides(services.all_city_overrides())[0],
        )
    return current, _validate(candidate, new_cities)


def restore_version(
    actor, version: RuleVersion, note: str = "", expected_version: int | None = None
) -> RuleVersion | None:
    """Make an old version current again, as a new version (history is never rewritten)."""
    moment = MomentDefinition.objects.get(pk=version.moment_id)
    _check_version(moment, expected_version)
    entry = version.snapshot["definition"]
    columns = services.entry_to_columns(entry)
    columns.pop("code", None)
    new_columns = {
        f: columns[f] for f in (*MomentDefinition.EDITABLE_FIELDS, "extra") if f in columns
    }
    cities = copy.deepcopy(version.snapshot.get("city_thresholds", {}))
    return _save_new_version(
        actor, moment, new_columns, cities, note or f"恢复至版本 {version.number}"
    )


def sync_builtin_tactics(actor=None) -> dict:
    """Import the shipped tactics library (``moments/tactics.yaml``) as a new version when it
    differs from the version in force; the same file twice changes nothing (idempotent)."""
    return save_tactic_library(actor, read_builtin_tactics(), note="内置保有战术库导入")


def save_tactic_library(actor, document: dict, note: str = "") -> dict:
    """Make ``document`` the tactics library in force, as a new version (audited).

    Validated first (unknown moment, duplicate code, unknown tactic in the matrix: refused,
    nothing written). The ``Tactic`` rows follow: new ones created, changed ones updated, ones
    the document drops deactivated (outcomes keep pointing at them).
    """
    library = tactic_services.load_library(document)
    with transaction.atomic():
        latest = TacticLibraryVersion.objects.select_for_update().order_by("-number").first()
        if latest is not None and latest.content_hash == library.content_hash:
            return {"created": False, "version": latest.number, "changes": {}}
        changes = _library_changes(latest.document if latest else {}, document)
        version = TacticLibraryVersion.objects.create(
            number=(latest.number if latest else 0) + 1,
            content_hash=library.content_hash,
            document=copy.deepcopy(document),
            changes=changes,
            changed_by=_user_or_none(actor),
            note=note[:200],
        )
        _replace_tactics(library)
        record(actor, "tactics.update", version, version=version.number, changes=changes)
    return {"created": True, "version": version.number, "changes": changes}


def _replace_tactics(library) -> None:
    existing = {t.code: t for t in Tactic.objects.all()}
    for position, entry in enumerate(library.tactics.values(), 1):
        group = library.groups[entry.group]
        values = {
            "name_zh": entry.zh,
            "name_en": entry.en,
            "group": entry.group,
            "group_zh": group["zh"],
            "group_en": group["en"],
            "description": entry.description,
            "source": entry.source,
            "position": position,
            "active": True,
        }
        tactic = existing.get(entry.code)
        if tactic is None:
            Tactic.objects.create(code=entry.code, **values)
        elif any(getattr(tactic, field) != value for field, value in values.items()):
            for field, value in values.items():
                setattr(tactic, field, value)
            tactic.save()
    Tactic.objects.exclude(code__in=list(library.tactics)).update(active=False)


def _library_changes(old: dict, new: dict) -> dict:
    def by_code(document):
        return {t.get("code"): t for t in document.get("tactics") or [] if isinstance(t, dict)}

    before, after = by_code(old), by_code(new)
    changes = {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(c for c in set(before) & set(after) if before[c] != after[c]),
        "matrix": old.get("matrix") != new.get("matrix"),
        "risk_bands": old.get("risk_bands") != new.get("risk_bands"),
    }
    return {key: value for key, value in changes.items() if value}


# --- internals -------------------------------------------------------------------------


def _check_version(moment: MomentDefinition, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != moment.current_version:
        raise StaleVersionError(
            f"关键时刻 {moment.code} 已被他人修改（您打开的是版本 {expected_version}，"
            f"当前为版本 {moment.current_version}），您的修改未保存，请刷新后重新修改"
        )


def _apply_changes(moment: MomentDefinition, changes: dict) -> dict:
    unknown = set(changes) - set(MomentDefinition.EDITABLE_FIELDS)
    if unknown:
        raise UserError(f"关键时刻 {moment.code}: 不可修改的字段 {', '.join(sorted(unknown))}")
    columns = {f: copy.deepcopy(getattr(moment, f)) for f in MomentDefinition.EDITABLE_FIELDS}
    columns["extra"] = copy.deepcopy(moment.extra)
    for field, value in changes.items():
        if field == "thresholds":
            columns["thresholds"] = _merge_thresholds(moment, columns["thresholds"], value)
        else:
            columns[field] = value
    return columns


def _merge_thresholds(moment, thresholds: dict, new_values: dict) -> dict:
    for name, value in (new_values or {}).items():
        if name not in thresholds:
            raise UserError(f"关键时刻 {moment.code}: 没有名为 {name} 的阈值")
        value = _coerce_threshold(moment, name, thresholds[name], value)
        if isinstance(thresholds[name], dict):
            thresholds[name]["default"] = value
        else:
            thresholds[name] = value
    return thresholds


def _coerce_threshold(moment, name, spec, value):
    """Form input arrives as text; give it the type of the default so the engine can check it."""
    if not isinstance(value, str):
        return value
    default = threshold_value(spec)
    try:
        if isinstance(default, bool):
            return value.strip().lower() in {"1", "true", "yes", "是"}
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise UserError(f"关键时刻 {moment.code}: 阈值 {name} 必须是数字，收到 {value!r}") from None
    return value


def _merge_city_values(moment, current: dict, updates: dict | None) -> dict:
    merged = copy.deepcopy(current)
    for city_key, values in (updates or {}).items():
        code = _city(city_key).code
        for name, value in (values or {}).items():
            if name not in moment.thresholds:
                raise UserError(f"关键时刻 {moment.code}: 没有名为 {name} 的阈值（地市 {code}）")
            if value is None or value == "":
                merged.get(code, {}).pop(name, None)
            else:
                spec = moment.thresholds[name]
                merged.setdefault(code, {})[name] = _coerce_threshold(moment, name, spec, value)
    return {code: values for code, values in merged.items() if values}


def _city(key):

    if isinstance(key, City):
        return key
    lookup = {"pk": key} if isinstance(key, int) else {"code": str(key)}
    try:
        return City.objects.get(**lookup)
    except City.DoesNotExist:
        raise UserError(f"未知地市 {key}") from None


def _save_new_version(actor, moment, new_columns: dict, new_cities: dict, note: str):
    old_snapshot = services.moment_snapshot(moment)
    candidate = copy.copy(moment)
    for field, value in new_columns.items():
        setattr(candidate, field, value)
    new_snapshot = services.moment_snapshot(candidate, new_cities)
    diff = _diff(old_snapshot["definition"], new_snapshot["definition"])
    diff.update(_diff(old_snapshot["city_thresholds"], new_snapshot["city_thresholds"], "city."))
    if not diff:
        return None
    _validate(candidate, new_cities)
    with transaction.atomic():
        locked = MomentDefinition.objects.select_for_update().get(pk=moment.pk)
        if locked.current_version != moment.current_version:
            raise StaleVersionError(f"关键时刻 {moment.code} 已被他人修改，请刷新后重试")
        for field, value in new_columns.items():
            setattr(locked, field, value)
        locked.current_version += 1
        locked.save()
        _replace_city_thresholds(locked, new_cities)
        version = RuleVersion.objects.create(
            moment=locked,
            number=locked.current_version,
            snapshot=new_snapshot,
            changes=diff,
            changed_by=_user_or_none(actor),
            note=note[:200],
        )
        record(actor, "moments.update", locked, version=version.number, changes=diff, note=note)
    moment.refresh_from_db()
    return version


def _validate(candidate: MomentDefinition, new_cities: dict):
    """Run the engine's validator over the whole set with this moment replaced; the set."""
    group = candidate.category == services.GROUP
    same_kind = (
        MomentDefinition.objects.filter(category=services.GROUP)
        if group
        else services.customer_moments()
    )
    others = same_kind.exclude(pk=candidate.pk).order_by("code")
    moments = sorted([*others, candidate], key=lambda m: m.code)
    overrides = services.split_overrides(services.all_city_overrides())[group]
    for values in overrides.values():
        values.pop(candidate.code, None)
    for code, values in new_cities.items():
        overrides.setdefault(code, {})[candidate.code] = values
    overrides = {code: per_moment for code, per_moment in overrides.items() if per_moment}
    if group:
        return services.load_group_engine_definitions(moments, overrides)
    return services.load_engine_definitions(services.definitions_document(moments), overrides)


def _replace_city_thresholds(moment, new_cities: dict) -> None:

    cities = City.objects.in_bulk(list(new_cities), field_name="code")
    CityThreshold.objects.filter(moment=moment).delete()
    CityThreshold.objects.bulk_create(
        CityThreshold(moment=moment, city=cities[code], name=name, value=value)
        for code, values in new_cities.items()
        for name, value in values.items()
    )


def _diff(old: dict, new: dict, prefix: str = "") -> dict:
    """Flat 'path' -> [old, new] for every leaf that differs."""
    changes = {}
    for key in sorted(set(old) | set(new), key=str):
        before, after = old.get(key, _MISSING), new.get(key, _MISSING)
        path = f"{prefix}{key}"
        if isinstance(before, dict) or isinstance(after, dict):
            if not isinstance(before, dict) and before is not _MISSING:
                changes[path] = [before, _none(after)]
            elif not isinstance(after, dict) and after is not _MISSING:
                changes[path] = [_none(before), after]
            else:
                changes.update(_diff(_as_dict(before), _as_dict(after), f"{path}."))
        elif before != after:
            changes[path] = [_none(before), _none(after)]
    return changes


def _as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _none(value):
    return None if value is _MISSING else value


def _user_or_none(actor):
    return actor if getattr(actor, "is_authenticated", False) else None
