"""Campaign creation: who gets which customer (own manager / spread within capacity), audit."""

import pytest
from django.db.models import Count

from factories import make_manager
from factories import numbered_customer as make_customer
from keycare.campaigns import actions as campaign_actions
from keycare.campaigns.actions import AssignMode, plan_assignment
from keycare.campaigns.models import CampaignManager, CampaignTask
from keycare.core import workflow
from keycare.core.models import AuditEvent
from keycare.customers.models import Customer
from keycare.org.models import Manager

pytestmark = pytest.mark.django_db


@pytest.fixture
def helpers(org):
    return [
        make_manager(org["C025"], f"H{i}", name=f"助理{i}", mobile="13800000009", daily_capacity=2)
        for i in (1, 2)
    ]


def test_own_mode_keeps_customers_with_their_manager(org, manager, helpers, user):
    for n in range(1, 4):
        make_customer(org, n, manager)
    orphan = make_customer(org, 9, None)
    campaign = campaign_actions.create_campaign(
        user, name="回馈", customers=Customer.objects.all(), managers=[helpers[0]],
        mode=AssignMode.OWN, capacity={helpers[0].pk: 1},
    )  # fmt: skip
    owners = dict(campaign.tasks.values_list("customer_id", "manager__manager_id"))
    assert owners.pop(orphan.pk) == "H1"
    assert set(owners.values()) == {"M001"}  # not capped: they are the manager's own customers
    assert sorted(CampaignManager.objects.filter(campaign=campaign).values_list(
        "manager__manager_id", flat=True)) == ["H1", "M001"]  # fmt: skip
    event = AuditEvent.objects.get(action="campaign.create")
    assert event.detail["customers"] == 4 and event.detail["mode"] == "own"


def test_own_mode_needs_a_taker_for_customers_without_a_manager(org, manager, user):
    make_customer(org, 1, manager)
    make_customer(org, 2, None)
    with pytest.raises(workflow.WorkflowError, match="有 1 位客户没有在岗的归属经理"):
        campaign_actions.create_campaign(
            user, name="x", customers=Customer.objects.all(), mode=AssignMode.OWN
        )
    Manager.objects.filter(pk=manager.pk).update(active=False)
    with pytest.raises(workflow.WorkflowError, match="有 2 位客户"):
        campaign_actions.create_campaign(
            user, name="x", customers=Customer.objects.all(), mode=AssignMode.OWN
        )


def test_spread_mode_balances_within_capacity(org, manager, helpers, user):
    for n in range(1, 5):
        make_customer(org, n, manager)
    campaign = campaign_actions.create_campaign(
        user, name="均衡", customers=Customer.objects.all(), managers=helpers,
        mode=AssignMode.SPREAD, capacity={h.pk: 2 for h in helpers},
    )  # fmt: skip
    counts = dict(
        campaign.tasks.values_list("manager__manager_id").annotate(n=Count("id")).order_by()
    )
    assert counts == {"H1": 2, "H2": 2}


def test_spread_mode_refuses_what_does_not_fit_and_creates_nothing(org, manager, helpers, user):
    for n in range(1, 6):
        make_customer(org, n, manager)
    with pytest.raises(workflow.WorkflowError, match="最多承接 4 位客户.*客户群有 5 位"):
        campaign_actions.create_campaign(
            user, name="太多", customers=Customer.objects.all(), managers=helpers,
            mode=AssignMode.SPREAD, capacity={h.pk: 2 for h in helpers},
        )  # fmt: skip
    assert (
        not CampaignTask.objects.exists()
        and not AuditEvent.objects.filter(action="campaign.create").exists()
    )


def test_spread_prefers_own_manager_when_chosen():
    rows = [(1, 10, True), (2, 10, True), (3, 20, True), (4, None, None)]
    plan = plan_assignment(
        rows, {10: "a", 30: "b"}, mode=AssignMode.SPREAD, capacity={10: 1, 30: 5}
    )
    assert plan == {1: 10, 2: 30, 3: 30, 4: 30}


def test_empty_selection_and_bad_input_are_refused(org, manager, user):
    with pytest.raises(workflow.WorkflowError, match="没有客户"):
        campaign_actions.create_campaign(
            user, name="空", customers=Customer.objects.none(), managers=[manager]
        )
    make_customer(org, 1, manager)
    with pytest.raises(workflow.WorkflowError, match="分配方式无效"):
        campaign_actions.create_campaign(
            user, name="x", customers=Customer.objects.all(), mode="random"
        )
    with pytest.raises(workflow.WorkflowError, match="活动名称"):
        campaign_actions.create_campaign(user, name=" ", customers=Customer.objects.all())
