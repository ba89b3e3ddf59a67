"""What one alert evaluation and one /metrics scrape cost on a large history.

    python -m bench.alerts_bench [--rows 1000000] [--reuse] [--repeat 5]

Fills a PostgreSQL database (bench.fill) unless --reuse, then times each rule's queries, a whole
evaluation (rules, alert state, no notification channels) and the queries behind /metrics, as
medians over --repeat runs. Tests never assert times.
"""

from __future__ import annotations

import statistics
from datetime import timedelta

from bench.fill import database_arguments, database_url, fill
from bench.history_bench import measure
from dashapp.alerts import config as alert_config
from dashapp.alerts import evaluation as alerts
from dashapp.alerts import rules as alert_rules
from dashapp.config import load_settings
from dashapp.storage import migrate
from dashapp.storage.db import postgres_engine
from queries import metrics
from queries.clock import utc_now


def timed(function, repeat: int) -> float:
    """The median milliseconds of ``repeat`` runs after a warm-up (bench.history_bench.measure)."""
    return statistics.median(measure(function, repeat))


def main() -> None:
    parser = database_arguments(__doc__.splitlines()[0], 1_000_000, repeat=5)
    args = parser.parse_args()
    if not args.reuse:
        print(f"filled {args.rows:,} runs in {fill(args.admin_url, args.database, args.rows):.0f} s")
    url = database_url(args.admin_url, args.database)
    engine = postgres_engine(url, "orchestration")
    migrate.upgrade(engine)
    settings = load_settings({"DATABASE_URL": url, "HEALTH_CACHE_SECONDS": "0"})
    config = alert_config.AlertConfig()
    now = utc_now()
    context = alert_rules.Context(engine, settings, config, now)
    print(f"{'what':<28} {'median ms':>10}")
    for name, rule in alert_rules.RULES.items():
        print(f"rule {name:<23} {timed(lambda rule=rule: rule(context), args.repeat):>10.1f}")
    print(f"{'whole evaluation':<28} {timed(lambda: alerts.evaluate(engine, settings), args.repeat):>10.1f}")

    def scrape() -> None:
        metrics.day_counts(engine, now - timedelta(hours=24))
        metrics.last_successes(engine, now)
        metrics.running_counts(engine)
        metrics.firing_alerts(engine)

    print(f"{'/metrics queries':<28} {timed(scrape, args.repeat):>10.1f}")


if __name__ == "__main__":
    main()
