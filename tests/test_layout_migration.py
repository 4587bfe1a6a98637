"""The app-layout migrations keep every row: a database filled under the old layout migrates.

The models moved out of ``workorders``, ``customers`` and ``managers`` into ``org``, ``runs``,
``tasks`` and ``campaigns`` with state-only migrations (tables kept through ``db_table``) and a
RunPython that hands their content types to the new app. The test migrates the test database
back to the old layout, fills every moved model (and the models pointing at them) through the
historical models, fingerprints every table, migrates forward and checks nothing changed but
the content types' app labels.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal

import pytest
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# The last migration of each app before the layout change.
OLD_LEAVES = {
    "customers": "0004_scope_indexes",
    "managers": "0001_initial",
    "workorders": "0006_outcome_task_recommendation",
    "keyaccounts": "0001_initial",
    "moments": "0001_initial",
}
NEW_APPS = ("org", "runs", "tasks", "campaigns")
# Apps created after the move: unapplied with the new ones while the old layout is filled.
LATER_APPS = (
    "messaging",
    "effects",
    "surveys",
    "complaints",
    "knowledge",
    "analytics",
    "signalling",
)
# Where the layout move left each app: the test compares the database there. Migrations made
# after it may create tables and columns of their own (the tactics library, the outcome's
# tactic); the current models are checked after migrating on to the latest state.
# Apps the move did not touch (access, api, core...) stay at their latest leaf throughout.
LAYOUT_LEAVES = {
    "campaigns": "0001_initial",
    "customers": "0007_labels_without_english",
    "keyaccounts": "0003_labels_without_english",
    "managers": "0002_models_moved_to_org",
    "moments": "0002_point_at_org",
    "org": "0002_labels_without_english",
    "runs": "0001_initial",
    "tasks": "0001_initial",
    "workorders": "0007_models_moved_out",
}

# model name -> (old app label, new app label)
MOVED = {
    "run": ("workorders", "runs"),
    "quarantinerow": ("workorders", "runs"),
    "detection": ("workorders", "runs"),
    "suppression": ("workorders", "runs"),
    "runrequest": ("workorders", "runs"),
    "servicetask": ("workorders", "tasks"),
    "taskmoment": ("workorders", "tasks"),
    "allocationdecision": ("workorders", "tasks"),
    "outcome": ("workorders", "tasks"),
    "appointment": ("workorders", "tasks"),
    "segment": ("workorders", "campaigns"),
    "campaign": ("workorders", "campaigns"),
    "campaignmanager": ("workorders", "campaigns"),
    "campaigntask": ("workorders", "campaigns"),
    "department": ("workorders", "org"),
    "province": ("customers", "org"),
    "city": ("customers", "org"),
    "county": ("customers", "org"),
    "grid": ("customers", "org"),
    "manager": ("managers", "org"),
    "staffprofile": ("managers", "org"),
}
# Old-layout models that point at moved ones (their rows must survive too).
POINTING = {
    "customers": ["customer", "assignment"],
    "keyaccounts": ["keyaccount", "keyaccountmember"],
    "moments": ["citythreshold"],
    "workorders": ["workorder"],
}
CONTENT_TYPES = "django_content_type"
PERMISSION = "reassign_servicetask_layout_test"


def _old_targets(leaves: Iterable[tuple[str, str]]) -> list[tuple[str, str | None]]:
    targets: list[tuple[str, str | None]] = []
    for app, name in sorted(leaves):
        if app in NEW_APPS or app in LATER_APPS:
            targets.append((app, None))
        else:
            targets.append((app, OLD_LEAVES.get(app, name)))
    return targets


def _snapshot() -> dict[str, tuple[tuple[str, ...], list[tuple[str, ...]]]]:
    """Every table but django_migrations: its column names and its rows (sorted reprs)."""
    snapshot = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table == "django_migrations":
                continue
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            columns = tuple(col[0] for col in cursor.description)
            rows = sorted(tuple(repr(value) for value in row) for row in cursor.fetchall())
            snapshot[table] = (columns, rows)
    return snapshot


def _schema(tables: Iterable[str]) -> dict[str, list[tuple]]:
    """Columns, indexes and constraints of the tables: a state-only move changes none."""
    schema = {}
    with connection.cursor() as cursor:
        for table in tables:
            columns = [
                (col.name, col.null_ok)
                for col in connection.introspection.get_table_description(cursor, table)
            ]
            constraints = sorted(
                (
                    name,
                    tuple(info["columns"] or ()),
                    bool(info["primary_key"]),
                    bool(info["unique"]),
                    bool(info["index"]),
                    bool(info["check"]),
                    tuple(info["foreign_key"] or ()),
                )
                for name, info in connection.introspection.get_constraints(cursor, table).items()
            )
            schema[table] = columns + constraints
    return schema


def _fill_old_layout(apps) -> dict[str, object]:
    """One row (at least) in every moved model and every model pointing at one, wired together."""

    def model(app_label, name):
        return apps.get_model(app_label, name)

    user = model("auth", "User").objects.create(username="layout-user", password="!")
    province = model("customers", "Province").objects.create(code="P01", name="测试省")
    city = model("customers", "City").objects.create(code="C01", name="测试市", province=province)
    county = model("customers", "County").objects.create(code="X01", name="测试县", city=city)
    grid = model("customers", "Grid").objects.create(
        code="G01", name="测试网格", city=city, county=county
    )
    manager = model("managers", "Manager").objects.create(
        manager_id="M01",
        name="经理甲",
        mobile="10000000001",
        role="customer_manager",
        daily_capacity=20,
        city=city,
        grid=grid,
        user=user,
    )
    model("managers", "StaffProfile").objects.create(
        user=user, role="account_manager", city=city, manager=manager
    )
    key_account = model("keyaccounts", "KeyAccount").objects.create(
        key_account_id="K01",
        name="测试集团",
        industry="制造",
        tier="A",
        status="active",
        created_date=datetime.date(2020, 1, 1),
        city=city,
        manager=manager,
    )
    customer = model("customers", "Customer").objects.create(
        subscriber_id="S01",
        msisdn="10000000002",
        name="客户甲",
        join_date=datetime.date(2019, 5, 1),
        city=city,
        county=county,
        grid=grid,
        manager=manager,
        key_account=key_account,
        brand="gotone",
        plan_code="PL1",
        plan_fee=Decimal("88.00"),
        payment_type="postpaid",
        status="active",
        status_date=datetime.date(2019, 5, 1),
        value_tier="mid_high",
        row_hash="0" * 32,
    )
    model("customers", "Assignment").objects.create(
        customer=customer, manager=manager, start_date=datetime.date(2024, 1, 1)
    )
    model("keyaccounts", "KeyAccountMember").objects.create(
        key_account=key_account,
        customer=customer,
        role="key_person",
        joined_date=datetime.date(2021, 1, 1),
    )
    moment = model("moments", "MomentDefinition").objects.create(
        code="T01", name_zh="测试时刻", category="anomaly", cycle="daily", channel="call"
    )
    model("moments", "CityThreshold").objects.create(
        moment=moment, city=city, name="limit", value={"n": 3}
    )
    definition_set = model("moments", "DefinitionSetVersion").objects.create(content_hash="h1")
    business_date = datetime.date(2025, 3, 2)
    run = model("workorders", "Run").objects.create(
        run_id="R01",
        business_date=business_date,
        definition_set=definition_set,
        counts={"T01": 1},
    )
    model("workorders", "RunRequest").objects.create(
        business_date=business_date, delivery="/data/in", run=run, requested_by=user
    )
    model("workorders", "QuarantineRow").objects.create(
        run=run, file="customers.csv", row_number=7, raw="x", rule="r", reason="bad"
    )
    model("workorders", "Detection").objects.create(
        run=run, customer=customer, moment=moment, business_date=business_date, priority=5
    )
    model("workorders", "Suppression").objects.create(
        run=run,
        customer=customer,
        moment=moment,
        business_date=business_date,
        suppressed_codes=["T02"],
    )
    model("workorders", "AllocationDecision").objects.create(
        run=run,
        customer=customer,
        manager=manager,
        moment=moment,
        business_date=business_date,
        decision="call",
        priority_score=0.75,
    )
    task = model("workorders", "ServiceTask").objects.create(
        customer=customer,
        manager=manager,
        run=run,
        city=city,
        claimed_by=user,
        business_date=business_date,
        channel="call",
        state="in_progress",
        priority_score=0.75,
        risk_reasons=["arpu_drop"],
    )
    model("workorders", "TaskMoment").objects.create(task=task, moment=moment, priority=5)
    model("workorders", "Outcome").objects.create(
        task=task, contact_result="reached", recommendation="accepted", recorded_by=user
    )
    model("workorders", "Appointment").objects.create(
        task=task,
        customer=customer,
        manager=manager,
        created_by=user,
        kind="alert",
        due_at=datetime.datetime(2025, 3, 3, 9, 0, tzinfo=datetime.UTC),
    )
    segment = model("workorders", "Segment").objects.create(
        name="高价值", filter={"value_tier": "mid_high"}, city=city, owner=user
    )
    campaign = model("workorders", "Campaign").objects.create(
        name="春季关怀", segment=segment, city=city, created_by=user, status="active"
    )
    model("workorders", "CampaignManager").objects.create(campaign=campaign, manager=manager)
    model("workorders", "CampaignTask").objects.create(
        campaign=campaign, customer=customer, manager=manager
    )
    department = model("workorders", "Department").objects.create(
        code="D01", name="网络部", city=city
    )
    model("workorders", "WorkOrder").objects.create(
        customer=customer,
        department=department,
        task=task,
        created_by=user,
        title="信号差",
        due_at=datetime.datetime(2025, 3, 5, 18, 0, tzinfo=datetime.UTC),
    )

    # Content types of the old models (post_migrate made them under the new labels; the
    # backwards RunPython handed them back) and one permission pointing at one of them.
    content_type = model("contenttypes", "ContentType")
    new_labels = {(new, name) for name, (_old, new) in MOVED.items()}
    leftovers = [
        (ct.app_label, ct.model)
        for ct in content_type.objects.all()
        if (ct.app_label, ct.model) in new_labels
    ]
    assert not leftovers, f"content types not handed back on the way down: {leftovers}"
    content_type_ids = {
        name: content_type.objects.get_or_create(app_label=old, model=name)[0].pk
        for name, (old, _new) in MOVED.items()
    }
    permission = model("auth", "Permission").objects.create(
        codename=PERMISSION,
        name="Can reassign a service task",
        content_type_id=content_type_ids["servicetask"],
    )
    user.user_permissions.add(permission)
    return {"content_type_ids": content_type_ids, "user_id": user.pk, "permission": permission.pk}


def _old_tables(apps) -> set[str]:
    tables = {apps.get_model(old, name)._meta.db_table for name, (old, _new) in MOVED.items()}
    tables |= {
        apps.get_model(app, name)._meta.db_table
        for app, names in POINTING.items()
        for name in names
    }
    return tables


@pytest.mark.django_db(transaction=True)
def test_old_layout_database_migrates_with_every_row():
    """A real DeleteModel/RemoveField (or a lost row) in place of a state-only op fails it."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    old_targets = _old_targets(latest)
    assert {app for app, _ in latest} >= set(OLD_LEAVES) | set(NEW_APPS)
    try:
        # 1. Down to the old layout: the new apps unapplied, every other app at its pre-move leaf.
        executor.migrate(old_targets)
        executor.loader.build_graph()
        applied = set(executor.loader.applied_migrations)
        assert not any(app in NEW_APPS for app, _ in applied)
        for app, name in OLD_LEAVES.items():
            assert (app, name) in applied
            assert not any(a == app and n > name for a, n in applied), app
        old_apps = executor.loader.project_state(
            [(app, name) for app, name in old_targets if name is not None]
        ).apps

        # 2. Fill it through the historical models.
        filled = _fill_old_layout(old_apps)
        involved = _old_tables(old_apps)

        # 3. Every table's rows and every involved table's schema.
        before = _snapshot()
        for table in involved:
            assert before[table][1], f"{table} was not filled"
        schema_before = _schema(involved)

        # 4. Up to the layout the move left, with a fresh loader as Django's own migration
        #    tests do; what it holds there is compared below.
        executor = MigrationExecutor(connection)
        # The apps made after the move stay unapplied: their tables are not the move's.
        executor.migrate(
            [
                (app, None if app in LATER_APPS else LAYOUT_LEAVES.get(app, name))
                for app, name in latest
            ]
        )
        after = _snapshot()
        schema_after = _schema(involved)
    finally:
        # 6. Whatever happened above, leave the database at the latest state.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    executor.loader.build_graph()
    assert not executor.migration_plan(executor.loader.graph.leaf_nodes())

    # 5a. Same tables, same columns, same rows; only content types changed app label.
    assert set(after) == set(before), "tables dropped or created"
    content_types_before = before.pop(CONTENT_TYPES)
    content_types_after = after.pop(CONTENT_TYPES)
    for table, (columns, rows) in before.items():
        assert after[table][0] == columns, f"{table}: columns changed"
        assert len(after[table][1]) == len(rows), f"{table}: row count changed"
        assert after[table][1] == rows, f"{table}: rows changed"
    assert schema_after == schema_before

    columns, rows = content_types_before
    label, model_name = columns.index("app_label"), columns.index("model")
    moved_labels = {(repr(old), repr(name)): repr(new) for name, (old, new) in MOVED.items()}
    expected = []
    for row in rows:
        row = list(row)
        row[label] = moved_labels.get((row[label], row[model_name]), row[label])
        expected.append(tuple(row))
    assert content_types_after == (columns, sorted(expected))

    # 5b. The current models read the rows and follow the relations.
    _check_current_models(filled, {table: len(rows) for table, (_c, rows) in before.items()})


