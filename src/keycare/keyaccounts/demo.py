"""Demo steps of the key accounts: after the load, score the groups and place them in
A1/A2/B1/B2/C under the built-in tier policy, and say what the 集团客户 pages will show."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count

from keycare.core.demo_steps import DemoContext, DemoStep


def tier_groups(context: DemoContext) -> None:
    from datetime import date

    from django.db.models import Count

    from keycare.keyaccounts.actions import apply_tiers
    from keycare.keyaccounts.models import (
        KeyAccount,
        KeyAccountContract,
        KeyAccountProduct,
        KeyPerson,
    )

    counts = apply_tiers(None, reason="演示：按内置分层策略评定")
    by_tier = dict(
        KeyAccount.objects.filter(archive="active").values_list("tier").annotate(n=Count("pk"))
    )
    day = date.fromisoformat(context.date)
    due = KeyAccountContract.objects.filter(
        status="active", end_date__lte=day + timedelta(days=90)
    ).count()
    print(
        f"   {counts['groups']} 个集团评定层级（{counts['moved']} 个调整）: "
        + ", ".join(f"{t} {by_tier.get(t, 0)}" for t in ("A1", "A2", "B1", "B2", "C")),
        flush=True,
    )
    print(
        f"   产品/专线 {KeyAccountProduct.objects.count()}, 关键人 {KeyPerson.objects.count()}, "
        f"90 天内到期合同 {due}; 页面 /key-accounts/",
        flush=True,
    )


def service_rules(context: DemoContext) -> None:
    """Rate credit, define key customers, earn the points of every month with revenue, find
    the potential key accounts; then a manager's redemption and two candidates worked on, so
    the ledger and the pipeline have something to show."""
    from keycare.keyaccounts import actions
    from keycare.keyaccounts.models import (
        KeyAccount,
        KeyAccountRevenue,
        PotentialKeyAccount,
        PotentialStage,
    )

    reason = "演示：按内置服务规则计算"
    counts = {k: actions.apply_rule(None, k, reason=reason) for k in ("credit", "definition")}
    found = actions.apply_rule(None, "potential", reason=reason)
    months = sorted(set(KeyAccountRevenue.objects.values_list("month", flat=True)))[-3:]
    earned = [actions.earn_points(None, m) for m in months]
    richest = KeyAccount.objects.filter(archive="active").order_by("-points").first()
    if richest is not None and (richest.points or 0) >= 1000:
        actions.redeem_points(None, richest, "1000", reason="演示：兑换集团活动礼品")
    for p, stage in zip(
        PotentialKeyAccount.objects.filter(stage=PotentialStage.CANDIDATE)[:2],
        (PotentialStage.CONTACTED, PotentialStage.CONTACTED),
        strict=False,
    ):
        actions.move_potential(None, p, stage, version=p.version, note="演示：电话联系")
    rated = dict(
        KeyAccount.objects.filter(archive="active")
        .values_list("credit_rating")
        .annotate(n=Count("pk"))
    )
    print(
        f"   信誉度 {counts['credit']['groups']} 个集团: "
        + ", ".join(f"{g} {rated.get(g, 0)}" for g in ("AAA", "AA", "A", "B", "C"))
        + f"; 大客户界定 {counts['definition']['changed']} 个变化; "
        f"积分 {len(earned)} 个月共 {sum(e['points'] for e in earned)}; "
        f"潜在大客户 {found['found']} 个; 页面 /key-accounts/rules/、/key-accounts/potential/",
        flush=True,
    )


DEMO_STEPS = [
    DemoStep("after_load", "集团客户分层分级 keycare tiers", tier_groups),
    DemoStep("after_load", "集团服务规则 keycare grouprules", service_rules),
]
