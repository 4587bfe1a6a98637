from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "keycare.messaging"
    label = "messaging"

    def ready(self):
        from keycare.messaging.loaders import load_sms_outbox
        from keycare.runs.loaders import register_load_step

        # After the tasks app's steps (INSTALLED_APPS order): the tasks exist by then.
        register_load_step(load_sms_outbox)
