"""gunicorn's settings for Sync Monitor: ``gunicorn -c gunicorn.conf.py app:server``.

Sized for 2 cores: 2 worker processes with 8 threads each (pages spend most of their time waiting
on the database, so threads multiply what 2 processes can hold). Every setting can be overridden
on the command line or with GUNICORN_CMD_ARGS; HOST and PORT are read as for ``python app.py``.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8050')}"
workers = int(os.environ.get("WEB_CONCURRENCY", min(2, multiprocessing.cpu_count()) or 1))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", 8))
timeout = 60  # a request (an export streams longer: it keeps writing, so it is not killed)
graceful_timeout = 30
keepalive = 5
max_requests = 5000  # recycle a worker now and then; the jitter keeps both from restarting at once
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# remote address, user (from the proxy header, if any), request, status, bytes, seconds taken
access_log_format = '%(h)s "%({x-forwarded-user}i)s" "%(r)s" %(s)s %(B)s %(L)ss'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
