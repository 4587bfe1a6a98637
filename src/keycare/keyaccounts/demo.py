"""Demo steps of the key accounts: after the load, score the groups and place them in
A1/A2/B1/B2/C under the built-in tier policy, and say what the 集团客户 pages will show."""

from __future__ import annotations

from datetime import timedelta

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


DEMO_STEPS = [DemoStep("after_load", "集团客户分层分级 keycare tiers", tier_groups)]
