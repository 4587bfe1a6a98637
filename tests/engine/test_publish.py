"""Atomic publication: complete runs only, one version per date, stale leftovers cleaned."""

from __future__ import annotations

import fcntl
import json
import os
from datetime import date

import pyarrow as pa
import pyarrow.parquet  # noqa: F401 - pa.parquet
import pytest

from keycare.engine import publish as pub
from keycare.errors import UserError

DAY = date(2026, 11, 22)


def _stage(runs_dir, rows=3, run_id="20261122-abc"):
    staging = pub.Staging(runs_dir).__enter__()
    table = pa.table({"subscriber_id": [f"S{i}" for i in range(rows)], "n": list(range(rows))})
    pub.write_table(table, staging.out / "detections.parquet")
    pub.write_json({"run_id": run_id, "business_date": DAY.isoformat()}, staging.out / "run.json")
    return staging


def _publish(runs_dir, rows=3, run_id="20261122-abc"):
    staging = _stage(runs_dir, rows, run_id)
    try:
        return pub.publish(staging, DAY, run_id)
    finally:
        staging.__exit__(None, None, None)


def test_publish_makes_a_complete_run_visible_under_the_date(tmp_path):
    path = _publish(tmp_path)
    link = tmp_path / DAY.isoformat()
    assert link.is_symlink() and link.resolve() == path.resolve()
    run = pub.read_published(tmp_path, DAY)
    assert run.run_id == "20261122-abc"
    assert run.table("detections").num_rows == 3
    assert not list(tmp_path.glob(".staging-*")), "staging removed after publishing"
    assert pub.published_dates(tmp_path) == [DAY]


def test_republishing_replaces_and_removes_the_old_version(tmp_path):
    first = _publish(tmp_path, rows=3)
    second = _publish(tmp_path, rows=5)
    assert not first.exists()
    assert pub.read_published(tmp_path, DAY).table("detections").num_rows == 5
    versions = [p for p in tmp_path.iterdir() if p.name.startswith(DAY.isoformat() + ".")]
    assert versions == [second]


def test_same_table_gives_the_same_bytes(tmp_path):
    table = pa.table({"a": ["x", "y"], "b": [1.5, None]})
    pub.write_table(table, tmp_path / "one.parquet")
    pub.write_table(pa.concat_tables([table.slice(0, 1), table.slice(1)]), tmp_path / "two.parquet")
    assert pub.sha256_file(tmp_path / "one.parquet") == pub.sha256_file(tmp_path / "two.parquet")


def test_streamed_batches_give_the_same_bytes_whatever_their_sizes(tmp_path):
    table = pa.table({"a": [f"s{i}" for i in range(23)], "b": [i / 7 for i in range(23)]})

    def written(name: str, batch_rows: int) -> bytes:
        reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(batch_rows))
        path = tmp_path / name
        assert pub.write_batches(reader, path, row_group_rows=5) == 23
        return path.read_bytes()

    assert written("one.parquet", 1) == written("two.parquet", 7) == written("three.parquet", 50)
    read = pa.parquet.ParquetFile(tmp_path / "one.parquet")
    assert [read.metadata.row_group(i).num_rows for i in range(read.num_row_groups)] == [
        5, 5, 5, 5, 3
    ]  # fmt: skip
    assert read.read().equals(table)


def test_streaming_nothing_writes_an_empty_file_with_the_columns(tmp_path):
    schema = pa.schema({"a": pa.string(), "b": pa.float64()})
    reader = pa.RecordBatchReader.from_batches(schema, [])
    assert pub.write_batches(reader, tmp_path / "empty.parquet", row_group_rows=5) == 0
    assert pa.parquet.read_table(tmp_path / "empty.parquet").schema.names == ["a", "b"]


def test_nothing_published_reads_as_none(tmp_path):
    assert pub.read_published(tmp_path, DAY) is None
    assert pub.read_published(tmp_path / "absent", DAY) is None


def test_stale_staging_of_a_dead_run_is_cleaned_but_a_live_one_is_kept(tmp_path):
    live = _stage(tmp_path)
    dead = tmp_path / ".staging-deadbeef"
    (dead / "out").mkdir(parents=True)
    (tmp_path / ".staging-deadbeef.lock").touch()  # nobody holds its flock
    (tmp_path / ".link-123").symlink_to("nowhere")
    orphan = tmp_path / f"{DAY.isoformat()}.20261122-old.abcdef"
    orphan.mkdir()
    removed = pub.clean_stale(tmp_path)
    assert set(removed) == {".staging-deadbeef", ".link-123", orphan.name}
    assert live.path.exists(), "a run holding its lock is not touched"
    live.__exit__(None, None, None)
    assert not live.path.exists()


def test_a_lock_held_elsewhere_protects_staging(tmp_path):
    staging = tmp_path / ".staging-cafe"
    staging.mkdir()
    fd = os.open(tmp_path / ".staging-cafe.lock", os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert pub.clean_stale(tmp_path) == []
        assert staging.exists()
    finally:
        os.close(fd)
    assert pub.clean_stale(tmp_path) == [".staging-cafe"]


def test_published_version_is_kept_by_cleaning(tmp_path):
    path = _publish(tmp_path)
    assert pub.clean_stale(tmp_path) == []
    assert path.exists()


def test_a_real_directory_in_the_way_is_a_user_error(tmp_path):
    (tmp_path / DAY.isoformat()).mkdir()
    staging = _stage(tmp_path)
    with pytest.raises(UserError, match="not a published run"):
        pub.publish(staging, DAY, "20261122-abc")
    staging.__exit__(None, None, None)


def test_content_hash_ignores_the_run_record(tmp_path):
    (tmp_path / "a.parquet").write_bytes(b"data")
    (tmp_path / "run.json").write_text(json.dumps({"started_at": "now"}))
    first, files = pub.content_hash(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"started_at": "later"}))
    assert pub.content_hash(tmp_path)[0] == first
    assert list(files) == ["a.parquet"]
