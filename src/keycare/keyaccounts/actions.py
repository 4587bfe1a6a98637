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
from keycare.keyaccounts import rules, standards, tiers
from keycare.keyaccounts.models import (
    ChangeSource,
    KeyAccount,
    KeyAccountChange,
    PointsEntry,
    PointsKind,
    PotentialKeyAccount,
    PotentialStage,
    PotentialStep,
    ServiceRule,
    ServiceStandardSet,
    TierChange,
    TierPolicy,
)
from keycare.org.models import Manager

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
        if raw and (not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_EMPLOYEES):
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
        policy = rules.activate_next(
            TierPolicy.objects.all(), actor, data=data, note=note.strip()[:200]
        )
        record(actor, "keyaccount.tiers.publish", policy, version=policy.version, note=note)
        counts = apply_tiers(actor, reason=reason)
    return policy, counts


# --- service rules (004 §4) -------------------------------------------------------------------


def publish_rule(
    actor, kind: str, data, *, note: str = "", reason: str
) -> tuple[ServiceRule, dict]:
    """Validate a new version of rule ``kind``, put it in force (the previous one retired) and
    apply it to the groups (credit ratings, key-customer levels, candidates) where it computes."""
    module = rules.module(kind)
    data = module.validate(data)
    reason = _reason(reason)
    with transaction.atomic():
        rule = rules.activate_next(
            ServiceRule.objects.filter(kind=kind), actor, kind=kind, data=data,
            note=note.strip()[:200], reason=reason,
        )  # fmt: skip
        counts = apply_rule(actor, kind, reason=reason) if hasattr(module, "apply") else {}
        counts.pop("version", None)
        record(actor, "keyaccount.rule.publish", rule, kind=kind, version=rule.version,
               note=note, reason=reason, **counts)  # fmt: skip
    return rule, counts


def apply_rule(actor, kind: str, *, reason: str) -> dict:
    """Compute rule ``kind`` in force over every active group and write the results."""
    reason = _reason(reason)
    version, data = rules.current(kind)
    with transaction.atomic():
        counts = rules.module(kind).apply(actor, version, data, reason)
        record(actor, "keyaccount.rule.apply", object_type="keyaccounts.servicerule",
               object_id=f"{kind}:{version}", kind=kind, version=version, reason=reason,
               **counts)  # fmt: skip
    return {"version": version, **counts}


# --- points -----------------------------------------------------------------------------------

MAX_REDEEM = 100_000_000


def earn_points(actor, month: str | None = None) -> dict:
    """Credit every active group the points it earned in ``month`` (default: the last closed
    month with revenue) under the points rule in force. A month is earned once per group; a
    group's first earn opens its ledger with the balance it had (as delivered)."""
    from keycare.keyaccounts import points

    month = month or points.latest_month()
    if not month:
        raise WorkflowError("没有可计算积分的收入月份")
    version, data = rules.current("points")
    by = user_or_none(actor)
    with transaction.atomic():
        done = set(
            PointsEntry.objects.filter(kind=PointsKind.EARN, month=month).values_list(
                "key_account_id", flat=True
            )
        )
        earned = {pk: n for pk, n in points.month_points(data, month).items() if pk not in done}
        opened = set(PointsEntry.objects.values_list("key_account_id", flat=True).distinct())
        groups = KeyAccount.objects.in_bulk(list(earned))
        entries = []
        for pk, n in earned.items():
            g = groups[pk]
            balance = g.points or 0
            if pk not in opened and balance:
                entries.append(PointsEntry(key_account=g, kind=PointsKind.OPENING, points=balance,
                                           balance=balance, reason="期初余额", by=by))  # fmt: skip
            g.points = balance + n
            entries.append(PointsEntry(key_account=g, kind=PointsKind.EARN, points=n,
                                       balance=g.points, month=month, rule_version=version, by=by))  # fmt: skip
        PointsEntry.objects.bulk_create(entries, batch_size=BATCH)
        KeyAccount.objects.bulk_update(list(groups.values()), ["points"], BATCH)
        total = sum(earned.values())
        record(actor, "keyaccount.points.earn", object_type="keyaccounts.pointsentry",
               object_id=month, month=month, rule_version=version, groups=len(earned),
               points=total)  # fmt: skip
    return {"month": month, "rule_version": version, "groups": len(earned), "points": total}


