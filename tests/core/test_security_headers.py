"""Production security settings, the Content-Security-Policy and Permissions-Policy on every page, the hosted
form's framing exception and the API docs behind sign-in (docs/security.md)."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tandem.analytics.statistics.services import experiment_create
from tandem.capture.models import ImportJob
from tandem.core.plotly_css import plotly_css, shipped_plotly_js
from tandem.lifecycle.services import proposal_create
from tandem.users.models import User
from tandem.users.services import api_token_create
from tests.capture.factories import make_form
from tests.core.page_walk import page_urls
from tests.users.factories import UserFactory

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "src" / "tandem"
DEMO_LOGINS = ["admin", "marketing", "rep", "manager", "viewer"]
# Written for other places than Tandem's pages: the snippet is pasted into customers' sites (their policy
# applies), the printable weekly report is a file `tandem report weekly` writes, never served.
NOT_SERVED_AS_PAGES = {
    "capture/intake/snippet.html",
    "analytics/weekly_print.html",
    # E-mails: mail clients drop stylesheets, so their styles are inline; never served as a page.
    "integrations/mail/weekly_report.html",
    "integrations/mail/sla_digest.html",
    "integrations/mail/content.html",
    "integrations/mail/_mail_top.html",
    "integrations/mail/_mail_bottom.html",
}


# ---- settings: one switch for HTTPS, check --deploy ----


def _documented_production_variables() -> dict[str, str]:
    """The block under "## Production settings" in docs/security.md, with a fresh secret key for the placeholder."""
    text = (REPO / "docs" / "security.md").read_text()
    section = text.split("## Production settings", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "docs/security.md lost its block of production variables"
    variables = {}
    for line in block.group(1).splitlines():
        name, _, value = line.partition("=")
        variables[name.strip()] = secrets.token_urlsafe(50) if value.startswith("<") else value.strip()
    return variables


def _tandem(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter with none of this machine's TANDEM_* settings: what an installation would start with
    # (nor the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE, which check --deploy rightly refuses).
    full = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TANDEM_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    full.update({"DJANGO_SETTINGS_MODULE": "tandem.settings", "TANDEM_VAR_DIR": str(tmp_path / "var")}, **env)
    return subprocess.run(
        [sys.executable, "-m", "tandem.cli", *args], env=full, cwd=tmp_path, capture_output=True, text=True
    )


def _settings(tmp_path: Path, **env: str) -> dict:
    names = [
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_PROXY_SSL_HEADER",
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "SILENCED_SYSTEM_CHECKS",
        "PUBLIC_API_DOCS",
    ]
    probe = (
        "import json; from django.conf import settings;"
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    out = _tandem(tmp_path, "shell", "-c", probe, **env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])  # after the shell's note on what it imported


def test_check_deploy_is_clean_with_the_documented_production_variables(tmp_path):
    # given the variables docs/security.md tells an installation behind HTTPS to set
    variables = _documented_production_variables()
    assert variables["TANDEM_BEHIND_HTTPS"] == "1"
    # when the deployment checks run, warnings counting as failures
    out = _tandem(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **variables)
    # then there is nothing to report (preload is declined explicitly, which silences its reminder)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "System check identified no issues (1 silenced)."
    assert out.stderr == ""


def test_the_dev_defaults_still_run_and_check_deploy_names_what_production_needs(tmp_path):
    # given no settings at all (the demo and development)
    # when the ordinary checks and then the deployment checks run
    plain = _tandem(tmp_path, "check", "--fail-level", "WARNING")
    deploy = _tandem(tmp_path, "check", "--deploy")
    # then the defaults pass, and what is missing for production is exactly what TANDEM_BEHIND_HTTPS turns on
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "System check identified no issues (0 silenced)."
    assert sorted(set(re.findall(r"security\.W\d+", deploy.stderr))) == [
        "security.W004",
        "security.W008",
        "security.W012",
        "security.W016",
    ]


def test_the_https_switch_turns_on_redirect_secure_cookies_and_a_short_hsts(tmp_path):
    # given / when
    dev = _settings(tmp_path)
    https = _settings(tmp_path, TANDEM_BEHIND_HTTPS="1")
    # then
    assert [dev[k] for k in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")] == [
        False
    ] * 3
    assert dev["SECURE_HSTS_SECONDS"] == 0
    assert dev["SECURE_PROXY_SSL_HEADER"] is None
    assert dev["PUBLIC_API_DOCS"] is False
    assert [https[k] for k in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")] == [
        True
    ] * 3
    assert https["SECURE_HSTS_SECONDS"] == 3600
    assert (https["SECURE_HSTS_INCLUDE_SUBDOMAINS"], https["SECURE_HSTS_PRELOAD"]) == (False, False)
    assert https["SECURE_PROXY_SSL_HEADER"] is None
    assert https["SILENCED_SYSTEM_CHECKS"] == []


def test_hsts_options_proxy_header_hosts_and_origins_come_from_the_environment(tmp_path):
    # given / when
    got = _settings(
        tmp_path,
        TANDEM_BEHIND_HTTPS="yes",
        TANDEM_HSTS_SECONDS="31536000",
        TANDEM_HSTS_INCLUDE_SUBDOMAINS="0",
        TANDEM_HSTS_PRELOAD="1",
        TANDEM_TRUSTED_PROXY="1",
        TANDEM_ALLOWED_HOSTS="crm.example.com",
        TANDEM_CSRF_TRUSTED_ORIGINS="https://crm.example.com",
        TANDEM_PUBLIC_API_DOCS="1",
    )
    # then a declined option is a decision, so its reminder is silenced; a taken one needs no silencing
    assert got["SECURE_HSTS_SECONDS"] == 31536000
    assert (got["SECURE_HSTS_INCLUDE_SUBDOMAINS"], got["SECURE_HSTS_PRELOAD"]) == (False, True)
    assert got["SILENCED_SYSTEM_CHECKS"] == ["security.W005"]
    assert got["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert got["ALLOWED_HOSTS"] == ["crm.example.com"]
    assert got["CSRF_TRUSTED_ORIGINS"] == ["https://crm.example.com"]
    assert got["PUBLIC_API_DOCS"] is True


def test_behind_a_trusted_proxy_http_is_redirected_and_https_gets_hsts(client, db, settings):
    # given an installation behind HTTPS and a proxy that says which scheme the client used
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # when a page is asked for over plain HTTP, then over HTTPS
    plain = client.get("/login/", HTTP_X_FORWARDED_PROTO="http")
    secure = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    # then
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/login/"
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


# ---- headers on every page ----


def _directives(header: str) -> dict[str, list[str]]:
    parts = [p.split() for p in header.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


def _inline_content(html: str) -> list[str]:
    """What the policy would refuse in a page: style attributes, inline handlers, <style> and <script>
    blocks without the response's nonce (JSON data blocks are not scripts)."""
    found = re.findall(r"<[a-zA-Z][^>]*\s(?:style|on[a-z]+)=[\"'][^>]*>", html)
    for tag in re.findall(r"<(?:script|style)\b[^>]*>", html):
        if "src=" in tag or 'type="application/json"' in tag or "nonce=" in tag:
            continue
        found.append(tag)
    return found


