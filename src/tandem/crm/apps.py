from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "tandem.crm"
    label = "crm"

    def ready(self) -> None:
        from tandem.crm.registry import person_reference_register

        # crm's own tables that point at a person; apps above crm register theirs in their ready().
        person_reference_register(name="deals", model="crm.Deal")
        person_reference_register(name="activities", model="crm.Activity")
        person_reference_register(name="tasks", model="crm.Task")
        person_reference_register(name="deal_roles", model="crm.DealContact")
        person_reference_register(name="external_ids", model="crm.ExternalId")
        person_reference_register(name="consent_records", model="crm.ConsentRecord")
        person_reference_register(name="stage_changes", model="crm.StageChange")
        person_reference_register(name="events", model="core.Event", column="subject_id", subject_type="crm.person")
