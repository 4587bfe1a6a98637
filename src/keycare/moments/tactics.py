"""The tactics library (保有战术库) and its matrix: parsing, validation and the lookup.

Pure Python (no Django): ``parse_library`` turns the document of ``tactics.yaml`` (or a stored
version of it) into a ``Library``, refusing anything it cannot use with one clear message;
``suggest`` is the matrix lookup the task page and the task payload share. The database side
(versions, the ``Tactic`` rows outcomes point at) is in ``models``, ``actions`` and
``services``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from keycare.errors import UserError
from keycare.yamlio import safe_load

BUILTIN_PATH = Path(__file__).with_name("tactics.yaml")
CATEGORIES = ("first", "anomaly", "special", "no_service")
CODE_PATTERN = re.compile(r"^[A-Z][0-9]{2}$")
WHEN_KEYS = ("moments", "categories", "tiers", "bands")
TOP_KEYS = {"version", "groups", "tactics", "risk_bands", "matrix"}
SUGGESTION_LIMIT = 3


class TacticLibraryError(UserError):
    """The tactics document is not valid; the message names the entry and what is wrong."""


@dataclass(frozen=True)
class TacticEntry:
    code: str
    group: str
    zh: str
    en: str
    description: str
    source: str


@dataclass(frozen=True)
class Rule:
    index: int  # 1-based position in the matrix, for messages and the matrix page
    moments: frozenset | None
    categories: frozenset | None
    tiers: frozenset | None
    bands: frozenset | None
    tactics: tuple

    def matches(self, moment: str, category: str, tier: str | None, band: str | None) -> bool:
        return (
            (self.moments is None or moment in self.moments)
            and (self.categories is None or category in self.categories)
            and (self.tiers is None or tier in self.tiers)
            and (self.bands is None or band in self.bands)
        )


@dataclass(frozen=True)
class Library:
    groups: dict  # code -> {"zh", "en"}
    tactics: dict  # code -> TacticEntry, in file order
    bands: tuple  # (name, lowest probability), ascending
    rules: tuple
    content_hash: str


def read_builtin_document(path: Path = BUILTIN_PATH) -> dict:
    with Path(path).open(encoding="utf-8") as fh:
        return safe_load(fh) or {}


def content_hash(document: dict) -> str:
    """sha256 over the canonical JSON of the document: the same content, the same hash."""
    canonical = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_library(document, *, moment_categories: dict, tiers) -> Library:
    """Validate ``document`` and return the library.

    ``moment_categories``: moment code -> category of every known moment (a rule naming any
    other code is refused); ``tiers``: the customers' value tiers a rule may name.
    """
    if not isinstance(document, dict):
        raise TacticLibraryError("保有战术库: 文档必须是映射 (the document must be a mapping)")
    unknown = set(document) - TOP_KEYS
    if unknown:
        raise TacticLibraryError(f"保有战术库: 未知的顶层键 {', '.join(sorted(map(str, unknown)))}")
    groups = _groups(document.get("groups"))
    tactics = _tactics(document.get("tactics"), groups)
    bands = _bands(document.get("risk_bands"))
    rules = _rules(document.get("matrix"), tactics, moment_categories, set(tiers), bands)
    return Library(groups, tactics, bands, rules, content_hash(document))


def risk_band(library: Library, probability) -> str | None:
    """The band of a risk probability (None when there is no probability)."""
    if probability is None:
        return None
    band = None
    for name, lowest in library.bands:
        if probability >= lowest:
            band = name
    return band or library.bands[0][0]


def suggest(
    library: Library,
    moments,
    tier: str | None,
    risk_probability,
    *,
    limit: int = SUGGESTION_LIMIT,
    active=None,
) -> list[str]:
    """The suggested tactic codes for a task: the matrix lookup.

    ``moments``: (code, category) pairs in the task's order (highest priority first). Per
    moment the first matching rule gives its tactics; the task's suggestions are those lists
    joined in moment order without repeats, cut to ``limit``. ``active``: when given, the codes
    that may be suggested (a retired tactic is skipped).
    """
    band = risk_band(library, risk_probability)
    chosen: list[str] = []
    for code, category in moments:
        rule = next((r for r in library.rules if r.matches(code, category, tier, band)), None)
        for tactic in rule.tactics if rule else ():
            if tactic not in chosen and (active is None or tactic in active):
                chosen.append(tactic)
    return chosen[:limit]


# --- validation -------------------------------------------------------------------------


def _groups(raw) -> dict:
    if not isinstance(raw, list) or not raw:
        raise TacticLibraryError("保有战术库: groups 必须是非空列表")
    groups = {}
    for n, entry in enumerate(raw, 1):
        code = _text(entry, "code", f"groups 第 {n} 项")
        if code in groups:
            raise TacticLibraryError(f"保有战术库: 分组编码重复 {code}")
        where = f"分组 {code}"
        groups[code] = {"zh": _text(entry, "zh", where), "en": _text(entry, "en", where)}
    return groups


def _tactics(raw, groups: dict) -> dict:
    if not isinstance(raw, list) or not raw:
        raise TacticLibraryError("保有战术库: tactics 必须是非空列表")
    tactics: dict[str, TacticEntry] = {}
    allowed = {"code", "group", "zh", "en", "description", "source"}
    for n, entry in enumerate(raw, 1):
        code = _text(entry, "code", f"tactics 第 {n} 项")
        if not CODE_PATTERN.match(code):
            raise TacticLibraryError(f"保有战术库: 战术编码 {code!r} 须为一个大写字母加两位数字")
        if code in tactics:
            raise TacticLibraryError(f"保有战术库: 战术编码重复 {code} (duplicate tactic code)")
        extra = set(entry) - allowed
        if extra:
            raise TacticLibraryError(
                f"保有战术库: 战术 {code} 有未知的键 {', '.join(sorted(extra))}"
            )
        where = f"战术 {code}"
        group = _text(entry, "group", where)
        if group not in groups:
            raise TacticLibraryError(f"保有战术库: 战术 {code} 的分组 {group} 未定义")
        tactics[code] = TacticEntry(
            code=code,
            group=group,
            zh=_text(entry, "zh", where),
            en=_text(entry, "en", where),
            description=_text(entry, "description", where),
            source=str(entry.get("source") or ""),
        )
    return tactics


def _bands(raw) -> tuple:
    if not isinstance(raw, dict) or not raw:
        raise TacticLibraryError("保有战术库: risk_bands 必须是 风险档 -> 最低概率 的映射")
    bands = []
    for name, lowest in raw.items():
        if isinstance(lowest, bool) or not isinstance(lowest, (int, float)) or not 0 <= lowest <= 1:
            raise TacticLibraryError(
                f"保有战术库: 风险档 {name} 的下限须在 0 到 1 之间: {lowest!r}"
            )
        bands.append((str(name), float(lowest)))
    bands.sort(key=lambda band: band[1])
    if bands[0][1] != 0:
        raise TacticLibraryError("保有战术库: 最低的风险档须从 0 开始")
    if len({lowest for _, lowest in bands}) != len(bands):
        raise TacticLibraryError("保有战术库: 两个风险档的下限相同")
    return tuple(bands)


def _rules(raw, tactics: dict, moment_categories: dict, tiers: set, bands: tuple) -> tuple:
    if not isinstance(raw, list) or not raw:
        raise TacticLibraryError("保有战术库: matrix 必须是非空列表")
    known = {
        "moments": set(moment_categories),
        "categories": set(CATEGORIES),
        "tiers": tiers,
        "bands": {name for name, _ in bands},
    }
    what = {"moments": "关键时刻", "categories": "时刻类别", "tiers": "客户层级", "bands": "风险档"}
    rules = []
    for n, entry in enumerate(raw, 1):
        where = f"保有战术库: 矩阵第 {n} 条"
        if not isinstance(entry, dict) or set(entry) - {"when", "tactics", "note"}:
            raise TacticLibraryError(f"{where} 只能有 when、tactics、note")
        when = entry.get("when") or {}
        if not isinstance(when, dict) or set(when) - set(WHEN_KEYS):
            raise TacticLibraryError(f"{where}: when 只能包含 {', '.join(WHEN_KEYS)}")
        conditions = {}
        for key in WHEN_KEYS:
            if key not in when:
                conditions[key] = None
                continue
            values = when[key]
            if not isinstance(values, list) or not values:
                raise TacticLibraryError(f"{where}: {key} 必须是非空列表")
            values = [str(v) for v in values]
            unknown = [v for v in values if v not in known[key]]
            if unknown:
                raise TacticLibraryError(f"{where}: 未知的{what[key]} {', '.join(unknown)}")
            conditions[key] = frozenset(values)
        codes = entry.get("tactics")
        if not isinstance(codes, list):
            raise TacticLibraryError(f"{where}: tactics 必须是列表（可为空）")
        codes = [str(c) for c in codes]
        unknown = [c for c in codes if c not in tactics]
        if unknown:
            raise TacticLibraryError(f"{where}: 未知的战术 {', '.join(unknown)} (unknown tactic)")
        if len(set(codes)) != len(codes):
            raise TacticLibraryError(f"{where}: 战术重复")
        rules.append(Rule(index=n, tactics=tuple(codes), **conditions))
    return tuple(rules)


def _text(entry, key: str, where: str) -> str:
    if not isinstance(entry, dict):
        raise TacticLibraryError(f"保有战术库: {where} 必须是映射")
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise TacticLibraryError(f"保有战术库: {where} 缺少 {key}")
    return value.strip()
