from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "keycare.org"
    label = "org"
