from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "keycare.messaging"
    label = "messaging"
