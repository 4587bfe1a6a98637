"""Effects API: router resources and extra paths (joined in api/routes.py and api/urls.py)."""

from keycare.api.effects import EffectReportViewSet, EffectRowViewSet

# prefix -> viewset, registered on the API router.
RESOURCES: dict = {
    "effect-reports": EffectReportViewSet,
    "effect-rows": EffectRowViewSet,
}

# Extra (non-router) paths under /api/.
urlpatterns: list = []
