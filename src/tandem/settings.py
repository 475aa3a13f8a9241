"""Tandem settings: everything that varies between installations comes from TANDEM_* environment variables."""

from __future__ import annotations

import datetime as dt
import importlib.util
import ipaddress
import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from csp import constants as csp_constants
from django.core.exceptions import ImproperlyConfigured

from tandem.core.observability import logging_config, sentry_init

BASE_DIR = Path(__file__).resolve().parent
# var/ holds the SQLite database, the generated secret key, uploads and the task queue; it is never committed.
VAR_DIR = Path(os.environ.get("TANDEM_VAR_DIR", Path.cwd() / "var")).resolve()


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    from_env = os.environ.get("TANDEM_SECRET_KEY", "").strip()
    if from_env:
        return from_env
    # A per-installation key kept beside the data, so sessions survive restarts without a constant in the code.
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
DEBUG = _env_bool("TANDEM_DEBUG", False)
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("TANDEM_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("TANDEM_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    # Not installed as apps, to keep every `tandem` command's start-up short (issue 17): huey (which imports
    # redis and psycopg) is imported only by the tasks modules and the worker (tandem.core provides run_huey),
    # and django-ninja's Swagger UI templates and static files are found through NINJA_DIR below.
    # Sign-in: lockout after repeated failures (axes) and TOTP two-factor (django-otp); see "# ---- sign-in ----".
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Tandem's apps by floor, bottom to top (docs/architecture.md): nothing imports from a floor above it.
    "tandem.core",
    "tandem.users",
    "tandem.webhooks",
    "tandem.crm",
    "tandem.campaigns",
    "tandem.search",
    "tandem.scoring",
    "tandem.lifecycle",
    "tandem.feedback",
    "tandem.enablement",
    "tandem.enablement.requests",
    "tandem.capture",
    "tandem.analytics",
    "tandem.audiences",
    "tandem.integrations",
    "tandem.privacy",
    "tandem.ui",
    "tandem.demo",
]

MIDDLEWARE = [
    # First: every answer, including static files and the capture fast lane, carries an X-Request-ID that the
    # log lines written meanwhile repeat, and is timed for /metrics (docs/operations.md).
    "tandem.core.observability.RequestIdMiddleware",
    "tandem.core.observability.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside everything that answers under /api/ (the NUL guard, the capture fast lane): every answer says its
    # version (docs/api.md#versions).
    "tandem.core.apiversion.ApiVersionMiddleware",
    "tandem.core.middleware.NulGuardMiddleware",
    "tandem.capture.intake.middleware.CaptureFastLaneMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Page headers ("# ---- production security ----"): after the capture fast lane and static files, which
    # answer JSON, scripts and stylesheets that a Content-Security-Policy has nothing to say about.
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: marks a session verified by a TOTP code, then the sign-in gate sends a user who must
    # enter a code, enrol a device or change a forced password to that page (API sessions get a 403).
    "django_otp.middleware.OTPMiddleware",
    "tandem.users.middleware.SignInGateMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as axes documents: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tandem.urls"
WSGI_APPLICATION = "tandem.wsgi.application"

# django-ninja's folder, found without importing it (pydantic alone costs ~0.1 s): /api/docs renders Swagger UI
# from ninja's own templates and static files, not from a CDN.
NINJA_DIR = Path(importlib.util.find_spec("ninja").submodule_search_locations[0])  # type: ignore[union-attr,index]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [NINJA_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tandem.ui.context_processors.navigation",
            ],
        },
    }
]


