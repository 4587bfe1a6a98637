from django.apps import AppConfig


class KeyaccountsConfig(AppConfig):
    name = "keycare.keyaccounts"
    label = "keyaccounts"
