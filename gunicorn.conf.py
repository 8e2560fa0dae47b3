"""gunicorn's settings for bcsync in production (gunicorn reads this file from the
working directory): `gunicorn bcsync_project.wsgi`. Every value can be overridden on the
command line or through GUNICORN_CMD_ARGS. See README.md, "Production"."""

import os

bind = os.environ.get("BCSYNC_BIND", "127.0.0.1:8000")
# Requests are short (Graph work runs in the qcluster workers), so a few sync workers
# per core serve many people.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = 60
graceful_timeout = 30
# Access and error logs to the service's output, where systemd or the platform keeps them.
accesslog = "-"
errorlog = "-"
# X-Forwarded-* is trusted from the local reverse proxy only.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
