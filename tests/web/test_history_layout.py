"""A history page load reads the distinct CRMs, statuses and sync types once (three
skip scans), for the dropdowns' options and the values a link's parameters are checked against."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import event

from dashapp.web import ids
from queries.clock import utc_now
from tests.support.rows import history_runs, insert_runs


def _components(node: object) -> Iterator[object]:
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            yield from _components(child)


def _by_id(layout: object, component_id: str) -> object:
    return next(c for c in _components(layout) if getattr(c, "id", None) == component_id)


def test_a_page_load_reads_the_filter_values_once(dash_app, use_engine, pg_engine):
    from dashapp.web.pages import history

    runs = insert_runs(pg_engine, history_runs(), utc_now())
    use_engine(pg_engine)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(pg_engine, "before_cursor_execute", seen)
    try:
        page = history.layout(crm_source=["genius,nowhere"], status=["failed", "bogus"], sync_type="calls")
    finally:
        event.remove(pg_engine, "before_cursor_execute", seen)

    skip_scans = [s for s in statements if "WITH RECURSIVE" in s]
    assert len(skip_scans) == 3 == len(statements)
    assert sum("MIN(crm_source)" in s and "sync_type" not in s for s in skip_scans) == 1
    assert sum("MIN(status)" in s for s in skip_scans) == 1
    assert sum("pairs" in s for s in skip_scans) == 1
    # the one read is both the options offered and the values a link's parameters are checked against
    crm = _by_id(page, ids.HISTORY_CRM)
    assert [o["value"] for o in crm.options] == sorted({r.crm_source for r in runs})
    assert crm.value == ["genius"]
    sync_type = _by_id(page, ids.HISTORY_SYNC_TYPE)
    assert [o["value"] for o in sync_type.options] == sorted({r.sync_type for r in runs})
    status = _by_id(page, ids.HISTORY_STATUS)
    assert "weird" in [o["value"] for o in status.options] and status.value == ["failed"]
    chips = [c.children for c in _components(_by_id(page, ids.HISTORY_LINK_MESSAGE)) if hasattr(c, "color")]
    assert chips == ["ignored: crm_source: 'nowhere' is not a CRM in sync_history",
                     "ignored: status: 'bogus' is not a status in sync_history"]
