"""Read and check an operator delivery directory against the data contract (pyarrow only).

A delivery holds ``<name>.parquet`` or ``<name>.csv`` per contract file and an optional
``manifest.json``. Everything here raises ``UserError`` naming the file and the problem, so
``keycare load`` can refuse a bad delivery before it writes anything. No Django import.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from keycare.errors import UserError
from keycare.yamlio import safe_load

ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("s"),
    "month": pa.string(),
}
BATCH_ROWS = 100_000


@cache
def contract() -> dict:
    text = resources.files("keycare.catalog").joinpath("contract.yaml").read_text("utf-8")
    return safe_load(text)


@cache
def catalog_column_types() -> dict[str, pa.DataType]:
    """Arrow types of the catalog's raw ``subscribers`` columns (for typing CSV files)."""
    try:
        text = resources.files("keycare.catalog").joinpath("fields.yaml").read_text("utf-8")
        fields = safe_load(text).get("fields", [])
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    return {
        f.get("column", f["code"]): ARROW_TYPES[f["type"]]
        for f in fields
        if f.get("kind") == "raw" and f.get("source") == "subscribers" and f["type"] in ARROW_TYPES
    }


def file_spec(name: str) -> dict:
    return contract()["files"][name]


def required_columns(name: str) -> list[str]:
    spec = file_spec(name)
    keys = set(spec.get("key", []))
    return [col for col, f in spec["fields"].items() if f.get("required") or col in keys]


@dataclass
class Delivery:
    """An opened delivery directory: where each file is, its checksum, the business date."""

    root: Path
    paths: dict[str, Path] = field(default_factory=dict)
    business_date: date | None = None
    encodings: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, directory: str | Path, names: list[str]) -> Delivery:
        root = Path(directory)
        if not root.is_dir():
            raise UserError(f"{root}: no such delivery directory")
        delivery = cls(root=root)
        delivery._read_manifest()
        for name in names:
            delivery.paths[name] = delivery._find(name)
            delivery._check_columns(name)
        return delivery

    def _read_manifest(self) -> None:
        path = self.root / "manifest.json"
        if not path.exists():
            return
        try:
            manifest = json.loads(path.read_text("utf-8"))
            if manifest.get("business_date"):
                self.business_date = date.fromisoformat(str(manifest["business_date"]))
            self.encodings = dict(manifest.get("encodings") or {})
        except (ValueError, AttributeError, TypeError) as exc:
            raise UserError(f"{path}: malformed manifest ({exc})") from exc

    def _find(self, name: str) -> Path:
        for suffix in (".parquet", ".csv"):
            if (path := self.root / f"{name}{suffix}").is_file():
                return path
        raise UserError(f"{self.root / name}.parquet: missing file (neither .parquet nor .csv)")

    def schema(self, name: str) -> pa.Schema:
        path = self.paths[name]
        try:
            if path.suffix == ".parquet":
                return pq.read_schema(path)
            with self._csv_reader(name) as reader:
                return reader.schema
        except (pa.ArrowException, OSError, UnicodeError) as exc:
            raise UserError(f"{path}: cannot be read ({_short(exc)})") from exc

    def _check_columns(self, name: str) -> None:
        present = set(self.schema(name).names)
        missing = [col for col in required_columns(name) if col not in present]
        if missing:
            raise UserError(f"{self.paths[name]}: missing column(s) {', '.join(missing)}")

    def checksums(self) -> dict[str, str]:
        return {path.name: _sha256(path) for path in self.paths.values()}

    def batches(self, name: str) -> Iterator[pa.RecordBatch]:
        """The file's rows in batches, contract columns cast and checked."""
        path = self.paths[name]
        try:
            for batch in self._raw_batches(name):
                yield check_batch(name, path, batch)
        except (pa.ArrowException, OSError, UnicodeError) as exc:
            raise UserError(f"{path}: cannot be read ({_short(exc)})") from exc

    def table(self, name: str) -> pa.Table:
        """The whole (small) file, checked, with its key verified unique."""
        batches = list(self.batches(name))
        table = pa.Table.from_batches(batches) if batches else self._empty_table(name)
        check_unique(self.paths[name], table, file_spec(name).get("key", []))
        return table

    def _empty_table(self, name: str) -> pa.Table:
        schema = self.schema(name)
        return schema.empty_table()

    def _raw_batches(self, name: str) -> Iterator[pa.RecordBatch]:
        path = self.paths[name]
        if path.suffix == ".parquet":
            yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)
            return
        with self._csv_reader(name) as reader:
            yield from reader

    def _csv_reader(self, name: str) -> pacsv.CSVStreamingReader:
        path = self.paths[name]
        types = {col: ARROW_TYPES[f["type"]] for col, f in file_spec(name)["fields"].items()}
        if file_spec(name).get("extends_from_catalog"):
            types = {**catalog_column_types(), **types}
        return pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                encoding=self.encodings.get(path.name, self.encodings.get(name, "utf-8")),
                block_size=16 << 20,
            ),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )


