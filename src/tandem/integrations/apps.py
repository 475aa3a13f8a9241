from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "tandem.integrations"
    label = "integrations"

    def ready(self) -> None:
        from tandem.core.lazy import deferred_function
        from tandem.enablement.registry import send_delivery_register
        from tandem.users.middleware import gate_token_path_register

        # Enablement's "Send" e-mails the asset with a tracked link when SMTP is configured.
        send_delivery_register(deferred_function("tandem.integrations.mail.services", "content_delivery"))
        # Addresses a secret in the URL authorises, not the session: calendar apps and mail recipients.
        for prefix in ("/calendar/", "/l/", "/mail/unsubscribe/"):
            gate_token_path_register(prefix=prefix)
