"""Atomic, idempotent publication of a daily run.

Layout of a runs directory::

    runs_dir/
      2026-11-22 -> 2026-11-22.20261122-1a2b3c4d.k3j9q2   # symlink: the published run
      2026-11-22.20261122-1a2b3c4d.k3j9q2/                # one complete, fsynced version
        detections.parquet  suppressions.parquet  moment_counts.parquet
        quarantine.parquet  run.json
      .staging-<nonce>/        # a run in progress (held by an flock on .staging-<nonce>.lock)
      .publish.lock            # serialises the swap and the clean-up of old versions

A run writes everything into its staging directory, fsyncs every file and the directory,
renames the finished output directory to a fresh version name (atomic within one file
system), points a temporary symlink at it and ``os.replace``s that symlink over
``runs_dir/<date>`` (atomic: readers see the old run or the new one, never a mix), then
deletes the versions nothing points to. Killed at any point (``kill -9``), a run leaves at
most a staging directory, an unreferenced version or a temporary symlink; none of them is
visible through ``runs_dir/<date>``, and the next run removes them (a staging directory only
once the flock of the process that owned it is gone, so concurrent runs are safe).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from keycare.errors import UserError

RUN_RECORD = "run.json"
STAGING_PREFIX = ".staging-"
LINK_PREFIX = ".link-"
PUBLISH_LOCK = ".publish.lock"
_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2})\.[A-Za-z0-9._-]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --------------------------------------------------------------------------- durability


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# One contiguous chunk a row group and no timestamps in the metadata, so the same rows give
# the same file and the same sha256 on every re-run.
PARQUET_OPTIONS = {"compression": "zstd", "write_statistics": True, "store_schema": False}
ROW_GROUP_ROWS = 1 << 20


def write_table(table: pa.Table, path: Path) -> None:
    """Write a Parquet file whose bytes depend only on the table's content."""
    table = table.replace_schema_metadata(None).combine_chunks()
    pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS, **PARQUET_OPTIONS)


def write_batches(
    reader: pa.RecordBatchReader, path: Path, row_group_rows: int, transform=None
) -> int:
    """``write_table`` for a result too large to hold: the batches regrouped into row groups
    of exactly ``row_group_rows`` (the last one shorter), so the file's bytes depend only on
    the content, whatever batches the engine produced. ``transform`` maps each row group.
    Returns the row count."""
    schema = reader.schema.remove_metadata()
    rows, pending = 0, []
    with pq.ParquetWriter(path, schema, **PARQUET_OPTIONS) as writer:

        def write(table: pa.Table) -> None:
            table = table.replace_schema_metadata(None).combine_chunks()
            writer.write_table(transform(table) if transform else table, row_group_rows)

        for batch in reader:
            pending.append(batch)
            held = pa.Table.from_batches(pending, schema=reader.schema)
            while held.num_rows >= row_group_rows:
                write(held.slice(0, row_group_rows))
                rows += row_group_rows
                held = held.slice(row_group_rows)
            pending = held.to_batches()
        if pending:
            tail = pa.Table.from_batches(pending, schema=reader.schema)
            write(tail)
            rows += tail.num_rows
    return rows


def write_json(data: dict, path: Path) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n", "utf-8")


def content_hash(directory: Path) -> tuple[str, dict[str, str]]:
    """sha256 over the data files (everything except run.json) and each file's sha256."""
    files = {
        p.name: sha256_file(p)
        for p in sorted(Path(directory).iterdir())
        if p.is_file() and p.name != RUN_RECORD
    }
    joined = "".join(f"{name}\t{digest}\n" for name, digest in files.items())
    return hashlib.sha256(joined.encode()).hexdigest(), files


# --------------------------------------------------------------------------- staging


class Staging:
    """A private directory for one run under ``runs_dir``, owned through an flock.

    ``out`` receives the files to publish, ``work`` is scratch space (never published).
    On leaving the ``with`` block without publishing, everything is removed.
    """

    def __init__(self, runs_dir: Path):
        self.runs_dir = Path(runs_dir)
        self.path: Path | None = None
        self._lock_fd: int | None = None
        self._lock_path: Path | None = None
        self.published: Path | None = None

    @property
    def out(self) -> Path:
        return self.path / "out"

    @property
    def work(self) -> Path:
        return self.path / "work"

    def __enter__(self) -> Staging:
        ensure_runs_dir(self.runs_dir)
        while True:
            nonce = secrets.token_hex(6)
            lock_path = self.runs_dir / f"{STAGING_PREFIX}{nonce}.lock"
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            # A cleaner may have taken the lock between create and flock and removed the
            # file: only a lock whose path still names our inode protects the directory.
            try:
                same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._lock_fd, self._lock_path = fd, lock_path
        self.path = self.runs_dir / f"{STAGING_PREFIX}{nonce}"
        self.out.mkdir(parents=True)
        self.work.mkdir()
        return self

    def __exit__(self, *exc) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
        if self._lock_path is not None:
            self._lock_path.unlink(missing_ok=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)


