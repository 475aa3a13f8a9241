"""The dry run of a proposed definition over history: selector, page form and `tandem definition`."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tandem.campaigns.models import Touchpoint
from tandem.crm.models import Person
from tandem.crm.services import person_change_stage
from tandem.lifecycle.editors import definition_form_from_spec
from tandem.lifecycle.selectors import definition_current, definition_dry_run
from tandem.users.models import Role
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

Z = 1.959963984540054


def _wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre, half = p + Z * Z / (2 * n), Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return (centre - half) / (1 + Z * Z / n), (centre + half) / (1 + Z * Z / n)


def _at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 10, 0, tzinfo=dt.UTC)


def _touch(person: Person, at: dt.datetime, kind: str = "page_view") -> None:
    Touchpoint.objects.create(person=person, occurred_at=at, kind=kind, channel="email")


@pytest.fixture
def history() -> None:
    # A: demo request in January, SQL in February, customer in March. B: a third visit within 30 days in
    # March. C: two visits 40 days apart, never qualifies.
    a, b, c = PersonFactory(), PersonFactory(), PersonFactory()
    _touch(a, _at(1, 15), kind="demo_request")
    person_change_stage(person=a, to_stage="sql", at=_at(2, 1))
    person_change_stage(person=a, to_stage="customer", at=_at(3, 1))
    for day in (1, 10, 20):
        _touch(b, _at(3, day))
    _touch(c, _at(1, 1))
    _touch(c, _at(2, 10))


def test_the_dry_run_counts_mqls_per_month_and_their_conversions(history: None) -> None:
    # given the history above and the seeded v1 (demo request, or 3 touchpoints in 30 days)
    spec = definition_current(stage="mql").to_dict()  # type: ignore[union-attr]
    # when it is replayed
    summary = definition_dry_run(spec=spec)
    # then January has A (reached SQL and won), February none, March B (not yet SQL)
    rows = [(m.month, m.mqls, m.to_sql, m.won) for m in summary.months]
    assert rows == [("2026-01", 1, 1, 1), ("2026-02", 0, 0, 0), ("2026-03", 1, 0, 0)]
    assert (summary.total.mqls, summary.total.to_sql, summary.total.won) == (2, 1, 1)
    assert summary.total.sql_rate == 0.5
    assert (summary.total.sql_low, summary.total.sql_high) == pytest.approx(_wilson(1, 2), abs=1e-12)
    assert summary.months[0].sql_low == pytest.approx(1 / (1 + Z * Z), abs=1e-12)


def test_a_stricter_definition_in_the_dry_run_drops_the_engagement_mql(history: None) -> None:
    # given a proposal asking for a demo request only
    spec = {"name": "mql", "any": [{"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 30}]}
    # when it is replayed
    summary = definition_dry_run(spec=spec)
    # then only January's MQL remains
    assert [(m.month, m.mqls) for m in summary.months] == [("2026-01", 1)]


def test_every_role_can_dry_run_from_the_page(history: None) -> None:
    # given a viewer and the demo-request-only definition in the editor's fields
    client = Client()
    client.force_login(UserFactory(role=Role.VIEWER))
    fields = definition_form_from_spec(
        stage="mql", spec={"any": [{"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 30}]}
    ).to_post()
    # when they dry-run it, then one without a touchpoint kind
    ok = client.post("/definitions/", {**fields, "action": "dry_run"})
    bad = client.post("/definitions/", {**fields, "c0-kinds": "", "action": "dry_run"})
    # then both definitions show side by side per month (v1 had March's MQL too), nobody would be promoted now,
    # the error names the field at its input, and the viewer can neither publish nor propose
    body = ok.content.decode()
    assert ok.status_code == 200
    assert "<td>2026-01</td>" in body and "<td>2026-03</td>" in body
    assert [(r.month, r.current.mqls if r.current else 0, r.proposed.mqls if r.proposed else 0) for r in ok.context["compare"].rows] == [
        ("2026-01", 1, 1), ("2026-02", 0, 0), ("2026-03", 1, 0),
    ]
    assert "Publishing promotes 0 people to MQL at once" in body
    assert 'value="publish"' not in body and 'value="propose"' not in body
    assert bad.status_code == 422
    assert 'id="c0-kinds-error">kinds: A touchpoint criterion needs the kind of touchpoint.' in bad.content.decode()


def test_the_definition_command_shows_publishes_and_dry_runs(history: None, tmp_path: Path) -> None:
    # given a proposal in a file
    proposal = tmp_path / "mql.json"
    proposal.write_text(json.dumps({"name": "mql", "any": [{"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 30}]}))
    out = io.StringIO()
    # when it is dry-run as JSON, published, and the definitions shown
    call_command("definition", "dry-run", str(proposal), "--format", "json", stdout=out)
    dry = json.loads(out.getvalue())
    out = io.StringIO()
    call_command("definition", "publish", str(proposal), "--reason", "Demo requests only", stdout=out)
    published = out.getvalue()
    out = io.StringIO()
    call_command("definition", "show", stdout=out)
    shown = out.getvalue()
    # then the numbers match the selector, v2 is published and listed with its change
    assert (dry["total"]["mqls"], [m["month"] for m in dry["months"]]) == (1, ["2026-01"])
    assert published.strip() == "published MQL v2"
    assert "MQL v2 (current)" in shown
    assert "Removed: At least 3 touchpoints in the last 30 days" in shown
    # and a bad file is refused naming the field
    proposal.write_text(json.dumps({"name": "mql", "any": [{"type": "touchpoint", "kinds": ["x"], "days": 0}]}))
    with pytest.raises(CommandError, match="days=0"):
        call_command("definition", "publish", str(proposal), "--reason", "x")
