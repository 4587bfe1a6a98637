"""Segment and campaign actions: save a segment, create a campaign and assign its customers to
managers within capacity, record a campaign task's result, finish the campaign. Each takes
the acting user, runs in one transaction and writes the audit event.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from keycare.campaigns.models import (
    Campaign,
    CampaignManager,
    CampaignStatus,
    CampaignTask,
    Segment,
)
from keycare.campaigns.segments import SegmentError, parse_conditions
from keycare.core.audit import record
from keycare.core.workflow import (
    IllegalTransitionError,
    StaleTaskError,
    WorkflowError,
    user_or_none,
)
from keycare.tasks.actions import check_outcome
from keycare.tasks.models import Recommendation


def save_segment(
    actor,
    *,
    name: str,
    conditions,
    description: str = "",
    city_id: int | None = None,
    segment: Segment | None = None,
) -> Segment:
    """Create a segment, or update ``segment``, from raw conditions validated against the catalog.

    Raises WorkflowError listing every invalid condition; nothing is saved then.
    """
    name = name.strip()
    if not name:
        raise WorkflowError("请填写客户群名称")
    if len(name) > 100:
        raise WorkflowError("客户群名称最多 100 个字符")
    try:
        clean = parse_conditions(conditions)
    except SegmentError as error:
        raise WorkflowError("；".join(error.messages)) from None
    values = {"name": name, "description": description.strip(), "filter": {"all": clean}}
    with transaction.atomic():
        if segment is None:
            segment = Segment.objects.create(**values, city_id=city_id, owner=user_or_none(actor))
            record(actor, "segment.create", segment, filter=values["filter"])
        else:
            Segment.objects.filter(pk=segment.pk).update(**values, updated_at=timezone.now())
            segment.refresh_from_db()
            record(actor, "segment.update", segment, filter=values["filter"])
    return segment


class AssignMode:
    """How a campaign's customers are given to managers (see docs/workflow.md)."""

    OWN = "own"  # each customer to their own manager; the chosen managers take the rest
    SPREAD = "spread"  # spread over the chosen managers, own manager first, within capacity

    choices = ((OWN, "按归属经理分配"), (SPREAD, "在所选经理间均衡分配"))


def create_campaign(
    actor,
    *,
    name: str,
    customers,
    managers=(),
    segment=None,
    start_date=None,
    end_date=None,
    description: str = "",
    script: str = "",
    city=None,
    city_id: int | None = None,
    mode: str = AssignMode.SPREAD,
    capacity: dict | None = None,
) -> Campaign:
    """Create an active campaign for ``customers`` (a segment's selection, evaluated by the
    caller, already scoped) and give every customer to one manager.

    ``mode`` OWN: each customer goes to their own (active) manager; customers without one go
    to the chosen ``managers``. ``mode`` SPREAD: customers go to the chosen ``managers`` only,
    a customer's own manager first when chosen, otherwise the least loaded. ``capacity``
    ({manager pk: most customers}) caps what the chosen managers take; a selection that does
    not fit is refused whole, never cut silently.
    """
    if not name.strip():
        raise WorkflowError("请填写活动名称")
    if start_date and end_date and end_date < start_date:
        raise WorkflowError("结束日期不能早于开始日期")
    if mode not in (AssignMode.OWN, AssignMode.SPREAD):
        raise WorkflowError(f"分配方式无效：{mode!r}")
    chosen = {m.pk: m for m in managers}
    rows = list(
        customers.values_list("pk", "manager_id", "manager__active").order_by("pk").distinct()
    )
    if not rows:
        raise WorkflowError("客户群在您的权限范围内没有客户，无法创建活动")
    plan = plan_assignment(rows, chosen, mode=mode, capacity=capacity)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name.strip(),
            description=description,
            segment=segment,
            status=CampaignStatus.ACTIVE,
            start_date=start_date,
            end_date=end_date,
            script=script,
            city_id=city.pk if city is not None else city_id,
            created_by=user_or_none(actor),
        )
        taking_part = sorted({m for m in plan.values() if m is not None})
        CampaignManager.objects.bulk_create(
            [CampaignManager(campaign=campaign, manager_id=pk) for pk in taking_part]
        )
        CampaignTask.objects.bulk_create(
            [
                CampaignTask(campaign=campaign, customer_id=customer_id, manager_id=manager_id)
                for customer_id, manager_id in plan.items()
            ],
            batch_size=2000,
        )
        record(
            actor,
            "campaign.create",
            campaign,
            customers=len(plan),
            managers=taking_part,
            mode=mode,
            segment=segment.pk if segment else None,
        )
    return campaign


