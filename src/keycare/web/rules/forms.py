"""The rule form: posted text -> typed changes for ``moments.actions``, with Chinese errors.

Field names: ``enabled``, ``priority``, ``channel``, ``sms_allowed``, ``script``,
``sms_template`` (global, province administrator only), ``t__<threshold>`` (global
threshold), ``c__<city code>__<threshold>`` (per-city threshold; empty = use the global
value). A city administrator's form carries only their own city's thresholds; fields a role
may not change are never read from the post, so posting them changes nothing.

Each threshold is checked against the engine's own spec (type, min, max, pattern) so the
message can sit next to the field; the engine validates the whole set again on save.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from keycare.engine.conditions import DefinitionError, ThresholdSpec, parse_threshold
from keycare.moments.models import Channel, MomentDefinition

GLOBAL_FIELDS = ("enabled", "priority", "channel", "sms_allowed", "script", "sms_template")
TEXT_LIMIT = 2000


def threshold_specs(moment: MomentDefinition) -> list[ThresholdSpec]:
    return [
        parse_threshold(name, spec, moment.code) for name, spec in (moment.thresholds or {}).items()
    ]


def threshold_field(name: str) -> str:
    return f"t__{name}"


def city_field(city_code: str, name: str) -> str:
    return f"c__{city_code}__{name}"


@dataclass
class ParsedRule:
    changes: dict = field(default_factory=dict)
    city_changes: dict = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_rule_post(post, moment, specs, editable_cities, edit_global: bool) -> ParsedRule:
    """Read the fields this editor may change; ``errors`` maps field name -> Chinese message."""
    parsed = ParsedRule()
    if edit_global:
        _parse_global(post, parsed)
        thresholds = {}
        for spec in specs:
            name = threshold_field(spec.name)
            value = _parse_threshold(post.get(name, ""), spec, parsed.errors, name, required=True)
            if name not in parsed.errors:
                thresholds[spec.name] = value
        parsed.changes["thresholds"] = thresholds
    for city in editable_cities:
        values = {}
        for spec in specs:
            name = city_field(city.code, spec.name)
            raw = post.get(name, "")
            if raw.strip() == "":
                values[spec.name] = None  # no override: the city uses the global value
                continue
            value = _parse_threshold(raw, spec, parsed.errors, name, required=False)
            if name not in parsed.errors:
                values[spec.name] = value
        parsed.city_changes[city.code] = values
    return parsed


def _parse_global(post, parsed: ParsedRule) -> None:
    parsed.changes["enabled"] = post.get("enabled") in ("on", "1", "true")
    parsed.changes["sms_allowed"] = post.get("sms_allowed") in ("on", "1", "true")
    raw = post.get("priority", "").strip()
    if not re.fullmatch(r"\d{1,3}", raw) or not 1 <= int(raw) <= 100:
        parsed.errors["priority"] = _("优先级应为 1 到 100 之间的整数")
    else:
        parsed.changes["priority"] = int(raw)
    channel = post.get("channel", "")
    if channel not in Channel.values:
        parsed.errors["channel"] = _("请选择处理渠道（外呼或短信）")
    else:
        parsed.changes["channel"] = channel
    for name in ("script", "sms_template"):
        text = post.get(name, "").replace("\r\n", "\n")
        if len(text) > TEXT_LIMIT:
            parsed.errors[name] = _("不能超过 %(n)d 个字符") % {"n": TEXT_LIMIT}
        else:
            parsed.changes[name] = text


def _parse_threshold(raw: str, spec: ThresholdSpec, errors: dict, name: str, required: bool):
    raw = (raw or "").strip()
    if raw == "":
        if required:
            errors[name] = _("必填")
        return None
    try:
        value = _typed(raw, spec)
        return spec.check(value, spec.name)
    except (ValueError, DefinitionError):
        errors[name] = _threshold_message(spec)
        return None


def _typed(raw: str, spec: ThresholdSpec):
    if spec.type == "int":
        number = float(raw)
        if not number.is_integer():
            raise ValueError(raw)
        return int(number)
    if spec.type == "float":
        return float(raw)
    if spec.type == "bool":
        if raw.lower() in ("1", "true", "yes", "是"):
            return True
        if raw.lower() in ("0", "false", "no", "否"):
            return False
        raise ValueError(raw)
    return raw


def _threshold_message(spec: ThresholdSpec) -> str:
    if spec.type in ("int", "float"):
        kind = _("整数") if spec.type == "int" else _("数字")
        if spec.min is not None and spec.max is not None:
            return _("请输入 %(low)s 到 %(high)s 之间的%(kind)s") % {
                "low": f"{spec.min:g}",
                "high": f"{spec.max:g}",
                "kind": kind,
            }
        return _("请输入%(kind)s") % {"kind": kind}
    if spec.type == "bool":
        return _("请输入 是 或 否")
    if spec.pattern:
        return _("格式不正确，例如 %(example)s") % {"example": spec.default}
    return _("请输入文本")


def engine_error_field(message: str) -> str | None:
    """Which form field an engine validation message is about (None: the whole rule)."""
    for name in ("sms_template", "script"):
        if f": {name}" in message:
            return name
    return None
