"""Sync Monitor's entry point.

    python app.py            serve on HOST:PORT (default 127.0.0.1:8050)
    python app.py db upgrade create or upgrade the app's own schema (APP_SCHEMA); `db current` shows it
    python app.py users add NAME --role operator   add a user to AUTH_USERS_FILE (password asked)
    python app.py alerts check                     evaluate the alert rules once (for cron)
    python app.py rollups refresh                  bring the run rollups up to date once (for cron)
    python app.py demo fill [--days N]             write the demo's runs (30 days) into DATABASE_URL
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

if __name__ == "__main__" and sys.argv[1:2] == ["db"]:
    from dashapp.cli import database_command

    sys.exit(database_command(sys.argv[2:]))
if __name__ == "__main__" and sys.argv[1:2] == ["alerts"]:
    from dashapp.cli import alerts_command

    sys.exit(alerts_command(sys.argv[2:]))
if __name__ == "__main__" and sys.argv[1:2] == ["rollups"]:
    from dashapp.cli import rollups_command

    sys.exit(rollups_command(sys.argv[2:]))
if __name__ == "__main__" and sys.argv[1:2] == ["demo"]:
    from dashapp.cli import demo_command

    sys.exit(demo_command(sys.argv[2:]))
if __name__ == "__main__" and sys.argv[1:2] == ["users"]:
    from dashapp.cli import users_command

    sys.exit(users_command(sys.argv[2:]))

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
