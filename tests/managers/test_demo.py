"""The managers' demo step on a small world: teams, plans (the demo manager's submitted),
visits and calls, an assigned task and the month's assessment; run twice, it still works."""

from datetime import datetime
from pathlib import Path

import pytest
from django.utils import timezone

from factories import (
    make_appointment,
    make_customer,
    make_manager,
    make_manager_key_account,
    make_org,
    make_task,
)
from keycare.core.demo_steps import DemoContext
from keycare.keyaccounts.models import KeyPerson
from keycare.managers.demo import DEMO_STEPS
from keycare.managers.models import (
    AssessmentPeriod,
    AssignedTask,
    ManagerProfile,
    PlanStatus,
    ReminderDigest,
    WorkPlan,
    WorkRecord,
)

pytestmark = pytest.mark.django_db


def test_demo_step_fills_every_managers_page(db):
    places = make_org()
    nj = places["C025"]
    lead, other = make_manager(nj, "M1"), make_manager(nj, "M2")
    for i in range(3):
        make_task(make_customer(nj, f"S{i}", lead))
    make_appointment(lead.customers.first(), timezone.make_aware(datetime(2026, 11, 22, 10)))
    group = make_manager_key_account(nj.city, "K1", lead)
    KeyPerson.objects.create(person_id="KP1", key_account=group, role="contact", name="王芳")
    context = DemoContext(data_dir=Path("."), date="2026-11-22", opts={})
    (step,) = DEMO_STEPS
    step.run(context)
    assert ManagerProfile.objects.count() == 2
    assert WorkPlan.objects.get(manager=lead).status == PlanStatus.SUBMITTED
    assert WorkRecord.objects.filter(manager=lead, kind="visit").count() == 1
    assert WorkRecord.objects.filter(manager=lead, kind="call").count() == 2
    assert AssignedTask.objects.get().assignments.count() == 2
    period = AssessmentPeriod.objects.get(name="2026-11")
    assert period.assessments.count() == 2
    # The demo manager's digest: queued in the outbox, mailed to their demo account.
    assert ManagerProfile.objects.get(manager=lead).digest_sms
    assert ReminderDigest.objects.filter(manager=lead).count() == 2
    step.run(context)  # a second demo run on the same database
    assert (
        AssessmentPeriod.objects.count() == 1
        and WorkPlan.objects.filter(manager=other).count() == 1
    )
