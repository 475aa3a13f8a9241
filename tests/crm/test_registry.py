"""crm's registry: every table that points at a person is known to the merge, though crm imports none of them."""

from __future__ import annotations

from tandem.crm.models import Person
from tandem.crm.registry import person_references

# Rows deliberately not moved by a merge: they go with the duplicate.
DELETED_WITH_THE_DUPLICATE = {
    "scoring.PersonScore",  # one score per person; the survivor is rescored after the merge
}


def test_every_table_pointing_at_a_person_is_registered_for_merging():
    # given every foreign key to Person across the installed apps
    pointing = {rel.related_model._meta.label for rel in Person._meta.related_objects}
    # when the registry filled at start-up is read
    registered = {ref.model for ref in person_references()}
    # then each is moved by a merge or knowingly deleted with the duplicate
    assert pointing - registered == DELETED_WITH_THE_DUPLICATE


def test_the_apps_above_crm_registered_their_tables_in_app_order():
    # given the apps loaded (crm's ready() runs before the apps above it)
    names = [ref.name for ref in person_references()]
    # then crm's own tables come first, then each app's in INSTALLED_APPS order
    assert names == [
        "deals",
        "activities",
        "tasks",
        "deal_roles",
        "external_ids",
        "consent_records",
        "stage_changes",
        "events",
        "touchpoints",
        "questions",
        "lead_ratings",
        "content_uses",
        "submissions",
        "experiment_assignments",
        "audience_members",
    ]
