from __future__ import annotations

import pytest

from tandem.core.errors import NotAllowed
from tandem.core.models import Event
from tandem.crm.identity import email_normalize, email_normalize_configured, phone_normalize
from tandem.crm.models import ExternalId, Person
from tandem.crm.selectors import person_duplicate_candidates, person_match
from tandem.crm.services import person_link_external_id
from tests.crm.factories import AccountFactory, PersonFactory

# ---- normalisation (pure) ----


@pytest.mark.parametrize(
    "raw",
    [
        "Ann.Lee@Example.COM",
        "o'brien+x@company1.example",
        "a{b}|c~@sub.Example.org",
        "ann@b.c",
        "ann..lee@example.com",
        ".ann@example.com",
        "ann.@example.com",
        "ann@localhost",
        "ann@foo.test",
        "ann@1.2",
        "ann@-a.com",
        "ann@example.com.",
        "ann@[1.2.3.4]",
        "\"a b\"@example.com",
        "ann@xn--bcher-kva.de",
        "ann@Bücher.de",
        "x" * 64 + "@example.com",
        "x" * 65 + "@example.com",
        "ann@" + "x" * 64 + ".com",
        "a@b@example.com",
    ],
)
def test_email_fast_path_answers_as_email_validator_does(raw):
    # given: the answer of email-validator itself for the whole address
    import unicodedata

    from email_validator import EmailNotValidError, validate_email

    from tandem.crm.identity import _email_parsed, email_problem

    try:
        shown = unicodedata.normalize("NFC", validate_email(raw, check_deliverability=False).normalized)
        expected: object = (shown, shown.lower())
    except EmailNotValidError as exc:
        expected = str(exc).rstrip(".")
    # when
    _email_parsed.cache_clear()
    parsed = _email_parsed(raw)
    # then: the same normalised address, or a refusal with email-validator's reason
    if isinstance(expected, tuple):
        assert parsed == expected
    else:
        assert email_problem(raw) == expected[:1].lower() + expected[1:]


@pytest.mark.parametrize(
    ("raw", "strip_plus", "expected"),
    [
        ("  Ann.Lee@Example.COM ", False, "ann.lee@example.com"),
        ("ann+news@example.com", False, "ann+news@example.com"),
        ("Ann+News@Example.com", True, "ann@example.com"),
        ("ann@example.com", True, "ann@example.com"),
        ("   ", False, None),
        (None, True, None),
    ],
)
def test_email_normalize_handles_case_whitespace_and_plus(raw, strip_plus, expected):
    # given / when
    result = email_normalize(raw, strip_plus=strip_plus)
    # then
    assert result == expected


def test_email_normalize_configured_follows_the_setting(settings):
    # given
    settings.EMAIL_STRIP_PLUS = False
    # when
    kept = email_normalize_configured(" Ann+News@Example.com")
    settings.EMAIL_STRIP_PLUS = True
    stripped = email_normalize_configured(" Ann+News@Example.com")
    # then
    assert kept == "ann+news@example.com"
    assert stripped == "ann@example.com"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+49 (30) 1234-5678", "+493012345678"),
        ("1234567", "1234567"),
        ("020 7946-0958", "02079460958"),
        ("12345", None),
        ("+1 555 0100", None),
        ("", None),
        (None, None),
    ],
)
def test_phone_normalize_gives_the_e164_form_of_valid_numbers(raw, expected, settings):
    # given no default country: numbers with their country code are E.164, others keep their bare digits
    settings.DEFAULT_COUNTRY = ""
    # when
    result = phone_normalize(raw)
    # then
    assert result == expected


# ---- matching ----


def test_person_match_finds_by_normalised_email(db):
    # given
    ann = PersonFactory(email="ann@acme.example")
    # when
    found = person_match(email="  ANN@Acme.Example ")
    # then
    assert found == ann


def test_person_match_strips_plus_only_when_configured(db, settings):
    # given
    ann = PersonFactory(email="ann@acme.example")
    # when
    settings.EMAIL_STRIP_PLUS = False
    off = person_match(email="ann+webinar@acme.example")
    settings.EMAIL_STRIP_PLUS = True
    on = person_match(email="ann+webinar@acme.example")
    # then
    assert off is None
    assert on == ann


def test_person_match_prefers_email_over_external_id(db):
    # given
    ann = PersonFactory(email="ann@acme.example")
    bob = PersonFactory(email="bob@acme.example")
    person_link_external_id(person=bob, system="x-education", external_id="P-1")
    # when
    found = person_match(email="ann@acme.example", system="x-education", external_id="P-1")
    # then
    assert found == ann


def test_person_match_falls_back_to_external_id_when_email_unknown(db):
    # given
    bob = PersonFactory(email="")
    person_link_external_id(person=bob, system="x-education", external_id="7927b2df-8bba-4d29")
    # when
    by_id = person_match(email="new@else.example", system="x-education", external_id=" 7927b2df-8bba-4d29 ")
    other_system = person_match(system="hubspot", external_id="7927b2df-8bba-4d29")
    # then
    assert by_id == bob
    assert other_system is None


