"""The allocation settings (派送设置) as administrators edit them: the fields, their ranges
and labels, parsing a posted form, and the live version the daily run reads.

The settings are ``keycare.engine.allocate.AllocationConfig`` fields; every change is a new
``AllocationSettingsVersion`` (``keycare.tasks.actions.save_allocation_settings``). No version
yet: the engine's defaults are live.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keycare.engine.allocate import AllocationConfig
from keycare.errors import UserError
from keycare.tasks.models import AllocationSettingsVersion


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str  # "float", "int", "percent" (a share entered in %), "text"
    low: float = 0
    high: float = 0
    unit: str = ""
    help: str = ""
    group: str = "score"


FIELDS = (
    Field("w_risk", gettext_lazy("离网风险权重"), "float", 0, 10, group="score"),
    Field("w_value", gettext_lazy("客户价值权重"), "float", 0, 10, group="score"),
    Field("w_moment", gettext_lazy("时刻优先级权重"), "float", 0, 10, group="score"),
    Field("w_age", gettext_lazy("等待时长权重"), "float", 0, 10, group="score"),
    Field(
        "value_cap",
        gettext_lazy("价值封顶"),
        "float",
        1,
        100000,
        gettext_lazy("元/月"),
        group="score",
    ),
    Field("age_cap", gettext_lazy("等待封顶"), "int", 1, 60, gettext_lazy("周期"), group="score"),
    Field(
        "default_capacity",
        gettext_lazy("默认日外呼能力"),
        "int",
        0,
        2000,
        gettext_lazy("个/天"),
        gettext_lazy("客户经理未设置日服务能力时使用"),
        "capacity",
    ),
    Field(
        "contact_cap_days",
        gettext_lazy("接触冷却期"),
        "int",
        0,
        90,
        gettext_lazy("天"),
        gettext_lazy(
            "已实际接触（接通的外呼、送达的短信）的客户在此天数内不再主动服务；紧急时刻除外。0 表示不限制"
        ),
        "capacity",
    ),
    Field(
        "carry_over_days",
        gettext_lazy("顺延有效期"),
        "int",
        1,
        90,
        gettext_lazy("天"),
        gettext_lazy("顺延或冷却中的候选自首次识别起超过此天数仍未服务即过期"),
        "capacity",
    ),
    Field("control_share", gettext_lazy("对照组比例"), "percent", 0, 50, "%", group="control"),
    Field(
        "control_rotation_days",
        gettext_lazy("对照组轮换周期"),
        "int",
        0,
        365,
        gettext_lazy("天"),
        gettext_lazy("每隔此天数重新抽取对照组（7 天：每周一轮换）。0 表示不轮换"),
        "control",
    ),
    Field(
        "control_persistent_share",
        gettext_lazy("长期对照组比例"),
        "percent",
        0,
        20,
        "%",
        gettext_lazy(
            "按客户号哈希固定抽取、任何周期都不主动服务的客户比例，用于评估长期效果。0 表示不设"
        ),
        "control",
    ),
    Field("control_seed", gettext_lazy("对照组随机种子"), "text", 1, 40, group="control"),
)
BY_NAME = {f.name: f for f in FIELDS}
GROUPS = (
    ("score", gettext_lazy("优先级得分权重")),
    ("capacity", gettext_lazy("能力与频次")),
    ("control", gettext_lazy("对照组")),
)
WEIGHTS = ("w_risk", "w_value", "w_moment", "w_age")


def default_values() -> dict:
    values = asdict(AllocationConfig())
    values.pop("settings_version")
    return values


def live_version() -> AllocationSettingsVersion | None:
    return AllocationSettingsVersion.objects.order_by("-number").first()


def live_values() -> dict:
    """The settings in force: the newest version over the engine's defaults."""
    version = live_version()
    return {**default_values(), **(version.values if version else {})}


def config_of(values: dict, version: int | None = None) -> AllocationConfig:
    known = {k: v for k, v in values.items() if k in default_values()}
    return AllocationConfig(**known, settings_version=version)


def live_config() -> AllocationConfig:
    version = live_version()
    return config_of(live_values(), version.number if version else None)


def run_kwargs(business_date: date, runs_dir: Path) -> dict:
    """Before-run step (keycare.runs.prerun): the run allocates with the live settings."""
    return {"allocation_config": live_config()}


def form_value(field: Field, value) -> str:
    """A stored value as the form shows it (shares in %)."""
    if field.kind == "percent":
        return f"{round(float(value) * 100, 4):g}"
    if field.kind == "float":
        return f"{float(value):g}"
    return str(value)


def parse_settings(data) -> tuple[dict, dict]:
    """(values, errors) from a posted form. Every field is checked and named in its error;
    the values keep what was typed so nothing is lost."""
    values, errors = dict(live_values()), {}
    for field in FIELDS:
        text = str(data.get(field.name, "")).strip()
        try:
            values[field.name] = _parse_field(field, text)
        except ValueError as exc:
            errors[field.name] = str(exc)
    if not errors.keys() & set(WEIGHTS) and sum(values[w] for w in WEIGHTS) <= 0:
        errors["w_risk"] = _("四个权重不能全为 0")
    if not errors:
        try:
            config_of(values)
        except UserError as exc:
            errors["form"] = str(exc)
    return values, errors


def _parse_field(field: Field, text: str):
    label = str(field.label)
    if not text:
        raise ValueError(_("请填写%(label)s") % {"label": label})
    if field.kind == "text":
        if len(text) > field.high:
            raise ValueError(
                _("%(label)s最多 %(n)d 个字符") % {"label": label, "n": int(field.high)}
            )
        return text
    try:
        number = int(text) if field.kind == "int" else float(text)
    except ValueError:
        kind = _("整数") if field.kind == "int" else _("数字")
        raise ValueError(
            _("%(label)s必须是%(kind)s，收到“%(text)s”")
            % {"label": label, "kind": kind, "text": text[:20]}
        ) from None
    if not field.low <= number <= field.high or number != number:
        raise ValueError(
            _("%(label)s必须在 %(low)s 到 %(high)s 之间")
            % {"label": label, "low": f"{field.low:g}", "high": f"{field.high:g}"}
        )
    if field.kind == "percent":
        return round(number / 100, 6)
    return number


def changes_between(old: dict, new: dict) -> dict:
    """name -> [old, new] for the editable fields that differ."""
    return {
        f.name: [old.get(f.name), new.get(f.name)]
        for f in FIELDS
        if old.get(f.name) != new.get(f.name)
    }
