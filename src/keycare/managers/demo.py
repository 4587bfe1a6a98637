"""Demo steps of the managers app, after the daily run's tasks are loaded: teams in the
archive, this month's work plans (the demo manager's submitted for approval), a few visits and
call notes, an assigned task, the demo manager's reminder digest (SMS in the outbox, e-mail
under KEYCARE_HOME/mail) and the month's KPI assessment, so every managers page has
something to show. Seconds on the 60k demo (plans for one city's managers only)."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from keycare.core.demo_steps import DemoContext, DemoStep

PLANNED_MANAGERS = 20
TEAMS = ("一组", "二组")


def managers_work(context: DemoContext) -> None:
    from django.contrib.auth import get_user_model

    from keycare.access import roles
    from keycare.errors import UserError
    from keycare.keyaccounts.models import KeyAccount, KeyPerson
    from keycare.managers import actions
    from keycare.managers.digest import send_digests
    from keycare.managers.models import ManagerProfile
    from keycare.org.models import Manager
    from keycare.tasks.models import ServiceTask

    day = date.fromisoformat(context.date)
    managers = list(Manager.objects.order_by("city_id", "manager_id"))
    if not managers:
        print("   没有客户经理，跳过 (no managers loaded)", flush=True)
        return
    ManagerProfile.objects.bulk_create(
        [ManagerProfile(manager=m, team=TEAMS[i % 2]) for i, m in enumerate(managers)],
        ignore_conflicts=True,
    )
    lead = actions._demo_manager()
    same_city = [m for m in managers if m.city_id == lead.city_id][:PLANNED_MANAGERS]
    for manager in same_city:
        # A plan already submitted or approved on an earlier demo run stays as it is.
        with contextlib.suppress(UserError):
            actions.generate_plan(None, manager, period="month", day=day)
    at = timezone.make_aware(datetime.combine(day, time(10)))
    for i, group in enumerate(KeyAccount.objects.filter(manager=lead).order_by("pk")[:3]):
        people = list(KeyPerson.objects.filter(key_account=group)[:2])
        actions.record_work(
            None, lead, kind="visit", at=at - timedelta(days=i), content="走访了解信息化需求",
            links={"key_account": group, "key_persons": people}, place=f"{group.name}总部",
            result="客户有意向扩容专线", next_step="提交方案报价",
        )  # fmt: skip
    for task in ServiceTask.objects.filter(manager=lead).order_by("-priority_score")[:2]:
        actions.record_work(
            None, lead, kind="call", at=at, content="电话关怀，了解资费使用情况",
            links={"task": task}, result="客户满意",
        )  # fmt: skip
    plan = lead.plans.filter(start=day.replace(day=1), period="month").first()
    if plan is not None and plan.items.exists() and plan.status == "draft":
        actions.submit_plan(None, plan, note="本月重点走访A类集团")
    actions.assign_task(
        None, title="摸排重点集团信息化需求", description="每位经理至少走访两家集团并记录需求",
        deadline=timezone.now() + timedelta(days=7), managers=same_city, city_id=lead.city_id,
    )  # fmt: skip
    # The demo manager's daily digest needs their account (passwords are reset and shown at
    # the end of the demo) with an address for the e-mail.
    actions.create_demo_users()
    get_user_model().objects.filter(username=f"demo_{roles.ROLE_MANAGER}", email="").update(
        email="demo_manager@keycare.invalid"
    )
    actions.set_digest(None, lead, sms=True, email=True)
    sent = send_digests(None, day)
    print(f"   提醒摘要：短信 {sent.sent['sms']}，邮件 {sent.sent['email']}", flush=True)
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    try:
        period = actions.compute_period(None, name=f"{start:%Y-%m}", start=start, end=end)
    except UserError as error:  # approved or locked on an earlier demo run
        print(f"   {error}", flush=True)
        return
    print(f"   考核期 {period.name}：{period.assessments.count()} 位经理", flush=True)


DEMO_STEPS = [DemoStep("after_loadrun", "经理工作与考核 managers", managers_work)]
