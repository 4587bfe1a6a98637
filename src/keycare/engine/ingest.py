"""Ingest a delivery directory with quarantine.

Every contract file (``<name>.parquet`` or ``<name>.csv``) is validated against the data
contract. Rows that break a rule go to the quarantine with file, row number, raw text, rule
and a readable reason; the remaining rows are registered on the backend under the contract
file name, with contract types. Nothing is silently dropped: for every file
``rows_in == accepted + quarantined`` (checked here, not just hoped for).

Rules, in the order a row is judged (``rule`` is the first that fails; ``reason`` lists all):

  encoding       a CSV line that does not decode in the declared encoding
  column_count   a CSV line with too few or too many fields
  malformed      a CSV line the reader cannot parse (e.g. an unterminated quote)
  truncated      the last line of a CSV file that has no final newline, whatever it holds
                 (the delivery was most likely cut off, and a cut-off value may still parse:
                 ``...,t`` is a valid boolean); any other rule it breaks is in the reason
  required       a required (or key) column is empty
  type           a value that does not parse as the column's type
  enum / range / pattern   the contract's value bounds
  duplicate_key  a key seen before: among the rows that pass every other rule, the first
                 occurrence (lowest row number) is accepted and every later one is quarantined

Row numbers are 1-based data rows (the header is not a row). For CSV they are physical
line number - 1, equal to the data row unless a quoted field spans lines.

How: CSV files are parsed once, all-varchar, by DuckDB into a staging Parquet with a row
number (structurally broken lines come from DuckDB's reject table). Then one SQL pass per
file computes the typed columns and a ``_rule`` per row (TRY_CAST plus rule predicates), a
second finds duplicate keys by their hashes (sorted in numpy on DuckDB). The accepted relation is a view over the
source that excludes the (few) quarantined row numbers, so a clean 10M-row Parquet file is
never copied. All rule SQL is DuckDB-dialect text that the backend renders for its engine.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keycare.engine.backends.base import Backend
from keycare.engine.publish import sha256_file
from keycare.errors import UserError

DEFAULT_QUARANTINE_LIMIT = 0.05

SQL_TYPES = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "month": "VARCHAR",
}
MONTH_PATTERN = "^[0-9]{4}-(0[1-9]|1[0-2])$"
QUARANTINE_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("row_number", pa.int64()),
        ("raw", pa.string()),
        ("rule", pa.string()),
        ("reason", pa.string()),
    ]
)
# DuckDB reject error types -> our rule names.
_REJECT_RULES = {
    "MISSING COLUMNS": "column_count",
    "TOO MANY COLUMNS": "column_count",
    "INVALID ENCODING": "encoding",
    "INVALID UNICODE": "encoding",
}


# --------------------------------------------------------------------------- contract view


@dataclass(frozen=True)
class ColumnRule:
    name: str
    type: str
    required: bool = False
    enum: tuple | None = None
    range: tuple | None = None
    pattern: str | None = None

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class FileRule:
    name: str
    key: tuple[str, ...]
    columns: tuple[ColumnRule, ...]
    required_file: bool = True

    def column(self, name: str) -> ColumnRule | None:
        return next((c for c in self.columns if c.name == name), None)


def load_contract_rules(contract=None) -> list[FileRule]:
    """The contract's table files as validation rules (the JSON manifest excluded).

    ``contract`` is a keycare.catalog.contract.Contract (default: load_contract(), which
    already carries the catalog's extended raw columns of ``subscribers``).
    """
    if contract is None:
        contract = _default_contract()
    rules = []
    for name in contract.table_files:
        spec = contract.files[name]
        key = tuple(spec.key)
        columns = tuple(_column_rule(col, key) for col in spec.columns.values())
        rules.append(FileRule(name, key, columns, required_file=not spec.optional))
    return rules


def _default_contract():
    from keycare.catalog.delivery import load_contract

    return load_contract()


def _column_rule(spec, key: tuple[str, ...]) -> ColumnRule:
    return ColumnRule(
        name=spec.name,
        type=spec.type,
        required=spec.required or spec.name in key,
        enum=tuple(spec.enum) if spec.enum else None,
        range=tuple(spec.range) if spec.range else None,
        pattern=spec.pattern,
    )


# --------------------------------------------------------------------------- results


@dataclass
class FileResult:
    name: str
    path: str
    format: str
    sha256: str
    rows_in: int
    accepted: int
    quarantined: int
    rules: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.quarantined / self.rows_in if self.rows_in else 0.0

    def as_dict(self) -> dict:
        return {
            "file": self.name,
            "path": self.path,
            "format": self.format,
            "sha256": self.sha256,
            "rows_in": self.rows_in,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "quarantined_by_rule": dict(sorted(self.rules.items())),
        }


@dataclass
class IngestResult:
    files: dict[str, FileResult]
    business_date: date | None
    quarantine: pa.Table

    @property
    def rows_in(self) -> int:
        return sum(f.rows_in for f in self.files.values())

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files.values())

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files.values())


# --------------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class DeliveryFile:
    name: str
    path: Path
    format: str  # parquet | csv
    encoding: str = "utf-8"


def read_manifest(data_dir: Path) -> dict:
    path = Path(data_dir) / "manifest.json"
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: manifest.json 不是有效的 JSON (invalid JSON): {exc}") from exc
    if not isinstance(manifest, dict):
        raise UserError(f"{path}: manifest.json 应为 JSON 对象 (must be a JSON object)")
    return manifest


def manifest_business_date(manifest: dict) -> date | None:
    value = manifest.get("business_date")
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise UserError(
            f"manifest.json: business_date {value!r} 不是 YYYY-MM-DD 日期 (not a date)"
        ) from exc


def locate_files(data_dir: Path, rules: list[FileRule], manifest: dict) -> dict[str, DeliveryFile]:
    """Find each contract file in ``data_dir``; a missing required file is a user error."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise UserError(f"数据目录不存在 (data directory not found): {data_dir}")
    encodings = manifest.get("encodings") or {}
    if not isinstance(encodings, dict):
        raise UserError(
            "manifest.json: encodings 应为 文件名 -> 编码 的对象 (must map file -> encoding)"
        )
    found = {}
    for rule in rules:
        parquet, csv = data_dir / f"{rule.name}.parquet", data_dir / f"{rule.name}.csv"
        if parquet.exists() and csv.exists():
            raise UserError(
                f"{rule.name}: 同时存在 {parquet.name} 和 {csv.name}，无法确定使用哪个 "
                "(both Parquet and CSV delivered)"
            )
        if parquet.exists():
            found[rule.name] = DeliveryFile(rule.name, parquet, "parquet")
        elif csv.exists():
            encoding = encodings.get(csv.name) or encodings.get(rule.name) or "utf-8"
            try:
                encoding = codecs.lookup(encoding).name
            except LookupError as exc:
                raise UserError(
                    f"manifest.json: {csv.name} 的编码 {encoding!r} 未知 (unknown encoding)"
                ) from exc
            found[rule.name] = DeliveryFile(rule.name, csv, "csv", encoding)
        elif rule.required_file:
            raise UserError(
                f"缺少必需文件 (missing required file): {rule.name}.parquet 或 {rule.name}.csv "
                f"in {data_dir}"
            )
    return found


# --------------------------------------------------------------------------- ingest


def ingest(
    backend: Backend,
    data_dir: Path,
    contract=None,
    staging_dir: Path | None = None,
    quarantine_limit: float = DEFAULT_QUARANTINE_LIMIT,
    business_date: date | None = None,
    progress: Callable[[str], None] | None = None,
    files: Collection[str] | None = None,
    keep_extra_columns: bool = False,
) -> IngestResult:
    """Validate every contract file in ``data_dir`` and register the accepted rows.

    After it returns, the backend holds one relation per contract file (accepted rows,
    contract types) and ``quarantine`` (file, row_number, raw, rule, reason). A file whose
    quarantine rate exceeds ``quarantine_limit`` raises UserError naming the file and rate.

    ``files``: only these contract files (``keycare load`` reads the archive's six; the
    others are neither required nor registered). ``keep_extra_columns``: the accepted
    relations also carry the delivered columns the contract does not name, as delivered
    (the customer archive keeps them as attributes).
    """
    if not 0 <= quarantine_limit <= 1:
        raise UserError(f"quarantine limit must be between 0 and 1, got {quarantine_limit}")
    data_dir = Path(data_dir)
    staging_dir = Path(staging_dir) if staging_dir else data_dir / ".keycare-ingest"
    rules = load_contract_rules(contract)
    if files is not None:
        unknown = set(files) - {r.name for r in rules}
        if unknown:
            raise ValueError(f"not contract files: {sorted(unknown)}")
        rules = [r for r in rules if r.name in files]
    manifest = read_manifest(data_dir)
    delivered = manifest_business_date(manifest)
    if business_date and delivered and delivered != business_date:
        raise UserError(
            f"manifest.json 的 business_date {delivered} 与运行日期 {business_date} 不一致 "
            "(delivery is for another date)"
        )
    located = locate_files(data_dir, rules, manifest)
    staging_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, FileResult] = {}
    quarantined: list[pa.Table] = []
    key_hashes = _KeyHashes()
    # The checksums are read on a thread of their own (hashlib lets go of the GIL), in the
    # gaps the checks leave on the two cores.
    hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keycare-sha256")
    try:
        checksums = {
            r.name: hashing.submit(sha256_file, located[r.name].path)
            for r in rules
            if r.name in located
        }
        for rule in rules:
            if progress:
                progress(rule.name)
            if rule.name not in located:
                _register_empty(backend, rule)
                continue
            result, table = _ingest_file(
                backend,
                rule,
                located[rule.name],
                staging_dir,
                key_hashes,
                checksums[rule.name],
                keep_extra_columns,
            )
            results[rule.name] = result
            quarantined.append(table)
            _check_rate(result, quarantine_limit)
    finally:
        hashing.shutdown(cancel_futures=True)  # a refused delivery need not be hashed to the end
        key_hashes.close()
    quarantine = pa.concat_tables([QUARANTINE_SCHEMA.empty_table(), *quarantined])
    backend.register_arrow("quarantine", quarantine)
    return IngestResult(files=results, business_date=delivered, quarantine=quarantine)


