from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "tandem.feedback"
    label = "feedback"

    def ready(self) -> None:
        from tandem.core.lazy import deferred_function
        from tandem.crm.registry import person_detail_part_register, person_reference_register

        # crm sits below feedback: it learns of questions and ratings through its registry (crm/registry.py).
        person_reference_register(name="questions", model="feedback.Question")
        person_reference_register(name="lead_ratings", model="feedback.LeadRating")
        person_detail_part_register(
            name="questions", load=deferred_function("tandem.feedback.selectors", "person_questions_heard")
        )
