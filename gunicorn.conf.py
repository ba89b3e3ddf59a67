"""gunicorn's settings for Sync Monitor: ``gunicorn -c gunicorn.conf.py app:server``.

Sized for 2 cores: 2 worker processes with 8 threads each (pages spend most of their time waiting
on the database, so threads multiply what 2 processes can hold). Every setting can be overridden
on the command line or with GUNICORN_CMD_ARGS; HOST, PORT, WEB_CONCURRENCY, WEB_THREADS,
LOG_LEVEL and FORWARDED_ALLOW_IPS come from ``dashapp.config`` like every other setting.
"""

import multiprocessing
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashapp.config import load_settings  # noqa: E402  (after the path above)

_settings = load_settings()

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.web_concurrency or (min(2, multiprocessing.cpu_count()) or 1)
worker_class = "gthread"
threads = _settings.web_threads
timeout = 60  # a worker's heartbeat, not a request's: an export streams longer while it keeps writing
# Exports are bounded in the app (dashapp/web/export_limits.py): per client, WEB_THREADS - 2 per process, and a
# write deadline (EXPORT_WRITE_TIMEOUT_SECONDS) set on environ['gunicorn.socket'], which gthread writes with sendall.
graceful_timeout = 30
keepalive = 5
max_requests = 5000  # recycle a worker now and then; the jitter keeps both from restarting at once
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
loglevel = _settings.log_level
# client address (the socket's, or X-Forwarded-For's from a trusted proxy with BEHIND_PROXY), the
# user the app identified the request as (session, HTTP Basic, or AUTH_PROXY_HEADER from a trusted
# proxy; "-" for none: never a header as the client sent it), request, status, bytes, seconds taken
access_log_format = '%(h)s "%({sync_monitor.user}e)s" "%(r)s" %(s)s %(B)s %(L)ss'
forwarded_allow_ips = _settings.forwarded_allow_ips  # the scheme headers gunicorn itself reads


def on_starting(server) -> None:
    """Before any worker boots, the master checks the warehouse: a database the app cannot serve
    (no ``sync_history``, not reachable) stops gunicorn here with its one line and status 3. Left to
    the workers, each fails to boot at once, and gunicorn halts on the first while reaping the
    second, with a traceback. The embedded demo fills its file in the worker: nothing to check."""
    if _settings.embedded:
        return
    from dashapp.storage.db import StartupError, check_database, make_engine

    engine = make_engine(_settings)
    try:
        check_database(engine, _settings.sync_schema)
    except StartupError as exc:
        print(f"sync-monitor: cannot start: {exc}", file=sys.stderr, flush=True)
        sys.exit(3)
    finally:
        engine.dispose()