def _database(url: str) -> dict[str, Any]:
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        name = config.get("NAME") or ""
        if name and name != ":memory:" and not os.path.isabs(name):
            name = str((Path.cwd() / name).resolve())
            config["NAME"] = name
        if name and name != ":memory:":
            Path(name).parent.mkdir(parents=True, exist_ok=True)
            # Tests get a file too (not Django's shared in-memory database), so concurrent writers in tests
            # meet the same locking as in production.
            config["TEST"] = {"NAME": str(Path(name).with_name(Path(name).stem + "-test.sqlite3"))}
        # WAL lets readers work while one writer writes; the busy timeout makes concurrent writers wait, not fail.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA busy_timeout=20000;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA temp_store=MEMORY;"
                "PRAGMA cache_size=-64000;"
            ),
        }
        # Persistent, like PostgreSQL's: opening a SQLite connection runs the PRAGMAs above, and closing the last
        # one checkpoints the WAL; per request that cost more than the request itself (measured: ~3 ms).
        config["CONN_MAX_AGE"] = 600
        config["CONN_HEALTH_CHECKS"] = False
    return config


DATABASE_URL = os.environ.get("TANDEM_DATABASE_URL", "sqlite:///var/tandem.sqlite3")
DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# ---- sign-in ----
# Lockout, password rules and two-factor (docs/security.md, "Sign-in"). Each number comes from a TANDEM_* variable.


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


# The new password a user sets (change, reset) must pass Django's validators: not like their name or e-mail,
# long enough, not a common password, not all digits. Accounts made by `tandem users create` are not checked.
PASSWORD_MIN_LENGTH = _env_int("TANDEM_PASSWORD_MIN_LENGTH", 10, minimum=8)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A reset link works for a day.
PASSWORD_RESET_TIMEOUT = 24 * 60 * 60

# django-axes counts failed sign-ins by account and by address independently: when either reaches the limit within
# the cool-off, sign-in is refused (right password too) until the cool-off passes with no new failure counted or an
# admin unlocks it. 0 minutes: locked until an admin unlocks.
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked account or address before the password is checked.
    "tandem.users.signin.SignInLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
SIGNIN_FAILURE_LIMIT = _env_int("TANDEM_SIGNIN_FAILURE_LIMIT", 10, minimum=1)
SIGNIN_COOLOFF_MINUTES = _env_int("TANDEM_SIGNIN_COOLOFF_MINUTES", 30)
AXES_FAILURE_LIMIT = SIGNIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = dt.timedelta(minutes=SIGNIN_COOLOFF_MINUTES) if SIGNIN_COOLOFF_MINUTES else None
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts while locked are refused and logged but do not push the end of the lockout further out.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HANDLER = "tandem.users.signin.SignInAttemptHandler"
AXES_LOCKOUT_CALLABLE = "tandem.users.views.signin_locked"
# Unlocking goes through Tandem (page, API, CLI) so each unlock leaves an event; not through Django admin.
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False
# What axes keeps of a failed attempt's form leaves these out (the password always is).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]
# The client address: REMOTE_ADDR, unless Tandem stands behind N reverse proxies that each append the address
# they saw to X-Forwarded-For; then the client is the N-th address from the right (what a client wrote to the
# left of it is ignored, so it cannot pick the address its failures count against). TANDEM_TRUSTED_PROXY=1
# (production security, below) means one such proxy unless TANDEM_TRUSTED_PROXY_COUNT says how many.
TRUSTED_PROXY_COUNT = _env_int("TANDEM_TRUSTED_PROXY_COUNT", 1 if _env_bool("TANDEM_TRUSTED_PROXY", False) else 0)
# django-ipware reads the settings below; when the header is shorter than the proxies (a request that bypassed
# them) the peer's own address counts.
AXES_CLIENT_IP_CALLABLE = "tandem.users.signin.signin_client_address"
AXES_IPWARE_META_PRECEDENCE_ORDER: tuple[str, ...]
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    # ipware counts the proxies listed inside the header: the nearest proxy is REMOTE_ADDR, not in it.
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT - 1
    AXES_IPWARE_PROXY_ORDER = "left-most"
    # Not strict: a header longer than expected (a client's own X-Forwarded-For) still yields the right address.
    IPWARE_STRICT = False
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

# TOTP two-factor for admins: "off" (default), "optional" (an admin may enrol a device on their account page;
# then sign-in asks for a code) or "required" (an admin without a device must enrol one before anything else).
ADMIN_2FA = os.environ.get("TANDEM_ADMIN_2FA", "off").strip().lower() or "off"
if ADMIN_2FA not in ("off", "optional", "required"):
    raise ImproperlyConfigured(f"TANDEM_ADMIN_2FA must be off, optional or required, not {ADMIN_2FA!r}")
