"""Per-user session generations in the app's ``session_generations`` table (used when no Redis
is configured; ``dashapp/auth/session_generation.py`` decides which store to use)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from queries._app_tables import session_generations
from queries._sql import app_db


def generation(engine: Engine, name: str) -> int:
    """``name``'s generation: one primary-key SELECT; 0 when the user has no row."""
    with app_db(engine).connect() as conn:
        value = conn.execute(select(session_generations.c.generation)
                             .where(session_generations.c.user_name == name)).scalar()
    return int(value or 0)


def advance(engine: Engine, name: str, at: datetime) -> int:
    """Add one to ``name``'s generation (a row at 0 first if there is none), in one transaction;
    returns the new generation. ``at``: naive UTC."""
    with app_db(engine).begin() as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(session_generations).values(user_name=name, generation=0, updated_at=at)
                     .on_conflict_do_nothing(index_elements=["user_name"]))
        conn.execute(update(session_generations).where(session_generations.c.user_name == name)
                     .values(generation=session_generations.c.generation + 1, updated_at=at))
        return int(conn.execute(select(session_generations.c.generation)
                                .where(session_generations.c.user_name == name)).scalar_one())
