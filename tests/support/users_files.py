"""Users files for tests. ``add_user`` (the app's own, with its scrypt hashes) writes each set of
users once per process; every test then gets a copy of its own, mode 0600 kept, that it may change.
A scrypt hash costs about 0.2 s, and most web and security tests sign someone in."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from dashapp.auth.users import add_user

User = tuple[str, str, str | None]  # name, role, password (None: a proxy-only user)

_WRITTEN: dict[tuple[User, ...], Path] = {}
_FOLDER: list[Path] = []


def _folder() -> Path:
    if not _FOLDER:
        _FOLDER.append(Path(tempfile.mkdtemp(prefix="sm_test_users_")))
        atexit.register(shutil.rmtree, _FOLDER[0], ignore_errors=True)
    return _FOLDER[0]


def users_file(path: Path, *users: User) -> Path:
    """``path``, a users file holding ``users`` as ``add_user`` wrote them, one after another."""
    written = _WRITTEN.get(users)
    if written is None:
        written = _folder() / f"users_{len(_WRITTEN)}.json"
        for name, role, password in users:
            add_user(written, name, role, password)
        _WRITTEN[users] = written
    shutil.copy2(written, path)
    return path