def ensure_runs_dir(runs_dir: Path) -> None:
    try:
        Path(runs_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"无法创建运行目录 (cannot create runs dir) {runs_dir}: {exc.strerror}"
        ) from exc
    if not os.access(runs_dir, os.W_OK):
        raise UserError(f"运行目录不可写 (runs dir not writable): {runs_dir}")


@contextlib.contextmanager
def publish_lock(runs_dir: Path):
    fd = os.open(Path(runs_dir) / PUBLISH_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- clean-up


def clean_stale(runs_dir: Path) -> list[str]:
    """Remove what killed runs left behind; return the names removed.

    Staging directories are removed only when no live process holds their lock; temporary
    symlinks and unreferenced versions only under the publish lock.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    removed = _clean_staging(runs_dir)
    with publish_lock(runs_dir):
        removed += _clean_links(runs_dir)
        removed += _clean_versions(runs_dir)
    return removed


def _clean_staging(runs_dir: Path) -> list[str]:
    removed = []
    for lock_path in runs_dir.glob(f"{STAGING_PREFIX}*.lock"):
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                continue  # a live run owns it
            raise
        try:
            staging = lock_path.with_suffix("")
            shutil.rmtree(staging, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
            removed.append(staging.name)
        finally:
            os.close(fd)
    for staging in runs_dir.glob(f"{STAGING_PREFIX}*"):
        if staging.is_dir() and not staging.with_name(staging.name + ".lock").exists():
            shutil.rmtree(staging, ignore_errors=True)  # no owner can exist without its lock
            removed.append(staging.name)
    return removed


def _clean_links(runs_dir: Path) -> list[str]:
    removed = []
    for link in runs_dir.glob(f"{LINK_PREFIX}*"):
        link.unlink(missing_ok=True)
        removed.append(link.name)
    return removed


def _clean_versions(runs_dir: Path, only_date: str | None = None) -> list[str]:
    current = {_current_target(runs_dir, day) for day in _published_dates(runs_dir)}
    removed = []
    for entry in runs_dir.iterdir():
        match = _VERSION.match(entry.name)
        if not match or entry.is_symlink() or entry.name in current:
            continue
        if only_date and match[1] != only_date:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    return removed


def _published_dates(runs_dir: Path) -> list[str]:
    return sorted(p.name for p in runs_dir.iterdir() if _DATE.match(p.name) and p.is_symlink())


def _current_target(runs_dir: Path, day: str) -> str | None:
    try:
        return os.readlink(runs_dir / day)
    except OSError:
        return None


# --------------------------------------------------------------------------- publish


def publish(staging: Staging, business_date: date, run_id: str, checkpoint=None) -> Path:
    """Make ``staging.out`` the published result for ``business_date``; return its path."""
    runs_dir = staging.runs_dir
    day = business_date.isoformat()
    link = runs_dir / day
    if link.exists() and not link.is_symlink():
        raise UserError(
            f"{link} 已存在且不是本系统发布的运行结果 (exists and is not a published run); "
            "请移走后重试"
        )
    checkpoint = checkpoint or (lambda name: None)
    for path in staging.out.iterdir():
        fsync_file(path)
    fsync_dir(staging.out)
    with publish_lock(runs_dir):
        version = f"{day}.{run_id}.{secrets.token_hex(3)}"
        os.rename(staging.out, runs_dir / version)
        fsync_dir(runs_dir)
        checkpoint("publish:renamed")
        tmp_link = runs_dir / f"{LINK_PREFIX}{secrets.token_hex(6)}"
        os.symlink(version, tmp_link)
        checkpoint("publish:linked")
        os.replace(tmp_link, link)
        fsync_dir(runs_dir)
        checkpoint("publish:swapped")
        _clean_versions(runs_dir, only_date=day)
    staging.published = runs_dir / version
    return staging.published


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class PublishedRun:
    """A complete published run: its directory (a fixed version) and run record."""

    business_date: date
    path: Path
    record: dict

    @property
    def run_id(self) -> str:
        return self.record["run_id"]

    def table(self, name: str) -> pa.Table:
        """One output (``detections``, ``suppressions``, ``moment_counts``, ``quarantine``)."""
        return pq.read_table(self.path / f"{name}.parquet")


def published_dates(runs_dir: Path) -> list[date]:
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    return [date.fromisoformat(d) for d in _published_dates(runs_dir)]


def read_published(runs_dir: Path, business_date: date) -> PublishedRun | None:
    """The run published for ``business_date`` (None if there is none).

    The symlink is resolved once, so the result names one complete version even if a
    re-run replaces it meanwhile; its files stay readable until the next swap removes it.
    """
    runs_dir = Path(runs_dir)
    for _attempt in range(3):
        target = _current_target(runs_dir, business_date.isoformat())
        if target is None:
            return None
        path = runs_dir / target
        try:
            record = json.loads((path / RUN_RECORD).read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue  # replaced between readlink and read: resolve again
        return PublishedRun(business_date=business_date, path=path, record=record)
    return None
