"""Preview allocation settings against capacity: re-allocate a published day's candidates.

The daily run publishes allocate's input (``candidates.parquet``: the day's new rows and the
carry-over, with risk, value and the contacts the cool-down saw). Allocating it again under
other settings, with the managers' capacity as it is now, shows what those settings would
have done that day: decisions per kind and per manager, before anyone saves them.

One limit: ``last_contact_date`` holds the contacts of the live cool-down window only, so a
longer proposed cool-down sees no contacts older than that window (the preview says so).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa

from keycare.engine.allocate import DECISIONS, AllocationConfig, allocate
from keycare.errors import UserError

CANDIDATES_FILE = "candidates.parquet"


@dataclass
class AllocationPreview:
    counts: dict[str, int]  # decision -> candidate rows
    per_manager: dict[str | None, dict[str, int]]  # manager_id -> {call, sms, deferred} tasks
    seconds: float


def preview_allocation(
    run_path: Path, managers: pa.Table, configs: dict[str, AllocationConfig], business_date: date
) -> dict[str, AllocationPreview]:
    """Allocate the run's candidates under each of ``configs`` (name -> config)."""
    from keycare.engine.backends.duckdb import DuckDBBackend

    path = Path(run_path) / CANDIDATES_FILE
    if not path.is_file():
        raise UserError(
            f"批次目录中没有派送输入 {CANDIDATES_FILE}（在此功能上线前运行的批次），"
            "请重新运行该日日批后再预览"
        )
    backend = DuckDBBackend(threads=2)
    try:
        source = "'" + str(path).replace("'", "''") + "'"
        backend.create_view("_pv_all", f"SELECT * FROM read_parquet({source})")
        backend.create_view("_pv_new", "SELECT * FROM _pv_all WHERE source = 'new'")
        backend.create_view("_pv_carry", "SELECT * FROM _pv_all WHERE source = 'carry_over'")
        backend.register_arrow("_pv_managers", managers)
        has_new = backend.to_arrow("SELECT count(*) AS n FROM _pv_new")["n"][0].as_py()
        has_carry = backend.to_arrow("SELECT count(*) AS n FROM _pv_carry")["n"][0].as_py()
        if not has_new and not has_carry:
            raise UserError("该批次没有候选客户，无法预览")
        return {
            name: _one(backend, config, business_date, has_new, has_carry)
            for name, config in configs.items()
        }
    finally:
        backend.close()


def _one(backend, config, business_date, has_new, has_carry) -> AllocationPreview:
    started = time.perf_counter()
    result = allocate(
        "_pv_new" if has_new else "_pv_carry",
        "_pv_managers",
        config,
        business_date=business_date,
        carry_over="_pv_carry" if has_new and has_carry else None,
        backend=backend,
        fetch=False,
    )
    rows = backend.to_arrow(
        "SELECT manager_id, decision, count(*) AS n FROM allocation_tasks GROUP BY ALL"
    ).to_pylist()
    per_manager: dict[str | None, dict[str, int]] = {}
    for row in rows:
        counts = per_manager.setdefault(row["manager_id"], {"call": 0, "sms": 0, "deferred": 0})
        counts[row["decision"]] = int(row["n"])
    counts = {d: int(result.counts.get(d, 0)) for d in DECISIONS}
    return AllocationPreview(counts, per_manager, time.perf_counter() - started)
