"""Load, before the first request, what every new server process would otherwise load on its
first pages: the URL configuration (and with it every view module), every template compiled,
the field catalog and the indicator definitions, and both languages' translations.

Called from ``keycare.config.wsgi``: with gunicorn's ``--preload`` the master does it once and
the workers inherit it; without, each worker does it before it accepts a connection. The
analysis pages' load benchmark saw every request of the first ~40 s after a start take 3-30 s
while each worker paid this on its first pages (docs/performance.md). Nothing here opens a
database connection: a connection opened in the master would be shared by the forked workers.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.template.loader import get_template
from django.urls import get_resolver
from django.utils import translation

from keycare.catalog.fields import load_catalog
from keycare.engine.indicators import load_indicators

TEMPLATE_ROOT = Path(__file__).resolve().parent / "templates"


def template_names() -> list[str]:
    return sorted(p.relative_to(TEMPLATE_ROOT).as_posix() for p in TEMPLATE_ROOT.rglob("*.html"))


def warm_up() -> int:
    """Returns the number of templates compiled."""
    get_resolver().url_patterns  # noqa: B018 -- the property imports every view module
    names = template_names()
    for name in names:
        get_template(name)
    load_catalog()
    load_indicators()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("客户")
    return len(names)
