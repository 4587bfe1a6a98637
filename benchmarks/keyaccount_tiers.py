"""Benchmark: value scoring and tiering of N key accounts (``keycare tiers`` work).

    KEYCARE_HOME=/tmp/kc-bench PYTHONPATH=src python benchmarks/keyaccount_tiers.py --groups 20000

Builds N groups in a fresh database of KEYCARE_HOME (3 months of revenue, 3 products each),
then times the preview (scoring only) and the apply (scoring + writing scores, tier changes and
history). Prints the figures; docs/performance.md keeps them.
"""

import argparse
import os
import random
import time
from datetime import date


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=20_000)
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
    t0 = time.perf_counter()
    result = tiers.preview(tiers.current()[1])
    print(f"preview (score only): {time.perf_counter() - t0:.2f} s, {result['moved']} would move")
    t0 = time.perf_counter()
    counts = apply_tiers(None, reason="benchmark")
    print(f"apply (score + write): {time.perf_counter() - t0:.2f} s, {counts}")


if __name__ == "__main__":
    main()
