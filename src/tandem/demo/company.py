"""The demo company: a deterministic B2B company with real statistical structure, generated without the ORM.

`generate_company` simulates two years of a company's marketing and sales: campaigns on twelve channels, the
people they bring in, each person's journey through the funnel, deals, reps' activities and the questions reps
hear. `write_bundle` writes the interchange bundle (CSV files) the importer reads. The structure is built in,
not painted on, so every report has something real to find: channels and segments that convert differently,
a weekly rhythm, growth, and one genuine shift (a paid-social test that brought cheap, bad leads).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tandem.capture.bundle import (
    ACTIVITIES,
    CAMPAIGN_COSTS,
    CAMPAIGNS,
    COLUMNS,
    DEALS,
    FILES,
    PEOPLE,
    QUESTIONS,
    TOUCHPOINTS,
)
from tandem.core import csvsafe
from tandem.core.errors import ValidationFailed
from tandem.demo.defaults import DEFAULT_PEOPLE  # re-exported: `tandem demo --help` reads it there

HISTORY_DAYS = 730
UTC = dt.UTC
DEMO_PASSWORD = "tandem-demo"

# The reps' activities are not in the demo's bundle: they are logged once the reps exist (demo_activities_log).
BUNDLE_FILES = tuple(f for f in FILES if f != ACTIVITIES)


# -----------------------------------------------------------------------------------------------------------
# The company's built-in structure (the ground truth the reports should rediscover)
# -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelProfile:
    share: float  # share of all new people over the two years
    growth: float  # lead volume at the end relative to the start, minus one
    quality: float  # shift of every funnel step's log-odds: how good this channel's leads are
    cost_per_lead: float  # variable spend (USD) per person the channel's campaigns bring in
    fixed_cost: float  # spend per campaign that does not depend on volume (booths, production, agencies)
    first_kind: str  # the touchpoint through which a person from this channel becomes known


CHANNEL_PROFILES: dict[str, ChannelProfile] = {
    "organic_search": ChannelProfile(0.19, 0.72, 0.2, 10.0, 30000.0, "page_view"),
    "paid_search": ChannelProfile(0.16, 0.32, 0.0, 240.0, 0.0, "ad_click"),
    "paid_social": ChannelProfile(0.13, 0.64, -0.7, 190.0, 0.0, "ad_click"),
    "display": ChannelProfile(0.06, -0.08, -1.0, 130.0, 0.0, "ad_click"),
    "email": ChannelProfile(0.07, 0.24, -0.2, 20.0, 5000.0, "email_click"),
    "content": ChannelProfile(0.10, 0.48, -0.1, 45.0, 18000.0, "content_download"),
    "webinar": ChannelProfile(0.08, 0.4, 0.6, 80.0, 6000.0, "webinar"),
    "events": ChannelProfile(0.06, 0.16, 0.4, 120.0, 45000.0, "event_visit"),
    "referral": ChannelProfile(0.05, 0.48, 1.3, 300.0, 0.0, "form_submit"),
    "partner": ChannelProfile(0.05, 0.56, 1.0, 420.0, 0.0, "form_submit"),
    "direct": ChannelProfile(0.03, 0.4, 0.3, 0.0, 0.0, "page_view"),
    "outbound": ChannelProfile(0.02, 0.24, 0.5, 0.0, 0.0, "call"),
}
CAMPAIGNLESS = ("direct", "outbound")
# Later touches of a journey: the person's own source channel or this nurture mix.
NURTURE_MIX: dict[str, float] = {
    "email": 0.34,
    "organic_search": 0.16,
    "content": 0.14,
    "webinar": 0.10,
    "paid_search": 0.10,
    "paid_social": 0.06,
    "direct": 0.10,
}
# Monday peak, a quiet weekend.
WEEKDAY_FACTOR = (1.25, 1.12, 1.08, 1.02, 0.88, 0.32, 0.28)

INDUSTRIES: dict[str, tuple[float, float, tuple[str, ...]]] = {
    # name: (share of companies, quality, words for company names)
    "Software": (0.24, 0.5, ("Software", "Labs", "Systems", "Cloud", "Technologies")),
    "Financial services": (0.12, 0.4, ("Capital", "Financial", "Insurance", "Payments", "Partners")),
    "Professional services": (0.11, 0.1, ("Consulting", "Advisors", "Group", "Associates", "Partners")),
    "Healthcare": (0.09, 0.0, ("Health", "Medical", "Care", "Clinics", "Diagnostics")),
    "Manufacturing": (0.10, -0.1, ("Industries", "Manufacturing", "Components", "Machines", "Works")),
    "Retail": (0.08, -0.2, ("Retail", "Stores", "Brands", "Outfitters", "Market")),
    "Education": (0.07, -0.6, ("Learning", "Academy", "Education", "Schools", "Institute")),
    "Logistics": (0.06, -0.1, ("Logistics", "Freight", "Transport", "Shipping", "Fleet")),
    "Media": (0.06, -0.2, ("Media", "Studios", "Publishing", "Digital", "Creative")),
    "Public sector": (0.07, -0.5, ("Agency", "Authority", "Services", "Council", "Office")),
}

# SizeBand values: (share of companies, quality, how many more people a company of this size brings, median
# deal amount in USD, median sales cycle in days)
SIZE_BANDS: dict[str, tuple[float, float, float, float, float]] = {
    "1-10": (0.16, -1.0, 1.0, 1800.0, 18.0),
    "11-50": (0.24, -0.3, 1.5, 4800.0, 28.0),
    "51-200": (0.25, 0.3, 2.2, 11000.0, 40.0),
    "201-1000": (0.18, 0.4, 3.0, 24000.0, 55.0),
    "1001-5000": (0.10, 0.1, 4.0, 45000.0, 75.0),
    "5001+": (0.07, -0.2, 5.5, 80000.0, 95.0),
}

# ISO country: (share of companies, quality, territory, phone prefix, legal suffix of company names)
COUNTRIES: dict[str, tuple[float, float, str, str, str]] = {
    "US": (0.36, 0.1, "americas", "+1", "Inc."),
    "CA": (0.05, 0.1, "americas", "+1", "Inc."),
    "BR": (0.03, -0.3, "americas", "+55", "Ltda."),
    "MX": (0.02, -0.2, "americas", "+52", "S.A."),
    "GB": (0.12, 0.1, "emea", "+44", "Ltd"),
    "DE": (0.10, 0.0, "emea", "+49", "GmbH"),
    "FR": (0.06, -0.1, "emea", "+33", "SAS"),
    "NL": (0.05, 0.1, "emea", "+31", "B.V."),
    "SE": (0.03, 0.1, "emea", "+46", "AB"),
    "ES": (0.03, -0.1, "emea", "+34", "S.L."),
    "IT": (0.02, -0.1, "emea", "+39", "S.r.l."),
    "CH": (0.02, 0.1, "emea", "+41", "AG"),
    "PL": (0.02, -0.1, "emea", "+48", "Sp. z o.o."),
    "AU": (0.04, 0.0, "emea", "+61", "Pty Ltd"),
    "IN": (0.03, -0.4, "emea", "+91", "Pvt Ltd"),
    "SG": (0.02, 0.0, "emea", "+65", "Pte Ltd"),
}
# Hours (UTC) in which people of a territory fill in forms; the EMEA team also covers Asia-Pacific.
TERRITORY_HOURS: dict[str, tuple[int, int]] = {"americas": (13, 23), "emea": (7, 18)}

# Seniority: (share among working people, quality)
SENIORITIES: dict[str, tuple[float, float]] = {
    "individual contributor": (0.34, -0.4),
    "manager": (0.27, 0.0),
    "director": (0.17, 0.4),
    "vp / head": (0.12, 0.7),
    "c-level": (0.10, 0.3),
}
STUDENT_QUALITY = -2.8
# Students and job seekers download and click; they rarely come through referrals, partners or events.
STUDENT_SHARE: dict[str, float] = {
    "paid_social": 0.13,
    "display": 0.12,
    "content": 0.10,
    "organic_search": 0.08,
    "email": 0.05,
    "paid_search": 0.04,
    "webinar": 0.05,
    "direct": 0.04,
    "events": 0.02,
    "referral": 0.01,
    "partner": 0.01,
    "outbound": 0.0,
}
STUDENT_TITLES = ("Student", "Job seeker", "Intern", "MBA candidate", "Graduate student", "Career changer")

FUNCTIONS: dict[str, float] = {
    "marketing": 0.32,
    "sales": 0.22,
    "revops": 0.14,
    "it": 0.12,
    "finance": 0.08,
    "operations": 0.12,
}
TITLES: dict[tuple[str, str], tuple[str, ...]] = {
    ("individual contributor", "marketing"): (
        "Marketing Specialist",
        "Marketing Coordinator",
        "Content Marketer",
    ),
    ("individual contributor", "sales"): ("Account Executive", "Sales Development Representative", "BDR"),
    ("individual contributor", "revops"): ("Sales Operations Analyst", "CRM Administrator", "RevOps Analyst"),
    ("individual contributor", "it"): ("Software Engineer", "Data Engineer", "Systems Administrator"),
    ("individual contributor", "finance"): ("Financial Analyst", "Accountant", "Procurement Specialist"),
    ("individual contributor", "operations"): (
        "Operations Analyst",
        "Project Coordinator",
        "Business Analyst",
    ),
    ("manager", "marketing"): (
        "Marketing Manager",
        "Demand Generation Manager",
        "Marketing Operations Manager",
    ),
    ("manager", "sales"): ("Sales Manager", "Inside Sales Manager", "Account Manager"),
    ("manager", "revops"): ("Revenue Operations Manager", "Sales Operations Manager"),
    ("manager", "it"): ("IT Manager", "Engineering Manager", "Data Manager"),
    ("manager", "finance"): ("Finance Manager", "Controller", "Procurement Manager"),
    ("manager", "operations"): ("Operations Manager", "Program Manager", "Customer Success Manager"),
    ("director", "marketing"): ("Director of Marketing", "Director of Demand Generation", "Growth Director"),
    ("director", "sales"): ("Sales Director", "Director of Sales Development", "Regional Sales Director"),
    ("director", "revops"): ("Director of Revenue Operations", "Director of Sales Operations"),
    ("director", "it"): ("Director of IT", "Director of Engineering", "Director of Data"),
    ("director", "finance"): ("Finance Director", "Director of FP&A"),
    ("director", "operations"): ("Director of Operations", "Director of Customer Success"),
    ("vp / head", "marketing"): ("VP Marketing", "Head of Marketing", "Head of Growth"),
    ("vp / head", "sales"): ("VP Sales", "Head of Sales", "VP Business Development"),
    ("vp / head", "revops"): ("Head of Revenue Operations", "VP Revenue Operations"),
    ("vp / head", "it"): ("VP Engineering", "Head of IT", "Head of Data"),
    ("vp / head", "finance"): ("VP Finance", "Head of Finance"),
    ("vp / head", "operations"): ("VP Operations", "Head of Operations", "VP Customer Success"),
}
C_LEVEL_TITLES: dict[str, tuple[str, ...]] = {
    "marketing": ("CMO", "Chief Marketing Officer"),
    "sales": ("CRO", "Chief Revenue Officer"),
    "revops": ("COO", "Chief Operating Officer"),
    "it": ("CTO", "CIO"),
    "finance": ("CFO", "Chief Financial Officer"),
    "operations": ("CEO", "Founder", "Co-founder & CEO", "Managing Director"),
}

# The lost-reason taxonomy with its base frequencies; segments tilt it (small companies lack budget, large
# stall on security reviews and indecision).
LOST_REASONS: dict[str, float] = {
    "Price too high": 0.22,
    "Chose a competitor": 0.20,
    "No decision / went dark": 0.18,
    "No budget": 0.12,
    "Not a priority now": 0.10,
    "Missing feature": 0.08,
    "Security or compliance concerns": 0.05,
    "Too complex to implement": 0.05,
}

# Base log-odds of each funnel step for a person of average quality (tuned: ~30% reach MQL, ~10% get a deal,
# ~35% of closed deals are won).
MQL_BASE = -1.0
SAL_BASE = 0.0
SQL_BASE = -0.2
OPPORTUNITY_BASE = 0.6
WIN_BASE = -1.5
# Log-odds a deal from these channels is won on top of lead quality (warm introductions close).
CHANNEL_WIN_EDGE: dict[str, float] = {
    "referral": 0.6,
    "partner": 0.4,
    "webinar": 0.2,
    "display": -0.4,
    "paid_social": -0.3,
}
# VPs and heads of mid-size software and finance companies are the best buyers of all.
SWEET_SPOT_SIZES = ("51-200", "201-1000")
SWEET_SPOT_INDUSTRIES = ("Software", "Financial services")
DEAL_MEETINGS = ("Product demo", "Proposal walkthrough", "Technical deep dive", "Pricing discussion")
DEAL_EMAILS = ("Sent proposal", "Sent case study", "Sent security documents", "Recap and next steps")

# The sales organisation: username, first name, last name, territory, how good the rep is (log-odds).
REPS: tuple[tuple[str, str, str, str, float], ...] = (
    ("rep", "Riley", "Brooks", "americas", 0.0),
    ("jordan", "Jordan", "Hayes", "americas", 0.35),
    ("maya", "Maya", "Patel", "americas", 0.15),
    ("lucas", "Lucas", "Ortiz", "americas", -0.3),
    ("emma", "Emma", "Wright", "americas", -0.1),
    ("lena", "Lena", "Fischer", "emea", 0.3),
    ("tom", "Tom", "Clarke", "emea", 0.0),
    ("sofia", "Sofía", "Marín", "emea", -0.25),
    ("pieter", "Pieter", "de Vries", "emea", 0.1),
)
# Team name, kind, time zone, territory it covers ("" for marketing), manager username
TEAMS: tuple[tuple[str, str, str, str, str], ...] = (
    ("Sales Americas", "sales", "America/New_York", "americas", "manager"),
    ("Sales EMEA", "sales", "Europe/London", "emea", "claire"),
    ("Marketing", "marketing", "Europe/London", "", "marketing"),
)
# The logins printed by `tandem demo`: username, role, first name, last name, team.
PRINTED_LOGINS: tuple[tuple[str, str, str, str, str], ...] = (
    ("admin", "admin", "Alex", "Admin", ""),
    ("marketing", "marketing", "Sam", "Taylor", "Marketing"),
    ("rep", "sales_rep", "Riley", "Brooks", "Sales Americas"),
    ("manager", "sales_manager", "Morgan", "Reed", "Sales Americas"),
    ("viewer", "viewer", "Val", "Viewer", ""),
)
OTHER_USERS: tuple[tuple[str, str, str, str, str], ...] = (
    ("claire", "sales_manager", "Claire", "Dubois", "Sales EMEA"),
    *(
        (u, "sales_rep", f, last, "Sales Americas" if t == "americas" else "Sales EMEA")
        for u, f, last, t, _ in REPS[1:]
    ),
)
# Median hours from MQL until a rep accepts the lead: EMEA answers fast, Americas slowly (speed to lead).
ACCEPT_HOURS: dict[str, float] = {"americas": 20.0, "emea": 4.0}
# Hours (UTC) in which each team works.
TEAM_HOURS: dict[str, tuple[int, int]] = {"americas": (13, 22), "emea": (7, 16)}

FIRST_NAMES = (
    "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Grace", "Hannah", "Ivan", "Julia", "Kevin", "Laura",
    "Marco", "Nina", "Oliver", "Priya", "Quentin", "Rosa", "Samuel", "Tara", "Umar", "Vera", "William", "Xin",
    "Yara", "Zoe", "Ahmed", "Beatriz", "Chen", "Daniel", "Emily", "Fatima", "George", "Hiro", "Isabel",
    "James", "Katarzyna", "Liam", "María", "Noah", "Olga", "Paul", "Rahul", "Sara", "Thomas", "Ursula",
    "Victor", "Wei",
    "Yusuf", "Amelia", "Lucas", "Sophie", "Mateo", "Ingrid", "Kofi", "Aisha", "Jonas", "Clara", "Mehmet",
    "Leila", "Chloé", "Björn", "Aoife", "Diego", "Mia", "Arjun", "Hana", "Tobias", "Lea", "Omar",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "García", "Rodríguez", "Wilson",
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Martin", "Bernard",
    "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Rossi", "Russo", "Ferrari", "Esposito",
    "Nowak", "Kowalski", "Wiśniewski", "Jansen", "de Jong", "van Dijk", "Bakker", "Andersson", "Johansson",
    "Karlsson", "Nielsen", "Hansen", "O'Brien", "Murphy", "Kelly", "Taylor", "Evans", "Walker", "Wright",
    "Singh", "Kumar", "Sharma", "Patel", "Tanaka", "Suzuki", "Kim", "Lee", "Park", "Nguyen", "Silva",
    "Santos", "Oliveira", "Costa", "Fernández", "López", "Martínez", "Hernández", "Cohen", "Levi", "Novak",
)  # fmt: skip
NAME_STEMS = (
    "North", "Blue", "Bright", "Silver", "Iron", "Cedar", "Summit", "River", "Stone", "Apex", "Nova", "Clear",
    "Pine", "Harbor", "Quantum", "Vertex", "Atlas", "Beacon", "Crest", "Delta", "Ember", "Falcon", "Granite",
    "Horizon", "Juniper", "Keystone", "Lumen", "Maple", "Meridian", "Oak", "Orbit", "Pioneer", "Prism",
    "Redwood", "Sable", "Sierra", "Solstice", "Tidal", "Union", "Vantage", "Willow", "Zenith", "Aurora",
    "Cobalt", "Evergreen", "Fjord", "Glacier", "Helix", "Indigo", "Lark",
)  # fmt: skip
NAME_ENDINGS = ("", "wave", "point", "line", "field", "stone", "bridge", "works", "gate", "path", "scale",
                "forge", "peak", "light", "view", "rock")  # fmt: skip
# Free-mail providers for people who sign up privately (students, and some working people).
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "gmx.de", "proton.me")

# The shift the control charts should find: a paid-social "broad audience" test, about five months before
# `end`, bought many cheap clicks from people who do not buy.
SHIFT_STARTS_DAYS_BEFORE_END = 150
SHIFT_WEEKS = 8
SHIFT_VOLUME = 1.8  # paid-social volume during the test relative to before
SHIFT_QUALITY = -1.4


# -----------------------------------------------------------------------------------------------------------
# Questions heard by reps: ten themes, each with many wordings built from templates and slots
# -----------------------------------------------------------------------------------------------------------

QUESTION_THEMES: dict[str, str] = {
    "pricing": "Pricing",
    "integrations": "Integration with existing tools",
    "security": "Security & compliance",
    "implementation": "Implementation time",
    "contract": "Contract terms",
    "competitors": "Competitor comparison",
    "roi": "ROI proof",
    "support": "Support",
    "migration": "Data migration",
    "scalability": "Scalability",
}
QUESTION_SLOTS: dict[str, tuple[str, ...]] = {
    "crm": ("Salesforce", "HubSpot", "Pipedrive", "Dynamics 365", "Zoho CRM"),
    "tool": (
        "Marketo", "Slack", "Snowflake", "Zendesk", "Outreach", "Gong", "Google Sheets", "Segment",
        "BigQuery",
    ),
    "seats": ("10", "25", "40", "75", "150", "300"),
    "competitor": ("FunnelForge", "LeadLoop", "PipeRight", "Revvly", "SalesPilot"),
    "standard": ("SOC 2 Type II", "ISO 27001", "GDPR", "HIPAA", "DORA"),
    "weeks": ("two", "four", "six", "eight", "twelve"),
    "term": ("monthly", "annual", "multi-year", "quarterly"),
    "records": ("40k", "200k", "1.5 million", "3 million", "12 million"),
    "period": ("first quarter", "first 90 days", "first six months", "first year"),
    "team": ("sales team", "marketing team", "SDRs", "RevOps team", "board", "CFO", "IT team", "legal team"),
}  # fmt: skip
# Each theme leans on a few core words (price, integration, security ...) that most of its wordings share,
# the way real questions on one topic do; slots and filler make the texts differ.
QUESTION_TEMPLATES: dict[str, tuple[str, ...]] = {
    "pricing": (
        "What would the price be for {seats} users?",
        "What does the price per seat look like after the first year?",
        "Is there a discount on the price if we pay {term}?",
        "Why is the per-user price higher than what we pay today?",
        "Can you break down the cost of the {crm} add-on?",
        "Does the price go up once we pass {records} contacts?",
        "Is there a cheaper price plan for a team of {seats}?",
        "Our {team} thinks the price is too high, can you do better?",
        "Are there any hidden costs on top of the license price?",
        "What is the list price and how much room is there on it?",
        "Can we start on a lower price tier and upgrade later without paying twice?",
        "Does the price include onboarding or is that an extra cost?",
        "Would a startup discount bring the price down for us?",
        "What is the price of {seats} seats on the {term} plan?",
    ),
    "integrations": (
        "Does the integration with {crm} work out of the box?",
        "Can the integration sync our {tool} data both ways?",
        "Is there a native {tool} integration or do we need the API?",
        "How does the {crm} integration handle custom fields?",
        "Will the integration work alongside {tool} without breaking our workflows?",
        "Do you have a REST API and webhooks to integrate our own tools?",
        "Can the integration sync leads from {tool} into {crm} automatically?",
        "How often does the {crm} integration sync, is it real time?",
        "We use {tool} for everything, can you integrate with it?",
        "Our {team} needs an integration that syncs data to {tool}, is that possible?",
        "What happens to our {crm} automations when we turn on the integration?",
        "Is the {tool} integration included or a paid extra?",
        "Can we integrate more than one {crm} instance?",
    ),
    "security": (
        "Is your security {standard} certified?",
        "Where is our data hosted, and can it stay in the EU for compliance?",
        "Can you send your security questionnaire answers and {standard} report?",
        "Do you support single sign-on and SCIM for security?",
        "How do you handle {standard} compliance for customer data?",
        "Our {team} needs a DPA and a security review before we go further.",
        "For security, is our data encrypted at rest and in transit?",
        "Who at your company can access our data, what security controls are there?",
        "Have you had a security penetration test in the last year?",
        "Can we self-host it to satisfy our compliance rules?",
        "What is your security process when there is a data breach?",
        "Do you keep audit logs for compliance of who changed what?",
        "Can we delete a person's data for {standard} compliance requests?",
    ),
    "implementation": (
        "How long does a typical implementation take for {seats} users?",
        "Can the implementation be done so we are live in {weeks} weeks?",
        "What do you need from our {team} during the implementation?",
        "How much of our IT team's time will the implementation take?",
        "Is there an implementation plan for the {period}?",
        "Who does the configuration during implementation, you or us?",
        "We have a launch in {weeks} weeks, is that a realistic implementation time?",
        "How long after the implementation before the {team} can use it?",
        "Do you offer a guided implementation or are we on our own?",
        "What usually slows implementations down?",
        "Can we do the implementation for one team first and expand later?",
        "How long does the {crm} setup part of the implementation take?",
        "What training is included in the implementation for new users?",
    ),
    "contract": (
        "Can we sign a {term} contract instead of annual?",
        "Is there an exit clause in the contract if it doesn't work out?",
        "What are the payment terms, can we do net 60?",
        "Can our {team} review the contract terms before we commit?",
        "Do the terms stay fixed if we sign a multi-year contract?",
        "Can we add seats mid-term without a new contract?",
        "What notice period does the contract need for cancellation?",
        "Does the contract auto-renew?",
        "Can we start with a pilot before signing the {term} contract?",
        "Our procurement needs your standard contract terms, where can I find them?",
        "Is there an SLA in the contract with credits?",
        "Could the contract terms allow quarterly payment on an annual deal?",
        "Who owns the data if we terminate the contract?",
    ),
    "competitors": (
        "How do you compare to {competitor}, what makes you different?",
        "{competitor} offered us a lower price, how do you compare and why pick you over them?",
        "We are also looking at {competitor}, how do you compare?",
        "Why would we switch from {competitor} to you, how do you compare?",
        "Is there a comparison sheet against {competitor}?",
        "{competitor} has a {crm} integration too, how do you compare?",
        "Our {team} already likes {competitor}, convince me you compare well.",
        "Compared to {competitor}, can you do everything they do?",
        "We tried {competitor} last year and it failed, why would you be different?",
        "What do customers who left {competitor} say when they compare you?",
        "Compared with {competitor}, is your product more mature?",
        "How does your roadmap compare to {competitor}'s?",
        "Do you have customers who switched over from {competitor}?",
    ),
    "roi": (
        "How do we prove the ROI to our {team}?",
        "Do you have case studies with ROI numbers from companies like ours?",
        "What payback period and ROI do customers usually see?",
        "Can you help us build a business case with the expected ROI for the {team}?",
        "What ROI and results did similar customers see in the {period}?",
        "What ROI and results can we expect in the {period}?",
        "Is there an ROI calculator for the return on investment?",
        "Our {team} wants hard ROI numbers before approving the budget.",
        "How do other customers measure results and ROI with you?",
        "Can you show the ROI impact on conversion rates, not just features?",
        "Can we talk to a reference customer about the ROI they got?",
        "What is the typical uplift in MQL to SQL conversion, any results to share?",
        "How would we see ROI after {weeks} weeks?",
    ),
    "support": (
        "What support hours do you offer in our time zone?",
        "Do we get a dedicated customer success manager for support?",
        "How fast does support respond to urgent tickets?",
        "Is phone support included or only email?",
        "Is there support to help us if something breaks on a weekend?",
        "Is there a support community or help center we can use?",
        "Who helps us when the {crm} sync fails, is that covered by support?",
        "Do you offer support in German, French or Spanish?",
        "Our {team} needs a named support contact, is that possible?",
        "What does premium support cost and what help do we get?",
        "How do we escalate a support problem?",
        "Do you have a status page and support during outages?",
        "Will support help our {team} after go-live or just during onboarding?",
    ),
    "migration": (
        "Can you migrate our {records} records from {crm}?",
        "How do we migrate our historical data over?",
        "Will we lose our activity history when we migrate?",
        "Do you help migrate data from {competitor}?",
        "How do you deal with duplicates when you migrate our old data?",
        "Can we migrate custom fields from {crm}?",
        "How long does it take to migrate {records} contacts?",
        "Can we run both systems in parallel during the migration?",
        "What format do you need our data export in for the migration?",
        "Who cleans the data before the migration, you or our {team}?",
        "Is historical campaign data from {tool} kept after the migration?",
        "What happens to our old spreadsheets and lists, can you import them?",
        "Can we test the data migration on a sample first?",
    ),
    "scalability": (
        "Will performance hold up with {records} contacts?",
        "How many users can work in it at the same time before performance drops?",
        "What happens to performance when we scale to {seats} reps?",
        "Are there API rate limits that stop us from scaling?",
        "Can it scale to several business units and regions?",
        "Does performance drop with large imports from {tool}?",
        "Do you have customers at our scale or bigger?",
        "How does reporting performance scale over millions of touchpoints?",
        "Can we scale to new teams and territories without rebuilding everything?",
        "What is the largest database you run, how far does it scale?",
        "Will the {crm} sync keep up with our volume as we scale?",
        "Is there a limit on campaigns or custom fields as we scale?",
        "How does performance hold up when our {team} doubles next year?",
    ),
}


# How often each theme comes up before segments tilt it.
THEME_WEIGHTS: dict[str, float] = {
    "pricing": 1.6, "integrations": 1.4, "security": 0.8, "implementation": 1.0, "contract": 0.7,
    "competitors": 1.0, "roi": 0.9, "support": 0.7, "migration": 0.7, "scalability": 0.6,
}  # fmt: skip
PERSONA_THEMES: dict[str, tuple[str, ...]] = {
    "Technical evaluator": ("integrations", "security", "migration", "scalability"),
    "RevOps": ("integrations", "migration"),
    "Economic buyer": ("roi", "pricing", "contract"),
    "Executive": ("roi", "competitors"),
}
# A lost deal's reason was usually heard before as a question.
LOST_REASON_THEME: dict[str, str] = {
    "Price too high": "pricing", "Chose a competitor": "competitors", "No budget": "roi",
    "Missing feature": "integrations", "Security or compliance concerns": "security",
    "Too complex to implement": "implementation",
}  # fmt: skip
# Mean questions a person asks once accepted by sales, and once in a deal (≈ 3,000 at 20,000 people).
QUESTIONS_PER_SAL = 0.32
QUESTIONS_PER_DEAL = 0.98
# Filler that any question may carry: it makes texts differ without saying anything about the theme.
QUESTION_PREFIXES = (
    "Quick question: ", "Our {team} asked: ", "Before we move forward, ", "Follow-up from the demo: ",
    "Honestly, ", "One more thing: ", "From our side, ", "To be clear, ", "Sorry if this was covered, but ",
    "Coming back to last week's call, ", "Something our {team} raised: ", "Just checking: ",
)  # fmt: skip
QUESTION_SUFFIXES = (
    " We need this answered before the next call.", " Can you send something in writing?",
    " That's the main blocker for us right now.", " It came up again in our internal review.",
    " Thanks!", " A short answer is fine.", " Happy to jump on a call about it.",
    " This matters for the decision.",
)  # fmt: skip
# A clause from a second theme: real questions mix concerns, so a theme is a tendency, not a keyword.
THEME_CLAUSES: dict[str, tuple[str, ...]] = {
    "pricing": ("and what would that cost us", "and is that in the price", "without paying extra"),
    "integrations": (
        "and does that work with {crm}", "including the {tool} connector", "with our {crm} setup",
    ),
    "security": ("assuming it passes our {standard} review", "given our {standard} obligations",
                 "with the data staying in the EU"),
    "implementation": ("within {weeks} weeks", "without a long rollout", "before our launch"),
    "contract": ("on a {term} contract", "under the standard terms", "before the renewal date"),
    "competitors": ("compared to {competitor}", "the way {competitor} does it", "unlike {competitor}"),
    "roi": ("so we can justify it to the {team}", "with numbers our {team} can check", "in the {period}"),
    "support": ("with someone to help us", "and who supports us then", "with support in our time zone"),
    "migration": (
        "after moving our {records} records", "once our old data is imported", "with our history intact",
    ),
    "scalability": ("at {records} contacts", "when we grow to {seats} users", "for all our regions"),
}  # fmt: skip


# -----------------------------------------------------------------------------------------------------------
# The generated rows
# -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignRow:
    campaign_id: str
    name: str
    channel: str
    started_on: dt.date
    ended_on: dt.date
    cost_cents: int


@dataclass(frozen=True, slots=True)
class PersonRow:
    email: str
    first_name: str
    last_name: str
    company: str
    industry: str
    company_size: str
    country: str
    job_title: str
    created_at: dt.datetime
    seniority: str
    persona: str
    phone: str
    consent_email: bool
    channel: str  # where the person came from (the first touchpoint's channel)
    campaign_id: str
    territory: str
    owner: str  # the rep's username, "" when the person never reached sales
    lead_status: str


@dataclass(frozen=True, slots=True)
class TouchpointRow:
    email: str
    occurred_at: dt.datetime
    channel: str
    campaign_id: str
    kind: str


@dataclass(frozen=True, slots=True)
class DealRow:
    deal_id: str
    email: str
    amount_cents: int
    stage: str  # open | won | lost
    created_at: dt.datetime
    closed_at: dt.datetime | None
    lost_reason: str


@dataclass(frozen=True, slots=True)
class QuestionRow:
    email: str
    asked_at: dt.datetime
    text: str
    theme: str


@dataclass(frozen=True, slots=True)
class StageMove:
    email: str
    to_stage: str
    at: dt.datetime
    reason: str


@dataclass(frozen=True, slots=True)
class ActivityRow:
    email: str
    deal_id: str
    user: str
    kind: str  # call | email | meeting
    outcome: str
    occurred_at: dt.datetime
    duration_minutes: int | None
    notes: str


@dataclass(frozen=True)
class DemoCompany:
    seed: int
    end: dt.date
    campaigns: list[CampaignRow]
    people: list[PersonRow]
    touchpoints: list[TouchpointRow]
    deals: list[DealRow]
    questions: list[QuestionRow]
    # Moves before any deal (lead → MQL → SAL → SQL, recycled, disqualified), loaded before the deals.
    stage_moves: list[StageMove]
    # Moves after a deal closed (lost deals sent back to marketing), loaded after the deals.
    late_stage_moves: list[StageMove]
    activities: list[ActivityRow]

    @property
    def start(self) -> dt.date:
        return self.end - dt.timedelta(days=HISTORY_DAYS)

    @property
    def shift_window(self) -> tuple[dt.date, dt.date]:
        return shift_window(end=self.end)


def shift_window(*, end: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of the paid-social test whose leads were bad."""
    first = end - dt.timedelta(days=SHIFT_STARTS_DAYS_BEFORE_END)
    return first, first + dt.timedelta(days=7 * SHIFT_WEEKS - 1)


