from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "keycare.tasks"
    label = "tasks"
