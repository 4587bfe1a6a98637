"""Key accounts in the daily run: what goes in (the group moments and tier policy in force)
and what comes back (group tasks for the groups' managers, value scores and tiers).

``run_kwargs`` is a before-run step (keycare.runs.prerun); ``load_group_tasks`` and
``load_group_tiers`` are load steps (keycare.runs.loaders), registered in TasksConfig.ready.
"""

from __future__ import annotations

from keycare.keyaccounts import tiers
from keycare.keyaccounts.actions import apply_tiers
from keycare.keyaccounts.models import KeyAccount
from keycare.runs.loaders import BATCH, as_int, as_text, json_value
from keycare.tasks.models import GroupTask, TaskState

OPEN = (TaskState.UNHANDLED, TaskState.IN_PROGRESS)


def run_kwargs(business_date, runs_dir) -> dict:
    """The group moments as configured and the tier policy in force go into the run."""
    from keycare.moments.services import current_group_definitions

    return {"group_definitions": current_group_definitions(), "tier_policy": tiers.current()}


def load_group_tasks(loader) -> None:
    """One task per group and moment detected, for the group's manager.

    A group is not given a moment again while an earlier task for it is still open; a re-run
    of the date replaces the date's unstarted tasks and never touches worked ones.
    """
    rows = loader.tables.get("group_detections")
    if rows is None:
        return
    groups = dict(
        KeyAccount.objects.filter(
            key_account_id__in={r["key_account_id"] for r in rows}
        ).values_list("key_account_id", "pk")
    )
    cities = dict(KeyAccount.objects.filter(pk__in=groups.values()).values_list("pk", "city_id"))
    GroupTask.objects.filter(business_date=loader.date, state=TaskState.UNHANDLED).delete()
    kept = set(GroupTask.objects.filter(state__in=OPEN).values_list("key_account_id", "moment_id"))
    counts = dict.fromkeys(("created", "open_already", "unknown_groups"), 0)
    tasks = []
    for row in rows:
        group, moment = groups.get(row["key_account_id"]), loader.moment(row["moment_code"])
        if group is None or moment is None:
            counts["unknown_groups"] += group is None
            continue
        if (group, moment.pk) in kept:
            counts["open_already"] += 1
            continue
        kept.add((group, moment.pk))
        tasks.append(
            GroupTask(
                key_account_id=group,
                moment=moment,
                manager_id=loader.manager(row.get("manager_id")),
                run=loader.run,
                city_id=cities.get(group),
                business_date=loader.date,
                priority=as_int(row.get("priority"), moment.priority),
                params=json_value(row.get("params"), {}),
                explanation=as_text(row.get("explanation")),
            )
        )
    GroupTask.objects.bulk_create(tasks, batch_size=BATCH)
    counts["created"] = len(tasks)
    loader.summary["group_tasks"] = counts


def load_group_tiers(loader) -> None:
    """Write the run's value scores and tiers (only the groups whose score or tier changed;
    tier changes recorded with the policy version, as ``keycare tiers`` does)."""
    rows = loader.tables.get("group_tiers")
    if not rows:
        return
    scored = tiers.scored_from_rows(rows)
    version = as_int(rows[0].get("policy_version"), 0)
    loader.summary["group_tiers"] = apply_tiers(
        None,
        reason=f"日批评定（运行 {loader.run.run_id}）",
        scored=scored,
        policy_version=version,
    )
