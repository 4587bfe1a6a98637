from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "keycare.access"
    label = "access"

    def ready(self):
        from keycare.access import signals  # noqa: F401  (connects the audit receivers)
