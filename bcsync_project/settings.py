"""Settings for bcsync, read from the environment (and `.env`) through django-environ.

Every variable is documented in `.env.example`. Nothing needs configuring for a local
run: SQLite, the django-q2 ORM broker and the built-in Graph sandbox are the defaults.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV", default=True):
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# No production default for the secret: with DEBUG off it must be set.
SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-only-for-debug" if DEBUG else None)
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public address of this site; the embedded Graph sandbox is reached under it.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Before django_q: its `qcluster` command wraps django-q2's to stop in bounded time.
    "jobqueue",
    "django_q",
    "health_check",
    "contacts",
    "exchange_sync",
    "exchange_sync.sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from the WSGI server (gunicorn), compressed and cached for
    # ever under their hashed names; `collectstatic` puts them in STATIC_ROOT.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bcsync_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "bcsync_project.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the workers and the embedded sandbox write to one file: wait for
    # the lock instead of failing, and take it up front so transactions never deadlock.
    # WAL lets a reader and the writer work at once (without it, any open read blocks
    # every commit from another process until it ends).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL"}
    )
    # A file (not memory) test database, so threads, live servers and worker processes
    # see the same data; one per test process, so parallel runs never share one.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names (so browsers may cache them for ever) once collected; with DEBUG on
    # the plain names are served from the apps' folders, no collectstatic needed.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # msal logs request details at DEBUG; keep it quiet so nothing secret reaches logs.
    "loggers": {"msal": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}

# --- Job queue workers (django-q2) -------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
Q_CLUSTER = {
    "name": "bcsync",
    "workers": env.int("Q_WORKERS", default=2),
    # A sync of a large mailbox can take many minutes; `retry` must exceed the longest
    # task so a receipt broker never starts the same task twice.
    "timeout": env.int("Q_TIMEOUT", default=3600),
    "retry": env.int("Q_TIMEOUT", default=3600) + 600,
    "max_attempts": 1,
    # A schedule's missed runs are not replayed after downtime.
    "catch_up": False,
    "sync": env.bool("Q_SYNC", default=False),
    "label": "Django Q2",
    # Q_CLUSTER_NAME (another queue on the same broker) makes django-q2 look up this key,
    # and fail without it; no queue needs settings of its own here.
    "ALT_CLUSTERS": {},
}
# Seconds `manage.py qcluster` waits after SIGTERM for running syncs to stop after their
# current chunk, before it kills its workers (keep it under the service manager's own
# stop timeout, e.g. systemd's TimeoutStopSec=90 or Kubernetes' grace period of 30 s).
Q_STOP_TIMEOUT = env.float("Q_STOP_TIMEOUT", default=25.0)
# Seconds between the ticks of each `qcluster`'s job queue ticker (jobqueue.ticker):
# dead sync runs recovered, due Job Queue Entries dispatched, the cluster's heartbeat.
JOBQUEUE_TICK_SECONDS = env.float("JOBQUEUE_TICK_SECONDS", default=2.0)
# Live sync (exchange_sync/live/): a saved contact's run waits this many seconds for
# more edits, and never more than the maximum after the first one.
LIVE_SYNC_DEBOUNCE_SECONDS = env.float("LIVE_SYNC_DEBOUNCE_SECONDS", default=2.0)
LIVE_SYNC_MAX_DELAY_SECONDS = env.float("LIVE_SYNC_MAX_DELAY_SECONDS", default=5.0)
# Outlook -> Business Central (exchange_sync/live/subscriptions.py): Graph sends change
# notifications to this public base URL (its /graph/notifications/ and /graph/lifecycle/;
# HTTPS when DEBUG is off). Unset, or while a subscription cannot be made, each live
# setup polls its folder every LIVE_POLL_SECONDS instead.
GRAPH_NOTIFICATION_URL = env("GRAPH_NOTIFICATION_URL", default="").strip().rstrip("/")
LIVE_POLL_SECONDS = env.float("LIVE_POLL_SECONDS", default=60.0)
# A subscribed setup still polls its folder this often (one Graph request), for an Outlook
# change whose notification was never delivered; 0 leaves that to the scheduled sync.
LIVE_SAFETY_POLL_SECONDS = env.float("LIVE_SAFETY_POLL_SECONDS", default=900.0)
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- HTTPS (production) -------------------------------------------------------------
# Secure by default whenever DEBUG is off; each can be set in the environment. Behind a
# TLS-terminating proxy, SECURE_PROXY_SSL_HEADER names the header it sets (for example
# X-Forwarded-Proto): only set it when the proxy always sets or strips that header.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
_proxy_ssl_header = env("SECURE_PROXY_SSL_HEADER", default="").strip()
# Load balancers probe the health endpoint over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")

# --- Microsoft 365 / Graph ----------------------------------------------------------
GRAPH_SANDBOX = env.bool("GRAPH_SANDBOX", default=DEBUG)
# The sandbox is a fake Microsoft 365 whose sign-in hands out tokens: it never runs with
# DEBUG off, except in a staging drill that asks for it by this deliberate name.
GRAPH_SANDBOX_STAGING_DRILL = env.bool("GRAPH_SANDBOX_STAGING_DRILL", default=False)
if GRAPH_SANDBOX and not DEBUG and not GRAPH_SANDBOX_STAGING_DRILL:
    raise environ.ImproperlyConfigured(
        "GRAPH_SANDBOX is on while DEBUG is off: the Graph sandbox is a fake Microsoft 365 that hands out "
        "tokens, so it does not start in production. Set GRAPH_SANDBOX=false (and the M365_* settings of your "
        "app registration), or GRAPH_SANDBOX_STAGING_DRILL=true for a staging drill against the sandbox."
    )
# Entra ID's sign-in host: the only place the client secret is ever sent (outside the
# sandbox). Another cloud's host can be set, e.g. https://login.microsoftonline.us.
M365_AUTHORITY_HOST = env("M365_AUTHORITY_HOST", default="https://login.microsoftonline.com").rstrip("/")
M365_TENANT_ID = env("M365_TENANT_ID", default="sandbox" if GRAPH_SANDBOX else "")
M365_CLIENT_ID = env("M365_CLIENT_ID", default="")
M365_CLIENT_SECRET = env("M365_CLIENT_SECRET", default="")
# Certificate credentials instead of the secret (Microsoft recommends them): the PEM
# certificate uploaded to the app registration, and its private key (PEM; by default
# read from the certificate's file). When set, the secret is not used.
M365_CLIENT_CERTIFICATE_PATH = env("M365_CLIENT_CERTIFICATE_PATH", default="")
M365_CLIENT_PRIVATE_KEY_PATH = env("M365_CLIENT_PRIVATE_KEY_PATH", default="")
M365_CLIENT_CERTIFICATE_PASSPHRASE = env("M365_CLIENT_CERTIFICATE_PASSPHRASE", default="")
# Per-user sign-in (delegated): a person connects their own mailbox ("Connect my
# Microsoft 365 mailbox") and their runs use their token instead of the app permission.
# Their msal token cache is stored encrypted with M365_TOKEN_CACHE_KEYS (Fernet keys,
# comma-separated, the first encrypts: see exchange_sync/token_cache.py; never SECRET_KEY).
M365_DELEGATED_SIGN_IN = env.bool("M365_DELEGATED_SIGN_IN", default=False)
M365_TOKEN_CACHE_KEYS = env.list("M365_TOKEN_CACHE_KEYS", default=[])
GRAPH_BASE_URL = env(
    "GRAPH_BASE_URL",
    default=f"{SITE_URL}/graph-sandbox/v1.0" if GRAPH_SANDBOX else "https://graph.microsoft.com/v1.0",
)
GRAPH_TIMEOUT_SECONDS = env.float("GRAPH_TIMEOUT_SECONDS", default=30.0)

# Graph sandbox simulation (see exchange_sync/sandbox): global defaults, each mailbox can
# override them at run time (`manage.py sandbox_mailbox set`). All off by default.
GRAPH_SANDBOX_LATENCY_MS = env.int("GRAPH_SANDBOX_LATENCY_MS", default=0)
GRAPH_SANDBOX_THROTTLE = env.bool("GRAPH_SANDBOX_THROTTLE", default=False)
GRAPH_SANDBOX_THROTTLE_ERROR_RATE = env.float("GRAPH_SANDBOX_THROTTLE_ERROR_RATE", default=0.0)
GRAPH_SANDBOX_TRANSIENT_ERROR_RATE = env.float("GRAPH_SANDBOX_TRANSIENT_ERROR_RATE", default=0.0)
GRAPH_SANDBOX_LOST_CREATE_RATE = env.float("GRAPH_SANDBOX_LOST_CREATE_RATE", default=0.0)
GRAPH_SANDBOX_LOST_CREATE_STALL_SECONDS = env.float("GRAPH_SANDBOX_LOST_CREATE_STALL_SECONDS", default=0.0)
GRAPH_SANDBOX_DELTA_EXPIRY = env("GRAPH_SANDBOX_DELTA_EXPIRY", default="off")
GRAPH_SANDBOX_TOKEN_LIFETIME_SECONDS = env.int("GRAPH_SANDBOX_TOKEN_LIFETIME_SECONDS", default=3600)
# Change notifications (exchange_sync/sandbox/delivery.py): a failed delivery is retried
# after RETRY_SECONDS, doubling, until RETRY_LIMIT_SECONDS (Graph: up to 4 hours) have
# passed since its first attempt; the reorder knob holds notifications for
# REORDER_WINDOW_SECONDS; the validation handshake waits VALIDATION_TIMEOUT_SECONDS (Graph: 10).
GRAPH_SANDBOX_NOTIFICATION_RETRY_SECONDS = env.float("GRAPH_SANDBOX_NOTIFICATION_RETRY_SECONDS", default=10.0)
GRAPH_SANDBOX_NOTIFICATION_RETRY_LIMIT_SECONDS = env.float(
    "GRAPH_SANDBOX_NOTIFICATION_RETRY_LIMIT_SECONDS", default=14_400.0
)
GRAPH_SANDBOX_NOTIFICATION_REORDER_WINDOW_SECONDS = env.float(
    "GRAPH_SANDBOX_NOTIFICATION_REORDER_WINDOW_SECONDS", default=0.5
)
GRAPH_SANDBOX_VALIDATION_TIMEOUT_SECONDS = env.float("GRAPH_SANDBOX_VALIDATION_TIMEOUT_SECONDS", default=10.0)
# Tenant ids the sandbox's sign-in answers as unknown (AADSTS90002), to see that error.
GRAPH_SANDBOX_UNKNOWN_TENANTS = env.list("GRAPH_SANDBOX_UNKNOWN_TENANTS", default=[])
