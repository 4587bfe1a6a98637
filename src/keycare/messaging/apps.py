from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "keycare.messaging"
    label = "messaging"

    def ready(self):
        from keycare.messaging.contacts import delivered_sms
        from keycare.messaging.loaders import load_sms_outbox
        from keycare.runs.loaders import register_load_step
        from keycare.tasks.contacts import register_contact_source

        # After the tasks app's steps (INSTALLED_APPS order): the tasks exist by then.
        register_load_step(load_sms_outbox)
        # Delivered SMS are contacts made: the cool-down and the send-time cap count them.
        register_contact_source(delivered_sms)