def _check_rate(result: FileResult, limit: float) -> None:
    if result.rows_in and result.rate > limit:
        top = ", ".join(
            f"{rule} {n}" for rule, n in sorted(result.rules.items(), key=lambda kv: -kv[1])[:3]
        )
        raise UserError(
            f"文件 {Path(result.path).name} 隔离率 {result.rate:.2%} 超过上限 {limit:.2%}"
            f"（隔离 {result.quarantined} / {result.rows_in} 行: {top}）"
            f" (quarantine rate of {result.name} above the limit; nothing was published or loaded)"
        )


def _ingest_file(
    backend: Backend,
    rule: FileRule,
    src: DeliveryFile,
    staging_dir: Path,
    key_hashes: _KeyHashes,
    checksum: Future[str],
    keep_extra_columns: bool = False,
) -> tuple[FileResult, pa.Table]:
    source, rejects, rows_read = _register_source(backend, rule, src, staging_dir)
    source_types = _relation_types(backend, source)
    missing = [c.name for c in rule.columns if c.required and c.name not in source_types]
    if missing:
        raise UserError(
            f"文件 {src.path.name} 缺少必填列 (missing required columns): {', '.join(missing)}"
        )
    typed = f"_typed_{rule.name}"
    backend.create_view(typed, _typed_sql(rule, source, source_types))
    checks = _checks(rule)
    raw = _raw_expr(source_types, src.format)
    bad, dup = f"_bad_{rule.name}", f"_dup_{rule.name}"
    repeated_hashes = _start_duplicate_search(
        backend, rule, source, source_types, rows_read, key_hashes
    )
    # A CSV file without a final newline was most likely cut off: its last line is
    # quarantined whatever it holds (``...,t`` may be a valid cut-off ``true``). One seek.
    truncated = None
    if src.format == "csv" and not _ends_with_newline(src.path):
        last = max(backend.scalar(f'SELECT max(_row) FROM "{source}"') or 0, _max_row(rejects))
        truncated = last or None
    # Pass 1 keeps only the row numbers (a small plan); the explained rows are fetched in
    # pass 2, whose plan (a flag list and the raw text over every column) costs more to
    # build than a clean file costs to scan, and only when there is something to explain.
    backend.materialize(bad, _bad_row_numbers_sql(typed, checks, truncated))
    _find_duplicates(backend, rule, source, source_types, bad, dup, repeated_hashes)
    bad_rows = _EMPTY_BAD
    if backend.scalar(f"SELECT count(*) FROM {bad}"):
        bad_rows = backend.to_arrow(_bad_rows_sql(typed, checks, raw, bad))
    dup_rows = backend.to_arrow(f"SELECT * FROM {dup} ORDER BY _row")
    if dup_rows.num_rows:  # rare: fetch the raw text of the repeats only
        dup_rows = backend.to_arrow(
            f'SELECT d.*, {raw} AS _raw FROM {dup} d JOIN "{typed}" t USING (_row) ORDER BY _row'
        )
    table = pa.concat_tables(
        [
            _row_rule_quarantine(bad_rows, checks, src.path.name),
            _duplicate_quarantine(dup_rows, rule, src.path.name),
            rejects,
        ]
    )
    if truncated is not None:
        table = _mark_truncated(table, truncated)
    excluded = bad_rows.num_rows + dup_rows.num_rows
    extra = [c for c in source_types if c != "_row" and rule.column(c) is None]
    extra = extra if keep_extra_columns else []
    backend.create_view(rule.name, _accepted_sql(rule, typed, bad, dup, excluded > 0, extra))
    accepted = backend.scalar(f'SELECT count(*) FROM "{rule.name}"')
    rows_in = rows_read + rejects.num_rows
    # The bookkeeping guarantee of the issue: nothing lost, nothing counted twice.
    if rows_in != accepted + table.num_rows:
        raise AssertionError(
            f"{rule.name}: rows_in {rows_in} != accepted {accepted} + quarantined {table.num_rows}"
        )
    result = FileResult(
        name=rule.name,
        path=str(src.path),
        format=src.format,
        sha256=checksum.result(),
        rows_in=rows_in,
        accepted=accepted,
        quarantined=table.num_rows,
        rules=dict(Counter(table.column("rule").to_pylist())),
    )
    return result, table


