"""Knowledge pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

urlpatterns: list = []

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = []
