"""Sending retry tasks to Celery from the web process: RETRY_TASK (default
``sync_monitor.retry_sync``) on RETRY_QUEUE, with a task id that names the operation and attempt
(``retry_tracking`` reads it back in the worker). One broker connection per action, short
timeouts, no retries: a broker that is down is reported at once, never waited for."""

from __future__ import annotations

from typing import Any

from celery import Celery

from dashapp.config import Settings
from dashapp.errors import error_line


class RetryQueueError(RuntimeError):
    """The broker did not take every message; ``sent`` says how many it took first."""

    def __init__(self, sent: int, message: str) -> None:
        self.sent = sent
        super().__init__(message)


def send(settings: Settings, messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Publish ``(task_id, kwargs)`` messages for RETRY_TASK, in order."""
    if not settings.celery_broker_url:
        raise RetryQueueError(0, "no Celery broker is configured (set CELERY_BROKER_URL or REDIS_URL)")
    app = Celery("sync_monitor_retries", broker=settings.celery_broker_url, set_as_current=False)
    app.conf.update(broker_connection_timeout=2, broker_connection_retry=False,
                    broker_transport_options={"socket_timeout": 2, "socket_connect_timeout": 2,
                                              "max_retries": 0})
    sent = 0
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
            with app.amqp.Producer(connection) as producer:
                for task_id, kwargs in messages:
                    app.send_task(settings.retry_task, kwargs=kwargs, task_id=task_id,
                                  queue=settings.retry_queue_name, producer=producer, retry=False)
                    sent += 1
    except Exception as exc:  # noqa: BLE001 - kombu raises many kinds; all mean "not queued"
        raise RetryQueueError(sent, f"the broker did not take the task: {error_line(exc)}") from None
    finally:
        app.close()