# -----------------------------------------------------------------------------------------------------------
# Generation
# -----------------------------------------------------------------------------------------------------------


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _pick(rnd: random.Random, weights: dict[str, float]) -> str:
    return rnd.choices(list(weights), weights=list(weights.values()))[0]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _season(day: dt.date) -> float:
    # Summer holidays and the weeks around new year are quiet in B2B.
    if (day.month == 12 and day.day >= 20) or (day.month == 1 and day.day <= 3):
        return 0.45
    if day.month == 8:
        return 0.8
    return 1.0


def _periods(start: dt.date, end: dt.date, months: int) -> list[tuple[dt.date, dt.date, str]]:
    """Calendar quarters (3), halves (6) or years (12) overlapping [start, end) as (first, last day, label).

    A period that overlaps the history by less than two weeks is folded into the next one, so that no campaign
    runs for a day or two at the edge of the history.
    """
    out: list[tuple[dt.date, dt.date, str]] = []
    year, index = start.year, (start.month - 1) // months
    while True:
        first = dt.date(year, months * index + 1, 1)
        if first >= end:
            break
        following = (year + 1, 0) if months * (index + 1) >= 12 else (year, index + 1)
        last = dt.date(following[0], months * following[1] + 1, 1) - dt.timedelta(days=1)
        label = {3: f"{year} Q{index + 1}", 6: f"{year} H{index + 1}", 12: f"{year}"}[months]
        out.append((max(first, start), last, label))
        year, index = following
    if len(out) > 1 and (out[0][1] - start).days < 14:
        out = [(start, out[1][1], out[1][2]), *out[2:]]
    return out


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


