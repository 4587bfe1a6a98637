"""Benchmark: compute a month's KPI assessment for every manager (issue 18: 1,250 managers over
10M customers' recorded activity <= 30 s).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kc_bench_assess \\
    KEYCARE_HOME=/tmp/kc-bench PYTHONPATH=src .venv/bin/python benchmarks/assessment.py \\
        [--managers 1250] [--customers 250000] [--tasks-per-day 8] [--days 30]

Builds (once; ``--rebuild`` to redo) an organisation of 13 cities, the managers, their
customers, and a month of recorded activity: call tasks (70% handled, most within a day),
an outcome per handled task, allocation decisions with a 10% control group and some churn,
one visit per manager and key account. The timed part is ``keycare.managers.actions.
compute_period``: every indicator formula, scoring, ranking and storing the assessments.
The activity a month of work records is what the managers did, not the size of the archive:
1,250 managers at 40 calls a day make ~1.5M tasks a month whatever the customer count.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from keycare.customers.models import Customer  # noqa: E402
from keycare.managers import actions  # noqa: E402
from keycare.org.models import City, County, Grid, Manager, Province  # noqa: E402
from keycare.runs.models import Run  # noqa: E402
from keycare.tasks.models import AllocationDecision, Outcome, ServiceTask  # noqa: E402

START, END = date(2026, 11, 1), date(2026, 11, 30)
BATCH = 20_000
CITIES = 13


def build(args) -> None:
    rng = random.Random(7)
    province = Province.objects.create(code="JS", name="江苏省")
    places = []
    for i in range(CITIES):
        city = City.objects.create(code=f"C{i:02d}", name=f"城市{i}", province=province)
        county = County.objects.create(code=f"X{i:02d}", name=f"区{i}", city=city)
        grid = Grid.objects.create(code=f"G{i:02d}", name=f"网格{i}", county=county, city=city)
        places.append((city, county, grid))
    Manager.objects.bulk_create(
        Manager(manager_id=f"M{n:05d}", name=f"经理{n}", mobile="13900000000",
                city=places[n % CITIES][0], grid=places[n % CITIES][2],
                role="phone_manager", daily_capacity=40)
        for n in range(args.managers)
    )  # fmt: skip
    managers = list(Manager.objects.order_by("pk"))
    _progress("managers", len(managers))
    _bulk(Customer, (_customer(n, managers[n % len(managers)], places, rng)
                     for n in range(args.customers)))  # fmt: skip
    run = Run.objects.create(run_id="bench", business_date=START)
    customer_ids = list(Customer.objects.order_by("pk").values_list("pk", "manager_id", "city_id"))
    _activity(args, rng, run, customer_ids)


def _customer(n, manager, places, rng) -> Customer:
    city, county, grid = places[n % CITIES]
    churned = rng.random() < 0.02
    return Customer(
        subscriber_id=f"S{n:09d}", msisdn="13800000000", name="客户", join_date=date(2015, 1, 1),
        city=city, county=county, grid=grid, brand="gotone", plan_code="P1",
        plan_fee=Decimal("128.00"), payment_type="postpaid",
        status="churned" if churned else "active",
        status_date=date(2026, 11, 25) if churned else date(2015, 1, 1),
        value_tier="mid_high", manager=manager, attributes={}, row_hash=str(n),
    )  # fmt: skip


def _activity(args, rng, run, customers) -> None:
    tz = timezone.get_current_timezone()
    per_day = args.tasks_per_day * args.managers
    day, cursor = START, 0
    for _ in range(args.days):
        picked = [customers[(cursor + i) % len(customers)] for i in range(per_day)]
        cursor += per_day
        tasks = []
        for pk, manager, city in picked:
            handled = rng.random() < 0.7
            tasks.append(ServiceTask(
                customer_id=pk, manager_id=manager, city_id=city, business_date=day,
                channel="call", priority_score=rng.random() * 100,
                state="handled_no_change" if handled else "unhandled",
                handled_at=datetime.combine(day, datetime.min.time(), tzinfo=tz)
                + timedelta(hours=rng.randint(9, 40)) if handled else None,
            ))  # fmt: skip
        ServiceTask.objects.bulk_create(tasks, batch_size=BATCH)
        handled = ServiceTask.objects.filter(business_date=day, state="handled_no_change")
        _bulk(Outcome, (Outcome(task_id=t, contact_result=rng.choice(("reached", "not_reached")),
                                recommendation=rng.choice(("accepted", "declined", "none")))
                        for t in handled.values_list("pk", flat=True)))  # fmt: skip
        decisions = [
            AllocationDecision(run=run, customer_id=pk, manager_id=m, business_date=day,
                               decision="control" if rng.random() < 0.1 else "call")
            for pk, m, _city in picked
        ]  # fmt: skip
        AllocationDecision.objects.bulk_create(decisions, batch_size=BATCH)
        _progress(f"activity {day}", len(tasks))
        day += timedelta(days=1)


def _bulk(model, rows) -> None:
    batch, total = [], 0
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            model.objects.bulk_create(batch)
            total += len(batch)
            batch = []
    model.objects.bulk_create(batch)
    _progress(model.__name__, total + len(batch))


def _progress(what, n) -> None:
    print(f"  {what}: {n}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--managers", type=int, default=1250)
    parser.add_argument("--customers", type=int, default=250_000)
    parser.add_argument("--tasks-per-day", type=int, default=8)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    if args.rebuild or not Manager.objects.exists():
        if Manager.objects.exists():
            print("--rebuild needs an empty database (drop and create it)", file=sys.stderr)
            return 2
        began = time.perf_counter()
        build(args)
        print(f"built in {time.perf_counter() - began:.0f} s", flush=True)
    counts = {
        "managers": Manager.objects.count(),
        "customers": Customer.objects.count(),
        "tasks": ServiceTask.objects.filter(business_date__range=(START, END)).count(),
        "outcomes": Outcome.objects.count(),
        "decisions": AllocationDecision.objects.count(),
    }
    print(f"database {connection.vendor}: {counts}", flush=True)
    for attempt in (1, 2):
        began = time.perf_counter()
        period = actions.compute_period(
            None, name="2026-11", start=START, end=END, progress=lambda t: print(f"  {t}")
        )
        seconds = time.perf_counter() - began
        print(f"run {attempt}: {period.assessments.count()} assessments in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