OTP_TOTP_ISSUER = "Tandem"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TANDEM_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
# Where `tandem collectstatic` writes the hashed, compressed files (a container image keeps them outside var/).
STATIC_ROOT = Path(os.environ.get("TANDEM_STATIC_DIR", "") or VAR_DIR / "static").resolve()
# WhiteNoise warns about a missing STATIC_ROOT even when it serves from the finders.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Swagger UI's files (django-ninja is not an installed app: see INSTALLED_APPS).
STATICFILES_DIRS = [NINJA_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # htmx and plotly are served from the files their Python packages ship, never from a CDN.
    "tandem.core.staticfinders.VendorFinder",
]
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # After `tandem collectstatic`: names with a content hash, gzip and brotli copies, and WhiteNoise answers the
    # hashed names with a ten-year immutable cache. Before it (development, tests) the plain names, cached 60 s.
    "staticfiles": {"BACKEND": "tandem.core.staticstorage.StaticStorage"},
}
WHITENOISE_USE_FINDERS = True
# Uploaded files (the content library, CSV imports) live here unless TANDEM_S3_BUCKET is set; they are served only
# through views that check the login.
MEDIA_ROOT = Path(os.environ.get("TANDEM_MEDIA_DIR", "") or VAR_DIR / "media").resolve()
MEDIA_URL = "/media/"
# Uploads and the files the web process hands to the worker (CSV imports, the content library) go through
# Django's default storage. With TANDEM_S3_BUCKET they live in an S3-compatible bucket (AWS, MinIO, Ceph, R2...)
# that every web and worker node reads, so nodes need no shared disk (docs/operations.md#file-storage).
S3_BUCKET = os.environ.get("TANDEM_S3_BUCKET", "").strip()
if S3_BUCKET:
    _s3_options: dict[str, Any] = {
        "bucket_name": S3_BUCKET,
        # Blank: AWS itself, its region's endpoint; else a MinIO, Ceph, R2... URL.
        "endpoint_url": os.environ.get("TANDEM_S3_ENDPOINT_URL", "").strip() or None,
        "region_name": os.environ.get("TANDEM_S3_REGION", "").strip() or None,
        # A key prefix, so one bucket can hold several installations (or other things).
        "location": os.environ.get("TANDEM_S3_PREFIX", "").strip().strip("/"),
        # "path" for servers without virtual-host buckets (MinIO by default); blank lets boto choose.
        "addressing_style": os.environ.get("TANDEM_S3_ADDRESSING_STYLE", "").strip() or None,
        # Objects stay private (the bucket's policy decides); files are served only through views that check
        # the login, never by a bucket URL.
        "default_acl": None,
        "querystring_auth": True,
    }
    # Blank keys: boto3's own chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, an instance or pod role).
    if os.environ.get("TANDEM_S3_ACCESS_KEY", "").strip():
        _s3_options["access_key"] = os.environ["TANDEM_S3_ACCESS_KEY"].strip()
        _s3_options["secret_key"] = os.environ.get("TANDEM_S3_SECRET_KEY", "").strip()
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _s3_options}
# The largest file the content library accepts (bytes; 25 MiB by default).
ENABLEMENT_MAX_UPLOAD_BYTES = int(os.environ.get("TANDEM_ENABLEMENT_MAX_UPLOAD_BYTES", "") or 25 * 1024 * 1024)

REDIS_URL = os.environ.get("TANDEM_REDIS_URL", "").strip()
_huey_immediate = _env_bool("TANDEM_HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        # The queue's keys in Redis: every web and worker node of one installation names the same queue; two
        # installations sharing a Redis (or a database number of it) need different names.
        "name": os.environ.get("TANDEM_QUEUE_NAME", "").strip() or "tandem",
        "url": REDIS_URL,
        "immediate": _huey_immediate,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "tandem",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": _huey_immediate,
    }

