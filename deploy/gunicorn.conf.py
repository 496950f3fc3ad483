"""Gunicorn for one Phaseout app server (deploy/systemd/phaseout-web@.service starts one per port).

Plain Python, read by `gunicorn -c /opt/phaseout/deploy/gunicorn.conf.py`; every value can be changed in
/etc/phaseout/phaseout.env without editing this file. The app servers keep no state of their own
(sessions and the portal's cache are in the database and Redis, files under MEDIA_ROOT on a shared
volume), so any of them can answer any request and one can be stopped while the others serve.
"""

import multiprocessing
import os

# One instance per port (the unit's %i): GUNICORN_BIND is set by the unit, loopback only; nginx in front.
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8001")]
wsgi_app = "phaseout.wsgi:application"

# Synchronous workers: the pages are server-rendered and the database does the heavy work. Two per core
# plus one, split over the instances on this machine (GUNICORN_INSTANCES, default 2): on the 2-core
# machine, two instances of 2. Measured (ADR 27, `make load` with 50 people, other work on the machine):
# sync 2 + 2 served 13.7 requests/s, p50 430 ms, gunicorn's own time median 229 ms; gthread with 4
# threads per worker 13.0 requests/s, p50 510 ms, own time 431 ms (threads contend for the GIL and the
# 2 cores: the pages are CPU-bound once the audit lock is gone). GUNICORN_THREADS > 1 selects gthread
# where a machine has cores to spare and pages wait on I/O.
_instances = max(1, int(os.environ.get("GUNICORN_INSTANCES", "2")))
workers = int(
    os.environ.get("GUNICORN_WORKERS", str(max(2, (2 * multiprocessing.cpu_count() + 1) // _instances)))
)
# Threads per worker: more than one makes it gunicorn's gthread worker (GUNICORN_THREADS=1: sync).
threads = max(1, int(os.environ.get("GUNICORN_THREADS", "1")))
worker_class = "gthread" if threads > 1 else "sync"
# A request taking longer than this is killed and logged (exports stream and finish well within it; the
# register preview runs on the Celery worker). nginx's proxy_read_timeout is a little longer.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# A worker is replaced after this many requests (a slow leak cannot grow for ever); jitter spreads it.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# Request line and headers bounded (every input is hostile); bodies are bounded by nginx and the app.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# nginx on this machine is the only proxy: gunicorn believes its X-Forwarded-Proto from loopback only.
# The client's address is read by the application itself (TRUSTED_PROXIES, phaseout.web.client_ip).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Logs: errors to the journal (stderr); the access log to a file that logrotate turns over.
_port = bind[0].rsplit(":", 1)[-1]
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", f"/var/log/phaseout/access-{_port}.log")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%({x-forwarded-for}i)s %(h)s %(t)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'
proc_name = f"phaseout-web-{_port}"
# Each worker imports the application itself: `systemctl reload phaseout-web@PORT` (HUP) then loads new
# code, and no database connection can be shared across a fork.
preload_app = False
