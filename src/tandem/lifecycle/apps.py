from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "tandem.lifecycle"
    label = "lifecycle"

    def ready(self) -> None:
        from tandem.core.lazy import deferred_function
        from tandem.webhooks.registry import admin_notifier_register

        # A webhook endpoint disabled after repeated failures is reported to admins in their notifications.
        admin_notifier_register(
            name="in-app", notify=deferred_function("tandem.lifecycle.services", "admins_notify")
        )
