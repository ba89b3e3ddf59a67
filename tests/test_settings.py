"""Each setting is defined once (dashapp/config.py's VARIABLES): the field it fills, its type and
bounds, its default. These check that load_settings applies exactly that entry: the default when
unset, both bounds accepted, one past either refused with a message naming the variable."""

from __future__ import annotations

import pytest

from dashapp.config import VARIABLES, ConfigError, Number, Whole, load_settings

WHOLE = {name: variable for name, variable in VARIABLES.items() if isinstance(variable.read, Whole)}
NUMBER = {name: variable for name, variable in VARIABLES.items() if isinstance(variable.read, Number)}


def test_each_setting_is_named_alike_in_the_environment_and_in_the_code():
    """One name per concept: SYNC_TIMEZONE is settings.sync_timezone, and so on for every variable."""
    fields = {name: variable.field for name, variable in VARIABLES.items()}
    assert {name: field for name, field in fields.items() if field != name.lower()} == {}
    assert fields["SYNC_TIMEZONE"] == "sync_timezone"
    assert load_settings({"SYNC_TIMEZONE": "Europe/Paris"}).sync_timezone == "Europe/Paris"


def test_the_table_has_whole_numbers_and_numbers():
    assert {"PORT", "REFRESH_SECONDS", "WEB_CONCURRENCY"} <= set(WHOLE)
    assert {"HEALTH_TIMEOUT_SECONDS", "DEMO_INTERVAL_SECONDS"} <= set(NUMBER)


@pytest.mark.parametrize("name", sorted(WHOLE))
def test_a_whole_number_setting_takes_its_bounds_and_nothing_past_them(name):
    variable = WHOLE[name]
    low, high = variable.read.low, variable.read.high
    unset = getattr(load_settings({}), variable.field)
    assert unset == (int(variable.default) if variable.default is not None else None)
    assert getattr(load_settings({name: str(low)}), variable.field) == low
    assert getattr(load_settings({name: f" {high} "}), variable.field) == high
    for outside in (low - 1, high + 1):
        with pytest.raises(ConfigError) as refused:
            load_settings({name: str(outside)})
        assert str(refused.value) == f"{name}={outside} is outside {low}..{high}"
    with pytest.raises(ConfigError) as refused:
        load_settings({name: "many"})
    assert str(refused.value) == f"{name}='many' is not a whole number"


@pytest.mark.parametrize("name", sorted(NUMBER))
def test_a_number_setting_takes_its_floor_and_nothing_below(name):
    variable = NUMBER[name]
    low = variable.read.low
    assert getattr(load_settings({}), variable.field) == float(variable.default)
    assert getattr(load_settings({name: str(low)}), variable.field) == low
    assert getattr(load_settings({name: "2.5"}), variable.field) == 2.5
    with pytest.raises(ConfigError) as refused:
        load_settings({name: str(low - 0.05)})
    assert str(refused.value) == f"{name}={low - 0.05} is below {low}"
    with pytest.raises(ConfigError) as refused:
        load_settings({name: "soon"})
    assert str(refused.value) == f"{name}='soon' is not a number"


def test_settings_that_default_to_another_one():
    assert load_settings({"REFRESH_SECONDS": "12"}).cache_seconds == 4.0
    assert load_settings({"REFRESH_SECONDS": "12", "CACHE_SECONDS": "0"}).cache_seconds == 0.0
    assert load_settings({"REDIS_URL": "redis://r:6379/1"}).celery_broker_url == "redis://r:6379/1"
    assert load_settings({"REDIS_URL": "redis://r", "CELERY_BROKER_URL": "amqp://q"}).celery_broker_url == "amqp://q"
    with pytest.raises(ConfigError) as refused:
        load_settings({"SYNC_SCHEMA": "crm", "APP_SCHEMA": "crm"})
    assert str(refused.value) == "APP_SCHEMA='crm' must be a plain SQL identifier other than SYNC_SCHEMA"
