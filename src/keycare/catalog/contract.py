"""Load and validate the input data contract (catalog/contract.yaml). Pure Python: no Django.

The contract says which files a delivery holds, their columns, types, keys and constraints.
A file marked ``extends_from_catalog`` (``subscribers``) also carries every "extended" raw field
of the catalog (raw fields with that file as source whose column is not a core column); those
columns are appended after the core ones, optional and never required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from keycare.errors import UserError
from keycare.yamlio import safe_load

DEFAULT_CONTRACT_PATH = Path(__file__).with_name("contract.yaml")

COLUMN_TYPES = ("string", "int", "float", "bool", "date", "timestamp", "month")
NUMERIC_TYPES = ("int", "float")
FILE_FORMATS = ("table", "json")

_FILE_KEYS = {"description", "key", "fields", "format", "extends_from_catalog", "optional"}
_COLUMN_KEYS = {
    "type",
    "required",
    "personal",
    "enum",
    "range",
    "pattern",
    "unit",
    "description",
}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    required: bool = False
    personal: bool = False
    enum: tuple | None = None
    range: tuple[float, float] | None = None
    pattern: str | None = None
    unit: str | None = None
    description: str = ""
    # True for columns a file carries because of the catalog (extends_from_catalog).
    extended: bool = False


@dataclass(frozen=True)
class FileSpec:
    name: str
    description: str
    key: list[str]
    columns: dict[str, ColumnSpec]
    format: str = "table"
    extends_from_catalog: bool = False
    # An optional file may be left out of a delivery (it then reads as empty).
    optional: bool = False

    @property
    def core_columns(self) -> list[str]:
        return [name for name, col in self.columns.items() if not col.extended]

    @property
    def extended_columns(self) -> list[str]:
        return [name for name, col in self.columns.items() if col.extended]


@dataclass(frozen=True)
class Contract:
    version: int
    files: dict[str, FileSpec] = field(default_factory=dict)

    def file(self, name: str) -> FileSpec:
        try:
            return self.files[name]
        except KeyError:
            raise UserError(f"data contract: unknown file '{name}'") from None

    @property
    def table_files(self) -> list[str]:
        """Files delivered as Parquet/CSV tables (everything except the JSON manifest)."""
        return [name for name, spec in self.files.items() if spec.format == "table"]


def load_core_contract(path: str | Path | None = None) -> Contract:
    """The contract exactly as contract.yaml declares it (no catalog extension)."""
    path = Path(path) if path is not None else DEFAULT_CONTRACT_PATH
    data = read_yaml(path)
    where = f"data contract {path.name}"
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping with 'version' and 'files'")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise UserError(f"{where}: 'version' must be an integer")
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        raise UserError(f"{where}: 'files' must be a non-empty mapping")
    parsed = {name: _parse_file(where, name, spec) for name, spec in files.items()}
    return Contract(version=version, files=parsed)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; unreadable or invalid YAML is a UserError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path.name}: invalid YAML{at}: {getattr(exc, 'problem', exc)}") from None


def _parse_file(where: str, name: Any, spec: Any) -> FileSpec:
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise UserError(f"{where}: file name {name!r} must be snake_case")
    where = f"{where}: file '{name}'"
    if not isinstance(spec, dict):
        raise UserError(f"{where}: expected a mapping")
    unknown = sorted(set(spec) - _FILE_KEYS)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}")
    fmt = spec.get("format", "table")
    if fmt not in FILE_FORMATS:
        raise UserError(f"{where}: format must be one of {', '.join(FILE_FORMATS)}, not {fmt!r}")
    description = _optional_str(where, "description", spec.get("description"))
    columns_raw = spec.get("fields")
    if not isinstance(columns_raw, dict) or not columns_raw:
        raise UserError(f"{where}: 'fields' must be a non-empty mapping of columns")
    columns = {col: _parse_column(where, col, cspec) for col, cspec in columns_raw.items()}
    key = _parse_key(where, spec.get("key"), columns, fmt)
    extends = spec.get("extends_from_catalog", False)
    if not isinstance(extends, bool):
        raise UserError(f"{where}: extends_from_catalog must be true or false")
    optional = _flag(where, "optional", spec.get("optional", False))
    return FileSpec(
        name=name,
        description=description.strip(),
        key=key,
        columns=columns,
        format=fmt,
        extends_from_catalog=extends,
        optional=optional,
    )


def _parse_key(where: str, key: Any, columns: dict[str, ColumnSpec], fmt: str) -> list[str]:
    if key is None:
        if fmt == "table":
            raise UserError(f"{where}: a table file needs a 'key'")
        return []
    if not isinstance(key, list) or not key or not all(isinstance(k, str) for k in key):
        raise UserError(f"{where}: 'key' must be a non-empty list of column names")
    for col in key:
        if col not in columns:
            raise UserError(f"{where}: key column '{col}' is not a column of the file")
        if not columns[col].required:
            raise UserError(f"{where}: key column '{col}' must be required: true")
    return list(key)


def _parse_column(where: str, name: Any, spec: Any) -> ColumnSpec:
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise UserError(f"{where}: column name {name!r} must be snake_case")
    where = f"{where}, column '{name}'"
    if not isinstance(spec, dict):
        raise UserError(f"{where}: expected a mapping with at least 'type'")
    unknown = sorted(set(spec) - _COLUMN_KEYS)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}")
    ctype = spec.get("type")
    if ctype not in COLUMN_TYPES:
        raise UserError(f"{where}: type must be one of {', '.join(COLUMN_TYPES)}, not {ctype!r}")
    return ColumnSpec(
        name=name,
        type=ctype,
        required=_flag(where, "required", spec.get("required", False)),
        personal=_flag(where, "personal", spec.get("personal", False)),
        enum=parse_enum(where, spec.get("enum"), ctype),
        range=parse_range(where, spec.get("range"), ctype),
        pattern=_parse_pattern(where, spec.get("pattern"), ctype),
        unit=_optional_str(where, "unit", spec.get("unit")) or None,
        description=_optional_str(where, "description", spec.get("description")).strip(),
    )


def _flag(where: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{where}: '{key}' must be true or false, not {value!r}")
    return value


def _optional_str(where: str, key: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UserError(f"{where}: '{key}' must be text, not {value!r}")
    return value


def parse_enum(where: str, enum: Any, ctype: str) -> tuple | None:
    """Validate an ``enum`` list (shared with the catalog's extended fields)."""
    if enum is None:
        return None
    if not isinstance(enum, list) or not enum:
        raise UserError(f"{where}: 'enum' must be a non-empty list")
    expected = {"string": str, "int": int}.get(ctype)
    if expected is None:
        raise UserError(f"{where}: 'enum' is only allowed for string or int columns, not {ctype}")
    for value in enum:
        if not isinstance(value, expected) or isinstance(value, bool):
            raise UserError(f"{where}: enum value {value!r} is not a {ctype}")
    if len(set(enum)) != len(enum):
        raise UserError(f"{where}: 'enum' has duplicate values")
    return tuple(enum)


def parse_range(where: str, rng: Any, ctype: str) -> tuple[float, float] | None:
    """Validate a ``range`` [min, max] (shared with the catalog's extended fields)."""
    if rng is None:
        return None
    if ctype not in NUMERIC_TYPES:
        raise UserError(f"{where}: 'range' is only allowed for int or float columns, not {ctype}")
    ok = (
        isinstance(rng, list)
        and len(rng) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in rng)
    )
    if not ok:
        raise UserError(f"{where}: 'range' must be [min, max] numbers")
    if rng[0] > rng[1]:
        raise UserError(f"{where}: 'range' minimum {rng[0]} is above maximum {rng[1]}")
    return (rng[0], rng[1])


def _parse_pattern(where: str, pattern: Any, ctype: str) -> str | None:
    if pattern is None:
        return None
    if ctype != "string":
        raise UserError(f"{where}: 'pattern' is only allowed for string columns")
    if not isinstance(pattern, str):
        raise UserError(f"{where}: 'pattern' must be a regular expression string")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise UserError(f"{where}: invalid pattern: {exc}") from None
    return pattern
