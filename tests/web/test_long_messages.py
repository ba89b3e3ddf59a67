"""Messages of 1 MB: every page, grid and JSON route carries a message cut in SQL
to its bound with its full length, no answer is over 500 KB, and ``GET /api/runs/<id>/error``
gives back exactly the stored message a chunk at a time. On both table shapes and SQLite; the
messages hold 4-byte characters (emoji) where the cuts fall, so characters are not bytes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from queries import errors, failed_operations, messages, run_detail
from queries._sql import app_db
from queries.clock import utc_now
from queries.crm_status import latest_run_per_type
from queries.history import history_page, history_row
from tests.conftest import empty_app_tables
from tests.support.rows import Run, insert_runs

MB = 2**20
LIMIT_BYTES = 500 * 1024
EMOJI = "\U0001F600"  # 4 bytes in UTF-8, two UTF-16 units in the browser


def ascii_message(tag: str) -> str:
    return f"{tag}: HTTPError 502 " + "x" * (MB - 40) + f" the end of {tag}"


def emoji_message() -> str:
    """A 1 MiB-character message whose every bound falls on, before and after an emoji."""
    body = "".join(EMOJI if n % 3 == 0 else "é" if n % 3 == 1 else "a" for n in range(MB))
    return "Ошибка " + body + " the end of emoji"


@pytest.fixture
def long_runs(db) -> dict:
    """Three failed runs with 1 MB messages (two ASCII, one of emoji), a success, and one failed
    operation whose latest retry error is 1 MB too."""
    now = utc_now()
    texts = {"ascii": ascii_message("first"), "emoji": emoji_message(), "ascii2": ascii_message("second")}
    runs = insert_runs(db, [
        Run("hubspot", "contacts", "success", timedelta(hours=5), timedelta(hours=4), processed=10),
        Run("hubspot", "contacts", "failed", timedelta(hours=3), timedelta(hours=2), error=texts["ascii"],
            configuration={"note": "y" * MB}),
        Run("hubspot", "contacts", "failed", timedelta(hours=2), timedelta(hours=1), error=texts["emoji"]),
        Run("salesforce", "deals", "partial", timedelta(minutes=50), timedelta(minutes=40), error=texts["ascii2"]),
    ], now)
    ids = {"success": runs[0].id, "ascii": runs[1].id, "emoji": runs[2].id, "ascii2": runs[3].id}
    empty_app_tables(db)
    retry_error = EMOJI + ascii_message("retry")
    with app_db(db).begin() as conn:
        conn.execute(text("INSERT INTO " + _app_table(db, "failed_operations") +
                          " (sync_id, crm_source, operation_type, state, attempts, max_attempts, last_error,"
                          " updated_at) VALUES (:id, 'hubspot', 'contacts', 'failed', 1, 3, :e, :at)"),
                     {"id": ids["emoji"], "e": retry_error, "at": now.replace(tzinfo=None)})
    return {"ids": ids, "texts": {**texts, "retry": retry_error}, "now": now}


def _app_table(db, name: str) -> str:
    return name if db.dialect.name == "sqlite" else f"sync_monitor.{name}"


def sql_length(db, run_id: int) -> int:
    """LENGTH() of the stored message, in SQL."""
    with db.connect() as conn:
        table = "sync_history" if db.dialect.name == "sqlite" else "orchestration.sync_history"
        return int(conn.execute(text(f"SELECT LENGTH(error_message) FROM {table} WHERE id = :id"),
                                {"id": run_id}).scalar_one())


def test_the_queries_cut_messages_in_sql_and_give_their_length(db, long_runs):
    ids, texts, now = long_runs["ids"], long_runs["texts"], long_runs["now"]
    lengths = {name: sql_length(db, ids[name]) for name in texts if name != "retry"}
    assert lengths == {name: len(texts[name]) for name in lengths}  # characters, not bytes

    recent = errors.recent_failures(db, 10).set_index("id")
    for name in ("ascii", "emoji", "ascii2"):
        assert recent.loc[ids[name], "error_message"] == texts[name][:messages.LIST_BOUND]
        assert int(recent.loc[ids[name], "error_message_length"]) == lengths[name]

    row = run_detail.run_row(db, ids["emoji"])
    assert row["error_message"] == texts["emoji"][:messages.MESSAGE_BOUND]
    assert row["error_message"][-1] == texts["emoji"][messages.MESSAGE_BOUND - 1]  # a whole character at the cut
    assert int(row["error_message_length"]) == lengths["emoji"]
    whole = history_row(db, ids["ascii"])
    assert whole["configuration"] == json.dumps({"note": "y" * MB})[:messages.TEXT_BOUND] or \
        whole["configuration"].startswith('{"note"')  # a cut JSON text stays text
    assert int(whole["configuration_length"]) > messages.TEXT_BOUND

    previous = run_detail.previous_runs(db, "hubspot", "contacts", ids["emoji"] + 1, now)
    cut = previous.set_index("id").loc[ids["emoji"]]
    assert cut["error_message"] == texts["emoji"][:messages.ROW_BOUND]
    assert int(cut["error_message_length"]) == lengths["emoji"]

    page = history_page(db, 0, 10, now).set_index("id")
    assert page.loc[ids["ascii2"], "error_excerpt"] == texts["ascii2"][:300]
    assert int(page.loc[ids["ascii2"], "error_excerpt_length"]) == lengths["ascii2"]

    latest = latest_run_per_type(db, now).set_index("id")
    assert latest.loc[ids["ascii2"], "error_message"] == texts["ascii2"][:messages.ROW_BOUND]

    ops = failed_operations.operations(db, failed_operations.OperationFilter(), 100).set_index("sync_id")
    assert ops.loc[ids["emoji"], "error"] == texts["emoji"][:messages.ROW_BOUND]
    assert int(ops.loc[ids["emoji"], "error_length"]) == lengths["emoji"]
    assert ops.loc[ids["emoji"], "last_error"] == texts["retry"][:messages.ROW_BOUND]
    assert int(ops.loc[ids["emoji"], "last_error_length"]) == len(texts["retry"])
    one = failed_operations.operations(db, failed_operations.OperationFilter(sync_ids=(ids["ascii"],)), 1,
                                       bound=messages.MESSAGE_BOUND).iloc[0]
    assert one["error"] == texts["ascii"][:messages.MESSAGE_BOUND]


def test_the_chunks_of_a_message_are_exactly_the_stored_message(db, long_runs):
    ids, texts = long_runs["ids"], long_runs["texts"]
    for name, source, run_id in (("emoji", "error_message", ids["emoji"]), ("retry", "last_error", ids["emoji"])):
        pieces, offset = [], 0
        while offset is not None:
            chunk = messages.message_chunk(db, run_id, source, offset)
            assert len(chunk.text) <= messages.CHUNK
            pieces.append(chunk.text)
            offset = chunk.next_offset
        assert "".join(pieces) == texts[name] and chunk.length == len(texts[name])
    assert messages.message_chunk(db, ids["ascii"] + 1000) is None
    assert messages.message_chunk(db, ids["success"]) == messages.Chunk(None, 0, None, None)


@pytest.fixture
def client(dash_app, use_engine, db, long_runs):
    use_engine(db)
    return dash_app.server.test_client()


def _get(client, url: str) -> tuple[int, bytes]:
    answer = client.get(url)
    return answer.status_code, answer.get_data()


def test_no_json_route_sends_more_than_500_kb_and_each_says_what_it_cut(client, long_runs):
    ids, texts = long_runs["ids"], long_runs["texts"]
    sizes = {}
    for url in ("/api/errors?days=7", "/api/failed-operations?range=all", "/api/failed-operations?range=all&limit=5000",
                f"/api/failed-operations/{ids['emoji']}", f"/api/runs/{ids['ascii']}", f"/api/runs/{ids['emoji']}",
                "/api/recent-syncs", "/api/crm-status"):
        status, body = _get(client, url)
        assert status == 200, (url, body[:300])
        sizes[url] = len(body)
    assert max(sizes.values()) < LIMIT_BYTES, sizes

    run = client.get(f"/api/runs/{ids['emoji']}").json["run"]
    assert run["error_message"] == texts["emoji"][:messages.MESSAGE_BOUND]
    assert run["message_length"] == len(texts["emoji"]) and run["message_truncated"] is True
    config = client.get(f"/api/runs/{ids['ascii']}").json["run"]
    assert config["configuration_truncated"] is True and isinstance(config["configuration"], str)
    recent = {r["id"]: r for r in client.get("/api/errors?days=7").json["recent_failures"]}
    assert recent[ids["ascii2"]]["error_message"] == texts["ascii2"][:messages.LIST_BOUND]
    assert recent[ids["ascii2"]]["message_length"] == len(texts["ascii2"])
    operation = client.get(f"/api/failed-operations/{ids['emoji']}").json
    assert operation["error"] == texts["emoji"][:messages.MESSAGE_BOUND] and operation["message_truncated"]
    assert operation["last_error"] == texts["retry"][:messages.MESSAGE_BOUND]
    assert operation["last_error_length"] == len(texts["retry"]) and operation["last_error_truncated"]
    success = client.get(f"/api/runs/{ids['success']}").json["run"]
    assert success["error_message"] is None and success["message_truncated"] is False


def _whole(client, run_id: int, source: str = "error_message") -> tuple[str, int, list[int]]:
    pieces, sizes, offset = [], [], 0
    while offset is not None:
        answer = client.get(f"/api/runs/{run_id}/error?source={source}&offset={offset}")
        assert answer.status_code == 200 and answer.mimetype == "application/json"
        sizes.append(len(answer.get_data()))
        body = json.loads(answer.get_data())
        pieces.append(body["text"])
        offset = body["next_offset"]
    return "".join(pieces), body["message_length"], sizes


def test_show_all_reads_back_exactly_the_stored_message_under_500_kb_an_answer(client, long_runs, db):
    ids, texts = long_runs["ids"], long_runs["texts"]
    for name in ("ascii", "emoji"):
        whole, length, sizes = _whole(client, ids[name])
        assert whole == texts[name] and length == sql_length(db, ids[name])
        assert max(sizes) < LIMIT_BYTES
    whole, length, _ = _whole(client, ids["emoji"], "last_error")
    assert whole == texts["retry"] and length == len(texts["retry"])

    answer = client.get(f"/api/runs/{ids['success']}/error").json
    assert answer["text"] is None and answer["message_length"] is None
    assert client.get(f"/api/runs/{ids['ascii2'] + 1000}/error").status_code == 404
    assert client.get(f"/api/runs/{ids['ascii']}/error?source=last_error").status_code == 404
    for bad in ("abc", "0", "-1", "1.5", "99999999999999999999"):
        answer = client.get(f"/api/runs/{bad}/error")
        assert answer.status_code == 400 and "id" in answer.json["error"]
    answer = client.get(f"/api/runs/{ids['ascii']}/error?source=configuration")
    assert answer.status_code == 400 and "source" in answer.json["error"]
    answer = client.get(f"/api/runs/{ids['ascii']}/error?offset=-5")
    assert answer.status_code == 400 and "offset" in answer.json["error"]


def _callback_bytes(client, dash_app, output_part: str, values: dict) -> tuple[int, dict]:
    """Call a callback as the renderer would (tests/support/callbacks.call); the answer's size in
    bytes and its props."""
    if not any(output_part in k for k in dash_app.callback_map):
        assert client.get("/_dash-dependencies").status_code == 200
    key, spec = next((k, v) for k, v in dash_app.callback_map.items() if output_part in k)
    def value(part: dict) -> object:
        return values.get(f"{part['id']}.{part['property']}", values.get(part["id"]))

    inputs = [{**i, "value": value(i)} for i in spec["inputs"]]
    state = [{**s, "value": value(s)} for s in spec.get("state") or []]
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True)) for part in key.strip(".").split("...")]
    body = {"output": key, "outputs": outputs, "inputs": inputs, "state": state,
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return len(answer.get_data()), answer.json["response"]


def test_no_page_refresh_sends_more_than_500_kb(client, dash_app, long_runs):
    ids, texts = long_runs["ids"], long_runs["texts"]
    sizes = {}
    sizes["errors"], errors_page = _callback_bytes(client, dash_app, "recent-failures.children",
                                                   {"errors-refresh-interval": 1, "errors-range": "7d"})
    sizes["failed"], failed_page = _callback_bytes(client, dash_app, "failed-operations-grid.rowData",
                                                   {"failed-refresh-interval": 1, "failed-range": "all"})
    sizes["details"], details = _callback_bytes(client, dash_app, "failed-details-body.children", {
        "failed-operations-grid.cellClicked": {"colId": "error", "rowId": str(ids["emoji"])},
        "failed-operations-grid.rowData": [{"id": ids["emoji"]}], "viewer-timezone": "UTC"})
    for name in ("ascii", "emoji"):
        sizes[f"run {name}"], _ = _callback_bytes(client, dash_app, "run-body.children",
                                                  {"run-refresh-interval": 1, "run-id": ids[name], "run-zone": "UTC"})
    assert max(sizes.values()) < LIMIT_BYTES, sizes
    rows = {r["id"]: r for r in failed_page["failed-operations-grid"]["rowData"]}
    assert rows[ids["emoji"]]["error"] == texts["emoji"][:messages.ROW_BOUND]
    assert rows[ids["emoji"]]["message_length"] == len(texts["emoji"])
    shown = json.dumps(errors_page, ensure_ascii=False)
    assert f"{len(texts['ascii2']):,} characters" in shown and texts["ascii2"][:messages.LIST_BOUND] in shown
    shown = json.dumps(details, ensure_ascii=False)
    assert texts["emoji"][:messages.MESSAGE_BOUND] in shown and texts["retry"][:messages.MESSAGE_BOUND] in shown
    assert f"{len(texts['emoji']):,} characters" in shown
