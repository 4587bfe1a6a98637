from django.apps import AppConfig


class SignallingConfig(AppConfig):
    name = "keycare.signalling"
    label = "signalling"

    def ready(self):
        from keycare.messaging.rules import register_urgent
        from keycare.signalling.detect import moment_definitions

        # The sender's cap lets an urgent real-time SMS through, as the allocation does.
        register_urgent(c for c, m in moment_definitions().items() if m.get("urgent"))
