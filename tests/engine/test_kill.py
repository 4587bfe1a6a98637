"""kill -9 at any point publishes nothing partial, and the next run succeeds.

Runs are forked from a preloaded forkserver (see killworker.py) and SIGKILLed either at a
named checkpoint (every step boundary, before each output file, every stage of the
publication) or after a delay spread over a whole run. After each kill the published date
must be absent or a complete run with the expected content, and leftovers must be cleaned.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import signal
import time
from datetime import date
from pathlib import Path

import pytest
from builders import write_delivery

from keycare.engine import publish as pub

DAY = date(2026, 11, 23)
CHECKPOINTS = [
    "step:ingest",
    "step:view",
    "step:detect",
    "step:write",
    "write:detections",
    "write:suppressions",
    "write:quarantine",
    "write:moment_counts",
    "publish:before",
    "publish:renamed",
    "publish:linked",
    "publish:swapped",
    "publish:done",
]
DELAY_FRACTIONS = [0.1, 0.3, 0.5, 0.7, 0.85, 0.95]


@pytest.fixture(scope="module")
def forkserver():
    # The forkserver imports its preload before it knows our sys.path (and skips modules it
    # cannot import, silently): PYTHONPATH makes killworker importable there.
    here = str(Path(__file__).resolve().parent)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (here, saved) if p)
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["killworker"])
    try:
        yield ctx
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


@pytest.fixture(scope="module")
def delivery(tmp_path_factory):
    subscribers = [{}, {"dnd": True}, {"balance": 3.0}, {"balance": 1.0}, {"plan_fee": 58.0}]
    subscribers += [{} for _ in range(20)]
    return write_delivery(tmp_path_factory.mktemp("delivery"), {"subscribers": subscribers})


def _start(ctx, data, runs, kill_at=None):
    import killworker

    proc = ctx.Process(target=killworker.run, args=(DAY, data, runs, kill_at))
    proc.start()
    return proc


def _complete(ctx, data, runs) -> float:
    started = time.monotonic()
    proc = _start(ctx, data, runs)
    proc.join(120)
    assert proc.exitcode == 0, "an unkilled run must succeed"
    return time.monotonic() - started


def _assert_visible_state(runs, expected_hash, allow_none=True):
    run = pub.read_published(runs, DAY)
    if run is None:
        assert allow_none, "a published run disappeared"
        return
    record = json.loads((run.path / "run.json").read_text())
    content, files = pub.content_hash(run.path)
    assert content == expected_hash == record["content_hash"]
    assert set(files) == {n for n in record["outputs"]}


def _assert_clean_after_next_start(runs):
    pub.clean_stale(runs)
    names = {p.name for p in runs.iterdir()}
    linked = os.readlink(runs / DAY.isoformat()) if (runs / DAY.isoformat()).is_symlink() else None
    assert names <= {".publish.lock", DAY.isoformat(), linked}, names


def test_kill_at_every_checkpoint_and_delay(forkserver, delivery, tmp_path):
    reference = tmp_path / "reference"
    _complete(forkserver, delivery, reference)
    expected = pub.read_published(reference, DAY).record["content_hash"]

    fresh = tmp_path / "fresh"  # no earlier run: nothing or the complete run is visible
    for point in CHECKPOINTS:
        proc = _start(forkserver, delivery, fresh, kill_at=point)
        proc.join(120)
        assert proc.exitcode == -signal.SIGKILL, point
        published = pub.read_published(fresh, DAY) is not None
        assert published == (point in ("publish:swapped", "publish:done")), point
        _assert_visible_state(fresh, expected)
        _assert_clean_after_next_start(fresh)
        if published:
            (fresh / DAY.isoformat()).unlink()  # start the next point from nothing again
            pub.clean_stale(fresh)

    rerun = tmp_path / "rerun"  # an earlier complete run: it stays visible and intact
    duration = _complete(forkserver, delivery, rerun)  # warm forkserver: a typical run
    for fraction in DELAY_FRACTIONS:
        proc = _start(forkserver, delivery, rerun)
        time.sleep(duration * fraction)
        with contextlib.suppress(ProcessLookupError):  # it may just have finished
            os.kill(proc.pid, signal.SIGKILL)
        proc.join(60)
        assert proc.exitcode in (0, -signal.SIGKILL)
        _assert_visible_state(rerun, expected, allow_none=False)
    _complete(forkserver, delivery, rerun)
    _assert_visible_state(rerun, expected, allow_none=False)
    _assert_clean_after_next_start(rerun)
    versions = [p for p in rerun.iterdir() if p.name.startswith(DAY.isoformat() + ".")]
    assert len(versions) == 1