def redeem_points(actor, ka: KeyAccount, amount, *, reason: str) -> PointsEntry:
    """A manager redeems ``amount`` points of a group for ``reason``; never below zero."""
    raw = str(amount or "").strip()
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_REDEEM:
        raise WorkflowError(f"兑换积分须为 1 到 {MAX_REDEEM} 的整数，不是 {raw!r}")
    amount, reason = int(raw), _reason(reason)
    with transaction.atomic():
        group = KeyAccount.objects.select_for_update().get(pk=ka.pk)
        balance = group.points or 0
        if amount > balance:
            raise WorkflowError(f"积分余额 {balance} 不足以兑换 {amount}")
        if not PointsEntry.objects.filter(key_account=group).exists() and balance:
            PointsEntry.objects.create(key_account=group, kind=PointsKind.OPENING, points=balance,
                                       balance=balance, reason="期初余额", by=user_or_none(actor))  # fmt: skip
        group.points = balance - amount
        group.save(update_fields=["points"])
        entry = PointsEntry.objects.create(key_account=group, kind=PointsKind.REDEEM,
                                           points=-amount, balance=group.points, reason=reason,
                                           by=user_or_none(actor))  # fmt: skip
        record(actor, "keyaccount.points.redeem", group, points=amount, balance=group.points,
               reason=reason)  # fmt: skip
    ka.points = group.points
    return entry


# --- potential key accounts -------------------------------------------------------------------

PIPELINE = {
    PotentialStage.CANDIDATE: {PotentialStage.CONTACTED, PotentialStage.DROPPED},
    PotentialStage.CONTACTED: {PotentialStage.QUALIFIED, PotentialStage.DROPPED},
    PotentialStage.QUALIFIED: {PotentialStage.CONVERTED, PotentialStage.DROPPED},
    PotentialStage.DROPPED: {PotentialStage.CANDIDATE},
    PotentialStage.CONVERTED: set(),
}


def _city_managers() -> dict[int, list[int]]:
    """{city pk: active key-account managers' pks}: candidates are shared out among them."""
    out: dict[int, list[int]] = {}
    for pk, city in (
        Manager.objects.filter(role="key_account_manager", active=True)
        .order_by("manager_id")
        .values_list("pk", "city_id")
    ):
        out.setdefault(city, []).append(pk)
    return out


def store_potential(actor, found, version: int) -> dict:
    """Store newly found candidates (shared out among the city's key-account managers) and
    refresh the counts of known ones; the pipeline stage of a known one is kept."""
    known = PotentialKeyAccount.objects.in_bulk(
        [f.candidate_id for f, _s in found], field_name="candidate_id"
    )
    managers, new, refreshed = _city_managers(), [], []
    for f, score in found:
        values = dict(subscribers=f.subscribers, monthly_spend=round(f.monthly_spend, 2),
                      score=score, contact_id=f.contact[1], rule_version=version)  # fmt: skip
        if f.candidate_id in known:
            p = known[f.candidate_id]
            for name, value in values.items():
                setattr(p, name, value)
            refreshed.append(p)
            continue
        pool = managers.get(f.city_id, [])
        new.append(PotentialKeyAccount(
            candidate_id=f.candidate_id, source=f.source, name=f.name[:200], city_id=f.city_id,
            manager_id=pool[len(new) % len(pool)] if pool else None, **values,
        ))  # fmt: skip
    with transaction.atomic():
        PotentialKeyAccount.objects.bulk_create(new, batch_size=BATCH)
        PotentialKeyAccount.objects.bulk_update(
            refreshed, ["subscribers", "monthly_spend", "score", "contact", "rule_version"], BATCH
        )
    return {"found": len(found), "new": len(new), "refreshed": len(refreshed)}


def move_potential(actor, potential: PotentialKeyAccount, to_stage: str, *, version: int,
                   note: str = "", key_account: KeyAccount | None = None) -> PotentialKeyAccount:  # fmt: skip
    """Move a candidate along candidate → contacted → qualified → converted (or dropped)."""
    if to_stage not in PotentialStage.values:
        raise WorkflowError(f"未知的阶段：{to_stage!r}")
    if to_stage not in PIPELINE[PotentialStage(potential.stage)]:
        raise WorkflowError(
            f"不能从“{potential.get_stage_display()}”转为“{PotentialStage(to_stage).label}”"
        )
    if to_stage == PotentialStage.CONVERTED and key_account is None:
        raise WorkflowError("转化须填写建档后的集团编号")
    note = (note or "").strip()[:200]
    with transaction.atomic():
        updated = PotentialKeyAccount.objects.filter(pk=potential.pk, version=version).update(
            stage=to_stage, version=F("version") + 1, updated_at=timezone.now(),
            key_account=key_account if to_stage == PotentialStage.CONVERTED else None,
        )  # fmt: skip
        if not updated:
            raise StaleTaskError("这个潜在大客户已被他人更新，请刷新后重试")
        PotentialStep.objects.create(potential=potential, from_stage=potential.stage,
                                     to_stage=to_stage, note=note, by=user_or_none(actor))  # fmt: skip
        record(actor, "keyaccount.potential.move", potential, from_stage=potential.stage,
               to_stage=to_stage, note=note,
               key_account=key_account.key_account_id if key_account else "")  # fmt: skip
    potential.refresh_from_db()
    return potential
