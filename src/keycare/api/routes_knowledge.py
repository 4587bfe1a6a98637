"""Knowledge API: router resources and extra paths (joined in api/routes.py and api/urls.py)."""

from django.urls import path

from keycare.api import knowledge

# prefix -> viewset, registered on the API router.
RESOURCES: dict = {}

# Extra (non-router) paths under /api/.
urlpatterns: list = [
    path(
        "knowledge/customers/<int:pk>/need-graph/",
        knowledge.NeedGraphView.as_view(),
        name="need-graph",
    ),
    path("knowledge/rising-causes/", knowledge.RisingCausesView.as_view(), name="rising-causes"),
]
