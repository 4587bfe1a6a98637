import pytest


@pytest.fixture(autouse=True)
def chinese():
    """Labels follow the active language; a page test run before may have left English on."""
    from django.utils import translation

    with translation.override("zh-hans"):
        yield
