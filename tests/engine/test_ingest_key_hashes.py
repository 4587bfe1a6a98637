"""The duplicate-key hash search on DuckDB: streamed into one reused array, sorted on a thread."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from keycare.engine.ingest import _KeyHashes


@pytest.fixture
def con():
    con = duckdb.connect()
    yield con
    con.close()


@pytest.fixture
def key_hashes():
    key_hashes = _KeyHashes()
    yield key_hashes
    key_hashes.close()


def _hashes_of(con, values: list[int]) -> str:
    con.execute("CREATE OR REPLACE TABLE k AS SELECT unnest($v::BIGINT[]) AS key", {"v": values})
    return "SELECT hash(key) AS h FROM k"


def _hash(con, value: int) -> int:
    return con.execute("SELECT hash($v::BIGINT)", {"v": value}).fetchall()[0][0]


def test_repeats_are_found_across_batch_boundaries(con, key_hashes, monkeypatch):
    monkeypatch.setattr(_KeyHashes, "BATCH_ROWS", 3)  # 10 rows: four batches
    keys = [1, 2, 3, 4, 5, 6, 7, 1, 7, 7]
    repeated = key_hashes.search(con, _hashes_of(con, keys), len(keys)).result()
    assert sorted(repeated.tolist()) == sorted([_hash(con, 1), _hash(con, 7)])


def test_no_repeats_gives_an_empty_array(con, key_hashes):
    repeated = key_hashes.search(con, _hashes_of(con, list(range(1000))), 1000).result()
    assert repeated.dtype == np.uint64
    assert len(repeated) == 0


def test_the_buffer_is_reused_for_a_smaller_file_and_grown_for_a_larger_one(con, key_hashes):
    key_hashes.search(con, _hashes_of(con, list(range(100))), 100)  # not waited for
    first = key_hashes._buffer
    # a smaller file must not see the larger one's leftover hashes as its own
    assert len(key_hashes.search(con, _hashes_of(con, [5, 6]), 2).result()) == 0
    assert key_hashes._buffer is first
    bigger = [*range(300), 299]
    repeated = key_hashes.search(con, _hashes_of(con, bigger), len(bigger)).result()
    assert len(key_hashes._buffer) == len(bigger)
    assert repeated.tolist() == [_hash(con, 299)]


def test_more_rows_than_announced_is_an_error_not_a_wrong_answer(con, key_hashes):
    with pytest.raises(AssertionError, match="more than 2 key hashes"):
        key_hashes.search(con, _hashes_of(con, [1, 2, 3]), 2)