@dataclass
class _Campaign:
    campaign_id: str
    name: str
    channel: str
    started_on: dt.date
    ended_on: dt.date
    weights: np.ndarray  # per day of the history: how many leads this campaign brings relative to others
    fixed_share: float  # how many times the channel's fixed cost this campaign carries
    cost_per_lead_factor: float  # relative to the channel's cost per lead


@dataclass
class _Plan:
    channel: str
    name: str
    started_on: dt.date
    ended_on: dt.date
    weights: np.ndarray
    fixed_share: float = 1.0
    cost_per_lead_factor: float = 1.0


def _window(start: dt.date, first: dt.date, last: dt.date, weight: float = 1.0) -> np.ndarray:
    w = np.zeros(HISTORY_DAYS)
    a = max((first - start).days, 0)
    b = min((last - start).days, HISTORY_DAYS - 1)
    if a <= b:
        w[a : b + 1] = weight
    return w


def _always_on_plans(*, start: dt.date, end: dt.date) -> list[_Plan]:
    quarterly: dict[str, tuple[tuple[str, float], ...]] = {
        "paid_search": (("Paid search – Brand", 0.4), ("Paid search – Category keywords", 0.6)),
        "paid_social": (("LinkedIn – Decision makers", 0.55), ("Meta – Retargeting", 0.45)),
        "display": (("Programmatic display", 1.0),),
        "content": (("Content – Guides & templates", 1.0),),
        "email": (("Newsletter & nurture", 1.0),),
    }
    # (channel, name, months per campaign, weight among the channel's parallel campaigns, fixed-cost share)
    programs: list[tuple[str, str, int, float, float]] = [
        *(
            (channel, name, 3, weight, weight)
            for channel, parts in quarterly.items()
            for name, weight in parts
        ),
        ("organic_search", "SEO & website", 6, 1.0, 2.0),
        ("partner", "Partner program", 6, 1.0, 2.0),
        ("referral", "Customer referral program", 12, 1.0, 4.0),
    ]
    plans = []
    for channel, name, months, weight, fixed_share in programs:
        for first, last, label in _periods(start, end, months):
            window = _window(start, first, last, weight)
            plans.append(_Plan(channel, f"{name} – {label}", first, last, window, fixed_share=fixed_share))
    return plans


