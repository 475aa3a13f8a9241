"""Pure checks of form definitions, submissions, tracking events and the reading of UTM tags."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.capture.intake.validation import (
    FieldSpec,
    body_decode,
    channel_infer,
    form_fields_parse,
    submission_clean,
    track_events_clean,
    utm_from_url,
)
from tandem.core.errors import ValidationFailed

NOW = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
FIELDS = [
    FieldSpec(name="email", label="Email", type="email", required=True),
    FieldSpec(name="first_name", label="First name"),
    FieldSpec(name="size", label="Size", type="select", choices=("small", "big")),
    FieldSpec(name="terms", label="Terms", type="checkbox", required=True),
    FieldSpec(name="consent_calls", label="Call me", type="consent_calls"),
]


@pytest.mark.parametrize(
    ("utm", "referrer", "channel"),
    [
        ({"utm_source": "google", "utm_medium": "cpc"}, "", "paid_search"),
        ({"utm_source": "linkedin", "utm_medium": "cpc"}, "", "paid_social"),
        ({"utm_source": "facebook", "utm_medium": "paid_social"}, "", "paid_social"),
        ({"utm_medium": "email", "utm_source": "newsletter"}, "", "email"),
        ({"utm_medium": "banner"}, "", "display"),
        ({"utm_medium": "social", "utm_source": "twitter"}, "", "organic_social"),
        ({"utm_source": "linkedin"}, "", "organic_social"),
        ({"utm_source": "somewhere"}, "", "other"),
        ({}, "https://www.google.de/search?q=x", "organic_search"),
        ({}, "https://duckduckgo.com/", "organic_search"),
        ({}, "https://www.linkedin.com/feed", "organic_social"),
        ({}, "https://t.co/abc", "organic_social"),
        ({}, "https://partner-blog.example/post", "referral"),
        ({}, "", "direct"),
    ],
)
def test_the_channel_is_read_from_utm_tags_then_from_the_referrer(utm, referrer, channel):
    # given UTM tags and a referrer, when the channel is inferred, then it is the usual reading
    assert channel_infer(utm=utm, referrer=referrer, page_url="https://www.example.com/p") == channel


def test_a_referrer_on_the_page_own_site_is_direct():
    # given a visitor moving inside the site, then the visit counts as direct
    assert channel_infer(utm={}, referrer="https://www.example.com/a", page_url="https://www.example.com/b") == "direct"


def test_utm_tags_are_read_from_a_page_address():
    # given an address with tags and other parameters, then only the non-empty tags are returned
    url = "https://x.example/p?utm_source=google&utm_medium=cpc&utm_campaign=&gclid=1"
    assert utm_from_url(url) == {"utm_source": "google", "utm_medium": "cpc"}


def test_a_submission_is_split_into_person_fields_consent_custom_fields_and_utm():
    # given a submission with every kind of field
    data = {
        "email": " ann@example.com ", "first_name": "Ann", "size": "big", "terms": "on", "consent_calls": "1",
        "utm_source": "google", "utm_campaign": "brand", "unknown_key": "dropped", "submission_id": "s-1",
    }
    # when it is cleaned
    clean = submission_clean(fields=FIELDS, data=data)
    # then each part lands in its place and unknown keys are not kept
    assert clean.email == "ann@example.com"
    assert clean.person == {"first_name": "Ann"}
    assert clean.custom == {"size": "big", "terms": True}
    assert (clean.consent_calls, clean.consent_email) == (True, False)
    assert clean.utm == {"utm_source": "google", "utm_campaign": "brand"}
    assert clean.submission_id == "s-1" and not clean.is_spam


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"terms": "on"}, "email"),
        ({"email": "ann@", "terms": "on"}, "email"),
        ({"email": "a@b.example", "terms": ""}, "terms"),
        ({"email": "a@b.example", "terms": "on", "size": "huge"}, "size"),
        ({"email": "a@b.example", "terms": "on", "first_name": "x" * 201}, "first_name"),
        ({"email": "a@b.example", "terms": "on", "first_name": {"nested": 1}}, "first_name"),
        ({"email": "a@b.example", "terms": "on", "utm_source": "g\x00"}, "utm_source"),
    ],
)
def test_a_bad_submission_is_refused_naming_the_field(data, field):
    # given a bad submission, when it is cleaned, then the refusal names the field
    with pytest.raises(ValidationFailed) as refused:
        submission_clean(fields=FIELDS, data=data)
    assert refused.value.field == field


@given(st.dictionaries(st.text(max_size=12), st.one_of(st.text(max_size=30), st.integers(), st.booleans(), st.none())))
def test_any_submission_is_either_cleaned_or_refused_with_a_field(data):
    # given arbitrary input, when cleaned, then it never fails any other way
    try:
        submission_clean(fields=FIELDS, data=data)
    except ValidationFailed as refused:
        assert refused.field


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ([], "fields"),
        ([{"name": "Email", "type": "email"}], "fields[0].name"),
        ([{"name": "email", "type": "text"}], "fields[0].type"),
        ([{"name": "email", "type": "email"}, {"name": "email", "type": "email"}], "fields[1].name"),
        ([{"name": "email", "type": "email"}, {"name": "utm_source"}], "fields[1].name"),
        ([{"name": "email", "type": "email"}, {"name": "plan", "type": "select"}], "fields[1].choices"),
        ([{"name": "email", "type": "email"}, {"name": "x", "type": "colour"}], "fields[1].type"),
        ([{"name": "comment", "type": "textarea"}], "fields"),
    ],
)
def test_a_bad_form_definition_is_refused_naming_the_field(fields, field):
    # given a bad list of fields, when parsed, then the refusal names the place
    with pytest.raises(ValidationFailed) as refused:
        form_fields_parse(fields)
    assert refused.value.field == field


def test_choices_may_be_given_as_comma_separated_text():
    # given choices typed in the builder, then they are split and trimmed
    specs = form_fields_parse([{"name": "phone", "type": "tel"}, {"name": "plan", "type": "select", "choices": "a, b ,c"}])
    assert specs[1].choices == ("a", "b", "c")
    assert specs[1].label == "Plan"


def test_repeated_form_names_keep_every_value():
    # given a multi-select posted as a form, then both values are kept
    data = body_decode(body=b"tags=a&tags=b&email=x%40y.example", content_type="application/x-www-form-urlencoded", expect="form")
    assert data == {"tags": ["a", "b"], "email": "x@y.example"}


def test_a_single_event_defaults_its_time_to_now_and_reads_a_zulu_time():
    # given two events, one without a time
    events = track_events_clean(
        data={"events": [{"kind": "call", "phone": "+1 650 253 0000"}, {"kind": "call", "email": "a@b.example", "occurred_at": "2026-11-01T08:00:00Z"}]},
        kinds={"call"}, channels=set(), now=NOW,
    )
    # then the first is now and the second its own UTC time
    assert [e.occurred_at for e in events] == [NOW, dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)]
