"""Proposals: marketing proposes, an admin (or whoever the admin allows) publishes or rejects; both are events,
a refused action changes nothing, a stale proposal is refused, and the promotion count the dry run shows is
exactly what publishing does."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tandem.campaigns.models import Touchpoint
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import Person, StageChange
from tandem.crm.services import person_change_stage
from tandem.lifecycle.editors import definition_form_from_spec, sla_form_from_spec
from tandem.lifecycle.models import ChangeProposal, DefinitionVersion, SlaPolicyVersion
from tandem.lifecycle.selectors import definition_dry_run_compare, mql_promotions_preview
from tandem.lifecycle.services import (
    definition_publish,
    proposal_approve,
    proposal_approver_set,
    proposal_create,
    proposal_reject,
)
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tests.crm.factories import PersonFactory
from tests.lifecycle.html_forms import form_fields
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

# Demo requests in the last 14 days (v1 allows 30), or 2 webinars in 60 days.
PROPOSED: dict[str, Any] = {
    "any": [
        {"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 14},
        {"id": "webinars", "type": "touchpoint_count", "min_count": 2, "kinds": ["webinar"], "days": 60},
    ]
}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _touch(person: Person, days_ago: float, kind: str) -> None:
    Touchpoint.objects.create(person=person, occurred_at=timezone.now() - dt.timedelta(days=days_ago), kind=kind, channel="email")


def _counts() -> tuple[int, int, int, int]:
    """What a refused action must leave as it was: versions, proposals decided, events, MQLs."""
    return (
        DefinitionVersion.objects.count() + SlaPolicyVersion.objects.count(),
        ChangeProposal.objects.exclude(status="open").count(),
        Event.objects.count(),
        Person.objects.filter(lifecycle_stage="mql").count(),
    )


@pytest.fixture
def people() -> dict[str, Person]:
    """Leads around the proposed definition's edges, with the moments well away from its windows' ends."""
    p = {name: PersonFactory() for name in ("demo10", "demo20", "webinars", "one_webinar", "recycled", "back", "sal")}
    _touch(p["demo10"], 10, "demo_request")  # meets the proposal (and v1)
    _touch(p["demo20"], 20, "demo_request")  # meets v1 only: 14 days is too short
    _touch(p["webinars"], 5, "webinar")
    _touch(p["webinars"], 50, "webinar")  # two webinars in 60 days: meets the proposal
    _touch(p["one_webinar"], 5, "webinar")
    _touch(p["recycled"], 5, "demo_request")
    person_change_stage(person=p["recycled"], to_stage="recycled", at=timezone.now() - dt.timedelta(days=2))  # request before: no
    person_change_stage(person=p["back"], to_stage="recycled", at=timezone.now() - dt.timedelta(days=8))
    _touch(p["back"], 3, "demo_request")  # a new request after recycling: yes
    person_change_stage(person=p["sal"], to_stage="sal")
    _touch(p["sal"], 1, "demo_request")  # not a lead any more: no
    return p


def test_the_dry_run_count_is_exactly_who_approving_promotes(people: dict[str, Person]) -> None:
    # given marketing's proposal and an admin
    marketer, admin = UserFactory(role=Role.MARKETING), UserFactory(role=Role.ADMIN)
    proposal = proposal_create(kind="definition", stage="mql", spec=PROPOSED, reason="Fresher demo requests", by_user=marketer)
    # when the dry run counts who publishing would promote, and the admin approves with that count
    compare = definition_dry_run_compare(stage="mql", spec=proposal.spec)
    preview = mql_promotions_preview(spec=proposal.spec)
    done = proposal_approve(proposal=proposal, by_user=admin, expect_promoted=compare.promote_now)
    # then exactly those people became MQLs under v2, in the same step, and the proposal and its event say how many
    promoted = set(StageChange.objects.filter(to_stage="mql", rule_version=2).values_list("person_id", flat=True))
    expected = {people[n].pk for n in ("demo10", "webinars", "back")}
    assert compare.promote_now == 3 and set(preview) == expected == promoted
    assert (done.status, done.published_version, done.promoted) == ("published", 2, 3)
    assert Event.objects.get(kind="definition.promoted").data == {"stage": "mql", "version": 2, "promoted": 3}
    assert Event.objects.get(kind="proposal.approved").data["promoted"] == 3


def test_a_count_that_no_longer_holds_is_refused_and_changes_nothing(people: dict[str, Person]) -> None:
    # given a proposal whose dry run counted 3, then one more lead requests a demo
    proposal = proposal_create(kind="definition", stage="mql", spec=PROPOSED, reason="Fresher", by_user=UserFactory(role=Role.MARKETING))
    shown = definition_dry_run_compare(stage="mql", spec=PROPOSED).promote_now
    _touch(people["one_webinar"], 1, "demo_request")
    before = _counts()
    # when the admin approves with the count that was shown
    with pytest.raises(NotAllowed) as refused:
        proposal_approve(proposal=proposal, by_user=UserFactory(role=Role.ADMIN), expect_promoted=shown)
    # then it is refused naming the new count, and nothing was published, promoted or recorded
    assert (shown, refused.value.field, refused.value.value) == (3, "expect_promoted", 4)
    assert _counts() == before
    assert ChangeProposal.objects.get(pk=proposal.pk).status == "open"


def test_marketing_proposes_in_the_form_and_an_admin_publishes_it_from_the_page(people: dict[str, Person]) -> None:
    # given marketing on the definitions page with the proposal typed into the editor
    marketer, admin = UserFactory(role=Role.MARKETING, username="mia"), UserFactory(role=Role.ADMIN)
    mia, boss = _client(marketer), _client(admin)
    fields = definition_form_from_spec(stage="mql", spec=PROPOSED).to_post()
    # when she dry-runs it, then proposes it
    dry = mia.post("/definitions/", {**fields, "action": "dry_run"})
    proposed = mia.post("/definitions/", {**fields, "action": "propose", "reason": "Fresher demo requests"})
    proposal = ChangeProposal.objects.get()
    # then she saw both definitions side by side and the promotion count, and her proposal waits for an approver
    body = dry.content.decode()
    assert "Publishing promotes 3 people to MQL at once" in body
    assert "At least one of: Has a &#x27;demo_request&#x27; touchpoint in the last 30 days" in body  # v1, in force
    assert "At least one of: Has a &#x27;demo_request&#x27; touchpoint in the last 14 days" in body  # proposed
    assert proposed.status_code == 302 and proposed["Location"] == f"/proposals/{proposal.pk}/"
    assert (proposal.status, proposal.base_version, proposal.proposed_by) == ("open", 1, marketer)
    created = Event.objects.get(kind="proposal.created")
    assert (created.actor, created.data["changes"]) == (
        marketer,
        [
            "Changed: Has a 'demo_request' touchpoint in the last 14 days (was: Has a 'demo_request' touchpoint in the last 30 days)",
            "Added: At least 2 touchpoints of kind 'webinar' in the last 60 days",
            "Removed: At least 3 touchpoints in the last 30 days",
        ],
    )
    # when the admin opens it, loads its dry run and approves with the count shown there
    page = boss.get(f"/proposals/{proposal.pk}/").content.decode()
    partial = boss.get(f"/proposals/{proposal.pk}/dry-run/").content.decode()
    approved = boss.post(f"/proposals/{proposal.pk}/", form_fields(partial, "approve-form") | {"action": "approve"})
    # then v2 is published with the proposal's reason, the three leads are MQLs, and both steps are events
    assert "Fresher demo requests" in page and 'hx-get="/proposals/' in page
    assert "Approve, publish as version 2 and promote 3 people" in partial
    assert approved.status_code == 302
    row = DefinitionVersion.objects.get(stage="mql", version=2)
    assert (row.created_by, row.reason) == (admin, f"Fresher demo requests (proposed by {marketer.get_full_name()}, proposal #{proposal.pk})")
    assert Person.objects.filter(lifecycle_stage="mql").count() == 3
    approval = Event.objects.get(kind="proposal.approved")
    assert (approval.actor, approval.subject_id, approval.rule_version) == (admin, proposal.pk, 2)


def test_marketing_cannot_publish_unless_allowed_and_a_refused_action_changes_nothing() -> None:
    # given an SLA proposal by marketing
    marketer = UserFactory(role=Role.MARKETING, username="mia")
    admin = UserFactory(role=Role.ADMIN)
    spec = {"first_touch_hours": 2, "min_attempts": 3, "attempt_days": 7}
    proposal = proposal_create(kind="sla", spec=spec, reason="Faster first touch", by_user=marketer)
    mia = _client(marketer)
    before = _counts()
    # when marketing tries to approve it on the page, through the API and the service, and to publish directly
    page = mia.post(f"/proposals/{proposal.pk}/", {"action": "approve"})
    api = mia.post(f"/api/proposals/{proposal.pk}/approve", {}, content_type="application/json")
    with pytest.raises(NotAllowed):
        proposal_approve(proposal=proposal, by_user=marketer)
    direct = mia.post("/sla/", {**sla_form_from_spec(spec=spec).to_post(), "reason": "x", "action": "publish"})
    # then every way is refused and nothing changed
    assert (page.status_code, api.status_code, direct.status_code) == (403, 403, 403)
    assert _counts() == before
    # when the admin lets the marketing role approve (and roles are synced again, as a migration does)
    proposal_approver_set(allow=True, role=Role.MARKETING, by_user=admin)
    roles_sync()
    marketer = type(marketer).objects.get(pk=marketer.pk)  # a fresh user: permissions are cached per object
    done = proposal_approve(proposal=proposal, by_user=marketer)
    # then marketing publishes it, and the grant is an event
    assert (done.status, done.published_version, done.decided_by) == ("published", 1, marketer)
    granted = Event.objects.get(kind="permission.granted")
    assert (granted.actor, granted.data) == (admin, {"perm": "lifecycle.approve_changeproposal", "role": "marketing", "user": ""})


def test_one_user_can_be_allowed_and_then_stopped() -> None:
    # given an admin, a marketer and a sales manager's proposal
    admin, marketer = UserFactory(role=Role.ADMIN), UserFactory(role=Role.MARKETING, username="mia")
    manager = UserFactory(role=Role.SALES_MANAGER)
    proposal = proposal_create(kind="sla", spec={"first_touch_hours": 3}, reason="x", by_user=manager)
    boss = _client(admin)
    # when the admin allows mia on the page, then stops her through the API
    boss.post("/proposals/approvers/", {"username": "mia", "allow": "1"})
    allowed = type(marketer).objects.get(pk=marketer.pk).has_perm("lifecycle.approve_changeproposal")
    listed = boss.get("/api/proposals/approvers").json()
    stopped = boss.post("/api/proposals/approvers", {"username": "mia", "allow": False}, content_type="application/json")
    unknown = boss.post("/api/proposals/approvers", {"username": "nobody", "allow": True}, content_type="application/json")
    by_rep = _client(UserFactory(role=Role.SALES_REP)).post("/api/proposals/approvers", {"username": "mia", "allow": True}, content_type="application/json")
    # then she could approve in between, not after; unknown names and non-admins are refused
    assert allowed and listed == {"roles": ["Admin"], "users": ["mia"]}
    assert stopped.status_code == 200 and stopped.json() == {"roles": ["Admin"], "users": []}
    assert (unknown.status_code, unknown.json()["field"]) == (404, "username")
    assert by_rep.status_code == 403
    with pytest.raises(NotAllowed):
        proposal_approve(proposal=proposal, by_user=type(marketer).objects.get(pk=marketer.pk))
    assert [e.kind for e in Event.objects.filter(kind__startswith="permission.").order_by("id")] == ["permission.granted", "permission.withdrawn"]


def test_a_proposal_made_against_an_older_version_is_refused() -> None:
    # given a proposal on top of MQL v1, then an admin publishes v2 directly
    admin = UserFactory(role=Role.ADMIN)
    proposal = proposal_create(kind="definition", stage="mql", spec=PROPOSED, reason="Fresher", by_user=UserFactory(role=Role.MARKETING))
    definition_publish(stage="mql", spec={"any": [{"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 7}]}, reason="Tighter", by_user=admin)
    before = _counts()
    # when the admin approves the proposal
    with pytest.raises(NotAllowed) as refused:
        proposal_approve(proposal=proposal, by_user=admin, expect_promoted=0)
    page = _client(admin).get(f"/proposals/{proposal.pk}/").content.decode()
    # then it is refused naming the base version, nothing changed, and the page offers to propose it again
    assert (refused.value.field, refused.value.value) == ("base_version", 1)
    assert "version 2 has been published since" in refused.value.message
    assert _counts() == before
    assert 'id="stale"' in page and f"/definitions/?proposal={proposal.pk}" in page and 'id="approve"' not in page
    # and when its author loads it into the editor and proposes it again, the new one stands on version 2
    mia = _client(proposal.proposed_by)
    fields = form_fields(mia.get(f"/definitions/?proposal={proposal.pk}").content.decode(), "definition-form")
    again = mia.post("/definitions/", {**fields, "action": "propose"})
    renewed = ChangeProposal.objects.order_by("-id").first()
    assert (fields["c0-days"], fields["reason"], again.status_code) == ("14", "Fresher", 302)
    assert renewed is not None and (renewed.base_version, renewed.spec) == (2, proposal.spec)


def test_routing_and_sla_proposals_publish_through_their_own_services() -> None:
    # given marketing's routing and SLA proposals
    marketer, admin = UserFactory(role=Role.MARKETING), UserFactory(role=Role.ADMIN)
    routing = proposal_create(kind="routing", spec={"rules": [{"id": "rr", "kind": "round_robin", "team_id": 1}]}, reason="One queue", by_user=marketer)
    sla = proposal_create(kind="sla", spec={"first_touch_hours": 2, "min_mql_to_sql_rate": 0.25}, reason="Faster", by_user=marketer)
    # when the admin approves both
    proposal_approve(proposal=routing, by_user=admin)
    proposal_approve(proposal=sla, by_user=admin)
    # then each is version 1 of its kind, published by the admin with the proposal's why, with their events
    published = [e.kind for e in Event.objects.filter(kind__in=["routing.published", "sla.published", "proposal.approved"]).order_by("id")]
    assert published == ["routing.published", "proposal.approved", "sla.published", "proposal.approved"]
    assert SlaPolicyVersion.objects.get().spec["min_mql_to_sql_rate"] == 0.25
    assert SlaPolicyVersion.objects.get().created_by == admin


def test_rejecting_needs_a_reason_is_an_event_and_closes_the_proposal() -> None:
    # given an open routing proposal
    admin = UserFactory(role=Role.ADMIN)
    proposal = proposal_create(kind="routing", spec={"rules": [{"id": "rr", "kind": "round_robin", "team_id": 1}]}, reason="One queue", by_user=UserFactory(role=Role.MARKETING))
    # when the admin rejects it without a reason, then with one, then tries to approve it
    with pytest.raises(ValidationFailed) as blank:
        proposal_reject(proposal=proposal, by_user=admin, reason="  ")
    done = proposal_reject(proposal=proposal, by_user=admin, reason="Team 1 is on holiday")
    with pytest.raises(NotAllowed) as again:
        proposal_approve(proposal=proposal, by_user=admin)
    # then the blank reason is named, the rejection is recorded with its reason, and a decided proposal stays decided
    assert blank.value.field == "reason"
    assert (done.status, done.decision_reason, done.published_version) == ("rejected", "Team 1 is on holiday", None)
    event = Event.objects.get(kind="proposal.rejected")
    assert (event.actor, event.reason) == (admin, "Team 1 is on holiday")
    assert (again.value.field, again.value.value) == ("status", "rejected")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "colour", "spec": {}, "reason": "x"}, "kind"),
        ({"kind": "definition", "stage": "lead", "spec": PROPOSED, "reason": "x"}, "stage"),
        ({"kind": "definition", "stage": "mql", "spec": {"any": [{"type": "touchpoint", "kinds": ["x"], "days": 0}]}, "reason": "x"}, "days"),
        ({"kind": "routing", "stage": "mql", "spec": {"rules": []}, "reason": "x"}, "stage"),
        ({"kind": "sla", "spec": {"min_attempts": 0}, "reason": "x"}, "min_attempts"),
        ({"kind": "sla", "spec": {"first_touch_hours": 2}, "reason": " "}, "reason"),
        ({"kind": "sla", "spec": {"first_touch_hours": 4, "min_attempts": 3, "attempt_days": 7}, "reason": "same"}, "spec"),
        ({"kind": "sla", "spec": {"first_touch_hours": 2}, "reason": "nul\u0000"}, "reason"),
    ],
)
def test_bad_proposals_are_refused_naming_the_field(payload: dict[str, Any], field: str) -> None:
    # given marketing and the API (the defaults apply to the SLA: "same" proposes them again)
    sla_policy = {"first_touch_hours": 4, "min_attempts": 3, "attempt_days": 7}
    if payload["reason"] == "same":
        from tandem.lifecycle.services import sla_policy_publish

        sla_policy_publish(spec=sla_policy, reason="defaults", by_user=None)
    client = _client(UserFactory(role=Role.MARKETING))
    # when the proposal is sent
    response = client.post("/api/proposals", payload, content_type="application/json")
    # then it is a 422 naming the field, and nothing is stored
    assert response.status_code == 422
    named = response.json().get("field") or response.json()["errors"][0]["field"]
    assert named.removeprefix("data.") == field
    assert ChangeProposal.objects.count() == 0


def test_the_api_proposes_lists_dry_runs_approves_and_rejects(people: dict[str, Person], django_assert_num_queries: Any) -> None:
    # given marketing, an admin and three proposals
    mia, boss = _client(UserFactory(role=Role.MARKETING)), _client(UserFactory(role=Role.ADMIN))
    created = mia.post("/api/proposals", {"kind": "definition", "stage": "mql", "spec": PROPOSED, "reason": "Fresher"}, content_type="application/json")
    for hours in (2, 3):
        mia.post("/api/proposals", {"kind": "sla", "spec": {"first_touch_hours": hours}, "reason": f"{hours} hours"}, content_type="application/json")
    pid = created.json()["id"]
    # when the list is read two at a time, the dry run fetched, and the proposal approved without, with a wrong and the right count
    with django_assert_num_queries(6):  # token/session, user, proposals, three versions in force
        first = mia.get("/api/proposals?limit=2").json()
    second = mia.get(f"/api/proposals?limit=2&cursor={first['next_cursor']}").json()
    dry = boss.get(f"/api/proposals/{pid}/dry-run").json()
    missing = boss.post(f"/api/proposals/{pid}/approve", {}, content_type="application/json")
    wrong = boss.post(f"/api/proposals/{pid}/approve", {"expect_promoted": 2}, content_type="application/json")
    right = boss.post(f"/api/proposals/{pid}/approve", {"expect_promoted": dry["promote_now"]}, content_type="application/json")
    rejected = boss.post(f"/api/proposals/{pid + 1}/reject", {"reason": "Too tight"}, content_type="application/json")
    # then the pages are newest first, the dry run has both definitions and the count, and only the right count publishes
    assert created.status_code == 201 and created.json()["sentences"] == [
        "At least one of: Has a 'demo_request' touchpoint in the last 14 days; or At least 2 touchpoints of kind 'webinar' in the last 60 days"
    ]
    assert [p["reason"] for p in first["items"]] == ["3 hours", "2 hours"] and first["prev_cursor"] is None
    assert [p["reason"] for p in second["items"]] == ["Fresher"] and second["next_cursor"] is None
    assert (dry["current"]["version"], dry["promote_now"], len(dry["proposed"]["sentences"])) == (1, 3, 1)
    assert (missing.status_code, missing.json()["field"]) == (422, "expect_promoted")
    assert (wrong.status_code, wrong.json()["field"], wrong.json()["value"]) == (409, "expect_promoted", "3")
    assert right.status_code == 200 and (right.json()["status"], right.json()["published_version"]) == ("published", 2)
    assert rejected.status_code == 200 and rejected.json()["decision_reason"] == "Too tight"
    assert boss.get("/api/proposals/999999").status_code == 404
    assert boss.get(f"/api/proposals/{pid + 2}/dry-run").json()["field"] == "kind"


def test_the_proposal_pages_pin_their_query_counts(django_assert_num_queries: Any) -> None:
    # given an admin and proposals of every kind
    marketer = UserFactory(role=Role.MARKETING)
    for n in range(3):
        proposal_create(kind="sla", spec={"first_touch_hours": n + 1}, reason=f"sla {n}", by_user=marketer)
    proposal_create(kind="definition", stage="sql", spec={"all": [{"id": "call", "type": "touchpoint", "kinds": ["call"], "days": 30}]}, reason="sql", by_user=marketer)
    boss = _client(UserFactory(role=Role.ADMIN))
    last = ChangeProposal.objects.order_by("-id").first()
    assert last is not None
    # when the list and a proposal are opened
    with django_assert_num_queries(10):  # session, user, 2 permission reads, page, 3 versions in force, 2 approvers reads
        listing = boss.get("/proposals/?status=all")
    with django_assert_num_queries(6):  # session, user, proposal with its people, version in force, 2 permission reads
        detail = boss.get(f"/proposals/{last.pk}/")
    # then both render, the list newest first
    assert listing.status_code == 200 and detail.status_code == 200
    assert [v.proposal.reason for v in listing.context["page"].items] == ["sql", "sla 2", "sla 1", "sla 0"]
