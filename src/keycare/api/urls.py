"""REST API wiring: /api/schema/, /api/docs/, /api/auth/token/, the CTI feed and the resource
routers."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from keycare.api import cti
from keycare.api.auth import ObtainTokenView
from keycare.api.domains import DOMAIN_ROUTE_MODULES
from keycare.api.routes import register_resources

router = DefaultRouter()
register_resources(router)  # the resource viewsets, see keycare/api/routes.py

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("auth/token/", ObtainTokenView.as_view(), name="token"),
    path("cti/call-list/", cti.CallListView.as_view(), name="cti-call-list"),
    path("cti/call-results/", cti.CallResultView.as_view(), name="cti-call-results"),
]
for _module in DOMAIN_ROUTE_MODULES:  # each domain's extra paths, before the router's
    urlpatterns += _module.urlpatterns
urlpatterns.append(path("", include(router.urls)))
