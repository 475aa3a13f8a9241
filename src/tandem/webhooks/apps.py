from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "tandem.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from tandem.core.background import background_loop_register
        from tandem.core.lazy import deferred_function

        # Retries fall due seconds to hours after the write that queued them: the worker's loop sends them.
        background_loop_register(
            name="webhooks-deliveries", loop=deferred_function("tandem.webhooks.services", "deliveries_loop")
        )