# The report cache (tandem.core.reportcache) is Django's default cache: Redis when TANDEM_CACHE_URL (or else
# TANDEM_REDIS_URL) names one, so every node shares one copy of each report; without Redis this process's
# memory (each gunicorn worker its own copy, no set-up step). TANDEM_CACHE_URL=locmem:// keeps the cache in
# memory beside a Redis queue; dummy:// turns it off. docs/operations.md, "Report cache".
CACHE_URL = os.environ.get("TANDEM_CACHE_URL", "").strip() or REDIS_URL
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "tandem",
            # A Redis that does not answer costs a request at most these seconds (then it computes uncached).
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 2.0},
        }
    }
elif CACHE_URL in ("", "locmem://"):
    # Few entries: a dashboard's arrays for a million leads weigh tens of megabytes in each worker.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 64}}}
elif CACHE_URL == "dummy://":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
else:
    raise ImproperlyConfigured(
        f"TANDEM_CACHE_URL must be redis://, rediss://, unix://, locmem:// or dummy://, not {CACHE_URL!r}"
    )

EMAIL_HOST = os.environ.get("TANDEM_SMTP_HOST", "")
EMAIL_PORT = int(os.environ.get("TANDEM_SMTP_PORT", "25") or 25)
EMAIL_HOST_USER = os.environ.get("TANDEM_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("TANDEM_SMTP_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("TANDEM_SMTP_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("TANDEM_EMAIL_FROM", "tandem@localhost")
# Where people reach this installation: links in e-mails are made absolute with it.
BASE_URL = os.environ.get("TANDEM_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.locmem.EmailBackend"
)
# Scheduled mail (docs/integrations.md#e-mail): the weekly report goes out on Mondays and the SLA digest on
# weekdays from this hour (0-23, in TANDEM_TIME_ZONE) on, each once per period.
MAIL_HOUR = _env_int("TANDEM_MAIL_HOUR", 7)
if MAIL_HOUR > 23:
    raise ImproperlyConfigured(f"TANDEM_MAIL_HOUR must be an hour from 0 to 23, not {MAIL_HOUR}")

NINJA_PAGINATION_PER_PAGE = 50

# Outbound webhooks (docs/integrations.md#webhooks): seconds before each retry of a failed delivery, after which
# it is abandoned; an endpoint is disabled after this many failed attempts in a row (admins are told).
WEBHOOKS_RETRY_SCHEDULE = [
    int(s) for s in (os.environ.get("TANDEM_WEBHOOKS_RETRY_SCHEDULE", "") or "5,300,1800,7200,18000,36000,36000").split(",")
]
WEBHOOKS_DISABLE_AFTER = _env_int("TANDEM_WEBHOOKS_DISABLE_AFTER", 15)
WEBHOOKS_TIMEOUT_SECONDS = float(os.environ.get("TANDEM_WEBHOOKS_TIMEOUT_SECONDS", "") or 10)
# How long a rotated-out secret keeps signing beside the new one.
WEBHOOKS_ROTATION_OVERLAP_HOURS = float(os.environ.get("TANDEM_WEBHOOKS_ROTATION_OVERLAP_HOURS", "") or 24)
# Self-hosted installations post to receivers on their own network; set false to refuse private, loopback and
# link-local addresses (checked when an endpoint is saved and again, after DNS, before each attempt).
WEBHOOKS_ALLOW_PRIVATE_TARGETS = _env_bool("TANDEM_WEBHOOKS_ALLOW_PRIVATE_TARGETS", True)
# How long finished (succeeded or abandoned) deliveries stay in the log; pending and failed ones always stay.
WEBHOOKS_RETENTION_DAYS = _env_int("TANDEM_WEBHOOKS_RETENTION_DAYS", 30)

# "ann+news@x.com" and "ann@x.com" are one person only when the installation says so (off by default).
EMAIL_STRIP_PLUS = _env_bool("TANDEM_EMAIL_STRIP_PLUS", False)

# The country (ISO 3166 code: GB, US, DE...) a phone number written without a country code is read in, so
# "020 7946 0958" and "+44 20 7946 0958" are one identity. Empty: only numbers written with +code get a key.
DEFAULT_COUNTRY = os.environ.get("TANDEM_DEFAULT_COUNTRY", "").strip().upper()
if DEFAULT_COUNTRY:
    import phonenumbers

    if DEFAULT_COUNTRY not in phonenumbers.SUPPORTED_REGIONS:
        raise ImproperlyConfigured(
            f"TANDEM_DEFAULT_COUNTRY must be a two-letter country code such as GB or US, not {DEFAULT_COUNTRY!r}"
        )

# ---- operations ----
# docs/operations.md. Log lines carry the request's X-Request-ID; "json" writes one JSON object a line for a log
# collector (production), "text" one readable line (the default).
LOG_FORMAT = os.environ.get("TANDEM_LOG_FORMAT", "").strip().lower() or "text"
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"TANDEM_LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOGGING = logging_config(log_format=LOG_FORMAT, level=os.environ.get("TANDEM_LOG_LEVEL", "WARNING"))
# /metrics answers these addresses or networks (REMOTE_ADDR: the proxy's when one stands in front) and requests
# with "Authorization: Bearer <TANDEM_METRICS_TOKEN>"; nobody by default.
METRICS_ALLOWED_ADDRESSES = [
    a.strip() for a in os.environ.get("TANDEM_METRICS_ALLOWED_ADDRESSES", "").split(",") if a.strip()
]
METRICS_TOKEN = os.environ.get("TANDEM_METRICS_TOKEN", "").strip()
for _net in METRICS_ALLOWED_ADDRESSES:
    try:
        ipaddress.ip_network(_net, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TANDEM_METRICS_ALLOWED_ADDRESSES must list addresses or networks, not {_net!r}"
        ) from None
# Errors to Sentry when a DSN is set and sentry-sdk is installed (pip install 'tandem[sentry]'); nothing otherwise.
SENTRY_ENABLED = sentry_init(
    dsn=os.environ.get("TANDEM_SENTRY_DSN", "").strip(),
    environment=os.environ.get("TANDEM_SENTRY_ENVIRONMENT", "").strip(),
    traces_sample_rate=float(os.environ.get("TANDEM_SENTRY_TRACES_SAMPLE_RATE", "") or 0),
)

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"

# ---- production security ----
# docs/security.md#production-settings. One switch says "people reach this installation over HTTPS only": it
# redirects plain HTTP, marks the session and CSRF cookies secure and sends HSTS. Off by default, so the demo
# and development keep working on http://127.0.0.1.
BEHIND_HTTPS = _env_bool("TANDEM_BEHIND_HTTPS", False)
SECURE_SSL_REDIRECT = BEHIND_HTTPS
# Probes and the scrape come over plain HTTP from inside the network (a load balancer, Docker, Prometheus).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = BEHIND_HTTPS
CSRF_COOKIE_SECURE = BEHIND_HTTPS
# HSTS: an hour unless told otherwise, so a mistake wears off quickly; raise it to a year once HTTPS is proven.
# Subdomains and preload bind more than this server, so each is its own opt-in; saying 0 for one of them (or
# for the seconds, when the proxy sends HSTS itself) is a decision, and silences check --deploy's reminder.
_hsts_seconds = os.environ.get("TANDEM_HSTS_SECONDS", "").strip()
_hsts_subdomains = os.environ.get("TANDEM_HSTS_INCLUDE_SUBDOMAINS", "").strip()
_hsts_preload = os.environ.get("TANDEM_HSTS_PRELOAD", "").strip()
SECURE_HSTS_SECONDS = (int(_hsts_seconds) if _hsts_seconds else 3600) if BEHIND_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("TANDEM_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _env_bool("TANDEM_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS: list[str] = [
    check
    for check, decided in (
        ("security.W004", BEHIND_HTTPS and _hsts_seconds == "0"),
        ("security.W005", _hsts_subdomains != "" and not SECURE_HSTS_INCLUDE_SUBDOMAINS),
        ("security.W021", _hsts_preload != "" and not SECURE_HSTS_PRELOAD),
    )
    if decided
]
# Behind a proxy that terminates TLS, Django sees plain HTTP; trust the proxy's X-Forwarded-Proto only when
# told that a proxy which sets (and overwrites) it stands in front, or any client could claim HTTPS.
TRUSTED_PROXY = _env_bool("TANDEM_TRUSTED_PROXY", False)
if TRUSTED_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): scripts and styles only from our own static files, plus the few inline
# blocks that carry this request's nonce ({{ request.csp_nonce }}); never 'unsafe-inline' or 'unsafe-eval'.
# Charts draw with data: images; the hosted capture form relaxes frame-ancestors and form-action for itself
# (tandem.capture.intake.views). TANDEM_CSP_REPORT_ONLY=1 sends it as Report-Only to try it out first.
_csp: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", csp_constants.NONCE],
        "style-src": ["'self'", csp_constants.NONCE],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        **(
            {"report-uri": [os.environ["TANDEM_CSP_REPORT_URI"].strip()]}
            if os.environ.get("TANDEM_CSP_REPORT_URI", "").strip()
            else {}
        ),
    }
}
if _env_bool("TANDEM_CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp
else:
    CONTENT_SECURITY_POLICY = _csp
# Permissions-Policy (django-permissions-policy): Tandem uses no device, sensor or payment API, so no page
# (nor a page that frames one) may.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media", "geolocation", "gyroscope",
        "hid", "idle-detection", "magnetometer", "microphone", "midi", "payment", "publickey-credentials-get",
        "screen-wake-lock", "serial", "usb", "xr-spatial-tracking",
    )
}
# The OpenAPI document and Swagger UI at /api/docs: for signed-in users unless opened to everyone.
PUBLIC_API_DOCS = _env_bool("TANDEM_PUBLIC_API_DOCS", False)
# A create's Idempotency-Key (docs/api.md#idempotency) is answered from its stored first answer this many hours;
# then the worker prunes it and the key may be used again.
IDEMPOTENCY_KEY_HOURS = _env_int("TANDEM_IDEMPOTENCY_KEY_HOURS", 24, minimum=1)

