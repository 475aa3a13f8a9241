"""The lost-reason taxonomy: crm's services add, rename, retire and restore the reasons reps choose."""

from __future__ import annotations

import pytest

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import LostReason
from tandem.crm.services import lost_reason_create, lost_reason_rename, lost_reason_set_active

pytestmark = pytest.mark.django_db


def test_lost_reasons_are_added_renamed_retired_and_restored():
    # given a new reason
    reason = lost_reason_create(name="  No   budget ", description="They could not pay")
    assert reason.name == "No budget"
    # when it is renamed, retired and restored
    lost_reason_rename(reason=reason, name="No budget this year")
    lost_reason_set_active(reason=reason, active=False)
    reason.refresh_from_db()
    assert (reason.name, reason.is_active) == ("No budget this year", False)
    lost_reason_set_active(reason=reason, active=True)
    # then each step left an event
    kinds = list(
        Event.objects.filter(subject_type="crm.lostreason").order_by("id").values_list("kind", flat=True)
    )
    assert kinds == [
        "lost_reason.created",
        "lost_reason.renamed",
        "lost_reason.retired",
        "lost_reason.restored",
    ]


def test_a_duplicate_lost_reason_name_is_refused_ignoring_case():
    # given two reasons
    lost_reason_create(name="Went with a competitor")
    other = lost_reason_create(name="Timing")
    # when a new one or a rename repeats a name in another case
    with pytest.raises(ValidationFailed) as created:
        lost_reason_create(name="went with a COMPETITOR")
    with pytest.raises(ValidationFailed) as renamed:
        lost_reason_rename(reason=other, name="WENT WITH A COMPETITOR")
    # then both are refused and nothing changed
    assert created.value.field == renamed.value.field == "name"
    assert sorted(LostReason.objects.values_list("name", flat=True)) == ["Timing", "Went with a competitor"]


def test_retiring_a_retired_reason_is_refused():
    # given a retired reason
    reason = lost_reason_create(name="Timing")
    lost_reason_set_active(reason=reason, active=False)
    # when it is retired again
    with pytest.raises(NotAllowed):
        lost_reason_set_active(reason=reason, active=False)
    # then only one retirement was recorded
    assert Event.objects.filter(kind="lost_reason.retired").count() == 1