def _max_row(table: pa.Table) -> int:
    return max(table.column("row_number").to_pylist(), default=0)


TRUNCATED_REASON = "文件末行没有换行符，疑似截断 (truncated: the last line has no final newline)"


def _mark_truncated(table: pa.Table, last: int) -> pa.Table:
    """The last line of a file without a final newline: rule ``truncated``, whatever else
    it breaks (listed after the truncation in the reason)."""
    is_last = pc.equal(table.column("row_number"), last)
    reason = table.column("reason")
    explained = pc.if_else(
        pc.equal(pc.utf8_length(reason), 0),
        pa.scalar(TRUNCATED_REASON),
        pc.binary_join_element_wise(TRUNCATED_REASON, reason, "; "),
    )
    table = table.set_column(3, "rule", pc.if_else(is_last, "truncated", table.column("rule")))
    return table.set_column(4, "reason", pc.if_else(is_last, explained, reason))


def _register_empty(backend: Backend, rule: FileRule) -> None:
    """An optional file that was not delivered: an empty relation with contract types."""
    cols = ", ".join(f'CAST(NULL AS {c.sql_type}) AS "{c.name}"' for c in rule.columns)
    backend.create_view(rule.name, f"SELECT {cols} WHERE false")


# --------------------------------------------------------------------------- reading


