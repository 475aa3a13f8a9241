from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from tandem.crm.models import Task
from tests.users.factories import UserFactory


class TaskFactory(factory.django.DjangoModelFactory):
    """A task stored as it is (no service, no event): for reads at chosen moments."""

    class Meta:
        model = Task

    title = factory.Sequence(lambda n: f"Task {n}")
    due_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(hours=2))
    owner = factory.SubFactory(UserFactory)
