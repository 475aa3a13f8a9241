import datetime as dt

from tandem.core.models import Event
from tandem.crm.models import Task
from tandem.demo.agenda import agenda_demo_seed
from tandem.users.models import Role
from tests.crm.factories import DealFactory, PersonFactory
from tests.users.factories import UserFactory

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def test_each_rep_with_leads_and_a_deal_gets_four_tasks_one_overdue(db):
    # given a rep with three leads and an open deal, and a rep with nothing
    rep = UserFactory(role=Role.SALES_REP)
    UserFactory(role=Role.SALES_REP)
    people = [PersonFactory(owner=rep, first_name="Ann", last_name=f"Lee{i}") for i in range(3)]
    deal = DealFactory(owner=rep, person=None, name="Acme rollout")
    # when
    made = agenda_demo_seed(now=NOW)
    # then four tasks for the first rep, made through the service (an event each)
    assert made == 4
    rows = list(Task.objects.order_by("due_at").values_list("owner_id", "title", "due_at", "activity_kind_id"))
    newest = people[2]
    assert rows == [
        (rep.pk, f"Call {newest.full_name} back about pricing", NOW - dt.timedelta(hours=3), "call"),
        (rep.pk, f"Send {people[1].full_name} the case study", NOW + dt.timedelta(hours=2), "email"),
        (rep.pk, f"Check in with {people[0].full_name} on the proposal", NOW + dt.timedelta(hours=5), "call"),
        (rep.pk, "Prepare the Acme rollout review", NOW + dt.timedelta(days=6), "meeting"),
    ]
    assert Task.objects.get(title="Prepare the Acme rollout review").deal_id == deal.pk
    assert Event.objects.filter(kind="task.created").count() == 4
