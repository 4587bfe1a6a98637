"""Resource viewsets for the API router (keycare.api.urls calls ``register_resources``)."""

from keycare.api import views

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
    for prefix, viewset in RESOURCES.items():
        router.register(prefix, viewset, basename=prefix.rstrip("s"))