WEBINAR_TOPICS = (
    "Fixing the MQL handoff", "Attribution without the guesswork", "Building a lead score that sales trusts",
    "Pipeline reviews that work", "From campaign to closed-won", "Speed to lead in practice",
    "What our best customers have in common", "Forecasting with funnel data", "Running a win/loss program",
    "Sales and marketing SLAs", "Content that sales actually uses", "Account-based marketing on a budget",
)  # fmt: skip
# Name, city, month; the show starts on the month's third Tuesday.
EVENTS = (
    ("RevOps Summit", "London", 3), ("Demand Gen Live", "Austin", 5), ("B2B Growth Forum", "Amsterdam", 6),
    ("SalesTech Expo", "Chicago", 9), ("Pipeline Conference", "Berlin", 11),
)  # fmt: skip


def _dated_plans(*, start: dt.date, end: dt.date) -> list[_Plan]:
    last_day = end - dt.timedelta(days=1)
    plans = []
    n = 0
    for year in range(start.year - 1, end.year + 1):
        for month in range(1, 13):
            day = _nth_weekday(year, month, 3, 2)  # second Thursday
            if month in (8, 12) or day < start + dt.timedelta(days=7) or day > last_day:
                continue
            # Registrations ramp up to the live day; the recording brings a trickle afterwards.
            w = np.zeros(HISTORY_DAYS)
            for k in range(-21, 15):
                idx = (day - start).days + k
                if 0 <= idx < HISTORY_DAYS:
                    w[idx] = (
                        0.25 + 0.75 * (21 + k) / 21 if k < 0 else (3.0 if k == 0 else 0.8 * math.exp(-k / 4))
                    )
            topic = WEBINAR_TOPICS[n % len(WEBINAR_TOPICS)]
            n += 1
            plans.append(
                _Plan(
                    "webinar",
                    f"Webinar: {topic} ({day:%b %Y})",
                    day - dt.timedelta(days=21),
                    day + dt.timedelta(days=14),
                    w,
                )
            )
        for name, city, month in EVENTS:
            first_day = _nth_weekday(year, month, 1, 3)
            if first_day < start + dt.timedelta(days=7) or first_day > last_day:
                continue
            length = 3 if city in ("London", "Chicago") else 2
            w = np.zeros(HISTORY_DAYS)
            for k in range(length + 10):
                idx = (first_day - start).days + k
                if 0 <= idx < HISTORY_DAYS:
                    # Badge scans arrive at the booth and in one upload the day after the show.
                    w[idx] = 1.0 if k < length else (1.5 if k == length else 0.08)
            plans.append(
                _Plan(
                    "events",
                    f"{name} {city} {year}",
                    first_day - dt.timedelta(days=30),
                    first_day + dt.timedelta(days=length + 9),
                    w,
                )
            )
    # The test that went wrong: a broad paid-social audience for eight weeks bought cheap leads (a low cost
    # per lead that hides a high cost per customer).
    shift_first, shift_last = shift_window(end=end)
    plans.append(
        _Plan(
            "paid_social",
            f"Meta – Broad audience test {shift_first:%b %Y}",
            shift_first,
            shift_last,
            _window(start, shift_first, shift_last, SHIFT_VOLUME - 1.0),
            fixed_share=0.0,
            cost_per_lead_factor=0.55,
        )
    )
    return plans