def plan_assignment(rows, chosen: dict, *, mode: str, capacity: dict | None = None) -> dict:
    """{customer pk: manager pk} for rows of (customer pk, own manager pk, own manager active).

    Raises WorkflowError, naming the numbers, when the chosen managers cannot take their part.
    """
    load = {pk: 0 for pk in chosen}
    caps = {pk: (capacity or {}).get(pk) for pk in chosen}
    plan: dict = {}
    rest = []
    for customer_id, own, own_active in rows:
        if mode == AssignMode.OWN and own is not None and own_active and own not in chosen:
            plan[customer_id] = own
        elif own in load and _has_room(load, caps, own):
            plan[customer_id] = own
            load[own] += 1
        else:
            rest.append(customer_id)
    if rest and not chosen:
        raise WorkflowError(
            f"有 {len(rest)} 位客户没有在岗的归属经理，请选择接收这些客户的经理"
            if mode == AssignMode.OWN
            else "请选择参与活动的客户经理"
        )
    room = sum(caps[pk] - load[pk] if caps[pk] is not None else len(rest) for pk in chosen)
    if len(rest) > room:
        if mode == AssignMode.SPREAD:
            total = sum(caps.values())
            raise WorkflowError(
                f"所选经理在活动期内最多承接 {total} 位客户（日服务能力 × 活动天数），"
                f"客户群有 {len(rows)} 位：请增加经理、延长活动期或缩小客户群"
            )
        raise WorkflowError(
            f"所选经理在活动期内还能承接 {room} 位客户，没有在岗归属经理的客户有 {len(rest)} 位："
            "请增加经理、延长活动期或缩小客户群"
        )
    for customer_id in rest:
        open_ = [pk for pk in chosen if _has_room(load, caps, pk)]
        target = min(open_, key=lambda pk: (load[pk] / (caps[pk] or 1e9), load[pk], pk))
        plan[customer_id] = target
        load[target] += 1
    return plan


def _has_room(load: dict, caps: dict, pk) -> bool:
    return caps[pk] is None or load[pk] < caps[pk]


def finish_campaign(actor, campaign: Campaign) -> Campaign:
    """End an active campaign early (已结束); its unfinished tasks stay as they are, for the record,
    but managers can no longer complete them."""
    with transaction.atomic():
        updated = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.ACTIVE).update(
            status=CampaignStatus.FINISHED, updated_at=timezone.now()
        )
        if not updated:
            raise IllegalTransitionError("这个活动不在进行中，不能结束")
        campaign.refresh_from_db()
        open_tasks = CampaignTask.objects.filter(campaign=campaign, done_at__isnull=True).count()
        record(actor, "campaign.finish", campaign, open_tasks=open_tasks)
    return campaign


def complete_campaign_task(
    actor,
    task: CampaignTask,
    *,
    contact_result: str,
    recommendation: str = Recommendation.NONE,
    notes: str = "",
    version: int | None = None,
) -> CampaignTask:
    """Record the result of a campaign contact; done once (optimistic lock as for tasks)."""
    check_outcome(contact_result, recommendation)
    expected = task.version if version is None else int(version)
    now = timezone.now()
    with transaction.atomic():
        if Campaign.objects.filter(pk=task.campaign_id, status=CampaignStatus.FINISHED).exists():
            raise IllegalTransitionError("这个活动已结束，不能再记录结果")
        updated = CampaignTask.objects.filter(
            pk=task.pk, version=expected, done_at__isnull=True
        ).update(
            version=F("version") + 1,
            done_at=now,
            updated_at=now,
            contact_result=contact_result,
            recommendation=recommendation,
            notes=notes,
        )
        if not updated:
            raise StaleTaskError("这个活动任务已被他人处理或更新，请刷新后重试")
        task.refresh_from_db()
        record(actor, "campaign.task.complete", task, contact_result=contact_result)
    return task
