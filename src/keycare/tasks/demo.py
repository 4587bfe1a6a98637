"""Demo step of the tasks app: after the run is loaded, say which group moments (集团关键时刻)
the daily run handed to the key-account managers, and where to see them."""

from __future__ import annotations

from keycare.core.demo_steps import DemoContext, DemoStep


def report_group_tasks(context: DemoContext) -> None:
    from django.db.models import Count

    from keycare.tasks.models import GroupTask

    by_moment = (
        GroupTask.objects.values_list("moment__code", "moment__name_zh")
        .annotate(n=Count("pk"))
        .order_by("moment__code")
    )
    managers = GroupTask.objects.values("manager").distinct().count()
    summary = ", ".join(f"{code} {name} {n}" for code, name, n in by_moment) or "无"
    print(
        f"   集团关键时刻任务 {GroupTask.objects.count()} 个（{managers} 位集团客户经理）: "
        f"{summary}; 页面 /key-accounts/moments/",
        flush=True,
    )


DEMO_STEPS = [DemoStep("after_loadrun", "集团关键时刻 group moments", report_group_tasks)]
