"""The mappings Tandem ships: HubSpot and Salesforce exports (people and activities), X Education's leads, Olist's
funnel and Maven's sales pipeline (as leads with outcomes).

They are data: `--mapping NAME` uses a saved ImportMapping of that name when there is one, else the
preset here. `preset_detect` recognises a file by its header signature (its distinctive headers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tandem.capture.csvimport.mapping import CUSTOM, Mapping, header_normalize


def _custom(*headers_and_keys: tuple[str, str]) -> dict[str, str]:
    return {header: CUSTOM + key for header, key in headers_and_keys}


X_EDUCATION_CHANNELS = {
    "Google": "paid_search",
    "bing": "paid_search",
    "Pay per Click Ads": "paid_search",
    "Direct Traffic": "direct",
    "Olark Chat": "direct",
    "Live Chat": "direct",
    "Organic Search": "organic_search",
    "Reference": "referral",
    "Referral Sites": "referral",
    "Welingak Website": "partner",
    "WeLearn": "partner",
    "welearnblog_Home": "partner",
    "Facebook": "paid_social",
    "Social Media": "organic_social",
    "youtubechannel": "organic_social",
    "blog": "content",
    "Press_Release": "content",
    "NC_EDM": "email",
    "Click2call": "outbound",
}

X_EDUCATION_KINDS = {
    "Landing Page Submission": "form_submit",
    "Lead Add Form": "form_submit",
    "Quick Add Form": "other",
    "API": "other",
    "Lead Import": "other",
}

X_EDUCATION: dict[str, Any] = {
    "name": "x-education",
    "kind": "people",
    "description": "X Education's Leads.csv (9,240 leads keyed by Prospect ID, no emails; Converted is the outcome)",
    "columns": {
        "Prospect ID": "external_id",
        "Lead Origin": "touchpoint_kind",
        "Lead Source": "original_channel",
        "Country": "country",
        # The one profile field Tandem has for what a lead does: scoring and the segments read it.
        "What is your current occupation": "job_title",
        # A won deal and the stage machine's customer (outcomes.py), not a custom field.
        "Converted": "converted",
        **_custom(
            ("Lead Number", "lead_number"),
            ("Do Not Email", "do_not_email"),
            ("Do Not Call", "do_not_call"),
            ("TotalVisits", "total_visits"),
            ("Total Time Spent on Website", "time_on_website"),
            ("Page Views Per Visit", "page_views_per_visit"),
            ("Last Activity", "last_activity"),
            ("Specialization", "specialization"),
            ("How did you hear about X Education", "heard_about_us"),
            ("What matters most to you in choosing a course", "course_motive"),
            ("Search", "saw_ad_search"),
            ("Magazine", "saw_ad_magazine"),
            ("Newspaper Article", "saw_ad_newspaper_article"),
            ("X Education Forums", "saw_ad_forums"),
            ("Newspaper", "saw_ad_newspaper"),
            ("Digital Advertisement", "saw_ad_digital"),
            ("Through Recommendations", "through_recommendations"),
            ("Receive More Updates About Our Courses", "wants_course_updates"),
            ("Update me on Supply Chain Content", "wants_supply_chain_content"),
            ("Get updates on DM Content", "wants_dm_content"),
            ("I agree to pay the amount through cheque", "pays_by_cheque"),
            ("Tags", "tags"),
            ("Lead Quality", "lead_quality"),
            ("Lead Profile", "lead_profile"),
            ("City", "city"),
            # Filled in by sales after the follow-up (SOURCE.md): kept under the names scoring's leakage denylist
            # knows, so they are never features.
            ("Asymmetrique Activity Index", "asymmetrique_activity_index"),
            ("Asymmetrique Profile Index", "asymmetrique_profile_index"),
            ("Asymmetrique Activity Score", "asymmetrique_activity_score"),
            ("Asymmetrique Profile Score", "asymmetrique_profile_score"),
            ("A free copy of Mastering The Interview", "free_book"),
            ("Last Notable Activity", "last_notable_activity"),
        ),
    },
    "options": {
        "external_id_system": "x_education",
        "empty": ["Select"],
        "values": {"original_channel": X_EDUCATION_CHANNELS, "touchpoint_kind": X_EDUCATION_KINDS},
        "keep_raw": True,
        # The file has no dates. Lead numbers are given in arrival order, so they date the leads across two years
        # (an assumption: change it in your own mapping file); a converted lead is taken as won 30 days later.
        # Without dates a score cannot be trained forward in time (docs/bring-your-own-data.md).
        "created_at_from_order": {"column": "Lead Number", "from": "2018-01-01", "to": "2019-12-31"},
        "outcomes": {"won_after_days": 30},
    },
}

OLIST_CHANNELS = {
    "direct_traffic": "direct",
    "social": "organic_social",
    "other_publicities": "display",
    "unknown": "other",
}

OLIST_MQL: dict[str, Any] = {
    "name": "olist-mql",
    "kind": "people",
    "description": "Olist's marketing qualified leads (8,000 MQLs keyed by mql_id)",
    "columns": {
        "mql_id": "external_id",
        "first_contact_date": "created_at",
        "landing_page_id": CUSTOM + "landing_page_id",
        "origin": "original_channel",
    },
    "options": {
        "external_id_system": "olist_mql",
        "values": {"original_channel": OLIST_CHANNELS},
        "defaults": {"touchpoint_kind": "form_submit"},
        "keep_raw": True,
        "stage": "mql",
    },
}

OLIST_DEALS: dict[str, Any] = {
    "name": "olist-deals",
    "kind": "deals",
    "description": "Olist's closed deals (842 won deals, joined to the MQLs by mql_id)",
    "columns": {
        "mql_id": "external_id",
        "seller_id": "deal_id",
        "won_date": "closed_at",
        **_custom(
            ("sdr_id", "sdr_id"),
            ("sr_id", "sr_id"),
            ("business_segment", "business_segment"),
            ("lead_type", "lead_type"),
            ("lead_behaviour_profile", "lead_behaviour_profile"),
            ("has_company", "has_company"),
            ("has_gtin", "has_gtin"),
            ("average_stock", "average_stock"),
            ("business_type", "business_type"),
            ("declared_product_catalog_size", "declared_product_catalog_size"),
            ("declared_monthly_revenue", "declared_monthly_revenue"),
        ),
    },
    "options": {
        "external_id_system": "olist_mql",
        "defaults": {"stage": "won"},
        "deal_id_prefix": "olist-",
    },
}

# Maven's sales_pipeline.csv read as a flat lead export: one (unnamed) buying contact per opportunity, at its
# account, with the opportunity's outcome. Its deals carry `tandem import maven`'s ids (`maven-<opportunity_id>`),
# so running both gives one deal per opportunity, the contact attached to it.
MAVEN_PIPELINE: dict[str, Any] = {
    "name": "maven-pipeline",
    "kind": "people",
    "description": "Maven's sales_pipeline.csv as leads: one contact per opportunity, deal_stage as the outcome",
    "columns": {
        "opportunity_id": "external_id",
        "account": "company",
        "engage_date": "created_at",
        "deal_stage": "outcome",
        "close_date": "won_at",
        "close_value": "amount",
        "sales_agent": CUSTOM + "sales_agent",
        "product": CUSTOM + "product",
    },
    "options": {
        "external_id_system": "maven_opportunity",
        "values": {"outcome": {"Won": "won", "Lost": "lost", "Prospecting": "open", "Engaging": "open"}},
        "outcomes": {"deal_id_prefix": "maven-"},
    },
}

HUBSPOT: dict[str, Any] = {
    "name": "hubspot",
    "kind": "people",
    "description": "HubSpot contacts export",
    "columns": {
        "Record ID": "external_id",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone Number": "phone",
        "Company Name": "company",
        "Job Title": "job_title",
        "Country/Region": "country",
        "Industry": "industry",
        "Create Date": "created_at",
        "Original Source": "original_channel",
        "Lifecycle Stage": CUSTOM + "hubspot_lifecycle_stage",
        "Lead Status": CUSTOM + "hubspot_lead_status",
    },
    "options": {
        "external_id_system": "hubspot",
        "values": {
            "original_channel": {
                "Organic Search": "organic_search",
                "Paid Search": "paid_search",
                "Paid Social": "paid_social",
                "Organic Social": "organic_social",
                "Social Media": "organic_social",
                "Email Marketing": "email",
                "Referrals": "referral",
                "Direct Traffic": "direct",
                "Offline Sources": "events",
                "Other Campaigns": "other",
                "AI Referrals": "referral",
            }
        },
        "keep_raw": True,
    },
}

SALESFORCE: dict[str, Any] = {
    "name": "salesforce",
    "kind": "people",
    "description": "Salesforce leads report export",
    "columns": {
        "Lead ID": "external_id",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone": "phone",
        "Company": "company",
        "Title": "job_title",
        "Industry": "industry",
        "Country": "country",
        "Created Date": "created_at",
        "Lead Source": "original_channel",
        "Lead Status": CUSTOM + "salesforce_lead_status",
    },
    "options": {
        "external_id_system": "salesforce",
        "values": {
            "original_channel": {
                "Web": "direct",
                "Website": "direct",
                "Phone Inquiry": "other",
                "Partner Referral": "partner",
                "Partner": "partner",
                "Purchased List": "outbound",
                "Employee Referral": "referral",
                "External Referral": "referral",
                "Word of mouth": "referral",
                "Advertisement": "display",
                "Trade Show": "events",
                "Seminar - Internal": "events",
                "Seminar - Partner": "events",
                "Public Relations": "content",
                "Other": "other",
            }
        },
        "keep_raw": True,
    },
}

# ---- activities: HubSpot's calls, e-mails and meetings exports; Salesforce's task and event exports ----
# A preset may list two spellings of one field (say "Activity date" and "Meeting start time"): the first the
# file has feeds it (mapping_for_headers). People are found by the email in "Associated Contact" /
# "Contact email" / "Email", else by the contact's id as the HubSpot or Salesforce people presets stored it.
# Activities keep no custom fields, so the exports' other columns (call status, task status…) are left out.

_HUBSPOT_PEOPLE = {
    "Associated Contact": "email",
    "Contact email": "email",
    "Associated Contact IDs": "external_id",
    "Activity assigned to": "user",
}

HUBSPOT_CALLS: dict[str, Any] = {
    "name": "hubspot-calls",
    "kind": "activities",
    "description": "HubSpot calls export (Record ID, Activity date, Call outcome, Call duration (HH:mm:ss)…)",
    "columns": {
        "Record ID": "activity_id",
        "Activity date": "occurred_at",
        "Call Title": "subject",
        "Call notes": "notes",
        "Call direction": "direction",
        "Call outcome": "outcome",
        "Call duration (HH:mm:ss)": "duration",
        **_HUBSPOT_PEOPLE,
    },
    "options": {
        "external_id_system": "hubspot",
        "activity_id_prefix": "hubspot-",
        "defaults": {"kind": "call"},
    },
}

HUBSPOT_EMAILS: dict[str, Any] = {
    "name": "hubspot-emails",
    "kind": "activities",
    "description": "HubSpot e-mails export (Record ID, Activity date, Email subject, Email direction…)",
    "columns": {
        "Record ID": "activity_id",
        "Activity date": "occurred_at",
        "Email subject": "subject",
        "Email body": "notes",
        "Email direction": "direction",
        "Email send status": "outcome",
        **_HUBSPOT_PEOPLE,
    },
    "options": {
        "external_id_system": "hubspot",
        "activity_id_prefix": "hubspot-",
        "defaults": {"kind": "email"},
        "values": {
            "direction": {
                "Email": "outbound",
                "Sent by owner": "outbound",
                "Forwarded email": "outbound",
                "Forwarded_email": "outbound",
                "Incoming email": "inbound",
                "Incoming_email": "inbound",
                "Received": "inbound",
            }
        },
    },
}

HUBSPOT_MEETINGS: dict[str, Any] = {
    "name": "hubspot-meetings",
    "kind": "activities",
    "description": "HubSpot meetings export (Record ID, Meeting start time, Meeting end time, Meeting outcome…)",
    "columns": {
        "Record ID": "activity_id",
        "Meeting start time": "occurred_at",
        "Activity date": "occurred_at",
        "Meeting end time": "ended_at",
        "Meeting name": "subject",
        "Meeting description": "notes",
        "Meeting outcome": "outcome",
        **_HUBSPOT_PEOPLE,
    },
    "options": {
        "external_id_system": "hubspot",
        "activity_id_prefix": "hubspot-",
        "defaults": {"kind": "meeting"},
    },
}

_SALESFORCE_PEOPLE = {
    "Email": "email",
    "Lead ID": "external_id",
    "Contact ID": "external_id",
    "Assigned": "user",
    "Assigned To": "user",
}

SALESFORCE_TASKS: dict[str, Any] = {
    "name": "salesforce-tasks",
    "kind": "activities",
    "description": "Salesforce tasks export: calls and e-mails (Subject, Type, Activity Date, Call Result…)",
    "columns": {
        "Activity ID": "activity_id",
        "Task ID": "activity_id",
        "Subject": "subject",
        "Task Subtype": "kind",
        "Type": "kind",
        "Activity Date": "occurred_at",
        "Due Date": "occurred_at",
        "Call Result": "outcome",
        "Call Duration in Seconds": "duration",
        "Call Duration": "duration",
        "Call Type": "direction",
        "Comments": "notes",
        "Description": "notes",
        **_SALESFORCE_PEOPLE,
    },
    "options": {
        "external_id_system": "salesforce",
        "activity_id_prefix": "salesforce-",
        # Salesforce keeps call durations in seconds, whatever the column is called.
        "duration_unit": "seconds",
        # A task without a type is a note: it is kept, but the SLA does not count it as a touch.
        "defaults": {"kind": "note"},
        "values": {
            "kind": {
                "Call": "call",
                "Email": "email",
                "List Email": "email",
                "ListEmail": "email",
                "Send Letter": "note",
                "Send Quote": "note",
                "Meeting": "meeting",
                "Task": "note",
                "Cadence": "note",
                "LinkedIn": "note",
                "Other": "note",
                "To Do": "note",
            }
        },
    },
}

SALESFORCE_EVENTS: dict[str, Any] = {
    "name": "salesforce-events",
    "kind": "activities",
    "description": "Salesforce events export: meetings (Subject, Start, End, Duration…)",
    "columns": {
        "Activity ID": "activity_id",
        "Event ID": "activity_id",
        "Subject": "subject",
        "Start": "occurred_at",
        "Start Date Time": "occurred_at",
        "End": "ended_at",
        "End Date Time": "ended_at",
        "Duration": "duration",
        "Description": "notes",
        "Comments": "notes",
        **_SALESFORCE_PEOPLE,
    },
    "options": {
        "external_id_system": "salesforce",
        "activity_id_prefix": "salesforce-",
        "duration_unit": "minutes",
        "defaults": {"kind": "meeting"},
    },
}

PRESETS: dict[str, dict[str, Any]] = {
    p["name"]: p
    for p in (
        X_EDUCATION,
        OLIST_MQL,
        OLIST_DEALS,
        MAVEN_PIPELINE,
        HUBSPOT,
        SALESFORCE,
        HUBSPOT_CALLS,
        HUBSPOT_EMAILS,
        HUBSPOT_MEETINGS,
        SALESFORCE_TASKS,
        SALESFORCE_EVENTS,
    )
}

# Headers that together identify a file (normalised), most specific first.
SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("x-education", frozenset({"prospect id", "lead number", "lead origin", "lead source", "converted"})),
    ("olist-deals", frozenset({"mql id", "seller id", "sdr id", "sr id", "won date"})),
    ("olist-mql", frozenset({"mql id", "first contact date", "landing page id", "origin"})),
    (
        "maven-pipeline",
        frozenset({"opportunity id", "sales agent", "deal stage", "engage date", "close value"}),
    ),
    ("hubspot", frozenset({"record id", "first name", "last name", "email", "create date"})),
    ("salesforce", frozenset({"lead id", "first name", "last name", "email", "company", "created date"})),
    ("hubspot-calls", frozenset({"record id", "activity date", "call outcome"})),
    ("hubspot-emails", frozenset({"record id", "activity date", "email subject"})),
    ("hubspot-meetings", frozenset({"record id", "meeting name", "meeting outcome"})),
    ("salesforce-events", frozenset({"subject", "start", "end"})),
    ("salesforce-tasks", frozenset({"subject", "activity date", "type"})),
)


def preset_get(name: str) -> Mapping | None:
    data = PRESETS.get(name)
    return Mapping.from_dict(data) if data is not None else None


def preset_detect(*, headers: Sequence[str], kind: str | None = None) -> Mapping | None:
    """The shipped mapping whose signature headers the file all has (of this kind when given), or None.
    The preset is narrowed to the headers present, so an export with fewer columns still maps."""
    present = {header_normalize(h) for h in headers}
    for name, signature in SIGNATURES:
        preset = preset_get(name)
        assert preset is not None
        if signature <= present and (kind is None or preset.kind == kind):
            return mapping_for_headers(mapping=preset, headers=headers)
    return None


def mapping_for_headers(*, mapping: Mapping, headers: Sequence[str]) -> Mapping:
    """The mapping with its columns matched to the file's headers by their normalised spelling, and the
    columns the file does not have left out."""
    by_norm = {header_normalize(h): h for h in headers}
    columns: dict[str, str] = {}
    fed: set[str] = set()
    for header, target in mapping.columns.items():
        actual = header if header in headers else by_norm.get(header_normalize(header))
        # A field a mapping lists under two spellings is fed by the first one the file has.
        if actual is not None and not (target in fed and not target.startswith(CUSTOM)):
            columns[actual] = target
            fed.add(target)
    return Mapping(
        name=mapping.name,
        kind=mapping.kind,
        columns=columns,
        options=dict(mapping.options),
        description=mapping.description,
    )
