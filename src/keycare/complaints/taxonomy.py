"""The versioned two-level cause taxonomy and the needs (taxonomy.yaml). Pure Python."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from keycare.errors import UserError
from keycare.yamlio import safe_load

TAXONOMY_PATH = Path(__file__).with_name("taxonomy.yaml")


@dataclass(frozen=True)
class Cause:
    code: str
    group: str
    zh: str
    en: str
    script: str
    tactics: tuple


@dataclass(frozen=True)
class Taxonomy:
    version: int
    groups: dict  # code -> {zh, en}
    causes: dict  # code -> Cause
    needs: dict  # code -> {zh, en}

    def cause_label(self, code: str) -> str:
        """ "group / cause" in the active language (Chinese unless English is active)."""
        cause = self.causes.get(code)
        if cause is None:
            return code
        lang = _language()
        return f"{self.groups[cause.group][lang]} / {cause.en if lang == 'en' else cause.zh}"

    def need_label(self, code: str) -> str:
        return self.needs.get(code, {}).get(_language(), code)

    def group_label(self, code: str) -> str:
        return self.groups.get(code, {}).get(_language(), code)

    def group_of(self, code: str) -> str:
        cause = self.causes.get(code)
        return cause.group if cause else ""


def _language() -> str:
    """ "en" when the request's language is English, else "zh" (also outside Django)."""
    try:
        from django.utils.translation import get_language

        return "en" if (get_language() or "").startswith("en") else "zh"
    except Exception:  # no settings configured: the pure-Python callers (commands, tests)
        return "zh"


def parse(document: dict, where: str = "taxonomy.yaml") -> Taxonomy:
    if not isinstance(document, dict) or not isinstance(document.get("version"), int):
        raise UserError(f"{where}: expected a mapping with an integer 'version'")
    groups = {g["code"]: {"zh": g["zh"], "en": g["en"]} for g in document.get("groups") or []}
    causes = {}
    for entry in document.get("causes") or []:
        code = entry.get("code")
        if entry.get("group") not in groups:
            raise UserError(f"{where}: cause {code}: unknown group {entry.get('group')!r}")
        if code in causes:
            raise UserError(f"{where}: cause {code} is listed twice")
        causes[code] = Cause(
            code=code,
            group=entry["group"],
            zh=entry["zh"],
            en=entry["en"],
            script=entry.get("script", ""),
            tactics=tuple(entry.get("tactics") or ()),
        )
    needs = {n["code"]: {"zh": n["zh"], "en": n["en"]} for n in document.get("needs") or []}
    if not causes or not needs:
        raise UserError(f"{where}: needs at least one cause and one need")
    return Taxonomy(document["version"], groups, causes, needs)


@cache
def load() -> Taxonomy:
    return parse(safe_load(TAXONOMY_PATH.read_text(encoding="utf-8")))
