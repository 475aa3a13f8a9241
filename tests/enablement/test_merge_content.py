"""A person merge keeps the content used with the duplicate: it moves to the survivor."""

from __future__ import annotations

import pytest

from tandem.crm.services import person_merge
from tandem.enablement.models import ContentUse
from tests.crm.factories import PersonFactory
from tests.enablement.factories import ContentUseFactory


@pytest.mark.django_db
def test_content_uses_of_a_merged_duplicate_move_to_the_survivor():
    # given a survivor and a duplicate who was sent an asset
    survivor = PersonFactory(first_name="Ann", last_name="Lee")
    duplicate = PersonFactory(first_name="Ann", last_name="Lee")
    use = ContentUseFactory(person=duplicate)
    # when they are merged
    person_merge(survivor=survivor, duplicate=duplicate)
    # then the use belongs to the survivor
    assert list(ContentUse.objects.values_list("pk", "person_id")) == [(use.pk, survivor.pk)]
