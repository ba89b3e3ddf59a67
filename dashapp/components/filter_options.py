"""Dropdown options for the CRM, status and sync-type filters, from the data itself."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from dashapp import display, runtime
from dashapp.http_errors import error_line
from queries.choices import distinct_values

log = logging.getLogger(__name__)


def filter_options(column: str) -> list[dict]:
    """[{"label", "value"}] for ``crm_source``, ``status`` or ``sync_type``; empty when the
    database does not answer (the page still loads and says so on its next refresh)."""
    try:
        values = distinct_values(runtime.engine(), column)
    except SQLAlchemyError as exc:
        log.warning("filter options for %s failed: %s", column, error_line(exc))
        return []
    label = display.crm_name if column == "crm_source" else str
    return [{"label": label(v), "value": v} for v in values]
