"""The API, the pages, versions, merges and erasure of audiences; who may do what."""

from __future__ import annotations

import pytest

from tandem.audiences.models import Audience, AudienceMember, AudienceVersion
from tandem.audiences.services import audience_create, audience_sync, audience_update
from tandem.core.models import Event
from tandem.crm.consent.services import consent_record
from tandem.crm.services import person_merge
from tandem.users.models import Role
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

MQLS = {"consent": "email", "match": "all", "criteria": [{"type": "stage", "stages": ["mql"]}]}


def _mql(owner=None, **kwargs):  # type: ignore[no-untyped-def]
    person = PersonFactory(stage="mql", owner=owner, **kwargs)
    consent_record(person=person, channel="email", granted=True, source="ui")
    return person


def test_marketing_creates_reads_pages_and_edits_an_audience_through_the_api(client):
    # given a marketer and five consenting MQLs
    marketer = UserFactory(role=Role.MARKETING)
    people = [_mql() for _ in range(5)]
    client.force_login(marketer)
    # when the audience is created
    created = client.post(
        "/api/audiences", {"name": "All MQLs", "spec": MQLS}, content_type="application/json"
    )
    # then it answers 201 with its words and counts
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["counts"] == {"matched": 5, "members": 5, "left_out_consent": 0, "left_out_no_address": 0}
    assert body["sentences"] == [
        "Lifecycle stage is MQL",
        "Only people who consented to e-mail (erased people never)",
    ]
    aid = body["id"]
    # and its members come in cursor pages of two, by id, every one exactly once
    seen, cursor = [], ""
    while True:
        page = client.get(f"/api/audiences/{aid}/members", {"limit": 2, "cursor": cursor}).json()
        seen += [m["id"] for m in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert seen == [p.pk for p in people]
    # when its criteria change, with a reason
    patched = client.patch(
        f"/api/audiences/{aid}",
        {
            "reason": "only those who came from search",
            "spec": {
                **MQLS,
                "criteria": [
                    *MQLS["criteria"],
                    {"type": "segment", "field": "channel", "values": ["paid_search"]},
                ],
            },
        },
        content_type="application/json",
    )
    # then it is version 2, published by the marketer with the reason
    assert patched.status_code == 200, patched.content
    assert patched.json()["version"] == 2
    latest = AudienceVersion.objects.get(audience_id=aid, version=2)
    assert (latest.created_by, latest.reason) == (marketer, "only those who came from search")
    published = Event.objects.filter(kind="audience.published", rule=f"audience:{aid}").order_by("id")
    assert [(e.rule_version, e.actor_id) for e in published] == [(1, marketer.pk), (2, marketer.pk)]
    # and the CSV export is Mailchimp's columns
    csv = client.get(f"/api/audiences/{aid}/export.csv", {"format": "mailchimp"})
    assert csv.status_code == 200 and csv["Content-Type"] == "text/csv"
    lines = csv.content.decode().splitlines()
    assert lines[0] == "Email Address,First Name,Last Name,Phone Number,Tags" and len(lines) == 6
    # and deleting it leaves an event with its last criteria
    assert client.delete(f"/api/audiences/{aid}").status_code == 204
    assert not Audience.objects.filter(pk=aid).exists()
    assert Event.objects.get(kind="audience.deleted", subject_id=aid).data["version"] == 2


def test_a_bad_spec_answers_422_naming_the_field_and_writes_nothing(client):
    # given a marketer
    client.force_login(UserFactory(role=Role.MARKETING))
    # when a spec names an unknown stage
    answer = client.post(
        "/api/audiences",
        {"name": "Typo", "spec": {"criteria": [{"type": "stage", "stages": ["mqll"]}]}},
        content_type="application/json",
    )
    # then 422 names the criterion's field and the value, and nothing was saved
    assert answer.status_code == 422
    assert (answer.json()["field"], answer.json()["value"]) == ("criteria[0].stages", "mqll")
    assert Audience.objects.count() == 0 and AudienceVersion.objects.count() == 0


def test_a_rep_may_read_but_not_change_audiences_and_sees_only_their_own_members(client):
    # given an audience of four MQLs, one of them owned by rep Ray
    ray = UserFactory(role=Role.SALES_REP)
    mine = _mql(owner=ray)
    for _ in range(3):
        _mql()
    audience = audience_create(name="All MQLs", spec=MQLS, by_user=UserFactory(role=Role.MARKETING))
    client.force_login(ray)
    before = (list(Audience.objects.values()), list(AudienceVersion.objects.values()), Event.objects.count())
    # when Ray tries to change or delete it, then he is refused and nothing changed
    assert client.patch(f"/api/audiences/{audience.pk}", {"reason": "x", "name": "Mine"},
                        content_type="application/json").status_code == 403  # fmt: skip
    assert client.delete(f"/api/audiences/{audience.pk}").status_code == 403
    assert (
        client.post(
            "/api/audiences", {"name": "Mine", "spec": MQLS}, content_type="application/json"
        ).status_code
        == 403
    )
    assert client.get(f"/audiences/{audience.pk}/edit/").status_code == 403
    assert (
        list(Audience.objects.values()),
        list(AudienceVersion.objects.values()),
        Event.objects.count(),
    ) == before
    # and he reads the company's count but lists and exports only his own person
    assert client.get(f"/api/audiences/{audience.pk}").json()["counts"]["members"] == 4
    assert [m["id"] for m in client.get(f"/api/audiences/{audience.pk}/members").json()["items"]] == [mine.pk]
    assert (
        len(client.get(f"/audiences/{audience.pk}/export/?format=mautic").content.decode().splitlines()) == 2
    )
    page = client.get(f"/audiences/{audience.pk}/members/")
    assert page.status_code == 200 and mine.email in page.content.decode()


def test_the_pages_create_preview_show_and_edit_an_audience_in_words(client):
    # given a marketer and two consenting MQLs and one without consent
    marketer = UserFactory(role=Role.MARKETING)
    _mql(), _mql()
    PersonFactory(stage="mql")
    client.force_login(marketer)
    # when the form's boxes are previewed
    preview = client.post("/audiences/preview/", {"consent": "email", "match": "all", "stages": ["mql"]})
    # then the preview says how many are members and how many were left out for consent
    text = " ".join(preview.content.decode().split())
    assert "<strong>2</strong> members now" in text and "1 left out for consent" in text
    # and a bad value is named
    assert (
        "criteria[0].days"
        in client.post("/audiences/preview/", {"theme_ids": ["1"], "theme_days": "0"}).content.decode()
    )
    # when the form is saved
    saved = client.post(
        "/audiences/new/", {"name": "MQLs", "consent": "email", "match": "all", "stages": ["mql"]}
    )
    audience = Audience.objects.get(name="MQLs")
    assert saved.status_code == 302 and audience.spec["criteria"] == [{"type": "stage", "stages": ["mql"]}]
    # then the list, the audience and its members show its counts
    assert client.get("/audiences/").status_code == 200
    detail = client.get(f"/audiences/{audience.pk}/").content.decode()
    assert 'data-testid="count-members">2<' in detail and 'data-testid="count-left-out">1<' in detail
    assert client.get(f"/audiences/{audience.pk}/members/").status_code == 200
    # and the edit form shows the ticked boxes and saves a new version with the reason
    form = client.get(f"/audiences/{audience.pk}/edit/").content.decode()
    assert 'value="mql" checked' in form
    client.post(f"/audiences/{audience.pk}/edit/", {"name": "MQLs", "consent": "email", "match": "all",
                                                    "stages": ["mql", "sal"], "reason": "SALs too"})  # fmt: skip
    audience.refresh_from_db()
    assert audience.version == 2 and audience.spec["criteria"][0]["stages"] == ["mql", "sal"]


def test_a_merge_keeps_one_membership_and_an_erasure_removes_it():
    # given two duplicates, both members of one audience
    keep, gone = _mql(), _mql()
    audience = audience_create(name="All MQLs", spec=MQLS, by_user=None)
    audience_sync(audience=audience)
    assert AudienceMember.objects.filter(audience=audience).count() == 2
    # when they are merged
    person_merge(survivor=keep, duplicate=gone)
    # then the survivor is a member once
    assert list(AudienceMember.objects.filter(audience=audience).values_list("person_id", flat=True)) == [
        keep.pk
    ]
    # when the survivor is erased, then no snapshot keeps them
    from tandem.privacy.services import person_erase

    erasure = person_erase(person=keep, reason="request", via="cli")
    assert erasure.counts["audience_members"] == 1
    assert not AudienceMember.objects.filter(person_id=keep.pk).exists()


def test_saving_unchanged_criteria_publishes_no_new_version():
    # given an audience
    audience = audience_create(name="All MQLs", spec=MQLS, by_user=None)
    # when it is saved again with the same criteria and a new name
    audience = audience_update(audience=audience, by_user=None, reason="rename", name="Every MQL", spec=MQLS)
    # then it is still version 1, renamed with an event
    assert (audience.version, audience.name, AudienceVersion.objects.filter(audience=audience).count()) == (
        1,
        "Every MQL",
        1,
    )
    assert Event.objects.get(kind="audience.updated", subject_id=audience.pk).data == {
        "changes": {"name": ["All MQLs", "Every MQL"]}
    }
