"""Every scoped model's scope paths resolve, as the access layer uses them ("<path>_id")."""

import pytest
from django.apps import apps

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("label", ["moments", "workorders"])
def test_scope_paths_resolve(label):
    scoped = [m for m in apps.get_app_config(label).get_models() if hasattr(m, "scope")]
    assert scoped
    for model in scoped:
        assert hasattr(model.objects, "restrict"), model
        for path in model.scope.values():
            str(model.objects.filter(**{f"{path}_id": 1}).query)  # raises FieldError if wrong
