"""Masking of personal data, applied on the server before anything leaves it.

Pure functions (no Django), used by HTML views, the API, exports and logs alike:
- mobile numbers keep the first 3 and last 4 digits: 138****5678
- ID numbers keep the first 6 and last 4 characters: 320102********1234
- names keep the first character (the surname, or its first character): 张*, 欧阳** -> 欧**
  (compound surnames keep their two characters: 欧阳**)
- addresses keep the first 6 characters (province/city level) and hide the rest
"""

from __future__ import annotations

import re

# Two-character surnames (复姓) commonly met; the rest of a name after them is hidden.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 独孤 南宫 "
    "西门 万俟 闻人 端木 澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 仲孙 赫连 呼延".split()
)

_MOBILE_RE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_ID_RE = re.compile(r"(?<![0-9Xx])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9Xx])")
MASK = "*"


def mask_mobile(value: str | None) -> str:
    if not value:
        return ""
    value = str(value)
    if len(value) < 7:
        return MASK * len(value)
    return value[:3] + MASK * (len(value) - 7) + value[-4:]


def mask_id_number(value: str | None) -> str:
    if not value:
        return ""
    value = str(value)
    if len(value) < 10:
        return MASK * len(value)
    return value[:6] + MASK * (len(value) - 10) + value[-4:]


def mask_name(value: str | None) -> str:
    if not value:
        return ""
    value = str(value)
    keep = 2 if value[:2] in COMPOUND_SURNAMES and len(value) > 2 else 1
    return value[:keep] + MASK * max(len(value) - keep, 1)


def mask_address(value: str | None, keep: int = 6) -> str:
    if not value:
        return ""
    value = str(value)
    return value[:keep] + ("…" if len(value) > keep else "")


def mask_birth_date(value) -> str:
    """Only the year of a birth date is shown."""
    if not value:
        return ""
    return f"{str(value)[:4]}-**-**"


def scrub_text(text: str) -> str:
    """Mask every mobile or ID number found inside free text (notes, logs, messages)."""
    if not text:
        return text
    text = _ID_RE.sub(lambda m: m.group(1) + MASK * 8 + m.group(3), text)
    return _MOBILE_RE.sub(lambda m: m.group(1) + MASK * 4 + m.group(3), text)


# Which masking applies to which personal field code (catalog / model field names).
FIELD_MASKS = {
    "msisdn": mask_mobile,
    "mobile": mask_mobile,
    "id_number": mask_id_number,
    "name": mask_name,
    "address": mask_address,
    "birth_date": mask_birth_date,
}


def mask_field(code: str, value):
    """Mask ``value`` if ``code`` names a personal field; other values pass through."""
    masker = FIELD_MASKS.get(code)
    return masker(value) if masker else value
