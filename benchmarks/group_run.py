"""Benchmark: what key accounts add to the daily run -- group moments and tier scoring.

    PYTHONPATH=src python benchmarks/group_run.py --groups 100000 --members 10000000

Writes a key-account delivery of N groups and M members (the files the group step reads:
key_accounts, key_account_members, subscribers -- one per member --, call_circle for the key
persons, six months of revenue, products, key persons, contracts, line faults) as Parquet in
a temporary directory, registers them on a DuckDB backend as ingest does, then times the
run's ``groups`` step (group view + the eight group moments + value score and tier) ``--repeat``
times. Prints one JSON line per repeat; docs/performance.md keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DAY = date(2026, 11, 3)
MONTHS = ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]


def _ids(prefix: str, n: int) -> pa.Array:
    return pa.array(np.char.add(prefix, np.arange(n).astype("U9")).astype(object), pa.string())


def _days_ago(rng, n: int, span: int) -> pa.Array:
    base = np.datetime64(DAY, "D")
    return pa.array(base - rng.integers(0, span, n), pa.date32())


def write_delivery(root: Path, groups: int, members: int, seed: int = 7) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    ka = _ids("KA", groups)
    files = {}

    def write(name: str, table: pa.Table) -> None:
        files[name] = root / f"{name}.parquet"
        pq.write_table(table, files[name])

    write(
        "key_accounts",
        pa.table(
            {
                "key_account_id": ka,
                "industry": pa.array(rng.choice(["制造业", "金融业", "教育"], groups)),
                "tier": pa.array(rng.choice(["A1", "A2", "B1", "B2", "C"], groups)),
                "city_id": pa.array(rng.choice(["3201", "3202", "3203"], groups)),
                "manager_id": pa.array(np.char.add("M", (np.arange(groups) % 500).astype("U4"))),
                "status": pa.array(np.where(rng.random(groups) < 0.98, "active", "churned")),
                "strategic": pa.array(rng.random(groups) < 0.05),
                "employees": pa.array(rng.integers(5, 5000, groups)),
                "annual_revenue": pa.array(rng.lognormal(13, 1.2, groups)),
            }
        ),
    )
    owner = rng.integers(0, groups, members)
    subs = _ids("S", members)
    churned = rng.random(members) < 0.02
    role = np.where(rng.random(members) < 0.08, "key_person", "member")
    write(
        "key_account_members",
        pa.table({"key_account_id": ka.take(pa.array(owner)), "subscriber_id": subs, "role": role}),
    )
    write(
        "subscribers",
        pa.table(
            {
                "subscriber_id": subs,
                "status": pa.array(np.where(churned, "churned", "active")),
                "status_date": _days_ago(rng, members, 700),
            }
        ),
    )
    keyp = np.nonzero(role == "key_person")[0]
    # Last month drifts a little from the month before; 2% of the key persons jump by 30 pp.
    base = rng.random(len(keyp)) * 0.4
    rise = np.where(rng.random(len(keyp)) < 0.02, 0.3, rng.normal(0, 0.02, len(keyp)))
    write(
        "call_circle",
        pa.table(
            {
                "subscriber_id": pa.concat_arrays([subs.take(pa.array(keyp))] * 2),
                "month": pa.array(["2026-10"] * len(keyp) + ["2026-09"] * len(keyp)),
                "competitor_call_share": pa.array(
                    np.clip(np.concatenate([base + rise, base]), 0, 1)
                ),
            }
        ),
    )
    g6 = np.repeat(np.arange(groups), len(MONTHS))
    # A steady level per group with monthly noise; 5% of the groups drop by 45% last month.
    level = np.repeat(rng.lognormal(10, 1.2, groups), len(MONTHS))
    total = level * rng.lognormal(0, 0.08, len(g6))
    dropping = np.repeat(rng.random(groups) < 0.05, len(MONTHS))
    total[dropping & (np.tile(np.arange(len(MONTHS)), groups) == len(MONTHS) - 1)] *= 0.55
    write(
        "key_account_revenue",
        pa.table(
            {
                "key_account_id": ka.take(pa.array(g6)),
                "month": pa.array(MONTHS * groups),
                "total_revenue": pa.array(total),
                "info_revenue": pa.array(total * 0.2),
            }
        ),
    )
    n_products = groups * 5
    ptype = rng.choice(["data_line", "internet_line", "vpmn", "cloud", "mas"], n_products)
    cancelled = rng.random(n_products) < 0.05
    write(
        "key_account_products",
        pa.table(
            {
                "product_id": _ids("P", n_products),
                "key_account_id": ka.take(pa.array(np.repeat(np.arange(groups), 5))),
                "product_type": pa.array(ptype),
                "informatization": pa.array(ptype != "vpmn"),
                "status": pa.array(np.where(cancelled, "cancelled", "active")),
                "end_date": _days_ago(rng, n_products, 400),
            }
        ),
    )
    lines = np.nonzero(np.isin(ptype, ["data_line", "internet_line"]))[0]
    faulty = rng.choice(lines, len(lines) // 5)
    write(
        "key_account_faults",
        pa.table(
            {
                "fault_id": _ids("F", len(faulty)),
                "key_account_id": ka.take(pa.array(faulty // 5)),
                "product_id": _ids("P", n_products).take(pa.array(faulty)),
                "fault_date": _days_ago(rng, len(faulty), 90),
            }
        ),
    )
    n_persons = groups * 4
    write(
        "key_persons",
        pa.table(
            {
                "person_id": _ids("KP", n_persons),
                "key_account_id": ka.take(pa.array(np.repeat(np.arange(groups), 4))),
                "mobile_changed_date": _days_ago(rng, n_persons, 2000),
            }
        ),
    )
    n_contracts = groups * 2
    end = np.datetime64(DAY, "D") + rng.integers(-180, 1000, n_contracts)
    write(
        "key_account_contracts",
        pa.table(
            {
                "contract_id": _ids("HT", n_contracts),
                "key_account_id": ka.take(pa.array(np.repeat(np.arange(groups), 2))),
                "status": pa.array(np.where(end >= np.datetime64(DAY), "active", "expired")),
                "end_date": pa.array(end, pa.date32()),
            }
        ),
    )
    return files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from keycare.engine.backends import connect
    from keycare.engine.group_tiers import score_tiers
    from keycare.engine.groups import detect_groups
    from keycare.yamlio import safe_load

    policy_path = Path(__file__).resolve().parents[1] / "src/keycare/keyaccounts/tiers.yaml"
    policy = safe_load(policy_path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        files = write_delivery(Path(tmp), args.groups, args.members)
        written = time.perf_counter() - started
        for _ in range(args.repeat):
            backend = connect("duckdb")
            for name, path in files.items():
                backend.register_file(name, path)
            started = time.perf_counter()
            cpu = os.times()
            result = detect_groups(backend, DAY)
            moments = time.perf_counter() - started
            tiers = score_tiers(backend, policy, 0)
            total = time.perf_counter() - started
            used = os.times()
            backend.close()
            print(
                json.dumps(
                    {
                        "groups": args.groups,
                        "members": args.members,
                        "write_delivery_s": round(written, 1),
                        "group_moments_s": round(moments, 2),
                        "tiers_s": tiers["seconds"],
                        "groups_step_s": round(total, 2),
                        "cpu_s": round(used.user + used.system - cpu.user - cpu.system, 2),
                        "detections": result.detections,
                        "counts": result.counts,
                        "by_tier": tiers["by_tier"],
                        "load": os.getloadavg()[0],
                    },
                    ensure_ascii=False,
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
