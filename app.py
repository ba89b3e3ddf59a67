"""Sync Monitor's entry point.

    python app.py            serve on HOST:PORT (default 127.0.0.1:8050)
    python app.py --help     the commands (dashapp/cli.py's table): db, users, alerts, rollups, demo
    gunicorn app:server      the same app under gunicorn (production)

Configuration comes from environment variables only: see the README's table.
"""

from __future__ import annotations

import logging
import sys

from dashapp.config import ConfigError, load_settings, log_level
from dashapp.startup import create_app, serving_engine
from dashapp.storage.db import StartupError

try:
    logging.basicConfig(level=log_level().upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
except ConfigError as exc:
    print(f"sync-monitor: cannot start: {exc}", file=sys.stderr)
    sys.exit(2)

if __name__ == "__main__" and sys.argv[1:]:  # a command of dashapp.cli's table (or its usage)
    from dashapp.cli import main

    sys.exit(main(sys.argv[1:]))

# Under gunicorn a worker that exits 3 (its "worker failed to boot") stops the whole server, where
# any other status would have it booted again and again: a container then exits with the line.
CANNOT_START = 3 if "gunicorn" in sys.modules and __name__ != "__main__" else 2

try:
    settings = load_settings()
    app = create_app(settings, serving_engine(settings))
except (ConfigError, StartupError) as exc:
    print(f"sync-monitor: cannot start: {exc}", file=sys.stderr)
    sys.exit(CANNOT_START)

server = app.server

if __name__ == "__main__":
    print(f"Sync Monitor on http://{settings.host}:{settings.port}{settings.url_prefix}", file=sys.stderr)
    app.run(host=settings.host, port=settings.port, debug=False)
