from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "keycare.customers"
    label = "customers"
