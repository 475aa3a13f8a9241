"""The demo company generator: deterministic bytes, a canonical bundle, and structure that is real."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path

import pytest

from tandem.core.errors import ValidationFailed
from tandem.crm.channels import CHANNELS, TOUCHPOINT_KINDS
from tandem.crm.models import SizeBand
from tandem.demo.company import (
    BUNDLE_FILES,
    LOST_REASONS,
    QUESTION_TEMPLATES,
    QUESTION_THEMES,
    DemoCompany,
    generate_company,
    write_bundle,
)

END = dt.date(2026, 6, 30)
END_AT = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
START_AT = END_AT - dt.timedelta(days=730)
FUNNEL_ORDER = ("mql", "sal", "sql")


@pytest.fixture(scope="module")
def company() -> DemoCompany:
    # The default size: the structure must be visible at the size `tandem demo` loads.
    return generate_company(people=20000, seed=7, end=END)


def _customers(company: DemoCompany) -> set[str]:
    return {d.email for d in company.deals if d.stage == "won"}


def _rate(people: list, hits: set[str]) -> float:
    return sum(p.email in hits for p in people) / len(people)


def _bundle_bytes(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in BUNDLE_FILES}


def test_same_seed_and_end_give_identical_bundle_bytes(tmp_path):
    # given
    first, second = tmp_path / "a", tmp_path / "b"
    # when
    write_bundle(generate_company(people=1500, seed=11, end=END), first)
    write_bundle(generate_company(people=1500, seed=11, end=END), second)
    # then
    assert _bundle_bytes(first) == _bundle_bytes(second)


def test_another_seed_gives_another_company(tmp_path):
    # given
    first, second = tmp_path / "a", tmp_path / "b"
    # when
    write_bundle(generate_company(people=1500, seed=11, end=END), first)
    write_bundle(generate_company(people=1500, seed=12, end=END), second)
    # then every file with random content differs (campaign names and dates follow the calendar only)
    a, b = _bundle_bytes(first), _bundle_bytes(second)
    assert [name for name in BUNDLE_FILES if a[name] != b[name]] == list(BUNDLE_FILES)


def test_zero_people_is_refused_naming_the_field():
    # given / when / then
    with pytest.raises(ValidationFailed, match="people must be at least 1, got 0") as raised:
        generate_company(people=0, seed=7, end=END)
    assert (raised.value.field, raised.value.value) == ("people", 0)


def test_the_generator_does_not_touch_the_orm():
    # given
    source = (Path(__file__).resolve().parents[2] / "src" / "tandem" / "demo" / "company.py").read_text()
    # when
    imports = re.findall(r"^(?:from|import) ([\w.]+)", source, flags=re.MULTILINE)
    # then
    assert [name for name in imports if name.startswith("django") or name.endswith(".models")] == []


def test_bundle_uses_the_canonical_formats_and_vocabularies(tmp_path):
    # given
    write_bundle(generate_company(people=800, seed=7, end=END), tmp_path)
    rows = {name: list(csv.DictReader((tmp_path / name).open(encoding="utf-8"))) for name in BUNDLE_FILES}
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
    amount = re.compile(r"^\d+\.\d\d$")
    channels = {slug for slug, _ in CHANNELS}
    kinds = {slug for slug, _ in TOUCHPOINT_KINDS}
    # when
    headers = {name: list(rows[name][0]) for name in BUNDLE_FILES}
    # then
    assert headers == {
        "campaigns.csv": ["campaign_id", "name", "channel", "started_on", "ended_on", "cost"],
        "campaign_costs.csv": ["campaign_id", "spent_on", "spent_until", "amount", "note"],
        "people.csv": [
            "email", "first_name", "last_name", "company", "industry", "company_size", "country",
            "job_title", "created_at", "persona", "seniority",
        ],
        "touchpoints.csv": ["email", "occurred_at", "channel", "campaign_id", "kind"],
        "deals.csv": ["deal_id", "email", "amount", "stage", "created_at", "closed_at", "lost_reason"],
        "questions.csv": ["email", "asked_at", "text", "theme"],
    }  # fmt: skip
    assert all(amount.match(r["cost"]) and r["channel"] in channels for r in rows["campaigns.csv"])
    assert all(stamp.match(r["created_at"]) for r in rows["people.csv"])
    assert {r["company_size"] for r in rows["people.csv"]} <= {*SizeBand.values, ""}
    assert all(r["channel"] in channels and r["kind"] in kinds for r in rows["touchpoints.csv"])
    assert all(stamp.match(r["occurred_at"]) for r in rows["touchpoints.csv"])
    assert all(amount.match(r["amount"]) and r["stage"] in ("open", "won", "lost") for r in rows["deals.csv"])
    assert all(stamp.match(r["closed_at"]) or r["stage"] == "open" for r in rows["deals.csv"])
    assert {r["lost_reason"] for r in rows["deals.csv"]} <= {*LOST_REASONS, ""}
    campaign_ids = {r["campaign_id"] for r in rows["campaigns.csv"]}
    assert {r["campaign_id"] for r in rows["touchpoints.csv"]} <= {*campaign_ids, ""}
    # each campaign's cost is the sum of its monthly invoices, to the cent
    invoiced: Counter[str] = Counter()
    for r in rows["campaign_costs.csv"]:
        invoiced[r["campaign_id"]] += round(float(r["amount"]) * 100)
    assert invoiced == {r["campaign_id"]: round(float(r["cost"]) * 100) for r in rows["campaigns.csv"]}
    assert {r["email"] for r in rows["touchpoints.csv"]} == {r["email"] for r in rows["people.csv"]}


def test_campaigns_follow_the_calendar_on_ten_paid_channels(company):
    # given / when
    per_channel = Counter(c.channel for c in company.campaigns)
    # then
    assert per_channel == {
        "webinar": 20, "paid_social": 17, "paid_search": 16, "events": 10, "content": 8, "display": 8,
        "email": 8, "organic_search": 4, "partner": 4, "referral": 3,
    }  # fmt: skip
    assert all(c.cost_cents > 0 and c.ended_on >= c.started_on for c in company.campaigns)


def test_people_come_from_twelve_channels(company):
    # given / when
    sources = Counter(p.channel for p in company.people)
    # then
    assert len(sources) == 12
    assert min(sources.values()) > 300


def test_spend_gives_a_plausible_cost_per_customer(company):
    # given
    spend = sum(c.cost_cents for c in company.campaigns) / 100
    # when
    cac = spend / len(_customers(company))
    # then
    assert 2000 < cac < 10000


def test_referral_converts_to_customers_far_better_than_display(company):
    # given
    customers = _customers(company)
    by_channel = defaultdict(list)
    for person in company.people:
        by_channel[person.channel].append(person)
    # when
    rate = {channel: _rate(people, customers) for channel, people in by_channel.items()}
    # then
    assert rate["referral"] > 0.08
    assert rate["display"] < 0.02
    assert rate["referral"] > 5 * rate["display"]
    assert min(rate["referral"], rate["partner"], rate["webinar"]) > max(rate["display"], rate["paid_social"])


def test_segments_convert_differently(company):
    # given
    customers = _customers(company)
    # when
    students = [p for p in company.people if p.seniority == "student"]
    vp_mid_software = [
        p
        for p in company.people
        if p.seniority == "vp / head"
        and p.company_size in ("51-200", "201-1000")
        and p.industry == "Software"
    ]
    tiny = [p for p in company.people if p.company_size == "1-10"]
    mid = [p for p in company.people if p.company_size == "51-200"]
    # then
    assert _rate(students, customers) < 0.005
    assert _rate(vp_mid_software, customers) > 0.1
    assert _rate(mid, customers) > 2 * _rate(tiny, customers)


def test_weekends_are_quiet_and_monday_peaks(company):
    # given / when
    per_weekday = Counter(p.created_at.weekday() for p in company.people)
    # then
    assert max(per_weekday, key=per_weekday.__getitem__) == 0
    assert per_weekday[5] + per_weekday[6] < 0.5 * (per_weekday[0] + per_weekday[1])


def test_lead_volume_grows_by_about_half_over_two_years(company):
    # given
    first = [p for p in company.people if p.created_at < START_AT + dt.timedelta(days=91)]
    last = [p for p in company.people if p.created_at >= END_AT - dt.timedelta(days=91)]
    # when
    growth = len(last) / len(first)
    # then
    assert 1.3 < growth < 1.8


def test_paid_social_lead_quality_drops_for_eight_weeks_five_months_before_the_end(company):
    # given
    first, last = company.shift_window
    mqls = {m.email for m in company.stage_moves if m.to_stage == "mql"}
    paid_social = [p for p in company.people if p.channel == "paid_social"]
    inside = [p for p in paid_social if first <= p.created_at.date() <= last]
    around = [
        p
        for p in paid_social
        if first - dt.timedelta(days=90) <= p.created_at.date() < first
        or last < p.created_at.date() <= last + dt.timedelta(days=60)
    ]
    # when
    drop = _rate(inside, mqls) / _rate(around, mqls)
    # then
    assert (first, last) == (dt.date(2026, 1, 31), dt.date(2026, 3, 27))
    assert len(inside) > 1.4 * len(around) * 56 / 150  # the test also bought more volume
    assert drop < 0.6


def test_deals_have_the_shape_of_a_b2b_pipeline(company):
    # given
    closed = [d for d in company.deals if d.stage != "open"]
    # when
    with_deal = len({d.email for d in company.deals}) / len(company.people)
    won = sum(d.stage == "won" for d in closed) / len(closed)
    cycles = [(d.closed_at - d.created_at).days for d in closed if d.closed_at]
    open_recent = [
        d for d in company.deals if d.stage == "open" and d.created_at > END_AT - dt.timedelta(days=120)
    ]
    reasons = Counter(d.lost_reason for d in closed if d.stage == "lost")
    # then
    assert 0.08 <= with_deal <= 0.12
    assert 0.30 <= won <= 0.40
    assert min(cycles) >= 14 and max(cycles) <= 16 * 7
    assert len(open_recent) == sum(d.stage == "open" for d in company.deals) > 100
    assert set(reasons) == set(LOST_REASONS)
    assert reasons.most_common()[0][1] < 0.3 * reasons.total()
    assert reasons.most_common()[-1][1] > 0.02 * reasons.total()


def test_stage_moves_precede_the_deal_and_follow_the_funnel(company):
    # given
    created = {p.email: p.created_at for p in company.people}
    moves = defaultdict(list)
    for m in company.stage_moves:
        moves[m.email].append(m)
    # when
    deals = {d.email: d for d in company.deals}
    out_of_order = [e for e, ms in moves.items() if [m.at for m in ms] != sorted(m.at for m in ms)]
    too_early = [e for e, ms in moves.items() if ms[0].at <= created[e]]
    after_deal = [e for e, ms in moves.items() if e in deals and ms[-1].at >= deals[e].created_at]
    full_path = [e for e in deals if [m.to_stage for m in moves[e]][-3:] == list(FUNNEL_ORDER)]
    skipped = {p.channel for p in company.people if p.email in deals and p.email not in set(full_path)}
    # then
    assert (out_of_order, too_early, after_deal) == ([], [], [])
    assert len(full_path) > 0.9 * len(deals)
    assert skipped == {"outbound"}
    assert {m.to_stage for m in company.late_stage_moves} == {"recycled"}


def test_nothing_happens_outside_the_two_years(company):
    # given / when
    moments = [
        *(p.created_at for p in company.people),
        *(t.occurred_at for t in company.touchpoints),
        *(d.closed_at or d.created_at for d in company.deals),
        *(q.asked_at for q in company.questions),
        *(m.at for m in company.stage_moves + company.late_stage_moves),
        *(a.occurred_at for a in company.activities),
    ]
    # then
    assert min(moments) >= START_AT
    assert max(moments) < END_AT


def test_journeys_have_one_to_about_twelve_touches_and_converters_ask_for_demos(company):
    # given
    per_person = Counter(t.email for t in company.touchpoints)
    deal_people = {d.email for d in company.deals}
    demo_requests = {t.email for t in company.touchpoints if t.kind == "demo_request"}
    # when
    converters = _rate([p for p in company.people if p.email in deal_people], demo_requests)
    others = _rate([p for p in company.people if p.email not in deal_people], demo_requests)
    # then
    assert min(per_person.values()) == 1
    assert max(per_person.values()) <= 13
    assert converters > 4 * others


def test_reps_get_people_round_robin_and_log_activities(company):
    # given
    owners = Counter(p.owner for p in company.people if p.owner)
    # when
    active = {a.email for a in company.activities}
    # then
    assert set(owners) == {"rep", "jordan", "maya", "lucas", "emma", "lena", "tom", "sofia", "pieter"}
    assert max(owners.values()) - min(owners.values()) <= 300  # two territories of different sizes
    owned = {p.email for p in company.people if p.owner}
    assert active <= owned
    assert len(active) > 0.98 * len(owned)  # the newest owned people have no activity yet
    assert {a.kind for a in company.activities} == {"call", "email", "meeting"}


def test_every_question_has_a_known_theme_and_themes_have_many_wordings(company):
    # given / when
    themes = Counter(q.theme for q in company.questions)
    wordings = {theme: len(templates) for theme, templates in QUESTION_TEMPLATES.items()}
    # then
    assert set(themes) == set(QUESTION_THEMES)
    assert 2500 <= len(company.questions) <= 3500
    assert min(wordings.values()) >= 12
    assert len({q.text for q in company.questions}) > 0.5 * len(company.questions)


def test_leads_answered_quickly_are_accepted_more_often_and_emea_answers_faster(company):
    # given each MQL's first answer by sales (accepted, recycled or disqualified) and how long it took
    territory = {p.email: p.territory for p in company.people}
    moves = defaultdict(list)
    for m in company.stage_moves:
        moves[m.email].append(m)
    answered = []
    for email, ms in moves.items():
        for mql, answer in pairwise(ms):
            if mql.to_stage == "mql":
                hours = (answer.at - mql.at).total_seconds() / 3600
                answered.append((territory[email], hours, answer.to_stage == "sal"))
                break
    # when
    quick = [accepted for _, hours, accepted in answered if hours < 4]
    slow = [accepted for _, hours, accepted in answered if hours >= 24]
    waits = {t: sorted(h for tt, h, _ in answered if tt == t) for t in ("americas", "emea")}
    # then
    assert sum(quick) / len(quick) > sum(slow) / len(slow) + 0.1
    assert waits["emea"][len(waits["emea"]) // 2] < 0.6 * waits["americas"][len(waits["americas"]) // 2]


def test_reps_clear_their_mql_queue_so_the_inbox_holds_a_few_recent_leads_while_first_touches_are_often_late(company):
    # given each person's last move, the reps' activities, and the demo teams' working hours (4-hour SLA)
    from tandem.demo.lifecycle import DEMO_CALENDARS
    from tandem.lifecycle.business_hours import BusinessCalendar
    from tandem.lifecycle.sla_rules import SlaPolicy, first_touch_status

    team = {"americas": "Sales Americas", "emea": "Sales EMEA"}
    calendars = {
        t: BusinessCalendar.from_dict({"time_zone": DEMO_CALENDARS[name][0], "hours": dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), DEMO_CALENDARS[name][1])})
        for t, name in team.items()
    }
    territory = {p.email: p.territory for p in company.people}
    last, handoffs = {}, []
    for m in [*company.stage_moves, *company.late_stage_moves]:
        last[m.email] = m
        if m.to_stage == "mql":
            handoffs.append(m)
    with_deal = {d.email for d in company.deals}
    touches = defaultdict(list)
    for a in company.activities:
        touches[a.email].append(a.occurred_at)
    now = END_AT + dt.timedelta(hours=12)
    # when the inbox is read at noon on the day after the history ends
    waiting = [m for email, m in last.items() if m.to_stage == "mql" and email not in with_deal]
    overdue = 0
    for m in waiting:
        status = first_touch_status(m.at, touches[m.email], calendars[territory[m.email]], SlaPolicy(), now)
        overdue += status.state == "breached" and status.touched_at is None
    recent = [m for m in handoffs if m.at >= END_AT - dt.timedelta(days=90)]
    late = sum(
        first_touch_status(m.at, touches[m.email], calendars[territory[m.email]], SlaPolicy(), END_AT).state == "breached"
        for m in recent
    )
    # then a few dozen MQLs wait, all handed off in the last month, a handful of them overdue and untouched
    assert 10 <= len(waiting) <= 80
    assert all(m.at >= END_AT - dt.timedelta(days=30) for m in waiting)
    assert 1 <= overdue <= 10
    # and the scorecard still has real breaches: a third or more of the last quarter's first touches came late
    assert 0.3 <= late / len(recent) <= 0.7
