"""What a failure tells whom. A database or service error names hosts, ports and roles
(``role "x" is not permitted to log in``): signed-in operators see it, on pages, in the JSON and on
/health; anonymous users and viewers get a short line ("database unavailable"); the detail always
goes to the log, where the caller writes it. A database error says its cause in its own words
(``dashapp.errors.database_problem``): everyone reads "permission denied", "table x does not
exist", "column x does not exist" or "statement timeout" with what to do; only an operator reads
the schema, the role and the GRANT to run."""

from __future__ import annotations

from dashapp import runtime
from dashapp.auth import users as auth
from dashapp.errors import DATABASE_UNAVAILABLE, database_problem

__all__ = ["DATABASE_UNAVAILABLE", "may_see_details", "shown", "shown_error", "shown_health"]
_SHORT_STATUS = {"unhealthy": "unavailable", "degraded": "degraded", "not_configured": "not configured"}


def may_see_details() -> bool:
    """True when this request comes from a signed-in operator (session cookie or proxy header)."""
    user = auth.current_user(runtime.settings())
    return user is not None and user.can_act


def shown(detail: str, short: str = DATABASE_UNAVAILABLE) -> str:
    return detail if may_see_details() else short


def shown_error(exc: BaseException) -> str:
    """A database error as this request may see it: its cause and what to do, for an operator
    with the object, role and GRANT (``database_problem``'s ``detail``), for anyone else in words
    that name nothing of the server (its ``public``)."""
    problem = database_problem(exc)
    return shown(problem.detail, problem.public)


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
