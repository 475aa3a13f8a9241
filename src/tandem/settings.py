"""Tandem settings: everything that varies between installations comes from TANDEM_* environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

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
    "huey.contrib.djhuey",
    # Tandem's apps by floor, bottom to top (docs/architecture.md): nothing imports from a floor above it.
    "tandem.core",
    "tandem.users",
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
    "tandem.ui",
    "tandem.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tandem.core.middleware.NulGuardMiddleware",
    "tandem.capture.intake.middleware.CaptureFastLaneMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "tandem.urls"
WSGI_APPLICATION = "tandem.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TANDEM_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise warns about a missing STATIC_ROOT even when it serves from the finders.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # htmx and plotly are served from the files their Python packages ship, never from a CDN.
    "tandem.core.staticfinders.VendorFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Uploaded files (the content library) live here; they are served only through views that check the login.
MEDIA_ROOT = Path(os.environ.get("TANDEM_MEDIA_DIR", "") or VAR_DIR / "media").resolve()
MEDIA_URL = "/media/"
# The largest file the content library accepts (bytes; 25 MiB by default).
ENABLEMENT_MAX_UPLOAD_BYTES = int(os.environ.get("TANDEM_ENABLEMENT_MAX_UPLOAD_BYTES", "") or 25 * 1024 * 1024)

REDIS_URL = os.environ.get("TANDEM_REDIS_URL", "").strip()
_huey_immediate = _env_bool("TANDEM_HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "tandem",
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

NINJA_PAGINATION_PER_PAGE = 50

# "ann+news@x.com" and "ann@x.com" are one person only when the installation says so (off by default).
EMAIL_STRIP_PLUS = _env_bool("TANDEM_EMAIL_STRIP_PLUS", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TANDEM_LOG_LEVEL", "WARNING")},
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"

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
