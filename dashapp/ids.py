"""Component ids as named constants, so layouts and callbacks never disagree on a string."""

APP_CONFIG = "app-config"  # dcc.Store: refresh seconds and display zone for clientside code
CLOCK_TICK = "clock-tick"  # dcc.Interval, 1 s: ticks relative times and countdowns in the browser

OVERVIEW_INTERVAL = "overview-refresh-interval"
OVERVIEW_REFRESH_BUTTON = "overview-refresh-button"
OVERVIEW_REFRESH_STATE = "overview-refresh-state"
OVERVIEW_REFRESH_RECEIVED = "overview-refresh-received"
OVERVIEW_REFRESH_TEXT = "overview-refresh-text"
OVERVIEW_ERROR_BANNER = "overview-error-banner"
OVERVIEW_CARDS = "overview-cards"
CRM_STATUS_GRID = "crm-status-grid"