# Capture endpoints: a tracking token may send this many requests a minute (a batch counts once), and a
# tracking batch may be this large; form submissions are capped at 64 KiB.
CAPTURE_TRACK_RATE_LIMIT = int(os.environ.get("TANDEM_CAPTURE_TRACK_RATE_LIMIT", "600") or 600)
CAPTURE_MAX_TRACK_BYTES = int(os.environ.get("TANDEM_CAPTURE_MAX_TRACK_BYTES", str(2 * 1024 * 1024)) or 0)
CAPTURE_MAX_FORM_BYTES = 64 * 1024
# "background": a request journals the submission and the Huey drain (started by `tandem serve`) makes it a
# person and a touchpoint, hundreds per transaction; "inline": the request does it before answering.
CAPTURE_PROCESSING = os.environ.get("TANDEM_CAPTURE_PROCESSING", "background").strip() or "background"
if CAPTURE_PROCESSING not in ("background", "inline"):
    raise ImproperlyConfigured(
        f"TANDEM_CAPTURE_PROCESSING must be 'background' or 'inline', not {CAPTURE_PROCESSING!r}"
    )
# Requests naming a form key that does not exist share one budget, so guessing keys cannot flood the journal.
CAPTURE_UNKNOWN_KEY_RATE_LIMIT = 60
# Form posts a minute: each client address (REMOTE_ADDR, or the client behind TANDEM_TRUSTED_PROXY_COUNT
# proxies) may send this many to all forms together, 0 for no such limit; a new form accepts this many from
# everybody together (its "rate limit", changed per form in the builder).
CAPTURE_ADDRESS_RATE_LIMIT = _env_int("TANDEM_CAPTURE_ADDRESS_RATE_LIMIT", 30)
CAPTURE_FORM_RATE_LIMIT = _env_int("TANDEM_CAPTURE_FORM_RATE_LIMIT", 120, minimum=1)