def _plan_campaigns(*, start: dt.date, end: dt.date) -> list[_Campaign]:
    plans = _always_on_plans(start=start, end=end) + _dated_plans(start=start, end=end)
    plans.sort(key=lambda p: (p.started_on, p.channel, p.name))
    return [
        _Campaign(
            f"C-{i:04d}",
            p.name,
            p.channel,
            p.started_on,
            p.ended_on,
            p.weights,
            p.fixed_share,
            p.cost_per_lead_factor,
        )
        for i, p in enumerate(plans, 1)
    ]


@dataclass
class _Company:
    name: str
    domain: str
    industry: str
    size: str
    country: str


def _make_companies(rng: np.random.Generator, rnd: random.Random, count: int) -> list[_Company]:
    industries = list(INDUSTRIES)
    sizes = list(SIZE_BANDS)
    countries = list(COUNTRIES)
    ind = rng.choice(len(industries), size=count, p=np.array([INDUSTRIES[i][0] for i in industries]))
    siz = rng.choice(len(sizes), size=count, p=np.array([SIZE_BANDS[s][0] for s in sizes]))
    cty = rng.choice(len(countries), size=count, p=np.array([COUNTRIES[c][0] for c in countries]))
    taken: set[str] = set()
    out = []
    for i in range(count):
        industry, country = industries[ind[i]], countries[cty[i]]
        while True:
            stem = rnd.choice(NAME_STEMS) + rnd.choice(NAME_ENDINGS)
            noun = rnd.choice(INDUSTRIES[industry][2])
            if f"{stem} {noun}" not in taken:
                break
        taken.add(f"{stem} {noun}")
        # .example domains (RFC 2606) can never reach a real company's inbox.
        out.append(
            _Company(
                f"{stem} {noun} {COUNTRIES[country][4]}",
                f"{_ascii(stem + noun)}.example",
                industry,
                sizes[siz[i]],
                country,
            )
        )
    return out


def _persona(seniority: str, function: str) -> str:
    if seniority == "student":
        return "Student or job seeker"
    if function == "revops":
        return "RevOps"
    if function == "it":
        return "Technical evaluator"
    if function == "finance":
        return "Economic buyer"
    if seniority == "c-level":
        return "Executive"
    leader = seniority in ("director", "vp / head")
    if function == "marketing":
        return "Marketing leader" if leader else "Marketing practitioner"
    if function == "sales":
        return "Sales leader" if leader else "Sales practitioner"
    return "Operations leader" if leader else "Operations practitioner"


def _fmt_phone(rnd: random.Random, prefix: str) -> str:
    if prefix == "+1":
        # 555-01xx numbers are reserved for fiction.
        return f"+1 {rnd.randint(201, 989)} 555 01{rnd.randint(0, 99):02d}"
    return f"{prefix} {rnd.randint(10, 99)} {rnd.randint(1000, 9999)} {rnd.randint(100, 999)}"


def _after(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """`moment + delta` to the whole second: the bundle carries seconds, the moves must match them."""
    return (moment + delta).replace(microsecond=0)


def _at(day: dt.date, rnd: random.Random, hours: tuple[int, int]) -> dt.datetime:
    minute = rnd.randint(hours[0] * 60, hours[1] * 60 - 1)
    return dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=UTC)


def _work_time(moment: dt.datetime, rnd: random.Random, hours: tuple[int, int]) -> dt.datetime:
    """`moment` when a team is at work then, else early in its next working day (no weekends)."""
    day = moment.date()
    if day.weekday() < 5 and hours[0] <= moment.hour < hours[1]:
        return moment.replace(second=0, microsecond=0)
    if day.weekday() >= 5 or moment.hour >= hours[1]:
        day += dt.timedelta(days=1)
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
    start = dt.datetime(day.year, day.month, day.day, hours[0], tzinfo=UTC)
    return start + dt.timedelta(minutes=rnd.randint(0, 120))


Rep = tuple[str, str, str, str, float]


@dataclass(frozen=True, slots=True)
class _Lead:
    email: str
    created: dt.datetime
    channel: str
    campaign_id: str
    territory: str
    size: str  # the size band that drives amounts and cycles (students count as small)
    persona: str
    student: bool
    q: float  # lead quality in log-odds


@dataclass
class _Path:
    """What happened to one person on the funnel."""

    owner: Rep | None = None
    owned_since: dt.datetime | None = None
    stages: list[str] = field(default_factory=lambda: ["lead"])
    times: dict[str, dt.datetime] = field(default_factory=dict)
    deal_at: dt.datetime | None = None


