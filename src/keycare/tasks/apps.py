from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "keycare.tasks"
    label = "tasks"

    def ready(self):
        from keycare.runs.loaders import register_load_step
        from keycare.tasks.loaders import load_decisions, load_new_alerts, load_tasks

        register_load_step(load_tasks)
        register_load_step(load_new_alerts)
        register_load_step(load_decisions)
