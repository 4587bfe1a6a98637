"""Key-account actions: a manager's information capture (004 §3.2) and publishing service
standards. Each takes the acting user, runs in one transaction and writes the audit event;
a group's edit is optimistic-locked on its version and kept field by field in its history.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from keycare.core.audit import record
from keycare.core.workflow import StaleTaskError, WorkflowError, user_or_none
from keycare.keyaccounts import standards, tiers
from keycare.keyaccounts.models import (
    ChangeSource,
    KeyAccount,
    KeyAccountChange,
    ServiceStandardSet,
    TierChange,
    TierPolicy,
    TierPolicyStatus,
)

# What a manager may capture, with the longest text each takes.
CAPTURED = {"address": 200, "main_business": 200, "website": 200, "notes": 2000}
MAX_EMPLOYEES = 10_000_000


def _clean_profile(values: dict) -> dict:
    clean = {}
    for name, limit in CAPTURED.items():
        if name in values:
            text = str(values[name] or "").strip()
            if len(text) > limit:
                raise WorkflowError(
                    f"“{KeyAccount._meta.get_field(name).verbose_name}”最多 {limit} 字"
                )
            clean[name] = text
    if "employees" in values:
        raw = str(values["employees"] or "").strip()
        if raw and (not raw.isdigit() or int(raw) > MAX_EMPLOYEES):
            raise WorkflowError(f"员工数须为 0 到 {MAX_EMPLOYEES} 的整数，不是 {raw!r}")
        clean["employees"] = int(raw) if raw else None
    if "strategic" in values:
        clean["strategic"] = bool(values["strategic"])
    return clean


def update_profile(actor, ka: KeyAccount, values: dict, *, version: int, reason: str = "") -> int:
    """Apply a manager's captured fields to ``ka`` if it is still at ``version``.

    Returns the number of fields changed (0: nothing to save). Every changed field becomes a
    history row of the new version; a concurrent edit is refused (reload and retry).
    """
    clean = _clean_profile(values)
    diffs = {n: (getattr(ka, n), v) for n, v in clean.items() if getattr(ka, n) != v}
    if not diffs:
        return 0
    with transaction.atomic():
        updated = KeyAccount.objects.filter(pk=ka.pk, version=version).update(
            version=F("version") + 1,
            updated_at=timezone.now(),
            **{n: v for n, (_old, v) in diffs.items()},
        )
        if not updated:
            raise StaleTaskError("这个集团客户已被他人更新，请刷新后重试")
        ka.refresh_from_db()
        KeyAccountChange.objects.bulk_create(
            KeyAccountChange(
                key_account=ka,
                version=ka.version,
                source=ChangeSource.MANAGER,
                field=name,
                old_value="" if old is None else str(old),
                new_value="" if new is None else str(new),
                reason=reason.strip()[:200],
                by=user_or_none(actor),
            )
            for name, (old, new) in diffs.items()
        )
        record(actor, "keyaccount.update", ka, version=ka.version, fields=sorted(diffs))
    return len(diffs)


def publish_standards(actor, data, *, note: str = "") -> ServiceStandardSet:
    """Validate and publish a new version of the service standards (in force at once)."""
    data = standards.validate(data)
    with transaction.atomic():
        latest = ServiceStandardSet.objects.select_for_update().order_by("-version").first()
        version = (latest.version if latest else 0) + 1
        published = ServiceStandardSet.objects.create(
            version=version, data=data, note=note.strip()[:200], published_by=user_or_none(actor)
        )
        record(actor, "keyaccount.standards.publish", published, version=version, note=note)
    return published


# --- tiers ------------------------------------------------------------------------------------

MIN_REASON = 2
BATCH = 2000


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise WorkflowError("请填写调整原因")
    return reason[:200]


def apply_tiers(
    actor, *, reason: str, progress=None, scored=None, policy_version: int | None = None
) -> dict:
    """Score every active group under the policy in force and write tiers and scores.

    Each group whose tier moves gets a TierChange (with the reason and the policy version)
    and a history row; every score is refreshed. Returns the counts. ``scored`` (with its
    ``policy_version``) are scores computed elsewhere -- the daily run's engine step -- to
    write instead of scoring here.
    """
    reason = _reason(reason)
    say = progress or (lambda _m: None)
    if scored is None:
        version, policy = tiers.current()
        say(f"scoring groups under tier policy v{version}")
        scored = tiers.score_groups(policy)
    else:
        version = policy_version or 0
    moved = [s for s in scored if s.tier != s.new_tier]
    by = user_or_none(actor)
    with transaction.atomic():
        say(f"writing {len(scored)} scores, {len(moved)} tier changes")
        groups = {g.pk: g for g in KeyAccount.objects.filter(pk__in=[s.pk for s in scored])}
        dirty = []  # only the rows whose score or tier changed are written
        for s in scored:
            g = groups[s.pk]
            if g.value_score == s.score and s.tier == s.new_tier:
                continue
            g.value_score = s.score
            if s.tier != s.new_tier:
                g.tier, g.version = s.new_tier, g.version + 1
            dirty.append(g)
        _write_scores(dirty)
        TierChange.objects.bulk_create(
            (
                TierChange(
                    key_account_id=s.pk,
                    from_tier=s.tier,
                    to_tier=s.new_tier,
                    score=s.score,
                    policy_version=version,
                    reason=reason,
                    by=by,
                )
                for s in moved
            ),
            batch_size=BATCH,
        )
        KeyAccountChange.objects.bulk_create(
            (
                KeyAccountChange(
                    key_account_id=s.pk,
                    version=groups[s.pk].version,
                    source=ChangeSource.TIERS,
                    field="tier",
                    old_value=s.tier,
                    new_value=s.new_tier,
                    reason=reason,
                    by=by,
                )
                for s in moved
            ),
            batch_size=BATCH,
        )
        record(
            actor,
            "keyaccount.tiers.apply",
            object_type="keyaccounts.tierpolicy",
            object_id=str(version),
            version=version,
            rows=len(scored),
            updated=len(moved),
            reason=reason,
        )
    return {"policy_version": version, "groups": len(scored), "moved": len(moved)}


def _write_scores(groups: list[KeyAccount]) -> None:
    """One prepared UPDATE per group, executed as a batch: linear, where ``bulk_update``'s
    CASE WHEN over a batch is quadratic (2,000 groups took 11 s on SQLite, see
    docs/performance.md)."""
    meta = KeyAccount._meta
    column = {name: meta.get_field(name).column for name in ("value_score", "tier", "version")}
    sql = (
        f"UPDATE {connection.ops.quote_name(meta.db_table)} SET "
        + ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in column.values())
        + f" WHERE {connection.ops.quote_name(meta.pk.column)} = %s"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(groups), BATCH):
            cursor.executemany(
                sql,
                [(g.value_score, g.tier, g.version, g.pk) for g in groups[start : start + BATCH]],
            )


def publish_tier_policy(actor, data, *, note: str = "", reason: str) -> tuple[TierPolicy, dict]:
    """Validate a new policy, put it in force (the previous one retired) and re-tier the groups."""
    data = tiers.validate(data)
    reason = _reason(reason)
    with transaction.atomic():
        latest = TierPolicy.objects.select_for_update().order_by("-version").first()
        TierPolicy.objects.filter(status=TierPolicyStatus.ACTIVE).update(
            status=TierPolicyStatus.RETIRED
        )
        policy = TierPolicy.objects.create(
            version=(latest.version if latest else 0) + 1,
            data=data,
            status=TierPolicyStatus.ACTIVE,
            note=note.strip()[:200],
            created_by=user_or_none(actor),
            activated_at=timezone.now(),
        )
        record(actor, "keyaccount.tiers.publish", policy, version=policy.version, note=note)
        counts = apply_tiers(actor, reason=reason)
    return policy, counts
