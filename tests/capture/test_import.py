"""Importing a bundle: what it creates, how it derives stages, and that a second import changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.capture.services import bundle_import
from tandem.core.models import Event
from tandem.crm.models import Account, Deal, LostReason, Person, StageChange
from tandem.feedback.models import Question
from tests.campaigns.factories import CampaignFactory
from tests.capture.factories import SAMPLE, bundle_write_files, database_snapshot, replace_line
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _counts(result) -> dict[str, tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    return {name: (c.created, c.updated, c.unchanged) for name, c in result.files.items()}


def test_import_creates_every_row(db, tmp_path):
    # given
    bundle_write_files(tmp_path)
    # when
    result = bundle_import(directory=tmp_path)
    # then
    assert _counts(result) == {
        "campaigns.csv": (2, 0, 0),
        "campaign_costs.csv": (4, 0, 0),
        "people.csv": (3, 0, 0),
        "touchpoints.csv": (5, 0, 0),
        "deals.csv": (3, 0, 0),
        "activities.csv": (3, 0, 0),
        "questions.csv": (2, 0, 0),
    }
    assert (result.accounts.created, result.lost_reasons_created, result.stage_changes) == (2, 1, 7)
    ana = Person.objects.select_related("account").get(email_normalized="ana@acme.example")
    assert (ana.first_name, ana.last_name, ana.job_title, ana.name_key) == (
        "Ana",
        "Lopez",
        "CTO",
        "ana lopez",
    )
    assert ana.created_at == _at("2025-03-02T09:00:00+00:00")
    assert ana.custom_fields == {"persona": "builder"}
    assert ana.account is not None
    assert (ana.account.name, ana.account.domain, ana.account.industry) == (
        "Acme",
        "acme.example",
        "software",
    )
    assert (ana.account.size_band, ana.account.country) == ("51-200", "ES")
    bo = Person.objects.select_related("account").get(email_normalized="bo@gmail.com")
    assert bo.account is not None
    assert (bo.account.name, bo.account.domain) == ("Berg Consulting", None)
    assert bo.custom_fields == {}
    assert Person.objects.get(email_normalized="cy@acme.example").account_id == ana.account_id
    webinar = Campaign.objects.get(external_id="C-1")
    assert (webinar.name, webinar.channel, webinar.actual_cost) == (
        "Spring webinar",
        "webinar",
        Decimal("1200.00"),
    )
    assert (webinar.started_on, webinar.ended_on) == (dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    assert webinar.custom_fields == {"region": "EMEA"}
    assert Campaign.objects.get(external_id="C-2").custom_fields == {}
    assert Touchpoint.objects.filter(person=bo).count() == 2
    won = Deal.objects.get(external_id="D-1")
    assert (won.person_id, won.account_id, won.amount, won.stage) == (
        ana.pk,
        ana.account_id,
        Decimal("12000.00"),
        "won",
    )
    assert won.closed_at == _at("2025-05-15T16:00:00+00:00")
    lost = Deal.objects.select_related("lost_reason").get(external_id="D-2")
    assert lost.lost_reason is not None and lost.lost_reason.name == "No budget"
    assert list(LostReason.objects.values_list("name", flat=True)) == ["No budget"]
    assert list(Question.objects.order_by("asked_at").values_list("text", "custom_fields")) == [
        ("Does it work with SSO, SAML?", {"theme": "security"}),
        ("How is pricing per seat?", {}),
    ]


def test_import_derives_stages_at_the_datas_own_timestamps(db, tmp_path):
    # given
    bundle_write_files(tmp_path)
    admin = UserFactory(role="admin")
    # when
    bundle_import(directory=tmp_path, by_user=admin)
    # then a won deal makes a customer, a lost or open one an opportunity
    rows = list(
        StageChange.objects.order_by("person__email_normalized", "changed_at").values_list(
            "person__email_normalized", "from_stage", "to_stage", "changed_at", "by_user_id", "reason"
        )
    )
    assert rows == [
        ("ana@acme.example", "", "lead", _at("2025-03-02T09:00:00+00:00"), admin.pk, "bundle import"),
        (
            "ana@acme.example",
            "lead",
            "opportunity",
            _at("2025-04-01T10:00:00+00:00"),
            admin.pk,
            "bundle import",
        ),
        (
            "ana@acme.example",
            "opportunity",
            "customer",
            _at("2025-05-15T16:00:00+00:00"),
            admin.pk,
            "bundle import",
        ),
        ("bo@gmail.com", "", "lead", _at("2025-03-05T12:30:00+00:00"), admin.pk, "bundle import"),
        ("bo@gmail.com", "lead", "opportunity", _at("2025-04-03T10:00:00+00:00"), admin.pk, "bundle import"),
        ("cy@acme.example", "", "lead", _at("2025-03-10T08:00:00+00:00"), admin.pk, "bundle import"),
        (
            "cy@acme.example",
            "lead",
            "opportunity",
            _at("2025-04-10T10:00:00+00:00"),
            admin.pk,
            "bundle import",
        ),
    ]
    assert dict(Person.objects.values_list("email_normalized", "lifecycle_stage")) == {
        "ana@acme.example": "customer",
        "bo@gmail.com": "opportunity",
        "cy@acme.example": "opportunity",
    }
    event = Event.objects.get(kind="bundle.imported")
    assert event.actor_id == admin.pk
    assert event.data["files"]["people.csv"] == {"created": 3, "updated": 0, "unchanged": 0}
    assert event.data["stage_changes"] == 7


def test_second_import_of_the_same_bundle_changes_nothing(db, tmp_path):
    # given
    bundle_write_files(tmp_path)
    bundle_import(directory=tmp_path)
    before = database_snapshot()
    # when
    again = bundle_import(directory=tmp_path)
    # then
    assert _counts(again) == {
        "campaigns.csv": (0, 0, 2),
        "campaign_costs.csv": (0, 0, 4),
        "people.csv": (0, 0, 3),
        "touchpoints.csv": (0, 0, 5),
        "deals.csv": (0, 0, 3),
        "activities.csv": (0, 0, 3),
        "questions.csv": (0, 0, 2),
    }
    assert (again.accounts.created, again.accounts.updated, again.accounts.unchanged) == (0, 0, 2)
    assert (again.lost_reasons_created, again.stage_changes, again.changed) == (0, 0, False)
    assert database_snapshot() == before


def test_a_changed_row_is_updated_and_one_summary_event_recorded(db, tmp_path):
    # given
    bundle_write_files(tmp_path)
    bundle_import(directory=tmp_path)
    people = replace_line(
        SAMPLE["people.csv"],
        2,
        "ana@acme.example,Ana,Lopez,Acme,software,51-200,ES,VP Engineering,2025-03-02T09:00:00Z,",
    )
    deals = replace_line(
        SAMPLE["deals.csv"], 4, "D-3,cy@acme.example,7000.00,won,2025-04-10T10:00:00Z,2025-06-01T09:00:00Z,"
    )
    bundle_write_files(tmp_path, people=people, deals=deals)
    events, changes = Event.objects.count(), StageChange.objects.count()
    # when
    result = bundle_import(directory=tmp_path)
    # then
    assert _counts(result)["people.csv"] == (0, 1, 2)
    assert _counts(result)["deals.csv"] == (0, 1, 2)
    ana = Person.objects.get(email_normalized="ana@acme.example")
    assert (ana.job_title, ana.custom_fields) == ("VP Engineering", {})
    d3 = Deal.objects.get(external_id="D-3")
    assert (d3.amount, d3.stage, d3.closed_at) == (
        Decimal("7000.00"),
        "won",
        _at("2025-06-01T09:00:00+00:00"),
    )
    assert list(
        StageChange.objects.order_by("-id").values_list("person__email_normalized", "to_stage", "changed_at")[
            :1
        ]
    ) == [("cy@acme.example", "customer", _at("2025-06-01T09:00:00+00:00"))]
    assert (Event.objects.count(), StageChange.objects.count()) == (events + 1, changes + 1)
    assert Event.objects.order_by("-id").first().data["files"]["deals.csv"] == {  # type: ignore[union-attr]
        "created": 0,
        "updated": 1,
        "unchanged": 2,
    }


def test_a_touchpoint_twice_in_the_file_and_once_stored_is_created_once(db, tmp_path):
    # given the sample has bo's page view twice; the database gets it once
    once = replace_line(
        SAMPLE["touchpoints.csv"], 5, "cy@acme.example,2025-03-10T08:00:00Z,referral,,form_submit"
    )
    bundle_write_files(tmp_path, touchpoints="\n".join([*once.split("\n")[:5], ""]))
    bundle_import(directory=tmp_path)
    assert Touchpoint.objects.filter(person__email_normalized="bo@gmail.com").count() == 1
    bundle_write_files(tmp_path)
    # when
    result = bundle_import(directory=tmp_path)
    # then
    assert _counts(result)["touchpoints.csv"] == (1, 0, 4)
    assert Touchpoint.objects.filter(person__email_normalized="bo@gmail.com").count() == 2


def test_first_and_last_touchpoints_give_original_and_latest_channel(db, tmp_path):
    # given
    bundle_write_files(tmp_path)
    bundle_import(directory=tmp_path)
    ana = Person.objects.get(email_normalized="ana@acme.example")
    c1, c2 = Campaign.objects.get(external_id="C-1"), Campaign.objects.get(external_id="C-2")
    assert (ana.original_channel, ana.original_campaign_id) == ("paid_search", c2.pk)
    assert (ana.latest_channel, ana.latest_campaign_id) == ("webinar", c1.pk)
    earlier = SAMPLE["touchpoints.csv"] + "ana@acme.example,2025-02-20T08:00:00Z,Organic Search,,page_view\n"
    bundle_write_files(tmp_path, touchpoints=earlier)
    # when
    result = bundle_import(directory=tmp_path)
    # then
    ana.refresh_from_db()
    assert (ana.original_channel, ana.original_campaign_id) == ("organic_search", None)
    assert (ana.latest_channel, ana.latest_campaign_id) == ("webinar", c1.pk)
    assert _counts(result)["people.csv"] == (0, 1, 2)
    assert _counts(result)["touchpoints.csv"] == (1, 0, 5)


def test_stored_people_only_move_forward_to_stages_they_never_reached(db, tmp_path):
    # given a customer, a lead, and a person recycled after being an opportunity
    customer = PersonFactory(email="ana@acme.example", stage="customer")
    PersonFactory(email="bo@gmail.com", stage="lead")
    recycled = PersonFactory(email="cy@acme.example", stage="opportunity")
    from tandem.crm.services import person_change_stage

    person_change_stage(person=recycled, to_stage="recycled", at=_at("2025-03-20T00:00:00+00:00"))
    deals = replace_line(
        SAMPLE["deals.csv"], 4, "D-3,cy@acme.example,5000.50,won,2025-04-10T10:00:00Z,2025-04-30T10:00:00Z,"
    )
    bundle_write_files(tmp_path, deals=deals)
    before = set(StageChange.objects.values_list("pk", flat=True))
    # when
    result = bundle_import(directory=tmp_path)
    # then the customer stays one, the lead becomes an opportunity, the recycled one skips opportunity
    new = list(
        StageChange.objects.exclude(pk__in=before)
        .order_by("person__email_normalized", "changed_at")
        .values_list("person__email_normalized", "from_stage", "to_stage", "changed_at")
    )
    assert new == [
        ("bo@gmail.com", "lead", "opportunity", _at("2025-04-03T10:00:00+00:00")),
        ("cy@acme.example", "recycled", "customer", _at("2025-04-30T10:00:00+00:00")),
    ]
    assert result.stage_changes == 2
    assert Person.objects.get(pk=customer.pk).lifecycle_stage == "customer"


def test_a_deal_entered_before_its_person_is_recorded_when_the_person_is(db, tmp_path):
    # given a deal opened a day before its person's created_at
    deals = replace_line(SAMPLE["deals.csv"], 4, "D-3,cy@acme.example,5000.50,open,2025-03-09T08:00:00Z,,")
    bundle_write_files(tmp_path, deals=deals)
    # when
    bundle_import(directory=tmp_path)
    # then the history stays in order
    assert list(
        StageChange.objects.filter(person__email_normalized="cy@acme.example")
        .order_by("id")
        .values_list("to_stage", "changed_at")
    ) == [("lead", _at("2025-03-10T08:00:00+00:00")), ("opportunity", _at("2025-03-10T08:00:00+00:00"))]
    assert Deal.objects.get(external_id="D-3").created_at == _at("2025-03-09T08:00:00+00:00")


def test_custom_columns_are_kept_and_an_empty_cell_removes_the_key(db, tmp_path):
    # given
    bundle_write_files(tmp_path)
    bundle_import(directory=tmp_path)
    person = Person.objects.get(email_normalized="cy@acme.example")
    person.custom_fields = {"kept": "from elsewhere"}
    person.save(update_fields=["custom_fields"])
    people = SAMPLE["people.csv"].replace(",persona\n", ",persona,score\n", 1)
    people = "\n".join(
        line + (",42" if "cy@" in line else ",") if i and line else line
        for i, line in enumerate(people.split("\n"))
    )
    bundle_write_files(tmp_path, people=people)
    # when
    bundle_import(directory=tmp_path)
    # then
    assert dict(Person.objects.values_list("email_normalized", "custom_fields")) == {
        "ana@acme.example": {"persona": "builder"},
        "bo@gmail.com": {},
        "cy@acme.example": {"kept": "from elsewhere", "score": "42"},
    }
    # when the persona column comes back empty for ana
    people = people.replace("2025-03-02T09:00:00Z,builder,", "2025-03-02T09:00:00Z,,")
    bundle_write_files(tmp_path, people=people)
    bundle_import(directory=tmp_path)
    # then
    assert Person.objects.get(email_normalized="ana@acme.example").custom_fields == {}


def test_values_written_another_way_are_read_into_one_form(db, tmp_path):
    # given offsets, a space separator, a bare date, a channel label, a size label and no decimals
    people = (
        "Email,First_Name,last_name,company,industry,company_size,country,job_title,created_at\n"
        ' Dee@Beta.example ,Dee,Dunn,Beta,retail,"1,001–5,000",NL,Buyer,2025-03-04T10:15:00+01:00\n'
        "eve@beta.example,Eve,Eng,Beta,retail,about 40,NL,,2025-03-04\n"
    )
    touchpoints = "email,occurred_at,channel,campaign_id,kind\ndee@beta.example,2025-03-05 08:00:00,Paid - Search,,Ad Click\n"
    deals = "deal_id,email,amount,stage,created_at,closed_at,lost_reason\nX1,DEE@beta.example,12000,Won,2025-03-06,2025-03-07,\n"
    bundle_write_files(tmp_path, {}, people=people, touchpoints=touchpoints, deals=deals)
    # when
    bundle_import(directory=tmp_path)
    # then
    dee = Person.objects.select_related("account").get(email_normalized="dee@beta.example")
    assert (dee.email, dee.created_at) == ("Dee@Beta.example", _at("2025-03-04T09:15:00+00:00"))
    assert dee.account is not None and dee.account.size_band == "1001-5000"
    assert Person.objects.get(email_normalized="eve@beta.example").created_at == _at(
        "2025-03-04T00:00:00+00:00"
    )
    assert list(Touchpoint.objects.values_list("channel", "kind", "occurred_at")) == [
        ("paid_search", "ad_click", _at("2025-03-05T08:00:00+00:00"))
    ]
    assert list(Deal.objects.values_list("amount", "stage")) == [(Decimal("12000.00"), "won")]
    # the first non-empty size in the file is the account's
    assert Account.objects.get(domain="beta.example").size_band == "1001-5000"


def test_an_empty_cell_never_clears_what_an_account_knows(db, tmp_path):
    # given
    bundle_write_files(tmp_path)
    bundle_import(directory=tmp_path)
    people = SAMPLE["people.csv"].replace("Acme,software,51-200,ES", ",,,")
    bundle_write_files(tmp_path, people=people)
    # when
    result = bundle_import(directory=tmp_path)
    # then
    acme = Account.objects.get(domain="acme.example")
    assert (acme.name, acme.industry, acme.size_band, acme.country) == ("Acme", "software", "51-200", "ES")
    assert (result.accounts.updated, result.changed) == (0, False)


def test_a_bundle_of_deals_alone_refers_to_stored_people(db, tmp_path):
    # given people imported first, then a bundle whose people.csv is only a header
    bundle_write_files(tmp_path, deals=None, activities=None)
    bundle_import(directory=tmp_path)
    only_deals = tmp_path / "deals"
    bundle_write_files(
        only_deals, {}, people=SAMPLE["people.csv"].split("\n")[0] + "\n", deals=SAMPLE["deals.csv"]
    )
    # when
    result = bundle_import(directory=only_deals)
    # then
    assert _counts(result)["deals.csv"] == (3, 0, 0)
    assert result.stage_changes == 4
    assert dict(Person.objects.values_list("email_normalized", "lifecycle_stage")) == {
        "ana@acme.example": "customer",
        "bo@gmail.com": "opportunity",
        "cy@acme.example": "opportunity",
    }


def test_free_mail_without_a_company_gets_no_account(db, tmp_path):
    # given
    people = "email,first_name,last_name,company,industry,company_size,country,job_title,created_at\nfay@gmail.com,Fay,Fox,,,,,,2025-01-01T00:00:00Z\n"
    bundle_write_files(tmp_path, {}, people=people)
    # when
    result = bundle_import(directory=tmp_path)
    # then
    assert Person.objects.get().account_id is None
    assert (result.accounts.created, Account.objects.count()) == (0, 0)


def test_a_small_import_takes_a_fixed_number_of_queries(db, tmp_path, django_assert_num_queries):
    # given
    bundle_write_files(tmp_path)
    # when / then: reads in chunks, one insert (or COPY) per table, one stage-change batch, one event; activities
    # take four (the kinds, the stored activities, the deals they name, one insert); one read of the webhook
    # endpoints (nobody subscribes: no message is built)
    with django_assert_num_queries(31):
        bundle_import(directory=tmp_path)


CALENDAR = ("kind", "offer", "offer_ends_on", "talking_points")
OLD_CAMPAIGNS = (
    "campaign_id,name,channel,started_on,ended_on,cost\n"
    "C-1,Spring webinar,webinar,2025-03-01,2025-03-31,1200.00\n"
    "C-3,Trade fair,events,2025-05-01,2025-05-03,900.00\n"
)


def test_imported_campaigns_carry_their_calendar_fields(db, tmp_path):
    # given
    bundle_write_files(tmp_path)
    # when
    bundle_import(directory=tmp_path)
    # then
    assert list(Campaign.objects.order_by("external_id").values_list("external_id", *CALENDAR)) == [
        ("C-1", "event", "", None, "Live demo of the dashboard"),
        ("C-2", "promotion", "20% off the first year", dt.date(2025, 2, 15), ""),
    ]


def test_a_campaign_kind_written_another_way_is_read_and_an_empty_one_is_the_default(db, tmp_path):
    # given
    campaigns = (
        "campaign_id,name,channel,started_on,ended_on,cost,KIND,offer,offer_ends_on,talking_points\n"
        "L-1,Launch,email,,,,Launch,,,\n"
        "P-1,Promo,email,,,, PROMOTION ,,,\n"
        "E-1,Empty,email,,,,,,,\n"
    )
    bundle_write_files(
        tmp_path, campaigns=campaigns, campaign_costs=None, touchpoints=None, deals=None, activities=None, questions=None
    )
    # when
    bundle_import(directory=tmp_path)
    # then
    assert dict(Campaign.objects.values_list("external_id", "kind")) == {
        "L-1": "launch",
        "P-1": "promotion",
        "E-1": "campaign",
    }


def test_an_old_bundle_without_calendar_columns_imports_with_defaults(db, tmp_path):
    # given a campaigns.csv written before campaigns had calendar fields
    bundle_write_files(tmp_path, campaigns=OLD_CAMPAIGNS, campaign_costs=None, touchpoints=None)
    # when
    result = bundle_import(directory=tmp_path)
    # then
    assert _counts(result)["campaigns.csv"] == (2, 0, 0)
    assert list(Campaign.objects.order_by("external_id").values_list("external_id", *CALENDAR)) == [
        ("C-1", "campaign", "", None, ""),
        ("C-3", "campaign", "", None, ""),
    ]


def test_an_old_bundle_leaves_stored_calendar_fields_as_they_are(db, tmp_path):
    # given a stored campaign with calendar fields, and an old bundle that names it
    CampaignFactory(
        external_id="C-1",
        name="Spring webinar",
        channel="webinar",
        started_on=dt.date(2025, 3, 1),
        ended_on=dt.date(2025, 3, 31),
        actual_cost=Decimal("1200.00"),
        kind="promotion",
        offer="Free seat",
        offer_ends_on=dt.date(2025, 3, 15),
        talking_points="Point one\nPoint two",
    )
    bundle_write_files(tmp_path, campaigns=OLD_CAMPAIGNS, campaign_costs=None, touchpoints=None)
    # when
    result = bundle_import(directory=tmp_path)
    # then
    assert _counts(result)["campaigns.csv"] == (1, 0, 1)
    assert Campaign.objects.filter(external_id="C-1").values_list(*CALENDAR).get() == (
        "promotion",
        "Free seat",
        dt.date(2025, 3, 15),
        "Point one\nPoint two",
    )


def test_changed_calendar_fields_update_a_stored_campaign_and_empty_cells_clear_them(db, tmp_path):
    # given the sample imported, then its campaigns with C-1 turned into a launch and C-2's offer emptied
    bundle_write_files(tmp_path)
    bundle_import(directory=tmp_path)
    campaigns = replace_line(
        SAMPLE["campaigns.csv"],
        2,
        'C-1,Spring webinar,webinar,2025-03-01,2025-03-31,1200.00,launch,,,"New line one\nline two",EMEA',
    )
    campaigns = replace_line(campaigns, 4, "C-2,Search ads,paid_search,2025-01-01,,350.50,,,,,")
    bundle_write_files(tmp_path, campaigns=campaigns)
    # when
    result = bundle_import(directory=tmp_path)
    # then
    assert _counts(result)["campaigns.csv"] == (0, 2, 0)
    assert list(Campaign.objects.order_by("external_id").values_list("external_id", *CALENDAR)) == [
        ("C-1", "launch", "", None, "New line one\nline two"),
        ("C-2", "campaign", "", None, ""),
    ]
