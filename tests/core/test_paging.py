"""Keyset pages of any queryset (tandem.core.paging), and a converted API list walked forward and back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tandem.core.errors import ValidationFailed
from tandem.core.models import Job
from tandem.core.paging import keyset_page
from tandem.users.models import Role
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _jobs(*minutes: int, user=None) -> list[Job]:  # type: ignore[no-untyped-def]
    # Jobs created at T0 + the given minutes (two may share a moment: the id breaks the tie).
    return [
        Job.objects.create(
            kind="test.work",
            label=f"J{i}",
            requested_by=user,
            created_at=T0 + dt.timedelta(minutes=m),
            updated_at=T0,
        )
        for i, m in enumerate(minutes)
    ]


def test_pages_walk_forward_and_back_by_a_column_with_ties():
    # given five jobs, two of them at the same moment
    _jobs(0, 10, 10, 20, 30)
    qs = Job.objects.all()

    def page(cursor: str = "") -> tuple[list[str], str | None, str | None]:
        got = keyset_page(queryset=qs, order="jobs", field="created_at", cursor=cursor, limit=2)
        return [j.label for j in got.items], got.next_cursor, got.prev_cursor

    # when the list is walked newest first, two at a time, then back
    first, next1, prev1 = page()
    second, next2, prev2 = page(next1)  # type: ignore[arg-type]
    third, next3, prev3 = page(next2)  # type: ignore[arg-type]
    back, _, back_prev = page(prev3)  # type: ignore[arg-type]
    # then each row comes once, ties by id (newest id first), and the way back gives the middle page again
    assert (first, second, third) == (["J4", "J3"], ["J2", "J1"], ["J0"])
    assert prev1 is None and next3 is None
    assert None not in (next1, next2, prev2, prev3)
    assert back == ["J2", "J1"]
    assert back_prev is not None


def test_an_ascending_page_by_id():
    # given three jobs
    _jobs(0, 1, 2)
    # when read oldest id first, one a page
    first = keyset_page(queryset=Job.objects.all(), order="asc", descending=False, limit=1)
    second = keyset_page(
        queryset=Job.objects.all(), order="asc", descending=False, cursor=first.next_cursor or "", limit=1
    )
    # then
    assert [j.label for j in first.items] == ["J0"]
    assert [j.label for j in second.items] == ["J1"]


@pytest.mark.parametrize(
    ("cursor", "limit", "field", "message"),
    [
        ("", 0, "limit", "limit must be between 1 and 200, got 0"),
        ("", 201, "limit", "limit must be between 1 and 200, got 201"),
        ("not-a-cursor", 10, "cursor", "cursor 'not-a-cursor' is not a valid page cursor"),
    ],
)
def test_a_bad_limit_or_cursor_is_refused_naming_it(cursor, limit, field, message):
    # given / when a page is asked with a limit out of range or a cursor that is not one
    with pytest.raises(ValidationFailed) as refused:
        keyset_page(queryset=Job.objects.all(), order="jobs", field="created_at", cursor=cursor, limit=limit)
    # then the refusal names the parameter
    assert (refused.value.field, refused.value.message) == (field, message)


def test_a_cursor_of_another_list_is_refused():
    # given a cursor of the jobs list sorted by another order
    _jobs(0, 1)
    other = keyset_page(queryset=Job.objects.all(), order="other", limit=1).next_cursor
    # when it is used on this list / then it is refused naming the order it belongs to
    with pytest.raises(ValidationFailed) as refused:
        keyset_page(queryset=Job.objects.all(), order="jobs", field="created_at", cursor=other or "", limit=1)
    assert refused.value.message == f"cursor {other!r} belongs to a list sorted by other, not jobs"


def test_the_jobs_api_pages_with_cursor_and_limit():
    # given an admin and three jobs
    admin = UserFactory(role=Role.ADMIN)
    _jobs(0, 1, 2, user=admin)
    client = Client()
    client.force_login(admin)
    # when the list is read two at a time
    first = client.get("/api/jobs?limit=2").json()
    second = client.get("/api/jobs", {"limit": 2, "cursor": first["next_cursor"]}).json()
    bad = client.get("/api/jobs?limit=0")
    # then the pages hold the jobs newest first and name their neighbours
    assert [j["label"] for j in first["items"]] == ["J2", "J1"]
    assert first["prev_cursor"] is None
    assert [j["label"] for j in second["items"]] == ["J0"]
    assert second["next_cursor"] is None and second["prev_cursor"] is not None
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "limit"
