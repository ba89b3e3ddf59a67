# Sync Monitor's image: the web app (gunicorn, the default command), and by command the Celery
# worker and beat (see the README's "Docker and compose").
#
#   docker build -t sync-monitor .
#   docker run --rm -p 8050:8050 -e DATABASE_URL=postgresql://... -e SECRET_KEY=... sync-monitor
#   docker run --rm -e DATABASE_URL=... -e REDIS_URL=... sync-monitor celery -A dashapp.worker worker
#
# Every setting comes from the environment at run time (the README's settings table); nothing
# secret is baked in.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

ARG DEBIAN_FRONTEND=noninteractive
ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Python from Debian (bookworm: 3.11), in a virtualenv of its own.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# The dependencies, in their own layer: a change to the app's code reuses it.
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

# A user of its own, with a home (gunicorn's control socket lives in ~/.gunicorn).
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/sync-monitor --shell /usr/sbin/nologin \
    sync-monitor

WORKDIR /app
COPY app.py gunicorn.conf.py ./
COPY assets ./assets
COPY queries ./queries
COPY dashapp ./dashapp
# compiled once here, as root: the user cannot write the code's folders; data/ (the embedded demo's
# SQLite file, when no DATABASE_URL is set) is the one folder it writes
RUN python -m compileall -q app.py gunicorn.conf.py queries dashapp \
    && mkdir -p /app/data && chown sync-monitor:sync-monitor /app/data

USER sync-monitor
ENV HOST=0.0.0.0 \
    PORT=8050
EXPOSE 8050

# Liveness on /healthz, under URL_PREFIX when one is set.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; prefix = os.environ.get('URL_PREFIX', '').strip('/'); path = f'/{prefix}/healthz' if prefix else '/healthz'; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT') or '8050'}{path}\", timeout=4)"]

CMD ["gunicorn", "-c", "gunicorn.conf.py", "app:server"]
