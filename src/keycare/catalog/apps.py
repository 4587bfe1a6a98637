from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "keycare.catalog"
    label = "catalog"
