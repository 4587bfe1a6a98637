from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "keycare.tasks"
    label = "tasks"

    def ready(self):
        from keycare.runs.loaders import register_load_step
        from keycare.runs.prerun import register_before_run
        from keycare.tasks.allocation_settings import run_kwargs
        from keycare.tasks.contacts import export_contact_log
        from keycare.tasks.group_loaders import load_group_tasks, load_group_tiers
        from keycare.tasks.group_loaders import run_kwargs as group_run_kwargs
        from keycare.tasks.loaders import load_decisions, load_new_alerts, load_tasks

        register_load_step(load_tasks)
        register_load_step(load_new_alerts)
        register_load_step(load_decisions)
        register_load_step(load_group_tiers)
        register_load_step(load_group_tasks)
        register_before_run(export_contact_log)
        register_before_run(run_kwargs)  # the live allocation settings
        register_before_run(group_run_kwargs)  # group moments and the tier policy in force