@pytest.fixture
def demo_company(db, settings):  # type: ignore[no-untyped-def]
    # Fourteen demo users with PBKDF2 take seconds; these tests check headers, not hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo", "--people", "120", "--no-serve", stdout=io.StringIO())
    # What the demo does not make, so that every page has a record to show.
    marketer = User.objects.get(username="marketing")
    ImportJob.objects.create(
        kind="people", file_name="people.csv", total_rows=3, processed_rows=3, created_at=timezone.now()
    )
    proposal_create(kind="sla", spec={"first_touch_hours": 3}, reason="Faster first touch", by_user=marketer)
    experiment_create(name="hero", variants=["control", "b"])
    from tandem.webhooks.services import endpoint_create, webhook_emit

    endpoint_create(url="https://hooks.example/tandem", event_types="*")
    webhook_emit(event_type="person.erased", data={"id": 1})


def test_every_page_carries_the_policies_for_every_role(demo_company):
    # given the demo company and every page of the UI, filled with its records
    urls, left_out = page_urls()
    assert len(urls) > 120
    assert left_out == ["password-reset/<uidb64>/<token>/"], left_out
    problems: list[str] = []
    pages = 0
    for username in [None, *DEMO_LOGINS]:
        client = Client()
        if username:
            client.force_login(User.objects.get(username=username))
        for url in urls:
            # when each role opens it
            response = client.get(url)
            # then it carries a policy without 'unsafe-inline' or 'unsafe-eval', and the Permissions-Policy
            csp = response.get("Content-Security-Policy", "")
            policy = _directives(csp)
            if not csp or "'unsafe-inline'" in csp or "'unsafe-eval'" in csp:
                problems.append(f"{username} {url}: Content-Security-Policy {csp!r}")
            elif policy.get("default-src") == ["'none'"] and "sandbox" in policy:
                pass  # an uploaded file, served under a stricter policy of its own
            elif policy.get("object-src") != ["'none'"] or policy.get("base-uri") != ["'self'"]:
                problems.append(f"{username} {url}: {csp!r}")
            elif not url.startswith("/f/") and policy.get("frame-ancestors") != ["'none'"]:
                problems.append(f"{username} {url}: frame-ancestors {policy.get('frame-ancestors')}")
            if "camera=()" not in response.get("Permissions-Policy", ""):
                problems.append(
                    f"{username} {url}: Permissions-Policy {response.get('Permissions-Policy')!r}"
                )
            # and a page holds nothing inline that the policy would refuse
            if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
                pages += 1
                inline = _inline_content(response.content.decode())
                if inline:
                    problems.append(f"{username} {url}: inline {inline[:3]}")
    assert problems == []
    assert pages > 300