def check_batch(name: str, path: Path, batch: pa.RecordBatch) -> pa.RecordBatch:
    """Cast the contract's columns to their types and check nulls, enums, ranges, patterns."""
    spec = file_spec(name)
    keys = set(spec.get("key", []))
    columns = dict(zip(batch.schema.names, batch.columns, strict=True))
    for col, fspec in spec["fields"].items():
        if col not in columns:
            continue
        values = _cast(path, col, columns[col], ARROW_TYPES[fspec["type"]])
        if fspec.get("required") or col in keys:
            _check_not_null(path, col, values)
        if "enum" in fspec:
            _check_enum(path, col, values, fspec["enum"])
        if "range" in fspec and fspec["type"] in ("int", "float"):
            _check_range(path, col, values, *fspec["range"])
        if "pattern" in fspec:
            _check_pattern(path, col, values, fspec["pattern"])
        columns[col] = values
    return pa.RecordBatch.from_arrays(list(columns.values()), names=list(columns))


def check_unique(path: Path, table: pa.Table, key: list[str]) -> None:
    if not key or table.num_rows == 0:
        return
    counts = table.group_by(key).aggregate([([], "count_all")])
    dups = counts.filter(pc.greater(counts["count_all"], 1))
    if dups.num_rows:
        example = ", ".join(str(dups[k][0].as_py()) for k in key)
        raise UserError(
            f"{path}: {dups.num_rows} duplicate key(s) ({', '.join(key)}), e.g. {example}"
        )


def _cast(path: Path, col: str, values: pa.Array, target: pa.DataType) -> pa.Array:
    if values.type == target:
        return values
    try:
        if pa.types.is_string(values.type) and target == pa.date32():
            return pc.cast(pc.strptime(values, "%Y-%m-%d", "s"), target)
        return pc.cast(values, target)
    except pa.ArrowException as exc:
        raise UserError(f"{path}: column {col} is not of type {target} ({_short(exc)})") from exc


def _check_not_null(path: Path, col: str, values: pa.Array) -> None:
    if nulls := values.null_count:
        raise UserError(f"{path}: column {col} is required but has {nulls} empty value(s)")


def _check_enum(path: Path, col: str, values: pa.Array, allowed: list) -> None:
    bad = pc.filter(values, pc.invert(pc.is_in(values, value_set=pa.array(allowed))))
    bad = bad.drop_null()
    if len(bad):
        raise UserError(
            f"{path}: column {col} has {len(bad)} value(s) outside {allowed}, e.g. {bad[0].as_py()!r}"
        )


def _check_range(path: Path, col: str, values: pa.Array, low, high) -> None:
    bad = pc.filter(values, pc.or_(pc.less(values, low), pc.greater(values, high))).drop_null()
    if len(bad):
        raise UserError(
            f"{path}: column {col} has {len(bad)} value(s) outside [{low}, {high}], e.g. {bad[0].as_py()}"
        )


def _check_pattern(path: Path, col: str, values: pa.Array, pattern: str) -> None:
    bad = pc.filter(values, pc.invert(pc.match_substring_regex(values, pattern))).drop_null()
    if len(bad):
        raise UserError(f"{path}: column {col} has {len(bad)} value(s) not matching {pattern}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