class _Builder:
    """Holds the random streams and the growing row lists while one company is generated."""

    def __init__(self, *, people: int, seed: int, end: dt.date) -> None:
        self.n = people
        self.seed = seed
        self.end = end
        self.start = end - dt.timedelta(days=HISTORY_DAYS)
        self.end_at = dt.datetime(end.year, end.month, end.day, tzinfo=UTC)
        self.scale = people / DEFAULT_PEOPLE
        self.rng = np.random.default_rng(seed)
        self.rnd = random.Random(int(self.rng.integers(0, 2**62)))
        self.campaigns = _plan_campaigns(start=self.start, end=end)
        self.by_channel: dict[str, list[_Campaign]] = {}
        for c in self.campaigns:
            self.by_channel.setdefault(c.channel, []).append(c)
        self.touchpoints: list[TouchpointRow] = []
        self.deals: list[DealRow] = []
        self.questions: list[QuestionRow] = []
        self.stage_moves: list[StageMove] = []
        self.late_moves: list[StageMove] = []
        self.activities: list[ActivityRow] = []
        self.round_robin = {"americas": 0, "emea": 0}
        self.seniorities = list(SENIORITIES)
        self.seniority_p = [SENIORITIES[s][0] for s in self.seniorities]
        self.emails: dict[str, int] = {}
        self.reps = {t: [r for r in REPS if r[3] == t] for t in ("americas", "emea")}

    # -- arrival of new people -------------------------------------------------------------------------------

    def daily_rates(self) -> tuple[list[str], np.ndarray]:
        """Expected new people per (channel, day): campaigns' activity × growth × weekday × season."""
        days = np.arange(HISTORY_DAYS)
        dates = [self.start + dt.timedelta(days=int(d)) for d in days]
        weekday = np.array([WEEKDAY_FACTOR[d.weekday()] for d in dates])
        season = np.array([_season(d) for d in dates])
        t = days / (HISTORY_DAYS - 1)
        channels = list(CHANNEL_PROFILES)
        rates = np.zeros((len(channels), HISTORY_DAYS))
        for i, ch in enumerate(channels):
            profile = CHANNEL_PROFILES[ch]
            if ch in CAMPAIGNLESS:
                activity = np.ones(HISTORY_DAYS)
            else:
                activity = np.sum([c.weights for c in self.by_channel[ch]], axis=0)
            lam = activity * (1.0 + profile.growth * t) * weekday * season
            rates[i] = lam / lam.sum() * profile.share
        return channels, rates

    def arrivals(self) -> list[tuple[int, str]]:
        channels, rates = self.daily_rates()
        flat = rates.ravel()
        cells = self.rng.choice(flat.size, size=self.n, p=flat / flat.sum())
        cells.sort()
        arrivals = [(int(c % HISTORY_DAYS), channels[int(c // HISTORY_DAYS)]) for c in cells]
        arrivals.sort()
        return arrivals

    def campaign_on(self, channel: str, day_index: int) -> _Campaign | None:
        candidates = [c for c in self.by_channel.get(channel, ()) if c.weights[day_index] > 0]
        if not candidates:
            return None
        return self.rnd.choices(candidates, weights=[c.weights[day_index] for c in candidates])[0]

    def touch_source(self, channel: str, at: dt.datetime) -> tuple[str, str]:
        """Channel and campaign id of a touch; dated channels with no campaign running fall back to email."""
        if channel in CAMPAIGNLESS:
            return channel, ""
        campaign = self.campaign_on(channel, (at.date() - self.start).days)
        if campaign is not None:
            return channel, campaign.campaign_id
        if channel == "organic_search":
            return channel, ""
        fallback = self.campaign_on("email", (at.date() - self.start).days)
        return "email", fallback.campaign_id if fallback else ""

    # -- one person's path ----------------------------------------------------------------------------------

    def next_rep(self, territory: str) -> Rep:
        """Round robin within the territory's team."""
        reps = self.reps[territory]
        rep = reps[self.round_robin[territory] % len(reps)]
        self.round_robin[territory] += 1
        return rep

    def rep_time(self, path: _Path, moment: dt.datetime) -> dt.datetime:
        """The owner's next working minute at or after `moment`: reps act in office hours, on weekdays."""
        assert path.owner is not None
        return _work_time(moment, self.rnd, TEAM_HOURS[path.owner[3]])

    def move(self, lead: _Lead, path: _Path, stage: str, at: dt.datetime, reason: str) -> None:
        self.stage_moves.append(StageMove(lead.email, stage, at, reason))
        path.stages.append(stage)
        path.times.setdefault(stage, at)

    def funnel(self, lead: _Lead) -> _Path:
        """Walk one person down the funnel: MQL, SAL, SQL, maybe a deal; recycled people get a second go."""
        rnd = self.rnd
        path = _Path()
        now = lead.created
        # Outbound people were found by reps: they skip marketing qualification.
        if lead.channel == "outbound":
            path.owner, path.owned_since = self.next_rep(lead.territory), now
        for attempt in (1, 2):
            if lead.channel != "outbound" or attempt > 1:
                if rnd.random() >= _sigmoid(MQL_BASE + lead.q):
                    return path
                hand_raiser = rnd.random() < 0.3
                now = _after(
                    now,
                    dt.timedelta(hours=rnd.uniform(0.1, 6))
                    if hand_raiser
                    else dt.timedelta(days=min(rnd.expovariate(1 / 12), 120), minutes=rnd.randint(5, 600)),
                )
                if now >= self.end_at:
                    return path
                reason = "demo: met MQL definition" if attempt == 1 else "demo: re-engaged after nurture"
                self.move(lead, path, "mql", now, reason)
                if path.owner is None:
                    path.owner, path.owned_since = self.next_rep(lead.territory), now
            assert path.owner is not None
            waiting_since = now
            now = self.rep_time(
                path, now + dt.timedelta(hours=ACCEPT_HOURS[path.owner[3]] * math.exp(rnd.gauss(0, 0.8)))
            )
            if now >= self.end_at:
                return path
            # Leads called back quickly are accepted more often (speed to lead).
            waited = now - waiting_since
            speed = (
                0.5 if waited < dt.timedelta(hours=4) else 0.1 if waited < dt.timedelta(hours=24) else -0.4
            )
            accept = SAL_BASE + 0.8 * lead.q + speed + (2.0 if lead.channel == "outbound" else 0)
            if rnd.random() >= _sigmoid(accept):
                roll = rnd.random()
                if lead.student or roll < 0.25:
                    self.move(lead, path, "disqualified", now, "demo: not a fit (sales review)")
                    return path
                if roll >= 0.8:
                    # The lead does not answer: the rep keeps trying for one to three weeks, then sends it back.
                    # Real reps clear their queue, so only the latest of these still wait in the inbox.
                    now = self.rep_time(path, now + dt.timedelta(days=rnd.uniform(7, 21)))
                    if now >= self.end_at:
                        return path
                    self.move(lead, path, "recycled", now, "demo: no reply after repeated attempts, back to nurture")
                else:
                    self.move(lead, path, "recycled", now, "demo: not ready, returned to nurture")
                now = _after(now, dt.timedelta(days=rnd.uniform(30, 150)))
                continue
            self.move(lead, path, "sal", now, "demo: accepted by sales")
            now = self.rep_time(path, now + dt.timedelta(days=rnd.expovariate(1 / 6), hours=1))
            if now >= self.end_at:
                return path
            if rnd.random() >= _sigmoid(SQL_BASE + 0.8 * lead.q + path.owner[4]):
                if lead.student or rnd.random() < 0.4:
                    self.move(lead, path, "disqualified", now, "demo: disqualified after discovery")
                else:
                    self.move(lead, path, "recycled", now, "demo: no project after discovery")
                return path
            self.move(lead, path, "sql", now, "demo: qualified in discovery")
            now = self.rep_time(path, now + dt.timedelta(days=rnd.expovariate(1 / 8), hours=1))
            if now >= self.end_at:
                return path
            if rnd.random() >= _sigmoid(OPPORTUNITY_BASE + 0.6 * lead.q):
                self.move(lead, path, "recycled", now, "demo: no opportunity yet, returned to nurture")
                return path
            path.deal_at = now
            return path
        return path

    def deal(self, lead: _Lead, path: _Path) -> DealRow:
        rnd = self.rnd
        assert path.deal_at is not None
        created = path.deal_at
        _, _, _, median_amount, median_cycle = SIZE_BANDS[lead.size]
        amount_cents = round(median_amount * math.exp(rnd.gauss(0, 0.45)) / 50.0) * 5000
        cycle = min(max(median_cycle * math.exp(rnd.gauss(0, 0.35)), 14.0), 108.0)
        closed = self.rep_time(path, created + dt.timedelta(days=cycle))
        deal_id = f"D-{len(self.deals) + 1:05d}"
        if closed >= self.end_at:
            row = DealRow(deal_id, lead.email, amount_cents, "open", created, None, "")
        else:
            skill = path.owner[4] if path.owner else 0.0
            won = rnd.random() < _sigmoid(
                WIN_BASE + 0.5 * lead.q + skill + CHANNEL_WIN_EDGE.get(lead.channel, 0.0)
            )
            reason = "" if won else self.lost_reason(lead)
            row = DealRow(
                deal_id, lead.email, amount_cents, "won" if won else "lost", created, closed, reason
            )
            back = self.rep_time(path, closed + dt.timedelta(days=rnd.uniform(7, 30)))
            if not won and rnd.random() < 0.4 and back < self.end_at:
                self.late_moves.append(
                    StageMove(lead.email, "recycled", back, "demo: lost deal returned to nurture")
                )
        self.deals.append(row)
        return row

    def lost_reason(self, lead: _Lead) -> str:
        weights = dict(LOST_REASONS)
        if lead.size in ("1-10", "11-50"):
            weights["No budget"] *= 2.2
            weights["Price too high"] *= 1.5
        if lead.size in ("1001-5000", "5001+"):
            weights["Security or compliance concerns"] *= 3.5
            weights["No decision / went dark"] *= 1.6
            weights["Too complex to implement"] *= 1.5
        if lead.channel in ("paid_search", "organic_search"):
            weights["Chose a competitor"] *= 1.4  # comparison shoppers
        return _pick(self.rnd, weights)

    def journey(self, lead: _Lead, path: _Path, deal: DealRow | None) -> None:
        """Touchpoints: more the further a person goes; the touch before MQL is often a demo request."""
        rnd = self.rnd
        convert_at = path.times.get("mql")
        if deal is not None:
            count, horizon = rnd.randint(5, 12), deal.created_at
        elif "sal" in path.times:
            count, horizon = (
                rnd.randint(3, 8),
                path.times.get("sql", path.times["sal"]) + dt.timedelta(days=10),
            )
        elif convert_at is not None:
            count, horizon = rnd.randint(2, 6), convert_at + dt.timedelta(days=20)
        else:
            count, horizon = rnd.randint(1, 4), lead.created + dt.timedelta(days=rnd.expovariate(1 / 40))
        horizon = min(horizon, self.end_at - dt.timedelta(minutes=1))
        self.touchpoints.append(
            TouchpointRow(
                lead.email,
                lead.created,
                lead.channel,
                lead.campaign_id,
                CHANNEL_PROFILES[lead.channel].first_kind,
            )
        )
        span = (horizon - lead.created).total_seconds()
        if span > 3600:
            for _ in range(count - 1 - (convert_at is not None)):
                at = lead.created + dt.timedelta(seconds=int(rnd.uniform(600, span)))
                own = rnd.random() < 0.45 and lead.channel not in CAMPAIGNLESS
                channel, campaign_id = self.touch_source(lead.channel if own else _pick(rnd, NURTURE_MIX), at)
                self.touchpoints.append(
                    TouchpointRow(lead.email, at, channel, campaign_id, self.touch_kind(channel))
                )
        if convert_at is not None and convert_at > lead.created + dt.timedelta(minutes=10):
            at = convert_at - dt.timedelta(minutes=rnd.randint(2, 9))
            channel, campaign_id = self.touch_source("direct" if rnd.random() < 0.5 else lead.channel, at)
            converting = rnd.random() < (0.65 if deal is not None else 0.3)
            kind = "demo_request" if converting else "form_submit"
            self.touchpoints.append(TouchpointRow(lead.email, at, channel, campaign_id, kind))
        elif convert_at is None and rnd.random() < 0.03:
            at = lead.created + dt.timedelta(days=rnd.uniform(1, 60))
            if at < self.end_at:
                self.touchpoints.append(TouchpointRow(lead.email, at, "direct", "", "demo_request"))

    def touch_kind(self, channel: str) -> str:
        if channel == "email":
            return "email_open" if self.rnd.random() < 0.5 else "email_click"
        if channel == "content":
            return "content_download" if self.rnd.random() < 0.6 else "page_view"
        if channel in ("organic_search", "direct"):
            return "page_view"
        return CHANNEL_PROFILES[channel].first_kind

    def rep_activities(self, lead: _Lead, path: _Path, deal: DealRow | None) -> bool:
        """A rep's calls, emails and meetings with an owned person; returns whether they ever connected."""
        rnd = self.rnd
        assert path.owner is not None and path.owned_since is not None
        rep = path.owner
        hours = TEAM_HOURS[rep[3]]
        connected = False

        def log(
            after: dt.datetime, kind: str, outcome: str, minutes: int | None, notes: str, deal_id: str
        ) -> None:
            at = _work_time(after + dt.timedelta(hours=rnd.uniform(0.5, 30)), rnd, hours)
            if at < self.end_at:
                self.activities.append(
                    ActivityRow(lead.email, deal_id, rep[0], kind, outcome, at, minutes, notes)
                )

        attempt_at = path.owned_since
        for _ in range(rnd.randint(1, 3)):
            if rnd.random() < 0.6:
                outcome = rnd.choices(("no_answer", "left_voicemail", "connected"), (0.45, 0.3, 0.25))[0]
                minutes = rnd.randint(4, 20) if outcome == "connected" else 1
                log(attempt_at, "call", outcome, minutes, "First contact attempt", "")
                connected |= outcome == "connected"
            else:
                outcome = rnd.choices(("sent", "replied"), (0.75, 0.25))[0]
                log(attempt_at, "email", outcome, None, "Intro email", "")
                connected |= outcome == "replied"
            attempt_at += dt.timedelta(days=rnd.uniform(1, 4))
        if "sal" in path.times:
            outcome = rnd.choices(("held", "no_show", "rescheduled"), (0.8, 0.1, 0.1))[0]
            log(
                path.times["sal"],
                "meeting",
                outcome,
                rnd.choice((30, 45)),
                "Discovery: current process, team, tools",
                "",
            )
            connected = True
        if deal is not None:
            span = max(((deal.closed_at or self.end_at) - deal.created_at).total_seconds(), 3600.0)
            steps = rnd.randint(3, 10)
            for i in range(steps):
                at = deal.created_at + dt.timedelta(seconds=span * (i + rnd.random()) / (steps + 1))
                kind = rnd.choices(("meeting", "call", "email"), (0.35, 0.3, 0.35))[0]
                if kind == "meeting":
                    outcome = rnd.choices(("held", "no_show", "rescheduled"), (0.85, 0.05, 0.1))[0]
                    log(at, kind, outcome, rnd.choice((30, 45, 60)), rnd.choice(DEAL_MEETINGS), deal.deal_id)
                elif kind == "call":
                    outcome = rnd.choices(("connected", "no_answer", "left_voicemail"), (0.6, 0.25, 0.15))[0]
                    log(at, kind, outcome, rnd.randint(5, 40), "Follow-up call", deal.deal_id)
                else:
                    outcome = rnd.choices(("sent", "replied"), (0.6, 0.4))[0]
                    log(at, kind, outcome, None, rnd.choice(DEAL_EMAILS), deal.deal_id)
        return connected

    def ask(self, lead: _Lead, path: _Path, deal: DealRow | None, count: int) -> None:
        """Questions the person asked the rep between acceptance and the deal's end."""
        rnd = self.rnd
        weights = dict(THEME_WEIGHTS)
        if lead.size in ("1-10", "11-50"):
            for theme, factor in (("pricing", 1.8), ("support", 1.5), ("implementation", 1.3)):
                weights[theme] *= factor
        if lead.size in ("1001-5000", "5001+"):
            for theme in ("security", "scalability", "migration", "contract"):
                weights[theme] *= 2.2
        for theme in PERSONA_THEMES.get(lead.persona, ()):
            weights[theme] *= 1.8
        if deal is not None and deal.lost_reason in LOST_REASON_THEME:
            weights[LOST_REASON_THEME[deal.lost_reason]] *= 3.0
        since = path.times["sal"]
        until = (deal.closed_at or self.end_at) if deal is not None else since + dt.timedelta(days=45)
        span = max((until - since).total_seconds(), 3600.0)
        # A new regulation makes security come up more and more in the last months.
        security_rise = self.end_at - dt.timedelta(days=180)
        for _ in range(count):
            at = since + dt.timedelta(seconds=int(rnd.uniform(0, span)))
            if at >= self.end_at:
                continue
            w = dict(weights)
            if at >= security_rise:
                w["security"] *= 2.0
            theme = _pick(rnd, w)
            self.questions.append(QuestionRow(lead.email, at, question_text(rnd, theme), theme))

    # -- the whole company ----------------------------------------------------------------------------------

    def person(
        self, *, day_index: int, channel: str, company: _Company, noise: float
    ) -> tuple[_Lead, PersonRow]:
        """Who a new person is: name, email, title, firmographics and lead quality."""
        rnd = self.rnd
        day = self.start + dt.timedelta(days=day_index)
        territory = COUNTRIES[company.country][2]
        created = _at(day, rnd, TERRITORY_HOURS[territory])
        campaign = None if channel in CAMPAIGNLESS else self.campaign_on(channel, day_index)
        first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
        student = rnd.random() < STUDENT_SHARE[channel]
        if student:
            seniority, function, title = "student", "", rnd.choice(STUDENT_TITLES)
            company_name, industry, size, domain = "", "", "", rnd.choice(FREE_MAIL)
        else:
            if company.size == "1-10" and rnd.random() < 0.3:
                seniority = "c-level"  # founders answer the small companies' forms
            else:
                seniority = rnd.choices(self.seniorities, self.seniority_p)[0]
            function = _pick(rnd, FUNCTIONS)
            title = rnd.choice(
                C_LEVEL_TITLES[function] if seniority == "c-level" else TITLES[(seniority, function)]
            )
            company_name, industry, size = company.name, company.industry, company.size
            domain = rnd.choice(FREE_MAIL) if rnd.random() < 0.07 else company.domain
        local = f"{_ascii(first)}.{_ascii(last)}"
        seen = self.emails.get(f"{local}@{domain}", 0) + 1
        self.emails[f"{local}@{domain}"] = seen
        email = f"{local}@{domain}" if seen == 1 else f"{local}{seen}@{domain}"

        # Lead quality: the log-odds every funnel step gets from who the person is and where they came from.
        q = CHANNEL_PROFILES[channel].quality + noise + COUNTRIES[company.country][1]
        if student:
            q += STUDENT_QUALITY
        else:
            q += SENIORITIES[seniority][1] + SIZE_BANDS[size][1] + INDUSTRIES[industry][1]
            if seniority == "vp / head" and size in SWEET_SPOT_SIZES and industry in SWEET_SPOT_INDUSTRIES:
                q += 0.6
        shift_first, shift_last = shift_window(end=self.end)
        if channel == "paid_social" and shift_first <= day <= shift_last:
            q += SHIFT_QUALITY
        persona = _persona(seniority, function)
        lead = _Lead(
            email,
            created,
            channel,
            campaign.campaign_id if campaign else "",
            territory,
            size or "11-50",
            persona,
            student,
            q,
        )
        phone = _fmt_phone(rnd, COUNTRIES[company.country][3]) if not student and rnd.random() < 0.6 else ""
        row = PersonRow(
            email=email, first_name=first, last_name=last, company=company_name, industry=industry,
            company_size=size, country=company.country, job_title=title, created_at=created,
            seniority=seniority, persona=persona, phone=phone, consent_email=rnd.random() < 0.72,
            channel=channel, campaign_id=lead.campaign_id, territory=territory, owner="", lead_status="new",
        )  # fmt: skip
        return lead, row

    def build(self) -> DemoCompany:
        rng, rnd = self.rng, self.rnd
        arrivals = self.arrivals()
        companies = _make_companies(rng, rnd, max(40, self.n // 3))
        # Bigger companies have more people who find us.
        company_weight = np.array([SIZE_BANDS[c.size][2] for c in companies])
        company_of = rng.choice(len(companies), size=self.n, p=company_weight / company_weight.sum())
        noise = rng.normal(0.0, 0.6, size=self.n)
        people: list[PersonRow] = []
        campaign_leads: dict[str, int] = {}
        for i, (day_index, channel) in enumerate(arrivals):
            lead, row = self.person(
                day_index=day_index,
                channel=channel,
                company=companies[int(company_of[i])],
                noise=float(noise[i]),
            )
            if lead.campaign_id:
                campaign_leads[lead.campaign_id] = campaign_leads.get(lead.campaign_id, 0) + 1
            path = self.funnel(lead)
            deal = self.deal(lead, path) if path.deal_at is not None else None
            self.journey(lead, path, deal)
            connected = self.rep_activities(lead, path, deal) if path.owner is not None else False
            if "sal" in path.times:
                self.ask(
                    lead, path, deal, int(rng.poisson(QUESTIONS_PER_DEAL if deal else QUESTIONS_PER_SAL))
                )
            final = path.stages[-1]
            if deal is not None:
                final = "customer" if deal.stage == "won" else "opportunity"
            statuses = {"mql": "connected" if connected else "attempting", "recycled": "nurturing"}
            status = {**statuses, "disqualified": "unqualified"}.get(
                final, "connected" if path.owner else "new"
            )
            people.append(replace(row, owner=path.owner[0] if path.owner else "", lead_status=status))

        campaigns = []
        for c in self.campaigns:
            profile = CHANNEL_PROFILES[c.channel]
            cpl = profile.cost_per_lead * c.cost_per_lead_factor
            spend = (
                campaign_leads.get(c.campaign_id, 0) * cpl + profile.fixed_cost * self.scale * c.fixed_share
            )
            cost = spend * math.exp(float(rng.normal(0, 0.12)))
            campaigns.append(
                CampaignRow(c.campaign_id, c.name, c.channel, c.started_on, c.ended_on, round(cost * 100))
            )
        self.touchpoints.sort(key=lambda t: (t.occurred_at, t.email, t.kind))
        self.questions.sort(key=lambda q: (q.asked_at, q.email))
        self.activities.sort(key=lambda a: (a.occurred_at, a.email))
        return DemoCompany(
            seed=self.seed,
            end=self.end,
            campaigns=campaigns,
            people=people,
            touchpoints=self.touchpoints,
            deals=self.deals,
            questions=self.questions,
            stage_moves=self.stage_moves,
            late_stage_moves=self.late_moves,
            activities=self.activities,
        )


def question_text(rnd: random.Random, theme: str) -> str:
    """One way a prospect might put a question of this theme."""
    text = rnd.choice(QUESTION_TEMPLATES[theme])
    if rnd.random() < 0.15:
        other = rnd.choice([t for t in QUESTION_TEMPLATES if t != theme])
        text = f"{text[:-1]}, {rnd.choice(THEME_CLAUSES[other])}{text[-1]}"
    if rnd.random() < 0.25:
        if text[0].isupper() and text[1].islower() and not text.startswith("{"):
            text = text[0].lower() + text[1:]
        text = rnd.choice(QUESTION_PREFIXES) + text
    if rnd.random() < 0.2:
        text += rnd.choice(QUESTION_SUFFIXES)
    for slot, values in QUESTION_SLOTS.items():
        token = "{" + slot + "}"
        while token in text:
            text = text.replace(token, rnd.choice(values), 1)
    return text


def generate_company(*, people: int = DEFAULT_PEOPLE, seed: int = 7, end: dt.date) -> DemoCompany:
    """Generate the demo company: two years before `end`, deterministic for one seed and end date."""
    if people < 1:
        raise ValidationFailed(f"people must be at least 1, got {people}", field="people", value=people)
    return _Builder(people=people, seed=seed, end=end).build()


# -----------------------------------------------------------------------------------------------------------
# The interchange bundle
# -----------------------------------------------------------------------------------------------------------


def _ts(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


# What a campaign's monthly invoice pays for, by channel.
INVOICE_FOR = {
    "paid_search": "Search ads", "paid_social": "Social ads", "display": "Display ads", "email": "Email platform and sends",
    "webinar": "Webinar platform and promotion", "events": "Event costs", "content": "Content production",
    "partner": "Partner fees", "referral": "Referral rewards", "organic_search": "SEO agency",
}


def campaign_invoices(campaign: CampaignRow) -> list[tuple[dt.date, dt.date | None, int, str]]:
    """A campaign's cost as one invoice per calendar month it ran: (first day, last day or None for one day,
    cents, note). Each month carries its days' share of the cost, the cents summing to the cost exactly, so
    that spend per day is the same as the cost spread evenly over the campaign's days."""
    days = (campaign.ended_on - campaign.started_on).days + 1
    out = []
    first, covered, billed = campaign.started_on, 0, 0
    while first <= campaign.ended_on:
        month_end = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        last = min(month_end, campaign.ended_on)
        covered += (last - first).days + 1
        cents = campaign.cost_cents * covered // days - billed
        billed += cents
        what = INVOICE_FOR.get(campaign.channel, "Campaign costs")
        out.append((first, last if last > first else None, cents, f"{what}, {first:%B %Y}"))
        first = last + dt.timedelta(days=1)
    return out


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csvsafe.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_bundle(company: DemoCompany, directory: Path, *, files: Sequence[str] = BUNDLE_FILES) -> list[Path]:
    """Write the company as an interchange bundle (CSV files) into `directory`; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    # The standard columns come from the importer's own definition; extra columns become custom fields.
    rows: dict[str, tuple[tuple[str, ...], Iterable[Sequence[str]]]] = {
        CAMPAIGNS: (
            COLUMNS[CAMPAIGNS],
            (
                (
                    c.campaign_id,
                    c.name,
                    c.channel,
                    c.started_on.isoformat(),
                    c.ended_on.isoformat(),
                    _money(c.cost_cents),
                )
                for c in company.campaigns
            ),
        ),
        CAMPAIGN_COSTS: (
            COLUMNS[CAMPAIGN_COSTS],
            (
                (c.campaign_id, first.isoformat(), last.isoformat() if last else "", _money(cents), note)
                for c in company.campaigns
                for first, last, cents, note in campaign_invoices(c)
            ),
        ),
        PEOPLE: (
            (*COLUMNS[PEOPLE], "persona", "seniority"),
            (
                (
                    p.email,
                    p.first_name,
                    p.last_name,
                    p.company,
                    p.industry,
                    p.company_size,
                    p.country,
                    p.job_title,
                    _ts(p.created_at),
                    p.persona,
                    p.seniority,
                )
                for p in company.people
            ),
        ),
        TOUCHPOINTS: (
            COLUMNS[TOUCHPOINTS],
            ((t.email, _ts(t.occurred_at), t.channel, t.campaign_id, t.kind) for t in company.touchpoints),
        ),
        DEALS: (
            COLUMNS[DEALS],
            (
                (
                    d.deal_id,
                    d.email,
                    _money(d.amount_cents),
                    d.stage,
                    _ts(d.created_at),
                    _ts(d.closed_at),
                    d.lost_reason,
                )
                for d in company.deals
            ),
        ),
        QUESTIONS: (
            (*COLUMNS[QUESTIONS], "theme"),
            ((q.email, _ts(q.asked_at), q.text, q.theme) for q in company.questions),
        ),
    }
    written = []
    for name in files:
        header, cells = rows[name]
        _write(directory / name, header, cells)
        written.append(directory / name)
    return written
