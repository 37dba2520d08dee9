"""gunicorn settings for Loa's web app: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Every value can be changed from the environment (the systemd unit reads /etc/loa/loa.env), so
the file itself stays as shipped. Behind nginx on the same host: listen on loopback only.
"""

import multiprocessing
import os

bind = os.environ.get("LOA_BIND", "127.0.0.1:8000")
# Requests are short (pages, API calls, audio through X-Accel-free send_file); renders run in
# the worker service, never here. 2 x cores + 1, at most 9, unless told.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 9)))
worker_class = "sync"
# An upload of a long recording or a big report may take a while on a slow commune link.
timeout = int(os.environ.get("LOA_WEB_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, so a slow leak can never grow without bound.
max_requests = 20000
max_requests_jitter = 10000
# nginx on this host sets X-Forwarded-For/-Proto; trust only it (with PROXY_FIX=true).
forwarded_allow_ips = os.environ.get("LOA_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOA_LOG_LEVEL", "info")
# Each worker opens its own database connections after the fork.
preload_app = False