def _register_source(
    backend: Backend, rule: FileRule, src: DeliveryFile, staging_dir: Path
) -> tuple[str, pa.Table, int]:
    """Register the raw rows as ``_src_<name>`` with a 1-based ``_row``.

    Returns (relation, quarantine rows for lines the reader could not parse, rows read).
    """
    relation = f"_src_{rule.name}"
    rejects = QUARANTINE_SCHEMA.empty_table()
    if src.format == "csv":
        normalised, rejects = _normalise_csv(src, staging_dir)
        backend.register_file(relation, normalised)
        return relation, rejects, backend.scalar(f'SELECT count(*) FROM "{relation}"')
    try:
        if _is_duckdb(backend):
            backend.con.execute(
                f'CREATE OR REPLACE VIEW "{relation}" AS SELECT * EXCLUDE (file_row_number), '
                f"file_row_number + 1 AS _row FROM read_parquet({_quote(src.path)}, "
                "file_row_number = true)"
            )
        else:
            normalised = staging_dir / f"_src_{rule.name}.parquet"
            _local_sql(
                f"COPY (SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _row "
                f"FROM read_parquet({_quote(src.path)}, file_row_number = true)) "
                f"TO {_quote(normalised)} (FORMAT parquet)"
            )
            backend.register_file(relation, normalised)
        return relation, rejects, backend.scalar(f'SELECT count(*) FROM "{relation}"')
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"文件 {src.path.name} 无法作为 Parquet 读取 (unreadable Parquet): {reason}"
        ) from exc


def _normalise_csv(src: DeliveryFile, staging_dir: Path) -> tuple[Path, pa.Table]:
    """Parse a CSV file once into an all-varchar Parquet with ``_row``; return broken lines.

    A local DuckDB connection parses it in file order, so row numbers are exact whatever
    the backend; lines the reader rejects (column count, encoding, quoting) come from its
    reject table, and the accepted rows after them are renumbered to their real line.
    """
    path = src.path
    if src.encoding not in ("utf-8", "utf_8"):
        path = _transcode_to_utf8(src.path, src.encoding, staging_dir / f"{src.name}.utf8.csv")
    header = _csv_header(path, src.path.name)
    parsed = staging_dir / f"_parsed_{src.name}.parquet"
    out = staging_dir / f"_src_{src.name}.parquet"
    columns = "{" + ", ".join(f"{_quote(h)}: 'VARCHAR'" for h in header) + "}"
    names = ", ".join(f'"{h}"' for h in header)
    con = _local_connection()
    try:
        con.execute(
            f"COPY (SELECT {names}, row_number() OVER () AS _row FROM read_csv("
            f"{_quote(path)}, header = true, auto_detect = false, all_varchar = true, "
            f"columns = {columns}, delim = ',', quote = '\"', escape = '\"', "
            "store_rejects = true, rejects_table = 'rejects', rejects_scan = 'reject_scans')) "
            f"TO {_quote(parsed)} (FORMAT parquet)"
        )
        rejects = con.sql(
            "SELECT line - 1 AS row_number, any_value(csv_line) AS raw, "
            "list(error_type ORDER BY column_idx) AS types, "
            "list(error_message ORDER BY column_idx) AS messages "
            "FROM rejects GROUP BY line ORDER BY line"
        ).to_arrow_table()
        if rejects.num_rows == 0:
            parsed.rename(out)
        else:
            # The k-th accepted row sits after every rejected line numbered <= k + skipped.
            con.execute(
                "CREATE TABLE gaps AS SELECT line - 1 - row_number() OVER (ORDER BY line) AS gap, "
                "row_number() OVER (ORDER BY line) AS n_before "
                "FROM (SELECT DISTINCT line FROM rejects)"
            )
            con.execute(
                f"COPY (SELECT {names}, p._row + coalesce(g.n_before, 0) AS _row "
                f"FROM read_parquet({_quote(parsed)}) p ASOF LEFT JOIN gaps g ON p._row > g.gap) "
                f"TO {_quote(out)} (FORMAT parquet)"
            )
            parsed.unlink()
    except duckdb.Error as exc:
        raise UserError(f"文件 {src.path.name} 无法作为 CSV 读取 (unreadable CSV): {exc}") from exc
    finally:
        con.close()
    return out, _reject_rows(src, rejects)