def test_person_match_uses_phone_only_without_email(db):
    # given
    cara = PersonFactory(email="", phone="+49 30 1234 5678")
    PersonFactory(email="", phone="+49 30 9999 5678")
    # when
    by_phone = person_match(phone="+49 (30) 12345678")
    with_email = person_match(email="cara@other.example", phone="+49 30 1234 5678")
    too_short = person_match(phone="5678")
    # then
    assert by_phone == cara
    assert with_email is None
    assert too_short is None


def test_person_match_returns_none_for_nothing_given(db):
    # given
    PersonFactory(email="ann@acme.example")
    # when
    found = person_match()
    # then
    assert found is None


# ---- linking external ids ----


def test_link_external_id_is_idempotent(db):
    # given
    ann = PersonFactory()
    first = person_link_external_id(person=ann, system="x-education", external_id="P-1")
    events = Event.objects.filter(kind="person.external_id_linked").count()
    # when
    again = person_link_external_id(person=ann, system="x-education", external_id="P-1")
    # then
    assert again.pk == first.pk
    assert ExternalId.objects.filter(person=ann).count() == 1
    assert events == 1
    assert Event.objects.filter(kind="person.external_id_linked").count() == 1


def test_link_external_id_refuses_an_id_of_another_person(db):
    # given
    ann = PersonFactory()
    bob = PersonFactory()
    person_link_external_id(person=ann, system="x-education", external_id="P-1")
    # when
    with pytest.raises(NotAllowed) as exc:
        person_link_external_id(person=bob, system="x-education", external_id="P-1")
    # then
    assert str(exc.value) == (
        f"x-education id 'P-1' is already linked to person #{ann.pk}, not person #{bob.pk}"
    )
    assert exc.value.field == "external_id"
    assert list(ExternalId.objects.values_list("person_id", "system", "external_id")) == [
        (ann.pk, "x-education", "P-1")
    ]


# ---- duplicate candidates ----


def test_duplicate_candidates_groups_same_name_and_company(db):
    # given
    acme = AccountFactory(name="Acme")
    acme_de = AccountFactory(name="ACME", domain="acme.de")
    other = AccountFactory(name="Globex")
    a1 = PersonFactory(email="ann@acme0.example", first_name="Ann", last_name="Lee", account=acme)
    a2 = PersonFactory(email="a.lee@acme.de", first_name="ann", last_name="LEE", account=acme_de)
    PersonFactory(email="ann@globex.example", first_name="Ann", last_name="Lee", account=other)
    PersonFactory(email="bob@acme0.example", first_name="Bob", last_name="Lee", account=acme)
    PersonFactory(email="x@acme0.example", first_name="", last_name="", account=acme)
    PersonFactory(email="y@acme0.example", first_name="", last_name="", account=acme)
    PersonFactory(email="ann@free.example", first_name="Ann", last_name="Lee", account=None)
    # when
    groups = person_duplicate_candidates()
    # then
    assert [(g.name_key, g.company, [p.pk for p in g.members]) for g in groups] == [
        ("ann lee", "Acme", [a1.pk, a2.pk])
    ]


def test_duplicate_candidates_orders_bigger_groups_first_and_limits(db):
    # given
    acme = AccountFactory(name="Acme")
    for i in range(2):
        PersonFactory(email=f"zed{i}@acme0.example", first_name="Zed", last_name="Ng", account=acme)
    for i in range(3):
        PersonFactory(email=f"amy{i}@acme0.example", first_name="Amy", last_name="Ng", account=acme)
    # when
    groups = person_duplicate_candidates()
    limited = person_duplicate_candidates(limit=1)
    # then
    assert [(g.name_key, len(g.members)) for g in groups] == [("amy ng", 3), ("zed ng", 2)]
    assert [g.name_key for g in limited] == ["amy ng"]


def test_duplicate_candidates_query_count_does_not_grow(db, django_assert_num_queries):
    # given
    acme = AccountFactory(name="Acme")
    for n in range(5):
        for i in range(2):
            PersonFactory(email=f"p{n}-{i}@acme0.example", first_name=f"P{n}", last_name="Ng", account=acme)
    # when
    # (one more: the people whose e-mail is stored under a punycode key, see person_identity_collisions)
    with django_assert_num_queries(3):
        groups = person_duplicate_candidates()
        names = [p.account.name for g in groups for p in g.members]
    # then
    assert len(groups) == 5
    assert names == ["Acme"] * 10
    assert Person.objects.count() == 10


def test_person_create_stores_the_configured_normalisation(db, settings):
    # given
    settings.EMAIL_STRIP_PLUS = True
    # when
    ann = PersonFactory(email="Ann+Webinar@Acme.example")
    # then
    assert (ann.email, ann.email_normalized) == ("Ann+Webinar@Acme.example", "ann@acme.example")
