"""Settings for the test suite: the normal settings with a debug-safe secret and the
Graph sandbox on, never reading `.env`. DATABASE_URL and REDIS_URL still come from the environment, so CI
runs the same suite against PostgreSQL and Redis."""

import os

# A developer's .env (DEBUG, DATABASE_URL, REDIS_URL, M365_*...) never reaches the tests;
# neither do the processes the tests start, which inherit this environment.
os.environ.setdefault("DJANGO_READ_DOT_ENV", "false")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("GRAPH_SANDBOX", "true")
os.environ.setdefault("M365_CLIENT_ID", "bcsync-sandbox-client")
os.environ.setdefault("M365_CLIENT_SECRET", "bcsync-sandbox-secret")
os.environ.setdefault("M365_DELEGATED_SIGN_IN", "true")
# A Fernet key for the tests' token caches only (exchange_sync/token_cache.py).
os.environ.setdefault("M365_TOKEN_CACHE_KEYS", "5ekJGlczaLUoJP2Qs6msZtnOen5djvRcma3zUgvE4vo=")
# The suite runs with DEBUG off (as production does) but against the sandbox, over plain
# HTTP: a staging drill, without the HTTPS redirect and secure-only cookies.
os.environ.setdefault("GRAPH_SANDBOX_STAGING_DRILL", "true")
for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
    os.environ.setdefault(name, "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")

from bcsync_project.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tasks queued by tests must never reach a developer's real workers, nor the workers of
# another test process, on the same broker: one queue per test process. A worker that a
# test starts is given the test's queue (Q_CLUSTER["name"]) in BCSYNC_TEST_QUEUE.
Q_CLUSTER = {**Q_CLUSTER, "name": os.environ.get("BCSYNC_TEST_QUEUE") or f"bcsync-tests-{os.getpid()}"}  # noqa: F405

# Pages render with DEBUG off here, without a `collectstatic`: plain static file names,
# found in the apps' folders (production uses the hashed, collected ones).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
