"""Resource viewsets for the API router (keycare.api.urls calls ``register_resources``)."""

from keycare.api import views
from keycare.api.domains import DOMAIN_ROUTE_MODULES

RESOURCES = {
    "customers": views.CustomerViewSet,
    "moments": views.MomentViewSet,
    "rule-versions": views.RuleVersionViewSet,
    "runs": views.RunViewSet,
    "tasks": views.TaskViewSet,
    "appointments": views.AppointmentViewSet,
    "work-orders": views.WorkOrderViewSet,
    "campaigns": views.CampaignViewSet,
}


def register_resources(router) -> None:
    resources = dict(RESOURCES)
    for module in DOMAIN_ROUTE_MODULES:  # each domain's own api/routes_<domain>.py
        resources.update(module.RESOURCES)
    for prefix, viewset in resources.items():
        router.register(prefix, viewset, basename=prefix.rstrip("s"))
