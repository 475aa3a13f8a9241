"""Each criterion compiled to the database means what it says, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tandem.audiences.selectors import members_query, spec_check, spec_counts, spec_sentences
from tandem.audiences.spec import spec_parse
from tandem.campaigns.models import Campaign, Touchpoint
from tandem.core.errors import ValidationFailed
from tandem.crm.consent.services import consent_record
from tandem.enablement.models import Persona
from tandem.enablement.selectors import person_persona
from tandem.scoring.models import PersonScore
from tests.crm.factories import AccountFactory, PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _consenting(**kwargs):  # type: ignore[no-untyped-def]
    person = PersonFactory(**kwargs)
    consent_record(person=person, channel="email", granted=True, source="ui")
    return person


def _ids(spec: dict) -> set[int]:
    return set(members_query(spec_check(spec=spec)).values_list("pk", flat=True))


def test_persona_membership_in_the_database_is_the_persona_enablement_picks_for_each_person():
    # given three personas tried in priority order: title keywords, a list of industries, a fit grade
    vp = Persona.objects.create(name="VP", priority=1, rules={"all": [
        {"type": "title_keywords", "keywords": ["vp", "c++"], "exclude": ["intern"]}]})  # fmt: skip
    health = Persona.objects.create(name="Health buyer", priority=2, rules={"any": [
        {"type": "field_in", "field": "industry", "values": ["healthcare", "pharma"]},
        {"type": "field_not_in", "field": "country", "values": ["DE"]}]})  # fmt: skip
    graded = Persona.objects.create(name="Great fit", priority=3, rules={"all": [
        {"type": "fit_grade", "op": ">=", "grade": "B"}]})  # fmt: skip
    Persona.objects.create(name="Inactive", priority=0, is_active=False, rules={"all": [
        {"type": "title_keywords", "keywords": ["head"]}]})  # fmt: skip
    de_health = AccountFactory(industry=" Healthcare", country="DE")
    de_soft = AccountFactory(industry="Software", country="DE")
    fr_soft = AccountFactory(industry="Software", country="FR")
    people = [
        _consenting(job_title="VP Sales", account=de_soft),  # VP
        _consenting(job_title="vp-marketing", account=de_health),  # VP first, though health too
        _consenting(job_title="MVP builder", account=de_health),  # not a VP: Health buyer
        _consenting(
            job_title="VP intern", account=de_soft
        ),  # excluded word: not VP; Germany, software: none yet
        _consenting(job_title="C++ lead", account=de_soft),  # VP (punctuation in a keyword)
        _consenting(job_title="Head of Ops", account=fr_soft),  # not in DE: Health buyer (any)
        _consenting(job_title="Head of Ops", account=None),  # no country known: not "not DE"
        _consenting(job_title="Head of Ops", account=de_soft),  # graded B below: Great fit
    ]
    PersonScore.objects.create(person=people[7], fit_grade="B", factors={}, scored_at=timezone.now())
    PersonScore.objects.create(person=people[6], fit_grade="C", factors={}, scored_at=timezone.now())
    # when each persona's audience is computed by the database
    got = {
        p.pk: _ids({"criteria": [{"type": "persona", "persona_ids": [p.pk]}]}) for p in (vp, health, graded)
    }
    # then it holds exactly the people whose persona enablement picks is that one
    expected: dict[int, set[int]] = {vp.pk: set(), health.pk: set(), graded.pk: set()}
    for person in people:
        match = person_persona(person_id=person.pk).persona
        if match is not None:
            expected[match.pk].add(person.pk)
    assert got == expected
    # and the hand count agrees: 3 VPs, 2 health buyers, 1 great fit
    assert [len(got[p.pk]) for p in (vp, health, graded)] == [3, 2, 1]


def test_any_keeps_people_without_a_company_or_a_score_who_meet_another_criterion():
    # given a person without an account or score in stage MQL, and a scored hot lead in healthcare
    owner = UserFactory()
    bare = _consenting(stage="mql", account=None)
    hot = _consenting(stage="lead", account=AccountFactory(industry="Healthcare"), owner=owner)
    PersonScore.objects.create(person=hot, tier="hot", fit_grade="A", factors={}, scored_at=timezone.now())
    _consenting(stage="lead", account=AccountFactory(industry="Software"))
    # when the criteria are joined by "any", then each is a member through one criterion
    spec = {"match": "any", "criteria": [
        {"type": "stage", "stages": ["mql"]},
        {"type": "segment", "field": "industry", "values": ["healthcare"]},
        {"type": "score_tier", "tiers": ["hot"]}]}  # fmt: skip
    assert _ids(spec) == {bare.pk, hot.pk}
    # and with "all" nobody meets every one
    assert _ids({**spec, "match": "all"}) == set()
    # and fit grade and owner read the score and the owner
    assert _ids(
        {"criteria": [{"type": "fit_grade", "grades": ["a"]}, {"type": "owner", "owner_ids": [owner.pk]}]}
    ) == {hot.pk}


def test_a_campaign_touched_within_n_days_counts_only_touches_in_that_window():
    # given a campaign touched by one person 10 days ago and by another 40 days ago
    campaign = Campaign.objects.create(name="Spring webinar", channel="webinar", created_at=timezone.now())
    recent, old = _consenting(), _consenting()
    now = timezone.now()
    Touchpoint.objects.create(
        person=recent, campaign=campaign, channel="webinar", occurred_at=now - dt.timedelta(days=10)
    )
    Touchpoint.objects.create(
        person=old, campaign=campaign, channel="webinar", occurred_at=now - dt.timedelta(days=40)
    )
    # when the audience asks for the last 30 days, then only the recent one is in
    assert _ids({"criteria": [{"type": "campaign", "campaign_ids": [campaign.pk], "days": 30}]}) == {
        recent.pk
    }
    # and at any time, both (counted once each, however many touches)
    Touchpoint.objects.create(
        person=old, campaign=campaign, channel="webinar", occurred_at=now - dt.timedelta(days=41)
    )
    assert (
        spec_counts(
            spec=spec_check(spec={"criteria": [{"type": "campaign", "campaign_ids": [campaign.pk]}]})
        ).members
        == 2
    )
    # and in words
    assert spec_sentences(
        spec=spec_parse({"criteria": [{"type": "campaign", "campaign_ids": [campaign.pk], "days": 30}]})
    ) == [
        "Touched campaign 'Spring webinar' in the last 30 days",
        "Only people who consented to e-mail (erased people never)",
    ]


def test_a_calls_audience_needs_call_consent_and_a_phone_number():
    # given people with e-mail consent only, with call consent and a phone, and with call consent but no phone
    _consenting(phone="+44 20 7946 0958")
    caller = PersonFactory(phone="+44 20 7946 0959")
    consent_record(person=caller, channel="calls", granted=True, source="ui")
    mute = PersonFactory(phone="")
    consent_record(person=mute, channel="calls", granted=True, source="ui")
    # when a calls audience of everyone is counted
    counts = spec_counts(spec=spec_check(spec={"consent": "calls"}))
    # then only the caller is a member; the others are left out, each for its reason
    assert counts.to_dict() == {"matched": 3, "members": 1, "left_out_consent": 1, "left_out_no_address": 1}


@pytest.mark.parametrize(
    ("spec", "field", "value"),
    [
        ({"criteria": [{"type": "stage", "stages": ["mql", "hot lead"]}]}, "criteria[0].stages", "hot lead"),
        (
            {"criteria": [{"type": "stage", "stages": ["mql"]}, {"type": "colour"}]},
            "criteria[1].type",
            "colour",
        ),
        (
            {"criteria": [{"type": "segment", "field": "shoe_size", "values": ["9"]}]},
            "criteria[0].field",
            "shoe_size",
        ),
        ({"criteria": [{"type": "theme", "theme_ids": [1], "days": 0}]}, "criteria[0].days", 0),
        ({"criteria": [{"type": "fit_grade", "grades": []}]}, "criteria[0].grades", []),
        ({"criteria": [{"type": "persona", "persona_ids": [999]}]}, "criteria[0].persona_ids", 999),
        ({"consent": "fax"}, "consent", "fax"),
        ({"match": "most"}, "match", "most"),
        ({"criteria": [{"type": "stage", "stages": ["mql"], "colour": "red"}]}, "criteria[0].colour", "red"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field_and_value(spec, field, value):
    # when a bad spec is checked, then the error names the criterion's field and the value
    with pytest.raises(ValidationFailed) as refused:
        spec_check(spec=spec)
    assert (refused.value.field, refused.value.value) == (field, value)