def _check_current_models(filled, counts):
    from django.apps import apps
    from django.contrib.auth.models import Permission, User
    from django.contrib.contenttypes.models import ContentType

    from keycare.campaigns.models import Campaign, CampaignTask, Segment
    from keycare.customers.models import Assignment, Customer
    from keycare.keyaccounts.models import KeyAccount, KeyAccountMember
    from keycare.moments.models import CityThreshold
    from keycare.org.models import Department, Grid, Manager, StaffProfile
    from keycare.runs.models import Run
    from keycare.tasks.models import AllocationDecision, ServiceTask
    from keycare.workorders.models import WorkOrder

    # Every current model reads all of its table's rows, every field loading.
    for model in apps.get_models():
        table = model._meta.db_table
        if model._meta.managed and not model._meta.proxy and table in counts:
            assert len(list(model.objects.values_list())) == counts[table], model

    task = ServiceTask.objects.select_related(
        "customer__city__province", "manager", "run", "city", "claimed_by"
    ).get()
    assert task.customer.city.province.code == "P01"
    assert task.customer.county.city_id == task.city_id
    assert task.customer.grid.county.code == "X01"
    assert task.customer.manager == task.manager
    assert task.customer.key_account.manager == task.manager
    assert task.manager.manager_id == "M01"
    assert task.manager.grid.code == "G01"
    assert task.city.code == "C01"
    assert task.claimed_by.username == "layout-user"
    assert task.run.run_id == "R01"
    assert task.run.definition_set.content_hash == "h1"
    assert [m.moment.code for m in task.moments.all()] == ["T01"]
    assert [o.contact_result for o in task.outcomes.all()] == ["reached"]
    assert [a.manager_id for a in task.appointments.all()] == [task.manager_id]
    assert list(task.customer.service_tasks.all()) == [task]
    assert list(task.manager.service_tasks.all()) == [task]

    run = task.run
    assert [t.pk for t in run.tasks.all()] == [task.pk]
    assert [d.customer_id for d in run.detections.all()] == [task.customer_id]
    assert [s.suppressed_codes for s in run.suppressions.all()] == [["T02"]]
    assert [q.row_number for q in run.quarantine_rows.all()] == [7]
    assert [r.delivery for r in run.requests.all()] == ["/data/in"]
    decision = AllocationDecision.objects.get()
    assert (decision.run, decision.manager, decision.moment.code) == (run, task.manager, "T01")
    assert [d.pk for d in run.decisions.all()] == [decision.pk]

    work_order = WorkOrder.objects.select_related("department__city", "task").get()
    assert work_order.task == task
    assert work_order.department.code == "D01"
    assert work_order.department.city == task.city
    assert list(Department.objects.get().work_orders.all()) == [work_order]
    assert list(task.work_orders.all()) == [work_order]

    campaign = Campaign.objects.get()
    assert list(campaign.managers.all()) == [task.manager]
    assert list(task.manager.campaigns.all()) == [campaign]
    assert campaign.segment == Segment.objects.get()
    assert list(campaign.segment.campaigns.all()) == [campaign]
    assert [a.manager for a in campaign.assignments.all()] == [task.manager]
    assert CampaignTask.objects.get().customer == task.customer
    assert [t.manager for t in campaign.tasks.all()] == [task.manager]

    profile = StaffProfile.objects.select_related("manager", "city", "user").get()
    assert (profile.manager, profile.city) == (task.manager, task.city)
    assert profile.user.manager == task.manager
    assert Manager.objects.get().user == profile.user
    assert Assignment.objects.get().manager == task.manager
    assert list(task.manager.customers.all()) == [task.customer]
    assert KeyAccount.objects.get().city == task.city
    assert KeyAccountMember.objects.get().customer == task.customer
    assert CityThreshold.objects.get().city == task.city
    assert Grid.objects.get().county.city == task.city
    assert Customer.objects.get(city__province__code="P01") == task.customer

    # The content types went to the new apps under their old ids; the permission followed.
    ContentType.objects.clear_cache()
    for name, (_old, new) in MOVED.items():
        content_type = ContentType.objects.get(pk=filled["content_type_ids"][name])
        assert (content_type.app_label, content_type.model) == (new, name)
        assert content_type.model_class() is not None, name
    assert (
        ContentType.objects.get_for_model(ServiceTask).pk
        == (filled["content_type_ids"]["servicetask"])
    )
    assert ContentType.objects.get_for_model(Run).pk == filled["content_type_ids"]["run"]
    permission = Permission.objects.get(pk=filled["permission"])
    assert permission.content_type_id == filled["content_type_ids"]["servicetask"]
    assert permission.content_type.app_label == "tasks"
    user = User.objects.get(pk=filled["user_id"])
    assert ModelBackend().has_perm(user, f"tasks.{PERMISSION}")
    assert not ModelBackend().has_perm(user, f"workorders.{PERMISSION}")
