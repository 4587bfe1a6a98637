"""Knowledge-graph pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.web import knowledge

urlpatterns: list = [
    path("knowledge/customers/<int:pk>/", knowledge.need_graph, name="need-graph"),
    path("knowledge/rising/", knowledge.rising_causes, name="rising-causes"),
]

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [
    ("web:rising-causes", _("投诉原因趋势"), knowledge.TREND_ROLES),
]
