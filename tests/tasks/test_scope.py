"""Every scoped model's scope paths resolve, as the access layer uses them ("<path>_id")."""

from datetime import date

import pytest
from django.apps import apps

from factories import make_task
from factories import numbered_customer as make_customer
from keycare.tasks.models import ServiceTask, fill_task_cities

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("label", ["moments", "workorders"])
def test_scope_paths_resolve(label):
    scoped = [m for m in apps.get_app_config(label).get_models() if hasattr(m, "scope")]
    assert scoped
    for model in scoped:
        assert hasattr(model.objects, "restrict"), model
        for path in model.scope.values():
            str(model.objects.filter(**{f"{path}_id": 1}).query)  # raises FieldError if wrong


def test_a_task_takes_its_customers_city(org, manager):
    customer = make_customer(org, 1, manager=manager, city="C0512")
    task = make_task(customer, date(2026, 11, 20))
    assert task.city == org["C0512"][0]
    # Tasks bulk-created without one get it from their customer, in one UPDATE.
    ServiceTask.objects.filter(pk=task.pk).update(city=None)
    assert fill_task_cities(ServiceTask.objects.all()) == 1
    task.refresh_from_db()
    assert task.city == org["C0512"][0]
