"""Benchmark: value scoring and tiering of N key accounts (``keycare tiers`` work).

    KEYCARE_HOME=/tmp/kc-bench PYTHONPATH=src python benchmarks/keyaccount_tiers.py --groups 20000
    ... --mode engine

Builds N groups in a fresh database of KEYCARE_HOME (3 months of revenue, 3 products each),
then times, with ``--mode orm`` (the default), the preview (scoring only) and the apply
(scoring + writing scores, tier changes and history); with ``--mode engine``, what the daily
run does instead: score on DuckDB (engine/group_tiers.py, over the same groups as Arrow
tables) and write the result with the run loader's ``apply_tiers(scored=...)``. Prints the
figures; docs/performance.md keeps them (run the two modes interleaved).
"""

import argparse
import os
import random
import time
from datetime import date


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=20_000)
    parser.add_argument("--mode", choices=("orm", "engine"), default="orm")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from keycare.keyaccounts import tiers
    from keycare.keyaccounts.actions import apply_tiers
    from keycare.keyaccounts.models import KeyAccount, KeyAccountProduct, KeyAccountRevenue
    from keycare.org.models import City, Province

    KeyAccount.objects.all().delete()
    city = City.objects.get_or_create(
        code="B1",
        defaults={
            "name": "基准市",
            "province": Province.objects.get_or_create(code="P", defaults={"name": "省"})[0],
        },
    )[0]
    rng = random.Random(7)
    t0 = time.perf_counter()
    KeyAccount.objects.bulk_create(
        (
            KeyAccount(
                key_account_id=f"K{i:07d}",
                name=f"集团{i}",
                industry="制造业",
                tier="C",
                city=city,
                status="active",
                created_date=date(2020, 1, 1),
                employees=rng.randint(5, 5000),
                strategic=rng.random() < 0.05,
            )  # fmt: skip
            for i in range(args.groups)
        ),
        batch_size=5000,
    )
    pks = list(KeyAccount.objects.values_list("pk", flat=True))
    KeyAccountRevenue.objects.bulk_create(
        (
            KeyAccountRevenue(
                key_account_id=pk,
                month=m,
                total_revenue=(r := rng.lognormvariate(10, 1.2)),
                info_revenue=r * 0.2,
            )  # fmt: skip
            for pk in pks
            for m in ("2026-08", "2026-09", "2026-10")
        ),
        batch_size=5000,
    )
    KeyAccountProduct.objects.bulk_create(
        (
            KeyAccountProduct(
                product_id=f"P{pk}-{k}",
                key_account_id=pk,
                product_type="cloud",
                name="云",
                informatization=True,
                start_date=date(2024, 1, 1),
                status="active",
            )  # fmt: skip
            for pk in pks
            for k in range(3)
        ),
        batch_size=5000,
    )
    print(f"built {args.groups} groups in {time.perf_counter() - t0:.1f} s")
    if args.mode == "engine":
        engine_apply(KeyAccount, KeyAccountRevenue, KeyAccountProduct)
        return
    t0 = time.perf_counter()
    result = tiers.preview(tiers.current()[1])
    print(f"preview (score only): {time.perf_counter() - t0:.2f} s, {result['moved']} would move")
    t0 = time.perf_counter()
    counts = apply_tiers(None, reason="benchmark")
    print(f"apply (score + write): {time.perf_counter() - t0:.2f} s, {counts}")


def _arrow(model, fields: dict):
    from decimal import Decimal

    import pyarrow as pa

    def plain(value):
        return float(value) if isinstance(value, Decimal) else value

    rows = list(model.objects.values_list(*fields.values()))
    return pa.table({name: [plain(r[i]) for r in rows] for i, name in enumerate(fields)})


def engine_apply(KeyAccount, KeyAccountRevenue, KeyAccountProduct):
    """The daily run's path: score on DuckDB, write with apply_tiers(scored=...)."""
    from keycare.engine.backends import connect
    from keycare.engine.group_tiers import GROUP_TIERS, score_tiers
    from keycare.keyaccounts import tiers
    from keycare.keyaccounts.actions import apply_tiers

    inputs = {  # what ingest registers from the delivered files (not timed)
        "key_accounts": _arrow(
            KeyAccount,
            {
                "key_account_id": "key_account_id",
                "tier": "tier",
                "industry": "industry",
                "strategic": "strategic",
                "employees": "employees",
                "annual_revenue": "annual_revenue",
                "status": "status",
            },
        ),
        "key_account_revenue": _arrow(
            KeyAccountRevenue,
            {
                "key_account_id": "key_account__key_account_id",
                "month": "month",
                "total_revenue": "total_revenue",
                "info_revenue": "info_revenue",
            },
        ),
        "key_account_products": _arrow(
            KeyAccountProduct,
            {
                "key_account_id": "key_account__key_account_id",
                "informatization": "informatization",
                "status": "status",
            },
        ),
    }
    version, policy = tiers.current()
    backend = connect("duckdb")
    for name, table in inputs.items():
        backend.register_arrow(name, table)
    t0 = time.perf_counter()
    info = score_tiers(backend, policy, version)
    rows = backend.to_arrow(f"SELECT * FROM {GROUP_TIERS}").to_pylist()
    scoring = time.perf_counter() - t0
    t1 = time.perf_counter()
    counts = apply_tiers(None, reason="benchmark", scored=tiers.scored_from_rows(rows))
    print(
        f"engine: score on DuckDB {scoring:.2f} s ({info['seconds']:.2f} s in SQL), "
        f"load {time.perf_counter() - t1:.2f} s, total {time.perf_counter() - t0:.2f} s, {counts}"
    )


if __name__ == "__main__":
    main()
