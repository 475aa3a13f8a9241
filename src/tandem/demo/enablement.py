"""The demo company's enablement: products, personas that match its people, a content library and its use.

Deterministic (seeded) and fast: a handful of service calls for the catalogue, then content uses and the
matching touchpoints in bulk. Assets are linked to the mined themes when theme mining ran before (matched by
the words of each theme's label and terms); five of the demo's ten themes are left without an asset so the
content-gaps page has something to say.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.core.events import event_record
from tandem.crm.models import Deal
from tandem.enablement import files
from tandem.enablement.models import Asset, ContentUse, Persona
from tandem.enablement.services import (
    SEND_CHANNEL,
    asset_create,
    objection_add,
    persona_create,
    product_create,
)
from tandem.feedback.models import Theme

DEMO_RULE = "demo"
# Share of deals on which a rep used (or sent) content, and the extra chance a use helps on a deal that was won.
USE_SHARE = 0.35
SEND_SHARE = 0.3

PRODUCTS = {
    "Tandem Routing": ("Lead routing and the hand-off SLA.", "Route every MQL to the right rep in seconds\nCount down the SLA and escalate breaches\nRecycle rejected leads with a reason"),
    "Tandem Attribution": ("Closed-loop attribution and honest reports.", "Credit campaigns with won revenue, nine models side by side\nFunnel conversion with intervals\nSpot real shifts with control charts"),
    "Tandem Enablement": ("What sales hears, and what marketing answers with.", "Group questions into themes\nA content library reps actually use\nPersonas with talking points on every person page"),
}


def _field_in(values: list[str]) -> dict[str, Any]:
    return {"type": "field_in", "field": "persona", "values": values}


def _titles(words: list[str]) -> dict[str, Any]:
    return {"type": "title_keywords", "keywords": words}


# name: (priority, rules, products, summary, pains, values, proof, [(objection, answer)])
PERSONAS: dict[str, tuple[int, dict[str, Any], list[str], str, str, str, str, list[tuple[str, str]]]] = {
    "Technical evaluator": (
        10, {"any": [_field_in(["Technical evaluator"]), _titles(["CTO", "CIO", "IT", "Engineering", "Data"])]},
        ["Tandem Routing"], "Checks that it fits the stack and is safe.",
        "Another tool to integrate and maintain\nSecurity reviews that drag on\nData scattered over three systems",
        "Self-hosted: your data stays in your database\nREST API and CSV bundles for every object\nSQLite or PostgreSQL, nothing else to run",
        "Runs on one small server for 1 M people\nEvery endpoint documented at /api/docs",
        [("Is it secure enough for our review?", "It runs on your servers; we share the security whitepaper and answer the questionnaire."),
         ("How hard is the Salesforce integration?", "Import through the Salesforce mapping, then sync both ways; most teams finish in a week.")],
    ),
    "RevOps": (
        20, {"any": [_field_in(["RevOps"]), _titles(["RevOps", "Revenue Operations", "Sales Operations", "CRM Administrator"])]},
        ["Tandem Routing", "Tandem Attribution"], "Owns the funnel definitions, routing and reporting.",
        "Sales and marketing argue about lead quality\nRouting rules live in someone's head\nReports nobody trusts",
        "Versioned MQL/SQL definitions with a dry run\nRouting and SLA you can read and audit\nReports with intervals and sample sizes",
        "A dry run shows what a definition change would have done last quarter\nEvery stage change records the rule version",
        [("We built this in our CRM already.", "Keep the CRM: Tandem imports from it and adds the definitions, SLA and honest reports on top.")],
    ),
    "Economic buyer": (
        30, {"any": [_field_in(["Economic buyer"]), _titles(["CFO", "Finance", "Controller", "Procurement"])]},
        ["Tandem Attribution"], "Signs the budget; wants the payback.",
        "Marketing spend without proof of return\nTool sprawl and overlapping licences",
        "See revenue per campaign, with uncertainty\nOne platform instead of three point tools",
        "Customers typically reallocate 15 % of spend in the first quarter",
        [("The price is too high.", "Compare with the three tools it replaces; the ROI one-pager walks through the numbers."),
         ("We have no budget this year.", "Start with attribution on the data you have; it pays for itself by showing which spend to cut.")],
    ),
    "Executive": (
        40, {"any": [_field_in(["Executive"])]},
        ["Tandem Attribution", "Tandem Enablement"], "Wants one number sales and marketing agree on.",
        "Sales and marketing blame each other\nForecasts that move every week",
        "One funnel, one set of definitions, one scoreboard",
        "Teams agree on MQL within a month of the first definition",
        [("Why not a competitor like FunnelForge?", "Use the competitor comparison card: self-hosting, honest statistics and no per-contact pricing.")],
    ),
    "Marketing leader": (
        50, {"any": [_field_in(["Marketing leader"])]},
        ["Tandem Attribution", "Tandem Enablement"], "Runs demand generation and answers for pipeline.",
        "Can't prove which campaigns drive revenue\nSales ignores the leads marketing sends",
        "Closed-loop attribution to won revenue\nThe SLA makes sales work every MQL",
        "Nine attribution models side by side\nContent gaps show what to produce next",
        [("Our attribution tool already does this.", "Compare the models side by side; ours shows the uncertainty theirs hides.")],
    ),
    "Sales leader": (
        60, {"any": [_field_in(["Sales leader"])]},
        ["Tandem Routing", "Tandem Enablement"], "Runs the team that works the leads.",
        "Reps waste time on bad leads\nNo idea which content helps close",
        "Leads arrive scored and routed with an SLA\nThe library shows which content comes with won deals",
        "Reps see persona talking points on every person page",
        [("My reps won't use another tool.", "They don't have to leave the person page: talking points and content are right there.")],
    ),
    "Marketing practitioner": (
        70, {"any": [_field_in(["Marketing practitioner"])]},
        ["Tandem Enablement"], "Builds the campaigns and the content.",
        "Writing content nobody uses",
        "See which assets reps use and whether they helped",
        "Usage and win rate per asset, with intervals",
        [],
    ),
    "Sales practitioner": (
        80, {"any": [_field_in(["Sales practitioner"])]},
        ["Tandem Routing"], "Works the leads every day.",
        "Hunting for the right deck before a call",
        "The best assets for each person, one click to send",
        "Sending records the touchpoint for you",
        [],
    ),
}

# (title, kind, persona, stage, product, theme key, url or None for a generated file, days to expiry or None)
ASSETS: list[tuple[str, str, str | None, str, str, str | None, str | None, int | None]] = [
    ("Pricing and packaging one-pager", "brochure", "Economic buyer", "sql", "Tandem Attribution", "pricing", None, None),
    ("ROI calculator walkthrough", "video", "Economic buyer", "opportunity", "Tandem Attribution", "roi", "https://example.com/videos/roi-walkthrough", None),
    ("Security and compliance whitepaper", "brochure", "Technical evaluator", "", "Tandem Routing", "security", None, None),
    ("Salesforce and HubSpot integration guide", "blog_post", "Technical evaluator", "", "Tandem Routing", "integrations", "https://example.com/blog/crm-integrations", None),
    ("Battle card: FunnelForge, LeadLoop, PipeRight", "battle_card", None, "opportunity", "Tandem Attribution", "competitors", "https://example.com/battle-cards/competitors", None),
    ("Case study: Northwind cuts lead response to 9 minutes", "case_study", "RevOps", "sql", "Tandem Routing", "roi", "https://example.com/case-studies/northwind", None),
    ("Discovery deck: one funnel for sales and marketing", "deck", None, "mql", "Tandem Attribution", None, "https://example.com/decks/discovery", None),
    ("Attribution models explained", "blog_post", "Marketing leader", "lead", "Tandem Attribution", None, "https://example.com/blog/attribution-models", None),
    ("Demo video: routing and the SLA", "video", "Sales leader", "sal", "Tandem Routing", None, "https://example.com/videos/routing-demo", None),
    ("Case study: Contoso proves campaign ROI", "case_study", "Marketing leader", "opportunity", "Tandem Attribution", "roi", "https://example.com/case-studies/contoso", None),
    ("Executive brief: one scoreboard", "deck", "Executive", "sql", "Tandem Attribution", "competitors", "https://example.com/decks/executive-brief", None),
    ("Content that sells: enablement overview", "brochure", "Sales practitioner", "", "Tandem Enablement", None, "https://example.com/brochures/enablement", None),
    ("Last year's price list", "brochure", "Economic buyer", "", "Tandem Attribution", "pricing", "https://example.com/brochures/price-list-2025", -10),
    ("Spring launch webinar recording", "video", None, "lead", "Tandem Enablement", None, "https://example.com/videos/spring-launch", 20),
]
THEME_WORDS: dict[str, tuple[str, ...]] = {
    "pricing": ("price", "pricing", "cost", "discount", "seat"),
    "integrations": ("integration", "integrate", "salesforce", "hubspot", "sync", "api"),
    "security": ("security", "secure", "soc", "gdpr", "compliance", "iso"),
    "competitors": ("competitor", "compare", "comparison", "funnelforge", "leadloop", "switch"),
    "roi": ("roi", "return", "payback", "value", "prove"),
}


def _theme_ids() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {k: [] for k in THEME_WORDS}
    for pk, label, terms in Theme.objects.filter(retired_at__isnull=True).values_list("id", "label", "terms"):
        words = {w.strip(" ·,").casefold() for w in str(label).replace("·", " ").split()}
        words |= {str(t).casefold() for t in (terms or []) if isinstance(t, str)}
        for key, wanted in THEME_WORDS.items():
            if any(w.startswith(x) or (x.startswith(w) and len(w) >= 4) for w in words for x in wanted):
                found[key].append(pk)
    return found


def _file(title: str, kind: str) -> SimpleUploadedFile:
    if kind == "battle_card":
        text = f"{title}\n\nThey say,We say\nPrice,Compare total cost with the tools we replace\n"
        return SimpleUploadedFile("battle-card.csv", text.encode())
    lines = ["Tandem: sales and marketing on one measured system.", "Self-hosted. Honest statistics.", "Ask your rep."]
    slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")[:60]
    return SimpleUploadedFile(f"{slug}.pdf", files.sample_pdf(title, lines))


def _catalogue(users: dict[str, Any]) -> tuple[dict[str, Persona], list[Asset]]:
    owner = users.get("marketing")
    products = {
        name: product_create(name=name, summary=summary, possibilities=possibilities, by_user=owner)
        for name, (summary, possibilities) in PRODUCTS.items()
    }
    personas: dict[str, Persona] = {}
    for name, (priority, rules, product_names, summary, pains, values, proof, objections) in PERSONAS.items():
        persona = persona_create(
            name=name, by_user=owner, priority=priority, rules=rules, summary=summary, pains=pains,
            value_propositions=values, proof_points=proof, product_ids=[products[p].pk for p in product_names],
        )  # fmt: skip
        for objection, answer in objections:
            objection_add(persona=persona, objection=objection, answer=answer, by_user=owner)
        personas[name] = persona
    themes = _theme_ids()
    campaigns = list(Campaign.objects.order_by("-started_on", "id").values_list("id", flat=True)[:4])
    today = timezone.localdate()
    assets = []
    for i, (title, kind, persona_name, stage, product, theme, url, expiry) in enumerate(ASSETS):
        assets.append(
            asset_create(
                title=title, kind=kind, by_user=owner, url=url or "", upload=None if url else _file(title, kind),
                persona_id=personas[persona_name].pk if persona_name else None, stage=stage,
                product_id=products[product].pk, theme_ids=themes.get(theme or "", []),
                campaign_ids=[campaigns[i % len(campaigns)]] if campaigns and i % 3 == 0 else [],
                expires_on=today + dt.timedelta(days=expiry) if expiry is not None else None,
                description=f"{dict(Asset._meta.get_field('kind').choices or []).get(kind, kind)} for "
                f"{persona_name or 'every persona'}.",
            )
        )
    return personas, assets


def _uses(*, seed: int, assets: list[Asset], users: dict[str, Any]) -> tuple[int, int]:
    rnd = random.Random(seed * 7919 + 8)
    today = timezone.localdate()
    current = [a for a in assets if a.expires_on is None or a.expires_on >= today]
    by_persona: dict[int | None, list[Asset]] = {}
    for asset in current:
        by_persona.setdefault(asset.persona_id, []).append(asset)
    persona_ids = dict(Persona.objects.values_list("name", "id"))
    # Some assets come with won deals more often than others, so the usage page has differences to show.
    lift = {a.pk: rnd.uniform(-0.15, 0.2) for a in current}
    rows = Deal.objects.filter(person__isnull=False).order_by("id").values_list(
        "id", "person_id", "created_at", "closed_at", "stage", "owner_id", "person__custom_fields__persona"
    )
    uses: list[ContentUse] = []
    touches: list[Touchpoint] = []
    now = timezone.now()
    for deal_id, person_id, created, closed, stage, owner_id, persona_name in rows:
        if rnd.random() > USE_SHARE:
            continue
        options = by_persona.get(persona_ids.get(persona_name or ""), []) + by_persona.get(None, [])
        if not options:
            continue
        asset = rnd.choice(options)
        if stage == "lost" and rnd.random() < 0.4 + lift[asset.pk]:
            continue
        end = min(closed or now, now)
        span = max((end - created).total_seconds(), 3600.0)
        at = created + dt.timedelta(seconds=rnd.uniform(0.1, 0.9) * span)
        sent = rnd.random() < SEND_SHARE
        helped = None if rnd.random() < 0.4 else (rnd.random() < (0.75 if stage == "won" else 0.35))
        uses.append(
            ContentUse(
                asset_id=asset.pk, person_id=person_id, deal_id=deal_id, used_by_id=owner_id, used_at=at,
                how=ContentUse.How.SENT if sent else ContentUse.How.USED, helped=None if sent else helped,
            )
        )
        if sent:
            touches.append(
                Touchpoint(
                    person_id=person_id, occurred_at=at, channel=SEND_CHANNEL, kind="content_sent",
                    url=asset.url or f"asset:{asset.pk}", custom_fields={"asset_id": asset.pk, "asset_title": asset.title},
                )
            )
    ContentUse.objects.bulk_create(uses, batch_size=1000)
    Touchpoint.objects.bulk_create(touches, batch_size=1000)
    return len(uses), len(touches)


@transaction.atomic
def enablement_demo_seed(*, seed: int, users: dict[str, Any]) -> int:
    """Seed products, personas, assets (links and two generated files) and content uses; returns the asset count."""
    personas, assets = _catalogue(users)
    uses, sends = _uses(seed=seed, assets=assets, users=users)
    event_record(
        kind="demo.enablement_seeded",
        subject_type="enablement.asset",
        rule=DEMO_RULE,
        data={"personas": len(personas), "assets": len(assets), "uses": uses, "sends": sends},
    )
    return len(assets)