def test_no_template_brings_inline_styles_scripts_or_handlers():
    # given every template of every app
    found = []
    for path in sorted(TEMPLATES.rglob("templates/**/*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        relative = name.split("templates/", 1)[1]
        if relative in NOT_SERVED_AS_PAGES:
            continue
        # when it is read
        source = re.sub(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", "", path.read_text(), flags=re.S)
        inline = [t for t in _inline_content(source) if "{{ request.csp_nonce }}" not in t]
        # then nothing in it needs 'unsafe-inline' (a block that must stay inline carries the nonce)
        found += [f"{name}: {tag}" for tag in inline]
    assert found == []


def test_plotly_css_is_what_the_shipped_plotly_would_insert():
    # given the plotly.js that the plotly package ships
    script = shipped_plotly_js().read_text(encoding="utf-8")
    # when its style rules are read out
    expected = plotly_css(script)
    # then the static copy is current (regenerate: python -m tandem.core.plotly_css > .../core/plotly.css), and
    # the map library's <style> is skipped by the id it checks for
    assert (TEMPLATES / "core" / "static" / "core" / "plotly.css").read_text() == expected
    assert ".js-plotly-plot .plotly .main-svg {" in expected
    style_id = re.search(
        r'getElementById\("([0-9a-f]{64})"\)\)\{var e=document\.createElement\("style"\)', script
    )
    partial = (TEMPLATES / "ui" / "templates" / "partials" / "plotly.html").read_text()
    assert style_id is not None
    assert f'<template id="{style_id.group(1)}"></template>' in partial


def test_an_inline_block_with_the_requests_nonce_is_allowed_by_that_response_alone(rf):
    # given a view whose page needs one inline script, marked with the request's nonce as templates do
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse
    from django.template import engines

    page = engines["django"].from_string('<script nonce="{{ request.csp_nonce }}">go()</script>')

    def view(request):  # type: ignore[no-untyped-def]
        return HttpResponse(page.render({}, request))

    middleware = CSPMiddleware(view)
    # when two requests render it
    first, second = middleware(rf.get("/")), middleware(rf.get("/"))
    # then each header allows exactly the nonce its own page carries, and styles get one only when asked
    nonces = [re.search(r"nonce=\"([^\"]+)\"", r.content.decode()).group(1) for r in (first, second)]  # type: ignore[union-attr]
    assert nonces[0] != nonces[1]
    for response, nonce in zip((first, second), nonces, strict=True):
        policy = _directives(response["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'", f"'nonce-{nonce}'"]
        assert policy["style-src"] == ["'self'", f"'nonce-{nonce}'"]
    plain = CSPMiddleware(lambda request: HttpResponse("<p>no inline</p>"))(rf.get("/"))
    assert _directives(plain["Content-Security-Policy"])["script-src"] == ["'self'"]


def test_report_only_sends_the_same_policy_without_enforcing_it(tmp_path):
    # given / when
    probe = (
        "from django.test import Client; r = Client().get('/login/');"
        "print(r.get('Content-Security-Policy', '-')); print(r['Content-Security-Policy-Report-Only'])"
    )
    out = _tandem(
        tmp_path, "shell", "-c", probe, TANDEM_CSP_REPORT_ONLY="1", TANDEM_CSP_REPORT_URI="/csp-reports"
    )
    # then
    assert out.returncode == 0, out.stderr
    enforced, report_only = out.stdout.splitlines()[-2:]
    assert enforced == "-"
    assert "script-src 'self'" in report_only
    assert report_only.endswith("report-uri /csp-reports")


# ---- the hosted form stays embeddable and postable from customers' sites ----


def test_the_hosted_form_may_be_framed_by_any_site_and_posted_from_another_origin(db):
    # given a form that sends visitors on to the customer's own thank-you page
    form = make_form(redirect_url="https://www.customer.example/thanks?from=tandem")
    client = Client(enforce_csrf_checks=True)
    # when a visitor's browser opens the hosted page inside the customer's iframe
    page = client.get(f"/f/{form.public_key}/", HTTP_REFERER="https://www.customer.example/demo")
    # then it may be framed anywhere, and its form may go on to the redirect address
    policy = _directives(page["Content-Security-Policy"])
    assert page.status_code == 200
    assert "X-Frame-Options" not in page
    assert policy["frame-ancestors"] == ["*"]
    assert policy["form-action"] == ["'self'", "https://www.customer.example"]
    assert policy["script-src"] == ["'self'"]
    assert _inline_content(page.content.decode()) == []
    # when the form is posted from the customer's origin, without a CSRF token
    sent = client.post(
        f"/f/{form.public_key}/",
        {"email": "ann@customer.example", "first_name": "Ann"},
        HTTP_ORIGIN="https://www.customer.example",
    )
    # then it is accepted and the browser goes on to the customer's page
    assert sent.status_code == 302
    assert sent["Location"] == "https://www.customer.example/thanks?from=tandem"


def test_the_thank_you_page_may_be_framed_and_other_pages_may_not(db):
    # given a form without a redirect address
    form = make_form()
    client = Client()
    # when
    thanks = client.get(f"/f/{form.public_key}/thanks/")
    login = client.get("/login/")
    # then
    assert _directives(thanks["Content-Security-Policy"])["frame-ancestors"] == ["*"]
    assert _directives(thanks["Content-Security-Policy"])["form-action"] == ["'self'"]
    assert "X-Frame-Options" not in thanks
    assert _directives(login["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]
    assert login["X-Frame-Options"] == "DENY"


# ---- API docs ----


def test_api_docs_ask_anonymous_visitors_to_sign_in(client, db):
    # given no session / when
    docs = client.get("/api/docs")
    schema = client.get("/api/openapi.json")
    # then
    assert docs.status_code == 302
    assert docs["Location"] == "/login/?next=/api/docs"
    assert schema.status_code == 401
    assert schema.json() == {"detail": "authentication required"}


def test_api_docs_are_served_from_our_static_files_to_signed_in_users(client, db):
    # given
    client.force_login(UserFactory(role="viewer"))
    # when
    docs = client.get("/api/docs")
    schema = client.get("/api/openapi.json")
    # then Swagger UI comes from django-ninja's static files, nothing from a CDN, nothing inline
    body = docs.content.decode()
    assert docs.status_code == 200
    assert "/static/ninja/swagger-ui-bundle.js" in body
    assert "/static/ninja/swagger-ui-init.js" in body
    assert "cdn" not in body.lower()
    assert _inline_content(body) == []
    assert "'unsafe-inline'" not in docs["Content-Security-Policy"]
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Tandem API"


def test_a_personal_token_reads_the_openapi_document(client, db):
    # given
    _, token = api_token_create(user=UserFactory(role="marketing"), name="ci")
    # when
    schema = client.get("/api/openapi.json", HTTP_AUTHORIZATION=f"Bearer {token}")
    wrong = client.get("/api/openapi.json", HTTP_AUTHORIZATION="Bearer not-a-token")
    # then
    assert schema.status_code == 200
    assert wrong.status_code == 401


def test_the_public_docs_setting_opens_them_to_everyone(client, db, settings):
    # given
    settings.PUBLIC_API_DOCS = True
    # when
    docs = client.get("/api/docs")
    schema = client.get("/api/openapi.json")
    # then
    assert docs.status_code == 200
    assert schema.status_code == 200
