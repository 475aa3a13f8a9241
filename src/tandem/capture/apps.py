from django.apps import AppConfig


class CaptureConfig(AppConfig):
    name = "tandem.capture"
    label = "capture"

    def ready(self) -> None:
        from tandem.core.background import background_loop_register
        from tandem.core.lazy import deferred_function
        from tandem.core.operations import metrics_source_register
        from tandem.crm.registry import person_reference_register

        # The capture journal's drain runs as its own loop beside Huey's task threads.
        background_loop_register(
            name="capture-drain", loop=deferred_function("tandem.capture.intake.processing", "drain_loop")
        )
        # /metrics: the journal's backlog and how much of it has been drained (docs/operations.md#metrics).
        metrics_source_register(
            name="capture-journal",
            # Deferred: the selectors import the API's paging types (django-ninja), too slow for every start-up.
            collect=deferred_function("tandem.capture.intake.selectors", "journal_metrics"),
        )
        # A person's form submissions follow them through a merge (crm/registry.py).
        person_reference_register(name="submissions", model="capture.Submission")
