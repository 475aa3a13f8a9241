"""Moving, closing, reopening and editing deals; pipelines and their stages: exact history rows and events, and
refusals that change nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tandem.core.errors import NotAllowed, NotFound, ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import Deal, DealContact, DealStageChange, Person, Pipeline, PipelineStage
from tandem.crm.pipelines import services
from tandem.crm.pipelines.services import DealWalk, StageSpec
from tandem.crm.services import deal_close, deal_create
from tests.crm.factories import AccountFactory, LostReasonFactory, PersonFactory
from tests.crm.pipelines.helpers import counts, deal_state, sales_stages
from tests.users.factories import UserFactory

T0 = dt.datetime(2025, 6, 2, 10, 0, tzinfo=dt.UTC)


def _events(deal: Deal) -> list[tuple[str, dict[str, object]]]:
    return [
        (e.kind, e.data)
        for e in Event.objects.filter(subject_type="crm.deal", subject_id=deal.pk).order_by("id")
    ]


def _history(deal: Deal) -> list[tuple[str | None, str, dt.datetime, str]]:
    return [
        (c.from_stage.name if c.from_stage else None, c.to_stage.name, c.changed_at, c.reason)
        for c in DealStageChange.objects.filter(deal=deal).select_related("from_stage", "to_stage").order_by("changed_at", "id")
    ]


# ---- moving between open stages ----


def test_a_move_between_open_stages_writes_history_and_an_event(db):
    # given a deal opened at "New" and a rep
    stages = sales_stages()
    rep = UserFactory()
    deal = deal_create(person=PersonFactory(), amount=Decimal("1000"), created_at=T0)
    # when the rep moves it to "Proposal" two days later
    change = services.deal_move(
        deal=deal, to_stage=stages["Proposal"], by_user=rep, reason="demo went well", at=T0 + dt.timedelta(days=2)
    )
    # then the history has both entries, the deal sits in Proposal since then, still open, and an event says so
    deal.refresh_from_db()
    assert _history(deal) == [(None, "New", T0, ""), ("New", "Proposal", T0 + dt.timedelta(days=2), "demo went well")]
    assert (change.by_user_id, deal.stage, deal.pipeline_stage_id, deal.stage_entered_at, deal.closed_at) == (
        rep.pk, "open", stages["Proposal"].pk, T0 + dt.timedelta(days=2), None,
    )
    assert _events(deal)[-1] == (
        "deal.moved",
        {
            "amount": "1000.00",
            "lost_reason": None,
            "pipeline": deal.pipeline_id,
            "from_stage": stages["New"].pk,
            "to_stage": stages["Proposal"].pk,
            "to_stage_name": "Proposal",
        },
    )


def test_moving_to_a_won_stage_closes_the_deal_and_makes_a_customer(db):
    # given an open deal of a person
    stages = sales_stages()
    person = PersonFactory()
    deal = deal_create(person=person, amount=Decimal("5000"), created_at=T0)
    at = T0 + dt.timedelta(days=30)
    # when it is dropped on "Won" with its final amount
    services.deal_move(deal=deal, to_stage=stages["Won"], by_user=None, at=at, amount=Decimal("5500.50"))
    # then it is won at that time, with the new amount, and the person became a customer then
    deal.refresh_from_db()
    assert (deal.stage, deal.closed_at, deal.amount, deal.lost_reason_id) == ("won", at, Decimal("5500.50"), None)
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "customer"
    assert [k for k, _ in _events(deal)] == ["deal.created", "deal.won"]
    assert _history(deal)[-1] == ("New", "Won", at, "")


def test_a_lost_stage_needs_a_reason_and_a_refusal_changes_nothing(db):
    # given an open deal in Negotiation
    stages = sales_stages()
    deal = deal_create(person=PersonFactory(), amount=Decimal("900"), created_at=T0)
    services.deal_move(deal=deal, to_stage=stages["Negotiation"], by_user=None, at=T0 + dt.timedelta(days=1))
    before, state = counts(), deal_state(deal)
    # when it is moved to Lost without a reason
    with pytest.raises(ValidationFailed) as err:
        services.deal_move(deal=deal, to_stage=stages["Lost"], by_user=None)
    # then nothing changed
    assert (err.value.field, err.value.message) == ("lost_reason", "a lost deal needs a lost reason")
    assert counts() == before and deal_state(deal) == state
    # and with a reason it is lost, from Negotiation, the reason in its history
    reason = LostReasonFactory(name="Went with a competitor")
    at = T0 + dt.timedelta(days=3)
    services.deal_move(deal=deal, to_stage=stages["Lost"], by_user=None, lost_reason=reason, at=at)
    deal.refresh_from_db()
    assert (deal.stage, deal.closed_at, deal.lost_reason_id) == ("lost", at, reason.pk)
    assert _history(deal)[-1] == ("Negotiation", "Lost", at, "Went with a competitor")
    assert _events(deal)[-1][0] == "deal.lost"


def test_reopening_a_lost_deal_clears_the_close_and_keeps_it_in_the_event(db):
    # given a deal lost for "No budget"
    stages = sales_stages()
    person = PersonFactory()
    deal = deal_create(person=person, amount=Decimal("700"), created_at=T0)
    lost_at = T0 + dt.timedelta(days=5)
    deal_close(deal=deal, won=False, lost_reason="No budget", at=lost_at)
    # when it is moved back to "Qualified"
    at = T0 + dt.timedelta(days=9)
    services.deal_move(deal=deal, to_stage=stages["Qualified"], by_user=None, at=at, reason="budget found")
    # then it is open again without close date or reason; the event keeps what the close was
    deal.refresh_from_db()
    assert (deal.stage, deal.closed_at, deal.lost_reason_id, deal.pipeline_stage_id) == (
        "open", None, None, stages["Qualified"].pk,
    )
    kind, data = _events(deal)[-1]
    assert kind == "deal.reopened"
    assert data["was"] == {"stage": "lost", "closed_at": lost_at.isoformat(), "lost_reason": "No budget"}
    assert _history(deal)[-2:] == [("New", "Lost", lost_at, "No budget"), ("Lost", "Qualified", at, "budget found")]
    # and the person stays an opportunity (lifecycle stages never move back)
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "opportunity"


def test_reopening_a_won_deal_keeps_the_customer(db):
    # given a won deal
    stages = sales_stages()
    person = PersonFactory()
    deal = deal_create(person=person, amount=Decimal("700"), created_at=T0)
    deal_close(deal=deal, won=True, at=T0 + dt.timedelta(days=1))
    # when it is reopened to Negotiation
    services.deal_move(deal=deal, to_stage=stages["Negotiation"], by_user=None, at=T0 + dt.timedelta(days=2))
    # then it is open and the person is still a customer
    deal.refresh_from_db()
    assert (deal.stage, deal.closed_at) == ("open", None)
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "customer"


@pytest.mark.parametrize(
    ("case", "error", "field"),
    [
        ("won_to_lost", NotAllowed, "to_stage_id"),
        ("same_stage", NotAllowed, "to_stage_id"),
        ("other_pipeline", ValidationFailed, "to_stage_id"),
        ("inactive_stage", ValidationFailed, "to_stage_id"),
        ("before_entry", ValidationFailed, "at"),
        ("future", ValidationFailed, "at"),
        ("negative_amount", ValidationFailed, "amount"),
        ("nul_reason", ValidationFailed, "reason"),
    ],
)
def test_refused_moves_change_nothing(db, case, error, field):
    # given a won deal, an open one in Proposal, another pipeline and a retired stage
    stages = sales_stages()
    won = deal_create(person=PersonFactory(), amount=Decimal("10"), created_at=T0)
    deal_close(deal=won, won=True, at=T0 + dt.timedelta(days=1))
    deal = deal_create(person=PersonFactory(), amount=Decimal("10"), created_at=T0)
    services.deal_move(deal=deal, to_stage=stages["Proposal"], by_user=None, at=T0 + dt.timedelta(days=2))
    other = services.pipeline_create(name="Renewals")
    retired = services.pipeline_stage_create(pipeline=deal.pipeline, name="Legal", probability=80)
    services.pipeline_stage_deactivate(stage=retired)
    moves = {
        "won_to_lost": {"deal": won, "to_stage": stages["Lost"], "lost_reason": "Churned"},
        "same_stage": {"deal": deal, "to_stage": stages["Proposal"]},
        "other_pipeline": {"deal": deal, "to_stage": other.stages.get(name="Qualified")},
        "inactive_stage": {"deal": deal, "to_stage": retired},
        "before_entry": {"deal": deal, "to_stage": stages["Negotiation"], "at": T0 + dt.timedelta(days=1)},
        "future": {"deal": deal, "to_stage": stages["Negotiation"], "at": dt.datetime.now(dt.UTC) + dt.timedelta(days=2)},
        "negative_amount": {"deal": deal, "to_stage": stages["Negotiation"], "amount": Decimal("-1")},
        "nul_reason": {"deal": deal, "to_stage": stages["Negotiation"], "reason": "a\x00b"},
    }
    target = moves[case]["deal"]
    before, state = counts(), deal_state(target)  # type: ignore[arg-type]
    # when the move is asked for
    with pytest.raises(error) as err:
        services.deal_move(by_user=None, **moves[case])  # type: ignore[arg-type]
    # then it is refused naming the field, and nothing changed
    assert err.value.field == field
    assert counts() == before and deal_state(target) == state  # type: ignore[arg-type]


# ---- opening deals ----


def test_a_deal_can_belong_to_an_account_without_a_person(db):
    # given an account with an owner
    owner = UserFactory()
    account = AccountFactory(owner=owner)
    # when a deal is opened for the account at a chosen open stage, with an expected close date
    stages = sales_stages()
    deal = deal_create(
        account=account, amount=Decimal("42000"), name="Fleet", stage=stages["Qualified"],
        expected_close_on=dt.date(2025, 9, 30), created_at=T0,
    )
    # then it is open there, owned by the account's owner, with its first history row and event
    assert (deal.person_id, deal.account_id, deal.owner_id, deal.pipeline_stage_id, deal.expected_close_on) == (
        None, account.pk, owner.pk, stages["Qualified"].pk, dt.date(2025, 9, 30),
    )
    assert _history(deal) == [(None, "Qualified", T0, "")]
    assert _events(deal)[0][1]["account"] == account.pk


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "account_id"),
        ({"account": True, "stage": "Won"}, "stage_id"),
        ({"account": True, "name": "x" * 201}, "name"),
        ({"account": True, "currency": "eur"}, "currency"),
    ],
)
def test_deal_create_refusals_name_the_field_and_write_nothing(db, kwargs, field):
    # given
    stages = sales_stages()
    account = AccountFactory()
    args = {"amount": Decimal("1")} | {k: v for k, v in kwargs.items() if k not in ("account", "stage")}
    if kwargs.get("account"):
        args["account"] = account
    if "stage" in kwargs:
        args["stage"] = stages[kwargs["stage"]]
    before = counts()
    # when
    with pytest.raises(ValidationFailed) as err:
        deal_create(**args)
    # then
    assert err.value.field == field
    assert counts() == before


# ---- editing deals ----


def test_deal_update_changes_fields_and_a_pipeline_change_restarts_at_its_first_open_stage(db):
    # given an open deal in Proposal and a second pipeline
    stages = sales_stages()
    deal = deal_create(person=PersonFactory(), amount=Decimal("100"), created_at=T0)
    services.deal_move(deal=deal, to_stage=stages["Proposal"], by_user=None, at=T0 + dt.timedelta(days=1))
    renewals = services.pipeline_create(
        name="Renewals", stages=[StageSpec("Due", probability=60), StageSpec("Renewed", "won"), StageSpec("Churned", "lost")]
    )
    owner = UserFactory()
    # when its amount, owner, close date and pipeline change
    updated = services.deal_update(
        deal=deal, amount=Decimal("150.25"), owner=owner, expected_close_on=dt.date(2025, 8, 1), pipeline=renewals
    )
    # then the fields changed, it sits at "Due" of Renewals with a history row, and the event lists the changes
    assert (updated.amount, updated.owner_id, updated.expected_close_on, updated.pipeline_id) == (
        Decimal("150.25"), owner.pk, dt.date(2025, 8, 1), renewals.pk,
    )
    assert updated.pipeline_stage.name == "Due" and updated.stage == "open"
    assert _history(deal)[-1][:2] == ("Proposal", "Due")
    kinds = [k for k, _ in _events(deal)]
    assert kinds[-2:] == ["deal.updated", "deal.moved"]
    assert _events(deal)[-2][1]["changes"] == {
        "amount": ["100.00", "150.25"],
        "owner": [None, owner.pk],
        "expected_close_on": [None, "2025-08-01"],
        "pipeline": [deal.pipeline_id, renewals.pk],
    }


def test_deal_update_refusals_change_nothing(db):
    # given a won deal of an account only, and another pipeline
    account = AccountFactory()
    deal = deal_create(account=account, amount=Decimal("100"), created_at=T0)
    deal_close(deal=deal, won=True, at=T0 + dt.timedelta(days=1))
    other = services.pipeline_create(name="Renewals")
    before, state = counts(), deal_state(deal)
    # when its pipeline changes, its account is cleared, or an unknown field is sent
    with pytest.raises(NotAllowed) as closed:
        services.deal_update(deal=deal, pipeline=other)
    with pytest.raises(ValidationFailed) as no_account:
        services.deal_update(deal=deal, account=None)
    with pytest.raises(ValidationFailed) as unknown:
        services.deal_update(deal=deal, stage="open")
    with pytest.raises(ValidationFailed) as amount:
        services.deal_update(deal=deal, amount=Decimal("0.001"))
    # then each names its field and nothing changed
    assert [e.value.field for e in (closed, no_account, unknown, amount)] == ["pipeline_id", "account_id", "stage", "amount"]
    assert counts() == before and deal_state(deal) == state


# ---- people on a deal ----


def test_contacts_are_added_with_a_role_changed_and_removed(db):
    # given a deal and two people
    deal = deal_create(account=AccountFactory(), amount=Decimal("1"))
    ann, bob = PersonFactory(), PersonFactory()
    # when Ann joins as decision maker, Bob as champion, Ann becomes economic buyer, and Bob leaves
    services.deal_contact_add(deal=deal, person=ann, role="decision_maker")
    services.deal_contact_add(deal=deal, person=bob, role="champion")
    services.deal_contact_add(deal=deal, person=ann, role="economic_buyer")
    services.deal_contact_remove(deal=deal, person=bob)
    # then Ann alone is on it as economic buyer, each step an event
    assert list(DealContact.objects.filter(deal=deal).values_list("person_id", "role")) == [(ann.pk, "economic_buyer")]
    assert [k for k, _ in _events(deal)][1:] == [
        "deal.contact_added", "deal.contact_added", "deal.contact_changed", "deal.contact_removed",
    ]
    # and a bad role or removing someone not on it is refused without a change
    before = counts()
    with pytest.raises(ValidationFailed) as role:
        services.deal_contact_add(deal=deal, person=bob, role="boss")
    with pytest.raises(NotFound) as missing:
        services.deal_contact_remove(deal=deal, person=bob)
    assert (role.value.field, missing.value.field) == ("role", "person_id")
    assert counts() == before


# ---- pipelines and stages ----


def test_pipeline_create_with_default_stages_and_switching_the_default(db):
    # given the default "Sales" pipeline
    sales = Pipeline.objects.get(is_default=True)
    # when "Renewals" is added as the new default
    renewals = services.pipeline_create(name="Renewals", is_default=True)
    # then it has the standard stages and is the one default
    assert list(renewals.stages.order_by("position").values_list("name", "probability", "kind")) == [
        ("New", 10, "open"), ("Qualified", 25, "open"), ("Proposal", 50, "open"), ("Negotiation", 75, "open"),
        ("Won", 100, "won"), ("Lost", 0, "lost"),
    ]
    assert list(Pipeline.objects.filter(is_default=True)) == [renewals]
    # and Sales becomes the default again through an update; the default cannot be unset or deactivated
    services.pipeline_update(pipeline=sales, is_default=True)
    assert list(Pipeline.objects.filter(is_default=True)) == [sales]
    before = counts()
    with pytest.raises(NotAllowed) as unset:
        services.pipeline_update(pipeline=sales, is_default=False)
    with pytest.raises(NotAllowed) as inactive:
        services.pipeline_update(pipeline=sales, is_active=False)
    with pytest.raises(ValidationFailed) as clash:
        services.pipeline_update(pipeline=renewals, name=" sales ")
    assert (unset.value.field, inactive.value.field, clash.value.field) == ("is_default", "is_active", "name")
    assert counts() == before


@pytest.mark.parametrize(
    ("stages", "field"),
    [
        ([StageSpec("Open", probability=10), StageSpec("Won", "won")], "stages"),
        ([StageSpec("Open"), StageSpec("Won", "won"), StageSpec("Lost", "lost")], "stages.0.probability"),
        ([StageSpec("Open", probability=10), StageSpec("Won", "won", 90), StageSpec("Lost", "lost")], "stages.1.probability"),
        ([StageSpec("A", probability=10), StageSpec("a", probability=20), StageSpec("W", "won"), StageSpec("L", "lost")], "stages.1.name"),
        ([StageSpec("A", "maybe", 10), StageSpec("W", "won"), StageSpec("L", "lost")], "stages.0.kind"),
    ],
)
def test_pipeline_create_refuses_bad_stages(db, stages, field):
    # given
    before = counts()
    # when
    with pytest.raises(ValidationFailed) as err:
        services.pipeline_create(name="Partners", stages=stages)
    # then
    assert err.value.field == field
    assert counts() == before


def test_a_pipeline_with_open_deals_cannot_be_deactivated(db):
    # given a second pipeline holding an open deal
    renewals = services.pipeline_create(name="Renewals")
    deal_create(account=AccountFactory(), amount=Decimal("1"), pipeline=renewals)
    before = counts()
    # when it is deactivated
    with pytest.raises(NotAllowed, match="1 open deals"):
        services.pipeline_update(pipeline=renewals, is_active=False)
    # then it stays active
    assert Pipeline.objects.get(pk=renewals.pk).is_active and counts() == before


def test_stage_create_places_open_stages_before_the_closed_ones_and_reorder_sets_positions(db):
    # given the Sales pipeline
    sales = Pipeline.objects.get(is_default=True)
    # when an open "Legal review" stage is added without a position
    legal = services.pipeline_stage_create(pipeline=sales, name="Legal review", probability=85)
    # then it comes after Negotiation, before Won
    names = lambda: list(sales.stages.order_by("position").values_list("name", flat=True))  # noqa: E731
    assert names() == ["New", "Qualified", "Proposal", "Negotiation", "Legal review", "Won", "Lost"]
    assert list(sales.stages.order_by("position").values_list("position", flat=True)) == list(range(7))
    # when the stages are put in another order
    ids = {s.name: s.pk for s in sales.stages.all()}
    order = ["Qualified", "New", "Proposal", "Legal review", "Negotiation", "Won", "Lost"]
    services.pipeline_stage_reorder(pipeline=sales, stage_ids=[ids[n] for n in order])
    # then that is their order, and an incomplete list is refused
    assert names() == order
    with pytest.raises(ValidationFailed) as err:
        services.pipeline_stage_reorder(pipeline=sales, stage_ids=[ids["New"]])
    assert err.value.field == "stage_ids" and names() == order
    assert Event.objects.filter(kind="pipeline_stage.reordered").count() == 1
    assert legal.kind == "open"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "Proposal ", "probability": 10}, "name"),
        ({"name": "Signed", "kind": "won", "probability": 90}, "probability"),
        ({"name": "Maybe", "probability": 101}, "probability"),
        ({"name": "Maybe"}, "probability"),
        ({"name": "", "probability": 5}, "name"),
        ({"name": "Odd", "kind": "pending", "probability": 5}, "kind"),
    ],
)
def test_stage_create_refusals(db, kwargs, field):
    # given
    sales = Pipeline.objects.get(is_default=True)
    before = counts()
    # when
    with pytest.raises(ValidationFailed) as err:
        services.pipeline_stage_create(pipeline=sales, **kwargs)
    # then
    assert err.value.field == field and counts() == before


def test_a_stage_kind_changes_only_while_empty_and_probability_changes(db):
    # given a deal in Proposal
    stages = sales_stages()
    deal = deal_create(account=AccountFactory(), amount=Decimal("1"), stage=stages["Proposal"])
    # when Proposal's probability becomes 40, and its kind is asked to become "lost"
    services.pipeline_stage_update(stage=stages["Proposal"], probability=40)
    before = counts()
    with pytest.raises(NotAllowed) as err:
        services.pipeline_stage_update(stage=stages["Proposal"], kind="lost")
    # then the probability changed, the kind did not
    assert PipelineStage.objects.get(pk=stages["Proposal"].pk).probability == 40
    assert err.value.field == "kind" and counts() == before and deal_state(deal)[0] == "open"


def test_deactivating_a_stage_moves_its_deals_to_a_stage_of_the_same_kind(db):
    # given two deals in Qualified
    stages = sales_stages()
    rep = UserFactory()
    deals = [deal_create(account=AccountFactory(), amount=Decimal("1"), stage=stages["Qualified"]) for _ in range(2)]
    # when Qualified is retired without a target, to a closed stage, and then to Proposal
    with pytest.raises(ValidationFailed) as none:
        services.pipeline_stage_deactivate(stage=stages["Qualified"])
    with pytest.raises(ValidationFailed) as closed:
        services.pipeline_stage_deactivate(stage=stages["Qualified"], move_to=stages["Won"])
    moved = services.pipeline_stage_deactivate(stage=stages["Qualified"], move_to=stages["Proposal"], by_user=rep)
    # then the refusals name the field, and both deals moved with a history row each
    assert (none.value.field, closed.value.field, moved) == ("move_to_stage_id", "move_to_stage_id", 2)
    assert set(Deal.objects.values_list("pipeline_stage__name", flat=True)) == {"Proposal"}
    for deal in deals:
        assert _history(deal)[-1][:2] == ("Qualified", "Proposal")
    assert not PipelineStage.objects.get(pk=stages["Qualified"].pk).is_active
    # and the used stage cannot be deleted; the last active won stage cannot be retired
    before = counts()
    with pytest.raises(NotAllowed):
        services.pipeline_stage_delete(stage=stages["Qualified"])
    with pytest.raises(NotAllowed):
        services.pipeline_stage_deactivate(stage=stages["Won"])
    assert counts() == before


def test_an_unused_stage_can_be_deleted(db):
    # given a stage added by mistake
    sales = Pipeline.objects.get(is_default=True)
    typo = services.pipeline_stage_create(pipeline=sales, name="Negotaition", probability=70)
    # when it is deleted
    services.pipeline_stage_delete(stage=typo)
    # then it is gone and the positions close up
    assert list(sales.stages.order_by("position").values_list("position", flat=True)) == list(range(6))
    assert Event.objects.filter(kind="pipeline_stage.deleted").count() == 1


# ---- bulk, for the demo ----


def test_deals_walk_bulk_gives_open_and_lost_deals_their_stages(db):
    # given an open and a lost deal, both entered at New
    stages = sales_stages()
    open_deal = deal_create(account=AccountFactory(), amount=Decimal("1"), created_at=T0)
    lost = deal_create(account=AccountFactory(), amount=Decimal("1"), created_at=T0)
    deal_close(deal=lost, won=False, lost_reason="No budget", at=T0 + dt.timedelta(days=20))
    day = lambda n: T0 + dt.timedelta(days=n)  # noqa: E731
    # when they walk through Qualified and Proposal
    written = services.deals_walk_bulk(
        walks=[
            DealWalk(open_deal.pk, ((stages["Qualified"].pk, day(2)), (stages["Proposal"].pk, day(5))), dt.date(2025, 7, 15)),
            DealWalk(lost.pk, ((stages["Qualified"].pk, day(3)),), None),
        ]
    )
    # then the open deal sits in Proposal since day 5, and the lost one was lost from Qualified
    assert written == 3
    open_deal.refresh_from_db()
    assert (open_deal.pipeline_stage_id, open_deal.stage_entered_at, open_deal.expected_close_on) == (
        stages["Proposal"].pk, day(5), dt.date(2025, 7, 15),
    )
    assert _history(open_deal) == [(None, "New", T0, ""), ("New", "Qualified", day(2), "import"), ("Qualified", "Proposal", day(5), "import")]
    assert [h[:2] for h in _history(lost)] == [(None, "New"), ("New", "Qualified"), ("Qualified", "Lost")]
