"""Circuit breakers drawn as a state timeline; rate limits past their window greyed and left out
of the overview's tightest limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashapp import display
from dashapp.payloads import crm_api_usage as api_usage_payloads
from dashapp.recording import crm_calls as api_calls
from dashapp.web.components import figures
from tests.conftest import call_writer


@pytest.fixture
def recorded(db):
    for writer in call_writer(db, flush_seconds=0.05):
        yield db, writer


def _limit(crm: str, remaining: int, reset_seconds: int, at: datetime) -> None:
    api_calls.record_api_call(crm, "/x", "GET", 200, 10, called_at=at, headers={
        "X-RateLimit-Limit": "100", "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset_seconds)})


def test_a_limit_past_its_window_is_greyed_and_not_the_tightest(recorded, dash_app):
    from dashapp.web.pages.crm_api_usage import _rate_tile  # after the app registers its pages

    db, writer = recorded
    now = datetime.now(UTC).replace(microsecond=0)
    _limit("hubspot", 0, 60, now - timedelta(minutes=12))  # 100% used, its window reset 11 min ago
    _limit("genius", 40, 600, now - timedelta(minutes=1))  # 60% used, resets in 9 min
    writer.flush()
    limits = api_usage_payloads.rate_limit_list(db, api_usage_payloads.PAST_HOUR, now)
    assert [(x["crm_source"], x["percent_used"], x["in_window"]) for x in limits["limits"]] == [
        ("genius", 60.0, True), ("hubspot", 100.0, False)]
    tightest = api_usage_payloads.tightest(limits)
    assert tightest["crm_source"] == "genius" and tightest["level"] == "ok"
    stale = _rate_tile(1, limits["limits"][1], display.iso_utc(now))
    card = stale.children.children  # the column, its wrapper (greyed in the browser at its reset), the card
    assert "stale" in card.className and "border-secondary" in card.className
    texts = str(card.to_plotly_json())
    assert "seen 12 min ago; window reset" in texts
    # its 429 count names its own span, the page's window, not "the window" the limit resets
    assert "0 × 429 in the past 24 hours" in str(_rate_tile(1, limits["limits"][1], display.iso_utc(now), "24h")
                                             .to_plotly_json())
    live = _rate_tile(0, limits["limits"][0], display.iso_utc(now)).children.children
    assert "stale" not in live.className


def test_every_window_reset_leaves_no_tightest_limit(recorded):
    db, writer = recorded
    now = datetime.now(UTC).replace(microsecond=0)
    _limit("hubspot", 0, 30, now - timedelta(minutes=5))
    writer.flush()
    limits = api_usage_payloads.rate_limit_list(db, api_usage_payloads.PAST_HOUR, now)
    assert api_usage_payloads.tightest(limits) is None


def test_breaker_bands_cover_the_window_and_a_recovery_shows_as_closed():
    at = "2026-11-30T10:05:00Z"
    breaker = {"breaker": "hubspot-contacts", "state": "CLOSED", "transitions": [
        {"at": "2026-11-30T10:00:00Z", "from": "CLOSED", "to": "OPEN", "reason": "3 failures"},
        {"at": at, "from": "OPEN", "to": "HALF_OPEN", "reason": "probe"},
        {"at": at, "from": "HALF_OPEN", "to": "CLOSED", "reason": "probe succeeded"},  # the same instant
    ]}
    bands = figures.breaker_bands(breaker, "2026-11-30T09:00:00Z", "2026-11-30T11:00:00Z")
    assert [(b[0], b[1], b[2]) for b in bands] == [
        ("CLOSED", "2026-11-30T09:00:00Z", "2026-11-30T10:00:00Z"),
        ("OPEN", "2026-11-30T10:00:00Z", at),
        ("CLOSED", at, "2026-11-30T11:00:00Z"),
    ]
    figure = figures.breaker_timeline([breaker], "none", "2026-11-30T09:00:00Z", "2026-11-30T11:00:00Z",
                                      "America/New_York")
    by_state = {trace.name: trace for trace in figure.data}
    assert set(by_state) == {"CLOSED", "OPEN"}
    assert list(by_state["OPEN"].x) == [5 * 60 * 1000]  # five minutes, drawn for their length
    assert str(by_state["OPEN"].base[0]).startswith("2026-11-30T05:00:00")  # 10:00 UTC in New York
    assert figure.layout.xaxis.title.text == "time (EST)"


def test_a_breaker_without_transitions_is_one_band_of_its_state():
    bands = figures.breaker_bands({"breaker": "b", "state": "OPEN", "transitions": []}, "a", "b")
    assert bands == [("OPEN", "a", "b", "state at the window's start")]
