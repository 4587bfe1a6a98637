"""The server's warm-up loads what the first pages would, and never the database."""

from django.template import engines

from keycare.web.warmup import template_names, warm_up


def test_warm_up_compiles_every_template_without_touching_the_database():
    # No django_db mark: pytest-django refuses any query here, so a warm-up that opened a
    # connection (which the forked gunicorn workers would then share) fails this test.
    names = template_names()
    assert "web/task_detail.html" in names and "web/analytics/analysis.html" in names
    assert warm_up() == len(names)
    loader = engines["django"].engine.template_loaders[0]
    cached = set(getattr(loader, "get_template_cache", {}))  # the cached loader's keys are names
    assert set(names) <= cached, sorted(set(names) - cached)[:5]


def test_the_wsgi_module_warms_up_on_import(monkeypatch):
    import importlib

    import keycare.config.wsgi as wsgi
    import keycare.web.warmup as warmup

    calls = []
    monkeypatch.setattr(warmup, "warm_up", lambda: calls.append(1) or 0)
    importlib.reload(wsgi)
    assert calls == [1]
    assert callable(wsgi.application)