def _local_connection():
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    return con


def _reject_rows(src: DeliveryFile, rejects: pa.Table) -> pa.Table:
    rows = []
    for rec in rejects.to_pylist():
        types = rec["types"]
        rule = next((_REJECT_RULES[t] for t in types if t in _REJECT_RULES), "malformed")
        reason = _reject_reason(rule, rec["messages"][0] if rec["messages"] else "", src)
        rows.append(
            {
                "file": src.path.name,
                "row_number": rec["row_number"],
                "raw": rec["raw"],
                "rule": rule,
                "reason": reason,
            }
        )
    table = pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)
    return _raw_bytes_for_encoding_errors(src, table)


def _raw_bytes_for_encoding_errors(src: DeliveryFile, table: pa.Table) -> pa.Table:
    """The reader shows undecodable bytes as '?'; show the real bytes (\\xd5...) instead."""
    wanted = {
        r["row_number"] + 1: i for i, r in enumerate(table.to_pylist()) if r["rule"] == "encoding"
    }
    if not wanted:
        return table
    raws = table.column("raw").to_pylist()
    last = max(wanted)
    with open(src.path, "rb") as fh:
        for line_no, line in enumerate(fh, start=1):
            if line_no in wanted:
                text = line.rstrip(b"\r\n").decode(src.encoding, errors="backslashreplace")
                raws[wanted[line_no]] = text
            if line_no >= last:
                break
    return table.set_column(2, "raw", pa.array(raws, pa.string()))


def _reject_reason(rule: str, message: str, src: DeliveryFile) -> str:
    if rule == "column_count":
        match = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
        if match:
            return f"列数不符: 应为 {match[1]} 列, 实际 {match[2]} 列 (column_count)"
        return f"列数不符 (column_count): {message}"
    if rule == "encoding":
        return (
            f"文本无法按声明的编码 {src.encoding} 解码 (encoding); "
            "编码不同时请在 manifest.json 的 encodings 中声明"
        )
    return f"无法解析的行 (malformed): {message}"


def _transcode_to_utf8(path: Path, encoding: str, out: Path) -> Path:
    """Re-encode a CSV to UTF-8 for the reader.

    Lines that do not decode are copied byte for byte, so they stay invalid UTF-8 and the
    reader rejects exactly those lines (rule ``encoding``) instead of failing the file.
    """
    with open(path, "rb") as fin, open(out, "wb") as fout:
        for line in fin:
            try:
                fout.write(line.decode(encoding).encode("utf-8"))
            except UnicodeDecodeError:
                fout.write(b"\xff" + line if _is_valid_utf8(line) else line)
    return out


def _is_valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _csv_header(path: Path, display: str) -> list[str]:
    with open(path, "rb") as fh:
        first = fh.readline()
    try:
        text = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise UserError(f"文件 {display} 的表头无法解码 (undecodable header)") from exc
    if not text:
        raise UserError(f"文件 {display} 为空或缺少表头 (empty file or missing header row)")
    header = [h.strip().strip('"') for h in text.split(",")]
    if len(set(header)) != len(header):
        raise UserError(f"文件 {display} 的表头有重复列 (duplicate columns in header)")
    return header


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return True
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


# --------------------------------------------------------------------------- rule SQL


@dataclass(frozen=True)
class Check:
    """One rule on one column: a SQL predicate (true = broken) and how to explain it."""

    rule: str
    column: str
    predicate: str
    message: str  # the failing value is appended, then the rule in parentheses
    shows_value: bool = True

    def reason(self, value) -> str:
        if not self.shows_value:
            return f"{self.message} ({self.rule})"
        return f"{self.message}: {_show(value)} ({self.rule})"


RULE_ORDER = ("required", "type", "enum", "range", "pattern")


def _checks(rule: FileRule) -> list[Check]:
    checks = [c for col in rule.columns for c in _column_checks(col)]
    return sorted(checks, key=lambda c: RULE_ORDER.index(c.rule))  # stable: column order


def _column_checks(col: ColumnRule) -> list[Check]:
    t, s, name = f'"{col.name}"', f'"__s_{col.name}"', col.name
    checks = []
    if col.required:
        checks.append(Check("required", name, f"{s} IS NULL", f"必填字段 {name} 为空", False))
    if col.type != "string":
        checks.append(
            Check(
                "type",
                name,
                f"({s} IS NOT NULL AND {t} IS NULL)",
                f"字段 {name} 无法解析为 {col.type}",
            )
        )
    if col.type == "month":
        pattern = f"regexp_full_match({t}, {_lit(MONTH_PATTERN)})"
        checks.append(Check("type", name, f"NOT {pattern}", f"字段 {name} 不是 YYYY-MM 月份"))
    if col.enum:
        values = ", ".join(_lit(v) for v in col.enum)
        allowed = ", ".join(map(str, col.enum))
        checks.append(
            Check("enum", name, f"{t} NOT IN ({values})", f"字段 {name} 取值不在 [{allowed}] 中")
        )
    if col.range:
        lo, hi = col.range
        checks.append(
            Check(
                "range",
                name,
                f"NOT ({t} BETWEEN {lo!r} AND {hi!r})",
                f"字段 {name} 超出范围 [{_show(lo)}, {_show(hi)}]",
            )
        )
    if col.pattern:
        checks.append(
            Check(
                "pattern",
                name,
                f"NOT regexp_full_match({t}, {_lit(col.pattern)})",
                f"字段 {name} 不符合格式 {col.pattern}",
            )
        )
    return checks


