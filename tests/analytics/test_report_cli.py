"""`tandem report funnel|attribution`: the JSON shape of the issue, CSV and table output, clear errors."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.analytics.test_report_pages import _history

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("report", *args, stdout=out)
    return out.getvalue()


def test_attribution_json_has_exactly_the_issue_keys():
    # given A converted (email d1 → paid_search d3, 1000), B did not
    _history()
    # when
    report = json.loads(_run("attribution", "--model", "position", "--by", "channel", "--format", "json"))
    # then position-based 40/20/40 over two touches: 50/50
    assert report == {
        "model": "position",
        "by": "channel",
        "total_conversions": 1.0,
        "total_revenue": 1000.0,
        "rows": [
            {"key": "email", "conversions": 0.5, "revenue": 500.0},
            {"key": "paid_search", "conversions": 0.5, "revenue": 500.0},
            {"key": "content", "conversions": 0.0, "revenue": 0.0},
            {"key": "webinar", "conversions": 0.0, "revenue": 0.0},
        ],
    }


def test_markov_rows_carry_the_removal_effect_and_incremental_rows_their_interval():
    # given
    _history()
    # when
    markov = json.loads(_run("attribution", "--model", "markov", "--format", "json"))
    incremental = json.loads(_run("attribution", "--model", "incremental", "--bootstrap", "5", "--format", "json"))
    # then the chain: start → email ½ / content ½; content → email; email → paid_search ½ / null ½;
    # paid_search → conversion. P(conv) = ½·½ + ½·½ = ½. Without email or paid_search: 0 (effect 1);
    # without content: ½·½ = ¼, effect 1 − ¼/½ = ½
    effects = {r["key"]: r["removal_effect"] for r in markov["rows"]}
    assert effects["email"] == pytest.approx(1.0) and effects["paid_search"] == pytest.approx(1.0)
    assert effects["content"] == pytest.approx(0.5)
    assert set(incremental["rows"][0]) >= {"key", "conversions", "revenue", "conversions_low", "conversions_high"}
    assert incremental["bootstrap"] == 5


def test_attribution_csv_and_table():
    # given
    _history()
    # when
    csv_text = _run("attribution", "--model", "last_touch", "--format", "csv")
    table = _run("attribution", "--model", "last_touch", "--format", "table")
    # then
    assert csv_text.splitlines() == [
        "key,conversions,revenue",
        "paid_search,1.0,1000.0",
        "content,0.0,0.0",
        "email,0.0,0.0",
        "webinar,0.0,0.0",
    ]
    assert table.splitlines()[0] == "last_touch by channel: 1 conversions, 1,000.00 revenue"


def test_funnel_json_csv_and_table():
    # given
    _history()
    # when
    report = json.loads(_run("funnel", "--by", "channel", "--period", "quarter"))
    csv_text = _run("funnel", "--format", "csv")
    table = _run("funnel", "--format", "table")
    # then
    assert report["by"] == "channel" and report["period"] == "quarter"
    assert report["total"]["counts"]["customer"] == 1
    assert csv_text.splitlines()[0] == "group,key,from,to,n,converted,rate,rate_low,rate_high,days_median,days_p80"
    assert table.splitlines()[1].split()[:6] == ["total", "all", "lead", "mql", "2", "2"]


def test_shapley_by_too_many_campaigns_is_a_clear_error(monkeypatch):
    # given the exact Shapley enumeration limited below the keys touched
    _history()
    monkeypatch.setattr("tandem.stats.attribution.SHAPLEY_MAX_KEYS", 0)
    # when / then
    with pytest.raises(CommandError, match="Shapley values cannot be computed by campaign"):
        _run("attribution", "--model", "shapley", "--by", "campaign")
