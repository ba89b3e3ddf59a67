"""``GET /metrics``: Prometheus text format, for teams that alert and graph in Prometheus/Grafana.

Per crm_source and sync_type:
- ``sync_monitor_last_success_timestamp_seconds`` and ``sync_monitor_last_success_duration_seconds``
  (the latest success in the last 30 days);
- ``sync_monitor_runs_24h{status}`` and ``sync_monitor_records_processed_24h``: runs started in
  the last 24 hours (gauges over a window: a counter would mean counting every row ever written);
- ``sync_monitor_active_syncs``: runs now running (status class running).
- ``sync_monitor_sync_state{state}`` (1 for the sync's state: late, failing, unknown, running, queued,
  on_time, paused) and ``sync_monitor_sync_overdue_seconds``: ``queries.freshness``'s decision, the
  one the overview and the ``late`` alert rule show. Statuses count by their class
(``queries.outcomes``); ``status="unknown"`` holds values in no class.
And ``sync_monitor_alerts_firing{rule,severity}``, ``sync_monitor_up`` (1 when the database
answered; 0, and no other sync series, when it did not: its error goes to the log, never to the
scraper, who may be anyone), and ``sync_monitor_http_request_duration_seconds`` (this process's
requests, by route kind). Examples: docs/prometheus-alerts.yml, docs/grafana-dashboard.json.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import SQLAlchemyError

from dashapp import runtime
from dashapp.errors import error_line
from dashapp.health import host_stats
from dashapp.payloads.overview import all_crm_statuses
from queries import metrics as queries
from queries.clock import utc_now

log = logging.getLogger(__name__)
REGISTRY = CollectorRegistry()
REQUESTS = Histogram("sync_monitor_http_request_duration_seconds", "Time to answer an HTTP request, by kind",
                     ["kind"], registry=REGISTRY,
                     buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
PAIR = ["crm_source", "sync_type"]


def kind(path: str) -> str:
    """A small fixed set of label values: ``dash-callback``, ``api``, ``export``, ``asset``, ``page``."""
    if path.startswith("/_dash-update-component"):
        return "dash-callback"
    if path.startswith(("/_dash", "/assets")):
        return "asset"
    for prefix in ("api", "export", "metrics", "auth"):
        if path.startswith(f"/{prefix}"):
            return prefix
    return "page"


class SyncCollector:
    """Reads the database at each scrape (a few bounded queries)."""

    def collect(self):
        engine, now = runtime.engine(), utc_now()
        up = GaugeMetricFamily("sync_monitor_up", "1 when the database answered this scrape")
        try:
            counts = queries.day_counts(engine, now - timedelta(hours=24))
            successes = queries.last_successes(engine, now)
            running = queries.running_counts(engine)
            crms = all_crm_statuses(engine, now)["crms"]  # shared with the overview's refresh
        except SQLAlchemyError as exc:
            log.warning("metrics scrape: the database did not answer: %s", error_line(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        last = GaugeMetricFamily("sync_monitor_last_success_timestamp_seconds",
                                 "Start of the latest successful run (Unix time)", labels=PAIR)
        took = GaugeMetricFamily("sync_monitor_last_success_duration_seconds",
                                 "Duration of the latest successful run", labels=PAIR)
        for row in successes.to_dict("records"):
            last.add_metric([row["crm_source"], row["sync_type"]], row["start_time"].timestamp())
            if row["duration_seconds"] is not None and row["duration_seconds"] == row["duration_seconds"]:
                took.add_metric([row["crm_source"], row["sync_type"]], float(row["duration_seconds"]))
        runs = GaugeMetricFamily("sync_monitor_runs_24h", "Runs started in the last 24 hours, by status",
                                 labels=[*PAIR, "status"])
        records = GaugeMetricFamily("sync_monitor_records_processed_24h",
                                    "Records processed by runs started in the last 24 hours", labels=PAIR)
        per_pair: dict[tuple[str, str], float] = {}
        for row in counts.to_dict("records"):
            runs.add_metric([row["crm_source"], row["sync_type"], row["status"]], int(row["runs"]))
            pair = (row["crm_source"], row["sync_type"])
            per_pair[pair] = per_pair.get(pair, 0) + float(row["records_processed"])
        for pair, total in sorted(per_pair.items()):
            records.add_metric(list(pair), total)
        active = GaugeMetricFamily("sync_monitor_active_syncs", "Runs now running", labels=PAIR)
        for row in running.to_dict("records"):
            active.add_metric([row["crm_source"], row["sync_type"]], int(row["running"]))
        state = GaugeMetricFamily("sync_monitor_sync_state",
                                  "1 for each sync's state (late, failing, unknown, running, queued, on_time, paused)",
                                  labels=[*PAIR, "state"])
        overdue = GaugeMetricFamily("sync_monitor_sync_overdue_seconds",
                                    "Seconds since the run its schedule expected was due (0 when not due yet)",
                                    labels=PAIR)
        for crm in crms:
            for sync in crm["sync_types"]:
                state.add_metric([crm["crm_source"], sync["sync_type"], sync["state"]], 1)
                overdue.add_metric([crm["crm_source"], sync["sync_type"]], float(sync["overdue_seconds"]))
        yield from (last, took, runs, records, active, state, overdue)
        firing = GaugeMetricFamily("sync_monitor_alerts_firing", "Alerts now firing", labels=["rule", "severity"])
        try:
            for row in queries.firing_alerts(engine).to_dict("records"):
                firing.add_metric([row["rule"], row["severity"]], int(row["firing"]))
        except SQLAlchemyError:
            pass  # the app's tables are not there yet (db upgrade): no alert series
        yield firing


REGISTRY.register(SyncCollector())


def metrics() -> Response:
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


def _shown_path() -> str:
    """The path, and for a Dash callback what it draws (its first output's id), so the health
    page's slowest requests say which part of which page was slow. Dash has parsed the body."""
    if not request.path.startswith("/_dash-update-component"):
        return request.path
    try:  # parsed already when Dash answered; a refused request's body is not read beyond the limit
        body = request.get_json(silent=True, cache=True)
    except Exception:  # noqa: BLE001 - a body too large for the limit: the plain path
        return request.path
    output = body.get("output") if isinstance(body, dict) else None
    if not isinstance(output, str):
        return request.path
    return f"{request.path} ({output.strip('.').split('...')[0].split('.')[0][:60]})"


def register(server: Flask) -> None:

    @server.before_request
    def _start_timer() -> None:
        g.sync_monitor_started = time.perf_counter()

    @server.after_request
    def _observe(response):
        started = g.get("sync_monitor_started")
        if started is not None:
            took = time.perf_counter() - started
            REQUESTS.labels(kind(request.path)).observe(took)
            host_stats.observe(took, request.method, _shown_path())
        return response