def _show(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _typed_sql(rule: FileRule, source: str, source_types: dict[str, pa.DataType]) -> str:
    """Every source column as ``__s_<col>`` next to the typed contract columns ``<col>``.

    A contract column the file lacks is NULL (its ``required`` rule then fires).
    """
    items = ["_row"]
    items += [f'"{c}" AS "__s_{c}"' for c in source_types if c != "_row"]
    for col in rule.columns:
        if col.name in source_types:
            items.append(f'{_cast(col, source_types[col.name])} AS "{col.name}"')
        else:
            items.append(f'CAST(NULL AS {col.sql_type}) AS "{col.name}"')
            items.append(f'CAST(NULL AS VARCHAR) AS "__s_{col.name}"')
    return f'SELECT {", ".join(items)} FROM "{source}"'


def _cast(col: ColumnRule, source_type: pa.DataType) -> str:
    ident = f'"{col.name}"'
    if _arrow_matches(col.type, source_type):
        return ident
    if col.type == "month" and pa.types.is_date(source_type):
        return f"strftime({ident}, '%Y-%m')"
    if pa.types.is_string(source_type) and col.type != "string":
        return f"TRY_CAST(trim({ident}) AS {col.sql_type})"
    return f"TRY_CAST({ident} AS {col.sql_type})"


def _arrow_matches(ctype: str, atype: pa.DataType) -> bool:
    return {
        "string": pa.types.is_string(atype) or pa.types.is_large_string(atype),
        "month": pa.types.is_string(atype) or pa.types.is_large_string(atype),
        "int": pa.types.is_int64(atype),
        "float": pa.types.is_float64(atype),
        "bool": pa.types.is_boolean(atype),
        "date": pa.types.is_date32(atype),
        "timestamp": pa.types.is_timestamp(atype) and atype.tz is None and atype.unit == "us",
    }[ctype]


_EMPTY_BAD = pa.table({"_row": pa.array([], pa.int64())})


def _bad_row_numbers_sql(typed: str, checks: list[Check], truncated: int | None = None) -> str:
    """Row numbers of the rows breaking any row rule: one OR chain, which DuckDB evaluates
    fast and short-circuits. A predicate over NULL is NULL: "not broken by this rule".

    ``truncated``: the row number of a cut-off last line, quarantined whatever it holds.
    """
    preds = " OR ".join(f"({c.predicate})" for c in checks) or "false"
    if truncated is not None:
        preds = f"_row = {int(truncated)} OR {preds}"
    return f'SELECT _row FROM "{typed}" WHERE {preds}'


def _bad_rows_sql(typed: str, checks: list[Check], raw: str, bad: str) -> str:
    """The broken rows with one flag per check (explained in Python) and their raw text."""
    preds = ", ".join(f"({c.predicate})" for c in checks)
    shown = sorted({c.column for c in checks})
    values = ", ".join(f'CAST("__s_{c}" AS VARCHAR) AS "__s_{c}"' for c in shown)
    return (
        f"SELECT _row, list_value({preds}) AS _flags, {raw} AS _raw, {values} "
        f'FROM "{typed}" WHERE _row IN (SELECT _row FROM {bad}) ORDER BY _row'
    )


def _start_duplicate_search(
    backend: Backend,
    rule: FileRule,
    source: str,
    source_types: dict[str, pa.DataType],
    rows_read: int,
    key_hashes: _KeyHashes,
) -> Future[np.ndarray] | None:
    """On DuckDB, start looking for repeated key hashes among all the rows read.

    All rows, not only those passing the row rules: the search then need not wait for the
    row rules' pass and sorts on one core while DuckDB checks the rows on both. A repeat
    involving a broken row only makes a candidate; ``_find_duplicates`` decides on the rows
    that pass. Elsewhere None: the duplicate search is one SQL query.
    """
    if not _is_duckdb(backend):
        return None
    keys = ", ".join(f'"{k}"' for k in rule.key)
    every_row = _ok_rows_sql(rule, source, source_types, bad=None)
    return key_hashes.search(backend.con, f"SELECT hash({keys}) AS h FROM {every_row}", rows_read)


def _find_duplicates(
    backend: Backend,
    rule: FileRule,
    source: str,
    source_types: dict[str, pa.DataType],
    bad: str,
    dup: str,
    repeated_hashes: Future[np.ndarray] | None,
) -> None:
    """Materialise ``dup``: every repeat of a key among the rows passing the row rules.

    On DuckDB the candidate hashes are found by sorting the key hashes in numpy: a GROUP BY
    over tens of millions of distinct hashes costs DuckDB about 4x the CPU of fetching
    them and sorting (profile in docs/performance.md). The rows are then found by the same
    SQL as on other engines, restricted to the (usually no) candidate hashes.
    """
    excluded = bad if backend.scalar(f"SELECT count(*) > 0 FROM {bad}") else None
    if repeated_hashes is None:
        backend.materialize(dup, _duplicate_rows_sql(rule, source, source_types, excluded))
        return
    repeated = repeated_hashes.result()
    candidates = f"_dupcand_{rule.name}"
    backend.register_arrow(candidates, pa.table({"h": pa.array(repeated, pa.uint64())}))
    sql = _duplicate_rows_sql(rule, source, source_types, excluded, candidates)
    if not len(repeated):  # the usual case: same columns, no rows, no second scan
        sql = f"SELECT * FROM ({sql}) WHERE false"
    backend.materialize(dup, sql)


class _KeyHashes:
    """Finds repeated key hashes, file after file, in one array reused for every file.

    The hashes are streamed from DuckDB in batches into an array that is already there:
    ``fetchnumpy()`` makes DuckDB hold a file's whole result and then copies it into fresh
    memory, whose first touch is slow on these machines (~2 s a GiB measured). The sort
    runs on a thread of its own (numpy lets go of the GIL), beside the caller's next query
    (docs/performance.md, "Daily run, sessions 6-7").
    """

    BATCH_ROWS = 1 << 20

    def __init__(self) -> None:
        self._buffer = np.empty(0, np.uint64)
        self._sorter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keycare-keysort")
        self._pending: Future[np.ndarray] | None = None

    def search(self, con, hashes_sql: str, rows: int) -> Future[np.ndarray]:
        """The values of ``hashes_sql``'s one UBIGINT column that occur more than once.

        Reads the column now; sorts on the thread. ``rows``: at least the number of rows
        ``hashes_sql`` returns.
        """
        if self._pending is not None:
            self._pending.result()  # the buffer is the previous search's until it is done
        if len(self._buffer) < rows:
            self._buffer = np.empty(0, np.uint64)  # let the old one go before the new one
            self._buffer = np.empty(rows, np.uint64)
        filled = 0
        for batch in con.sql(hashes_sql).to_arrow_reader(self.BATCH_ROWS):
            values = batch.column(0).to_numpy()
            if filled + len(values) > rows:
                raise AssertionError(f"more than {rows} key hashes from: {hashes_sql}")
            self._buffer[filled : filled + len(values)] = values
            filled += len(values)
        self._pending = self._sorter.submit(_repeated_values, self._buffer[:filled])
        return self._pending

    def close(self) -> None:
        self._sorter.shutdown(wait=True)


def _repeated_values(values: np.ndarray) -> np.ndarray:
    """The values occurring more than once, sorting ``values`` in place."""
    values.sort()  # numpy's AVX2 sort; see keycare/cpu.py for AMD Zen 4
    later = values[1:]
    return np.unique(later[later == values[:-1]])


def _ok_rows_sql(
    rule: FileRule, source: str, source_types: dict[str, pa.DataType], bad: str | None
) -> str:
    """The key columns (contract-typed) and row numbers of the rows not in ``bad``.

    ``bad``: a relation of the row numbers broken by the row rules, or None for every row.
    """
    key_cols = [rule.column(k) for k in rule.key]
    casts = ", ".join(f'{_cast(c, source_types[c.name])} AS "{c.name}"' for c in key_cols)
    sql = f'SELECT _row, {casts} FROM "{source}"'
    # Row numbers are never NULL: an anti-join, not NOT IN's NULL-aware mark join.
    if bad is not None:
        sql += f" s WHERE NOT EXISTS (SELECT 1 FROM {bad} b WHERE b._row = s._row)"
    return f"({sql})"


def _duplicate_rows_sql(
    rule: FileRule,
    source: str,
    source_types: dict[str, pa.DataType],
    bad: str | None,
    candidates: str | None = None,
) -> str:
    """Every repeat of a key among the rows that pass the row rules (the first is kept).

    Reads only the key columns. Hash first: a GROUP BY on one fixed-width hash over tens of
    millions of rows is far cheaper than on the key strings; only candidates are compared
    on the key itself. ``candidates``: a relation of the repeated hashes, already found.
    """
    keys = ", ".join(f'"{k}"' for k in rule.key)
    key_text = " || ', ' || ".join(f'CAST("{k}" AS VARCHAR)' for k in rule.key)
    ok = _ok_rows_sql(rule, source, source_types, bad)
    if candidates is None:
        cand = f"cand AS (SELECT hash({keys}) AS h FROM ok GROUP BY h HAVING count(*) > 1), "
    else:
        cand = f"cand AS (SELECT h FROM {candidates}), "
    return (
        f"WITH ok AS {ok}, "
        + cand
        + f"rows_ AS (SELECT * FROM ok WHERE hash({keys}) IN (SELECT h FROM cand)), "
        f"ranked AS (SELECT *, min(_row) OVER (PARTITION BY {keys}) AS _first FROM rows_) "
        f"SELECT _row, _first, {key_text} AS _key FROM ranked WHERE _row <> _first"
    )


def _accepted_sql(
    rule: FileRule, typed: str, bad: str, dup: str, has_excluded: bool, extra: list[str] = ()
) -> str:
    """The accepted rows: contract columns typed, then ``extra`` source columns as delivered."""
    cols = ", ".join([f'"{c.name}"' for c in rule.columns] + [f'"__s_{c}" AS "{c}"' for c in extra])
    sql = f'SELECT {cols} FROM "{typed}"'
    if has_excluded:
        # Anti joins, not NOT IN: row numbers are never NULL, and Spark plans a NOT IN
        # subquery as a null-aware join it can only broadcast (slow or failing on big sides).
        sql += (
            f" t WHERE NOT EXISTS (SELECT 1 FROM {bad} b WHERE b._row = t._row)"
            f" AND NOT EXISTS (SELECT 1 FROM {dup} d WHERE d._row = t._row)"
        )
    return sql


def _raw_expr(source_types: dict[str, pa.DataType], fmt: str) -> str:
    """The quarantined row as delivered: the CSV line, or the row as JSON for Parquet."""
    present = [c for c in source_types if c != "_row"]
    if not present:
        return "''"
    if fmt == "csv":
        fields = [
            f"""COALESCE(CASE WHEN regexp_matches("__s_{c}", '[,"\\r\\n]') """
            f"""THEN '"' || replace("__s_{c}", '"', '""') || '"' ELSE "__s_{c}" END, '')"""
            for c in present
        ]
        return f"concat_ws(',', {', '.join(fields)})"
    pairs = ", ".join(f'{_lit(c)}, "__s_{c}"' for c in present)
    return f"CAST(json_object({pairs}) AS VARCHAR)"


# --------------------------------------------------------------------------- quarantine rows


def _row_rule_quarantine(bad: pa.Table, checks: list[Check], file_name: str) -> pa.Table:
    """Rule and reason for each row-rule failure: first broken check, then every one."""
    k, n = bad.num_rows, len(checks)
    if k == 0:
        return QUARANTINE_SCHEMA.empty_table()
    flags = bad.column("_flags").combine_chunks().flatten().fill_null(False)
    matrix = np.asarray(flags.to_numpy(zero_copy_only=False), dtype=bool).reshape(k, n)
    messages: list[list[str]] = [[] for _ in range(k)]
    for i, check in enumerate(checks):
        rows = np.flatnonzero(matrix[:, i])
        if not len(rows):
            continue
        values = bad.column(f"__s_{check.column}").take(pa.array(rows)).to_pylist()
        for row, value in zip(rows.tolist(), values, strict=True):
            messages[row].append(check.reason(value))
    first = matrix.argmax(axis=1)
    # A row breaking no rule is here only as a cut-off last line (``_mark_truncated``).
    rules = [
        checks[i].rule if broken else "truncated"
        for i, broken in zip(first.tolist(), matrix.any(axis=1).tolist(), strict=True)
    ]
    return pa.table(
        {
            "file": pa.array([file_name] * k, pa.string()),
            "row_number": bad.column("_row").cast(pa.int64()),
            "raw": bad.column("_raw").cast(pa.string()),
            "rule": pa.array(rules, pa.string()),
            "reason": pa.array(["; ".join(m) for m in messages], pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _duplicate_quarantine(dup: pa.Table, rule: FileRule, file_name: str) -> pa.Table:
    if dup.num_rows == 0:
        return QUARANTINE_SCHEMA.empty_table()
    keys = ", ".join(rule.key)
    reasons = [
        f"主键 ({keys})=({key}) 重复，首次出现在第 {first} 行 (duplicate_key)"
        for key, first in zip(
            dup.column("_key").to_pylist(), dup.column("_first").to_pylist(), strict=True
        )
    ]
    return pa.table(
        {
            "file": pa.array([file_name] * dup.num_rows, pa.string()),
            "row_number": dup.column("_row").cast(pa.int64()),
            "raw": dup.column("_raw").cast(pa.string()),
            "rule": pa.array(["duplicate_key"] * dup.num_rows, pa.string()),
            "reason": pa.array(reasons, pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )


# --------------------------------------------------------------------------- helpers


def _relation_types(backend: Backend, relation: str) -> dict[str, pa.DataType]:
    schema = backend.to_arrow(f'SELECT * FROM "{relation}" LIMIT 0').schema
    return {f.name: f.type for f in schema}


def _is_duckdb(backend: Backend) -> bool:
    return backend.name == "duckdb" and hasattr(backend, "con")


def _local_sql(sql: str) -> None:
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(sql)
    finally:
        con.close()


def _quote(path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _lit(text) -> str:
    return "'" + str(text).replace("'", "''") + "'"
