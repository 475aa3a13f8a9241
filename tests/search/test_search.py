"""The search selector: what it finds, how it ranks, who sees what, what it refuses."""

from __future__ import annotations

import pytest

from tandem.core.errors import ValidationFailed
from tandem.search.selectors import search
from tests.search.factories import world
from tests.users.factories import UserFactory


@pytest.fixture
def admin(db):
    return UserFactory(role="admin")


def _found(results, kind: str = "person") -> list[tuple[str, str]]:
    group = next(g for g in results.groups if g.kind == kind)
    return [(h.title, h.match) for h in group.hits]


def test_finds_a_person_by_part_of_the_email(admin):
    # given
    w = world()
    # when
    results = search(q="doe@nord", user=admin)
    # then
    assert _found(results) == [("Jane Doe", "substring")]
    assert results.groups[0].hits[0].url == f"/people/{w.jane.pk}/"


def test_finds_a_person_by_company_name_and_by_a_word_of_it(admin):
    # given
    world()
    # when
    whole = search(q="Nordwind Logistics", user=admin)
    word = search(q="logistics", user=admin)
    # then: the whole company name is an exact match, a word of it a prefix
    assert _found(whole) == [("Jane Doe", "exact")]
    assert _found(word) == [("Jane Doe", "prefix")]
    assert _found(word, "account") == [("Nordwind Logistics", "prefix")]


def test_finds_a_person_by_domain_of_the_account_and_of_the_email(admin):
    # given
    world()
    # when
    company_domain = search(q="nordwind-logistics.com", user=admin)
    free_mail = search(q="gmail.com", user=admin)
    # then
    assert _found(company_domain) == [("Jane Doe", "exact")]
    assert _found(company_domain, "account") == [("Nordwind Logistics", "exact")]
    assert _found(free_mail) == [("John Smith", "substring")]


def test_finds_a_person_by_a_substring_of_the_name(admin):
    # given
    world()
    # when
    results = search(q="ITHERS", user=admin)
    # then
    assert _found(results) == [("Anna Smitherson", "substring")]


def test_ranks_exact_then_prefix_then_substring_then_by_name(admin):
    # given: "Smith" (the whole name), two names with a word starting "smith", and "Goldsmith"
    world()
    # when
    results = search(q="smith", user=admin)
    # then
    assert _found(results) == [
        ("Smith", "exact"),
        ("Anna Smitherson", "prefix"),
        ("John Smith", "prefix"),
        ("Eva Goldsmith", "substring"),
    ]


def test_finds_accounts_deals_and_campaigns_by_name(admin):
    # given
    w = world()
    # when
    nordwind = search(q="nordwind", user=admin)
    renewal = search(q="renewal", user=admin)
    webinar = search(q="webinar", user=admin)
    # then
    assert _found(nordwind, "account") == [("Nordwind Logistics", "prefix")]
    assert _found(nordwind, "deal") == [("Nordwind fleet renewal", "prefix")]
    assert _found(renewal, "deal") == [("Nordwind fleet renewal", "prefix")]
    assert _found(webinar, "campaign") == [("Spring Webinar Series", "prefix")]
    assert webinar.groups[3].hits[0].url == f"/campaigns/{w.campaign.pk}/"
    assert [g.kind for g in nordwind.groups] == ["person", "account", "deal", "campaign"]


def test_short_queries_use_prefixes_and_word_starts(admin):
    # given
    world()
    # when
    one = search(q="j", user=admin)
    two = search(q="sm", user=admin)
    # then: one letter starts a first name or an e-mail; two also start any word of a name
    assert _found(one) == [("Jane Doe", "prefix"), ("John Smith", "prefix")]
    assert _found(two) == [
        ("Anna Smitherson", "prefix"),
        ("John Smith", "prefix"),
        ("Smith", "prefix"),
    ]


def test_a_limit_keeps_the_best_hits_and_says_there_are_more(admin):
    # given
    world()
    # when
    results = search(q="smith", user=admin, kinds="person", limit=2)
    # then
    assert [g.kind for g in results.groups] == ["person"]
    assert _found(results) == [("Smith", "exact"), ("Anna Smitherson", "prefix")]
    assert results.groups[0].more is True


def test_a_miss_finds_nothing(admin):
    # given
    world()
    # when
    results = search(q="qxzvw", user=admin)
    # then
    assert results.total == 0
    assert [g.more for g in results.groups] == [False] * 4


def test_quotes_percent_and_underscore_are_plain_text(admin):
    # given
    world()
    # when
    results = [search(q=q, user=admin).total for q in ('"', '"jane', "%", "_", "a%b", "j_n", "'; --")]
    # then
    assert results == [0, 0, 0, 0, 0, 0, 0]


def test_a_user_sees_only_the_kinds_their_role_may_view(db):
    # given: a user who may view people only
    from django.contrib.auth.models import Permission

    world()
    user = UserFactory(role="viewer")
    user.groups.clear()
    user.user_permissions.add(Permission.objects.get(codename="view_person", content_type__app_label="crm"))
    # when
    results = search(q="nordwind", user=user)
    # then
    assert [g.kind for g in results.groups] == ["person"]
    assert _found(results) == [("Jane Doe", "prefix")]


@pytest.mark.parametrize(
    ("q", "kinds", "limit", "field"),
    [
        ("", None, 5, "q"),
        ("   ", None, 5, "q"),
        ("a\x00b", None, 5, "q"),
        ("x" * 101, None, 5, "q"),
        ("jane", "people", 5, "kind"),
        ("jane", None, 0, "limit"),
        ("jane", None, 51, "limit"),
    ],
)
def test_bad_input_is_refused_naming_the_field(admin, q, kinds, limit, field):
    # when / then
    with pytest.raises(ValidationFailed) as caught:
        search(q=q, user=admin, kinds=kinds, limit=limit)
    assert caught.value.field == field
