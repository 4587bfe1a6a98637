"""The domains whose API lives in an ``api/routes_<domain>.py`` module of their own.

Each holds ``RESOURCES`` (prefix -> viewset, registered on the router) and ``urlpatterns``
(other paths under /api/). A new domain adds its module here.
"""

from keycare.api import (
    routes_analytics,
    routes_complaints,
    routes_effects,
    routes_keyaccounts,
    routes_knowledge,
    routes_managers,
    routes_messaging,
    routes_risk,
    routes_signalling,
    routes_surveys,
)

DOMAIN_ROUTE_MODULES = (
    routes_managers,
    routes_keyaccounts,
    routes_messaging,
    routes_risk,
    routes_complaints,
    routes_knowledge,
    routes_surveys,
    routes_effects,
    routes_analytics,
    routes_signalling,
)
