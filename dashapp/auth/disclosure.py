"""What a failure tells whom. A database or service error names hosts, ports and roles
(``role "x" is not permitted to log in``): signed-in operators see it, on pages, in the JSON and on
/health; anonymous users and viewers get a short line ("database unavailable"); the detail always
goes to the log, where the caller writes it. A statement cancelled by the timeout names nothing
of the server and is shown to everyone."""

from __future__ import annotations

from dashapp import runtime
from dashapp.auth import users as auth
from dashapp.errors import error_line

DATABASE_UNAVAILABLE = "database unavailable"
_SHORT_STATUS = {"unhealthy": "unavailable", "degraded": "degraded", "not_configured": "not configured"}


def may_see_details() -> bool:
    """True when this request comes from a signed-in operator (session cookie or proxy header)."""
    user = auth.current_user(runtime.settings())
    return user is not None and user.can_act


def shown(detail: str, short: str = DATABASE_UNAVAILABLE) -> str:
    return detail if may_see_details() else short


QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement cancelled (the statement timeout)


def shown_error(exc: BaseException) -> str:
    """A database error as this request may see it: the driver's words for an operator, and for
    anyone when a statement was cancelled by the timeout (which names nothing of the server);
    else "database unavailable"."""
    if getattr(getattr(exc, "orig", None), "pgcode", None) == QUERY_CANCELED:
        return error_line(exc)
    return shown(error_line(exc))


def shown_health(snapshot: dict) -> dict:
    """A health snapshot as this request may see it: each service's ``error`` cut to its status
    ("redis unavailable") unless an operator asks."""
    if may_see_details():
        return snapshot
    public = dict(snapshot)
    for name, probe in snapshot.items():
        if isinstance(probe, dict) and probe.get("error"):
            public[name] = {**probe, "error": f"{name} {_SHORT_STATUS.get(probe.get('status'), 'unavailable')}"}
    if isinstance(snapshot.get("impossible_times"), dict):  # the count only: no runs, CRMs or links
        public["impossible_times"] = {k: v for k, v in public["impossible_times"].items()
                                      if k in ("status", "error", "count", "count_exact", "earliest", "latest")}
    return public
