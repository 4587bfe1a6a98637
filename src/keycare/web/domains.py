"""The domains whose pages are wired through a ``web/urls_<domain>.py`` module of their own.

Each such module holds ``urlpatterns`` (joined into web/urls.py) and ``NAV`` (joined into the
navigation bar). A new domain adds its module here; its routes and menu entries then stay in
its own file.
"""

from keycare.web import (
    urls_allocation,
    urls_analytics,
    urls_complaints,
    urls_effects,
    urls_group_tasks,
    urls_keyaccounts,
    urls_knowledge,
    urls_managers,
    urls_messaging,
    urls_risk,
    urls_signalling,
    urls_surveys,
)

# In navigation order.
DOMAIN_URL_MODULES = (
    urls_managers,
    urls_keyaccounts,
    urls_group_tasks,
    urls_allocation,
    urls_messaging,
    urls_risk,
    urls_complaints,
    urls_knowledge,
    urls_surveys,
    urls_effects,
    urls_analytics,
    urls_signalling,
)
