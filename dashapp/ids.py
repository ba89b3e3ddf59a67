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
VIEWER_TIMEZONE = "viewer-timezone"  # dcc.Store: DISPLAY_TIMEZONE, or the browser's own zone

HISTORY_RANGE = "history-range"
HISTORY_START = "history-start"
HISTORY_END = "history-end"
HISTORY_CUSTOM_RANGE = "history-custom-range"
HISTORY_CRM = "history-crm-source"
HISTORY_STATUS = "history-status"
HISTORY_SYNC_TYPE = "history-sync-type"
HISTORY_SEARCH_TEXT = "history-error-search"
HISTORY_GRID = "history-grid"
HISTORY_COUNT = "history-count"
HISTORY_MESSAGE = "history-message"
HISTORY_LINK_MESSAGE = "history-link-message"
HISTORY_DOWNLOAD = "history-download"
HISTORY_URL_SEARCH = "history-url-search"
HISTORY_URL_PUSHED = "history-url-pushed"
HISTORY_PURGED = "history-purged"
HISTORY_DETAIL = "history-detail"
HISTORY_DETAIL_BODY = "history-detail-body"
RECENT_ACTIVITY_GRID = "recent-activity-grid"
