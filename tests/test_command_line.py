"""``python app.py COMMAND``: one table of commands (dashapp/cli.py). ``--help`` and a word not in
the table print the table's usage and exit 2 without serving; every command answers bad input
with one line and exit status 2."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashapp import cli
from dashapp.config import VARIABLES
from tests.conftest import closed_port

ROOT = Path(__file__).resolve().parent.parent
USAGES = [f"python app.py {command.usage}" for command in cli.COMMANDS]


def app_py(*args: str) -> subprocess.CompletedProcess[str]:
    # a port nothing listens on: were the server started, the command would hang until the timeout
    env = {**os.environ, "PORT": str(closed_port())}
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def usage_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("python app.py ")]


@pytest.mark.parametrize("word", ["--help", "-h", "help"])
def test_help_prints_every_command_and_exits_2_without_serving(word):
    done = app_py(word)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("usage:\n  python app.py\n")
    assert usage_lines(done.stderr) == USAGES
    assert [command.word for command in cli.COMMANDS] == ["db", "users", "alerts", "digest", "rollups", "demo"]


def test_an_unknown_command_is_named_then_the_usage():
    done = app_py("serve-now", "--port", "9")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[0] == "sync-monitor: no command 'serve-now'"
    assert usage_lines(done.stderr) == USAGES


def run(argv: list[str], capsys, monkeypatch, **env: str) -> tuple[int, list[str]]:
    """``cli.main(argv)`` in this process under exactly ``env``'s settings: its status and stderr's lines."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.err.splitlines()


BAD_ARGUMENTS = [
    (["db"], "db"), (["db", "drop"], "db"), (["db", "upgrade", "now"], "db"),
    (["users"], "users"), (["users", "add"], "users"), (["users", "remove", "bob"], "users"),
    (["users", "add", "bob", "--role", "boss"], "users"),
    (["alerts"], "alerts"), (["alerts", "check", "--all"], "alerts"),
    (["digest"], "digest"), (["digest", "now"], "digest"), (["digest", "send", "--day", "x"], "digest"),
    (["rollups"], "rollups"), (["rollups", "now"], "rollups"),
    (["demo"], "demo"), (["demo", "fill", "--days", "0"], "demo"), (["demo", "fill", "--days", "31"], "demo"),
    (["demo", "fill", "--days", "x"], "demo"),
]


@pytest.mark.parametrize(("argv", "word"), BAD_ARGUMENTS, ids=[" ".join(argv) for argv, _ in BAD_ARGUMENTS])
def test_bad_arguments_print_the_commands_usage_line_and_exit_2(argv, word, capsys, monkeypatch):
    status, lines = run(argv, capsys, monkeypatch)
    usage = next(command.usage for command in cli.COMMANDS if command.word == word)
    assert status == 2 and len(lines) == 1 and lines[0].startswith(f"usage: python app.py {usage}")


GOOD_ARGUMENTS = [["db", "current"], ["users", "add", "bob", "--no-password"], ["alerts", "check"],
                  ["rollups", "refresh"], ["demo", "fill", "--days", "1"]]


@pytest.mark.parametrize("argv", GOOD_ARGUMENTS, ids=[argv[0] for argv in GOOD_ARGUMENTS])
def test_a_bad_setting_is_one_line_naming_it(argv, capsys, monkeypatch, tmp_path):
    status, lines = run(argv, capsys, monkeypatch, REFRESH_SECONDS="often", AUTH_USERS_FILE=str(tmp_path / "u.json"))
    assert (status, lines) == (2, ["sync-monitor: REFRESH_SECONDS='often' is not a whole number"])


@pytest.mark.parametrize("argv", [argv for argv in GOOD_ARGUMENTS if argv[0] != "users"],
                         ids=[argv[0] for argv in GOOD_ARGUMENTS if argv[0] != "users"])
def test_a_database_that_does_not_answer_is_one_line(argv, capsys, monkeypatch):
    port = closed_port()
    status, lines = run(argv, capsys, monkeypatch, DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/none")
    assert status == 2 and len(lines) == 1
    assert lines[0].startswith("sync-monitor: the database refused: ") and f"port {port}" in lines[0]


def test_users_add_refusals_are_one_line_each(capsys, monkeypatch, tmp_path):
    users = tmp_path / "users.json"
    assert run(["users", "add", "bob"], capsys, monkeypatch) == (
        2, ["sync-monitor: set AUTH_USERS_FILE to the users file's path first"])
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert run(["users", "add", "bob"], capsys, monkeypatch, AUTH_USERS_FILE=str(users)) == (
        2, ["sync-monitor: a password needs at least 8 characters"])
    assert not users.exists()
    monkeypatch.setattr(sys, "stdin", io.StringIO("long enough\n"))
    assert run(["users", "add", "bob", "--role", "operator"], capsys, monkeypatch, AUTH_USERS_FILE=str(users))[0] == 0
    assert '"bob"' in users.read_text()
    users.write_text("{not json")
    status, lines = run(["users", "add", "carol", "--no-password"], capsys, monkeypatch, AUTH_USERS_FILE=str(users))
    assert status == 2 and len(lines) == 1 and lines[0].startswith(f"sync-monitor: {users}")


def test_demo_fill_refuses_the_embedded_database(capsys, monkeypatch):
    assert run(["demo", "fill"], capsys, monkeypatch) == (
        2, ["sync-monitor: set DATABASE_URL to the database to fill (without it the app fills its own demo)"])
