from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tandem.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from tandem.core.background import background_loop_register
        from tandem.core.outbox import outbox_loop

        # Hands queued work over to Huey once its queue answers again (see core/outbox.py).
        background_loop_register(name="task-outbox", loop=outbox_loop)
