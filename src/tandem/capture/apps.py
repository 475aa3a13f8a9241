from django.apps import AppConfig


class CaptureConfig(AppConfig):
    name = "tandem.capture"
    label = "capture"

    def ready(self) -> None:
        from tandem.capture.intake.processing import drain_loop
        from tandem.core.background import background_loop_register
        from tandem.crm.registry import person_reference_register

        # The capture journal's drain runs as its own loop beside Huey's task threads.
        background_loop_register(name="capture-drain", loop=drain_loop)
        # A person's form submissions follow them through a merge (crm/registry.py).
        person_reference_register(name="submissions", model="capture.Submission")
