from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "keycare.knowledge"
    label = "knowledge"
