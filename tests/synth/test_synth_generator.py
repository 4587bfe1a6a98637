"""Determinism, output directory handling, CSV output and bad arguments."""

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command

from keycare.errors import UserError
from keycare.synth.generator import generate


def _digests(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path):
    generate(tmp_path / "a", subscribers=1_500, months=3, seed=11, chunk_size=600)
    generate(tmp_path / "b", subscribers=1_500, months=3, seed=11, chunk_size=600)
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert len(a) == 17  # 15 contract files, the manifest and the complaint-text truth
    assert a == b


def test_different_seed_gives_different_files(tmp_path):
    generate(tmp_path / "a", subscribers=800, months=2, seed=1)
    generate(tmp_path / "b", subscribers=800, months=2, seed=2)
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert a["subscribers.parquet"] != b["subscribers.parquet"]
    assert a["events.parquet"] != b["events.parquet"]


def test_replaces_previous_output_and_leaves_no_temporary_directory(tmp_path):
    out = tmp_path / "out"
    generate(out, subscribers=300, months=2, seed=1)
    generate(out, subscribers=400, months=2, seed=1, fmt="csv")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"]["subscribers"]["rows"] == 400
    assert not list(out.glob("*.parquet"))
    assert manifest["encodings"]["subscribers.csv"] == "utf-8"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_csv_output_has_the_parquet_rows(tmp_path):
    generate(tmp_path / "p", subscribers=500, months=2, seed=3)
    generate(tmp_path / "c", subscribers=500, months=2, seed=3, fmt="csv")
    import duckdb

    for name in ["subscribers", "events", "bills"]:
        p = duckdb.execute(f"SELECT count(*) FROM '{tmp_path / 'p' / name}.parquet'").fetchone()
        c = duckdb.execute(
            f"SELECT count(*) FROM read_csv('{tmp_path / 'c' / name}.csv')"
        ).fetchone()
        assert p == c
    header = (tmp_path / "c" / "events.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith('"event_id","subscriber_id","event_time"')


def test_interrupted_run_leaves_nothing(tmp_path):
    out = tmp_path / "out"

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(out, subscribers=500, months=2, seed=1, chunk_size=200, progress=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_non_empty_foreign_directory_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UserError, match="not empty"):
        generate(tmp_path, subscribers=10, months=2, seed=1)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subscribers", "0"], "--subscribers"),
        (["--subscribers", "-5"], "--subscribers"),
        (["--subscribers", "10", "--months", "1"], "--months"),
        (["--subscribers", "10", "--months", "99"], "--months"),
        (["--subscribers", "10", "--as-of", "2026-02-30"], "--as-of"),
        (["--subscribers", "10", "--as-of", "yesterday"], "--as-of"),
        (["--subscribers", "10", "--format", "xlsx"], "--format"),
        (["--subscribers", "10", "--seed", "-1"], "--seed"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, message):
    out = tmp_path / "out"
    with pytest.raises(CommandError) as exc:
        call_command("synth", *args, "--out", str(out))
    assert exc.value.returncode == 2
    assert message in str(exc.value) and "\n" not in str(exc.value)
    assert not out.exists()


def test_out_that_is_a_file_or_foreign_directory_exits_2(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x", encoding="utf-8")
    for out in [target, tmp_path]:
        with pytest.raises(CommandError) as exc:
            call_command("synth", "--subscribers", "10", "--out", str(out))
        assert exc.value.returncode == 2


def test_command_writes_delivery(tmp_path, capsys):
    call_command("synth", "--subscribers", "200", "--months", "2", "--out", str(tmp_path / "d"))
    assert (tmp_path / "d" / "manifest.json").exists()
    assert "subscribers 200" in capsys.readouterr().out


def test_missing_parent_directories_are_created(tmp_path):
    generate(tmp_path / "var" / "demo" / "d", subscribers=50, months=2, seed=1)
    assert (tmp_path / "var" / "demo" / "d" / "manifest.json").exists()


def test_parent_that_is_a_file_exits_2(tmp_path):
    (tmp_path / "f").write_text("x", encoding="utf-8")
    with pytest.raises(CommandError) as exc:
        call_command("synth", "--subscribers", "10", "--out", str(tmp_path / "f" / "d"))
    assert exc.value.returncode == 2
