"""The layout's rules (docs/architecture.md, "The layer rules"), checked by reading the source:
imports via ``ast``, never by importing the modules. Each test names the rule it checks and, on
failure, the file and line."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import dash

ROOT = Path(__file__).resolve().parent.parent

# Rule 1: each package's layer; a module imports only from lower layers or its own package.
# ``base`` is what every layer above queries/ may use: the settings, the running app's engine, the
# errors every layer raises (BadParameter itself lives in queries/), and display helpers.
BASE = {"dashapp", "dashapp.config", "dashapp.runtime", "dashapp.errors", "dashapp.display"}
LAYERS = {
    "queries": 0,  # imports nothing of dashapp
    "base": 1,
    "dashapp.storage": 2,
    "dashapp.recording": 3,
    "dashapp.auth": 4,
    "dashapp.health": 4,
    "dashapp.retries": 5,
    "dashapp.alerts": 6,
    "dashapp.payloads": 7,
    "dashapp.web": 8,
    "dashapp.demo": 9,  # like the user's sync code, it stands on dashapp.recording
    "dashapp.startup": 10,  # the entry points put the layers together
    "dashapp.cli": 10,
    "dashapp.worker": 10,
}
# Rule 6: what only the Celery worker loads (Celery signal handlers and the worker's app).
WORKER_ONLY = {"dashapp.worker", "dashapp.retries.tracking"}
WEB_ENTRY = "dashapp.startup"  # the web process: app.py and gunicorn build the app there
# Rule 2: files outside queries/ and storage/ allowed to hold SQL, by file, each with the reason
# (none: every writer's SQL is in queries/; see docs/architecture.md, "The layer rules").
SQL_EXCEPTIONS: dict[str, str] = {}
SQL_BUILDERS = {"text", "select", "insert", "update", "delete"}
SQL_STRING = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b", re.S)
MAX_TOP_LEVEL_MODULES = 10
DOCS = ROOT / "docs"
README_MAX_LINES = 250  # the front door; everything else is in docs/ behind docs/README.md


def _module_files() -> dict[str, Path]:
    files = {}
    for top in ("dashapp", "queries"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


MODULES = _module_files()


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every module of ours ``path`` imports (at any depth: function-level imports count), with its line."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                yield (submodule if submodule in MODULES else node.module), node.lineno


def _graph() -> dict[str, set[str]]:
    return {name: {target for target, _ in _imports(path) if target in MODULES and target != name}
            for name, path in MODULES.items()}


def _package(module: str) -> str:
    if module in BASE:
        return "base"
    for package in sorted(LAYERS, key=len, reverse=True):
        if module == package or module.startswith(package + "."):
            return package
    raise AssertionError(f"{module} is in no layer: add its package to tests/test_layout.py's LAYERS")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_rule1_imports_only_go_down():
    upward = []
    for name, path in MODULES.items():
        own = _package(name)
        for target, line in _imports(path):
            if target not in MODULES or target == name:
                continue
            theirs = _package(target)
            if theirs != own and LAYERS[theirs] >= LAYERS[own]:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({own}) imports {target} ({theirs})")
    assert upward == []


def test_rule1_no_import_circles():
    assert _cycles(_graph()) == []


def test_rule1_queries_import_nothing_from_dashapp():
    found = [f"{path.relative_to(ROOT)}:{line} imports {target}"
             for name, path in MODULES.items() if name.startswith("queries")
             for target, line in _imports(path) if target.split(".")[0] == "dashapp"]
    assert found == []


def test_rule1_the_clock_and_request_errors_are_not_sql_helpers():
    """``utc_now`` comes from queries/clock.py and BadParameter/FilterError from queries/bad_parameter.py,
    never from the SQL helpers (queries/_sql.py), in the app, the tests, the benchmarks and the scripts."""
    moved = {"utc_now", "BadParameter", "FilterError"}
    paths = [ROOT / "app.py"] + [path for top in ("dashapp", "queries", "tests", "bench", "scripts")
                                 for path in sorted((ROOT / top).rglob("*.py"))]
    found = [f"{path.relative_to(ROOT)}:{node.lineno} imports {alias.name}"
             for path in paths for node in ast.walk(ast.parse(path.read_text(), str(path)))
             if isinstance(node, ast.ImportFrom) and node.module == "queries._sql"
             for alias in node.names if alias.name in moved]
    assert found == []


# A feature is named alike in every layer: its page (web/pages), its payload (payloads) and its JSON
# views (web/api). These are the modules that are not one feature's, and where a feature's payload
# lives in its own subsystem instead.
SHARED_PAYLOADS = {"params", "paths", "result_cache", "day_cache", "windows", "card_links", "run_records",
                   "together",  # independent reads of one payload sent to PostgreSQL at once
                   "digest",  # digest: the timeline page's day summary card and the morning digest's JSON
                   "timeline_lanes"}  # the /timeline page's second payload: its swimlanes
SHARED_API = {"params", "actions", "export", "metrics",  # export: the history's downloads; metrics: Prometheus
              "digest",  # the timeline page's day summary (dashapp/web/components/digest_summary.py)
              "timeline_lanes"}  # /api/timeline/lanes: the swimlanes of the /timeline page
PAYLOAD_ELSEWHERE = {"health": "dashapp.health.snapshot", "sign_in": "dashapp.auth"}


def _names(folder: str) -> set[str]:
    return {path.stem for path in (ROOT / folder).glob("*.py") if path.stem != "__init__"}


def test_rule1_one_module_per_feature_in_each_layer_named_alike():
    pages, payloads, api = _names("dashapp/web/pages"), _names("dashapp/payloads"), _names("dashapp/web/api")
    assert pages - payloads - set(PAYLOAD_ELSEWHERE) == set(), "a page without a payload of its name"
    assert payloads - pages - SHARED_PAYLOADS == set(), "a payload without a page of its name"
    assert api - pages - SHARED_API == set(), "JSON views without a page of their name"
    assert not {"dashboard"} & (payloads | api), "one module per feature, not one for the dashboard"


def test_rule1_the_app_never_imports_django():
    """Beat's arithmetic comes from celery's schedule classes; Django and django-celery-beat are
    the tests' oracle only (requirements-dev.txt)."""
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}" for path in MODULES.values()
             for node in ast.walk(ast.parse(path.read_text(), str(path)))
             if isinstance(node, ast.Import | ast.ImportFrom)
             for name, line in ([(a.name, node.lineno) for a in node.names] if isinstance(node, ast.Import)
                                else [(node.module or "", node.lineno)])
             if name.split(".")[0] in ("django", "django_celery_beat")]
    assert found == []


def _documents() -> dict[str, str]:
    """The README and every Markdown file in docs/, by path from the root."""
    paths = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    return {path.relative_to(ROOT).as_posix(): path.read_text() for path in paths}


def test_rule1_sync_code_imports_one_public_module():
    """The docs (docs/recording.md) and the demo import what sync code needs from ``dashapp.recording`` alone."""
    imports = [name for text in _documents().values()
               for name in re.findall(r"^from (dashapp[\w.]*) import", text, re.M)]
    assert imports and set(imports) == {"dashapp.recording"}
    demo = {target for path in (ROOT / "dashapp" / "demo").glob("*.py") for target, _ in _imports(path)
            if target.startswith("dashapp.recording")}
    assert demo == {"dashapp.recording"}


def _sql_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    builders = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            for alias in node.names:
                if alias.name in SQL_BUILDERS:
                    builders.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in builders:
            found.append(f"{node.func.id}( at line {node.lineno}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_STRING.search(node.value):
            found.append(f"an SQL string at line {node.lineno}")
    return found


def test_rule2_no_sql_outside_queries_and_storage():
    found = {}
    for name, path in MODULES.items():
        relative = path.relative_to(ROOT).as_posix()
        if _package(name) in ("queries", "dashapp.storage"):
            continue
        uses = _sql_uses(path)
        if uses and relative not in SQL_EXCEPTIONS:
            found[relative] = uses
    assert found == {}


def test_rule2_the_exceptions_are_still_needed():
    """An exception whose file no longer holds SQL is taken off the list."""
    stale = [name for name in SQL_EXCEPTIONS if not (ROOT / name).exists() or not _sql_uses(ROOT / name)]
    assert stale == []


def test_rule2_finds_sql():
    """The check itself: it sees a builder call and an SQL string."""
    tree_text = 'from sqlalchemy import text\ntext("x")\nQ = "SELECT a FROM b"\n'
    probe = ROOT / "tests" / "__layout_probe__.py"
    try:
        probe.write_text(tree_text)
        assert _sql_uses(probe) == ["text( at line 2", "an SQL string at line 3"]
    finally:
        probe.unlink()


def test_rule5_few_modules_directly_in_dashapp():
    top = sorted(path.name for path in (ROOT / "dashapp").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_rule6_web_never_imports_worker_only_code():
    graph = _graph()
    reached, todo = set(), [WEB_ENTRY]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(graph[module])
    assert reached & WORKER_ONLY == set()
    assert "dashapp.web.pages.overview" in reached  # the walk does reach the pages


def test_rule6_signal_handlers_live_in_worker_only_modules():
    handlers = {name for name, path in MODULES.items()
                if any(target.startswith("celery.signals") for target, _ in _imports(path))}
    assert handlers and handlers <= WORKER_ONLY


def _registrations(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                "register_page", "add_url_rule", "register_blueprint", "route", "get", "post"):
            owner = node.func.value
            if node.func.attr in ("get", "post", "route") and not (
                    isinstance(owner, ast.Name) and owner.id in ("server", "app", "routes", "api", "bp")):
                continue  # dict.get, requests' get and the like
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.func.attr}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Blueprint":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} Blueprint")
    return found


def test_rule3_only_the_route_table_registers_routes():
    found = [hit for name, path in MODULES.items() if name != "dashapp.web.routes" for hit in _registrations(path)]
    assert found == []


def _normal(path: str) -> str:
    return re.sub(r"<[^>]*>", "<>", path)


def test_rule3_every_route_is_registered_from_the_table(dash_app):
    from dashapp.web.routes import PAGES, ROUTES

    rules = {(method, _normal(rule.rule)) for rule in dash_app.server.url_map.iter_rules()
             for method in rule.methods if method in ("GET", "POST")}
    assert {("GET" if route.method == "GET" else "POST", _normal(route.path)) for route in ROUTES} <= rules
    registered = {page["path_template"] or page["path"] for page in dash.page_registry.values()}
    assert {page.path for page in PAGES} == registered


def test_rule3_the_api_docs_list_every_route():
    from dashapp.web.routes import PAGES, ROUTES

    api = (DOCS / "json-api.md").read_text()
    section = api.split("\n## Routes\n", 1)[1].split("\n## ", 1)[0]
    listed = {(method, _normal(path)) for method, path in re.findall(r"`(GET|POST) (/[^`\s?]*)", section)}
    table = {(route.method, _normal(route.path)) for route in ROUTES} | {("GET", _normal(page.path)) for page in PAGES}
    assert listed == table


def test_rule4_every_setting_once_in_config_and_in_the_configuration_docs():
    from dashapp.config import VARIABLES

    section = (DOCS / "configuration.md").read_text()
    rows = re.findall(r"^\| `([A-Z_]+)` \| (.*?) \| (.*) \|$", section, re.M)
    documented = {name: (default, meaning) for name, default, meaning in rows}
    assert len(rows) == len(documented)  # one row per variable
    expected = {name: (v.shown or (f"`{v.default}`" if v.default is not None else "unset"), v.help)
                for name, v in VARIABLES.items()}
    assert documented == expected


def test_rule4_settings_are_read_only_through_config():
    """Only config.py reads the environment, and it reads every variable it lists."""
    readers = []
    for path in [*MODULES.values(), ROOT / "app.py", ROOT / "gunicorn.conf.py"]:
        if path.name == "config.py" and path.parent.name == "dashapp":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and \
                    not (isinstance(node.value, ast.Name) and node.value.id == "request"):  # a request's WSGI environ
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert readers == []
    from dataclasses import fields

    from dashapp.config import VARIABLES, Settings

    # load_settings fills each field from its variable's entry: one entry per field, each with a reader
    assert sorted(variable.field for variable in VARIABLES.values()) == sorted(field.name for field in fields(Settings))
    assert all(callable(variable.read) for variable in VARIABLES.values())


def test_the_repository_stands_alone():
    """Comments point at docs/, never at material outside the repository."""
    outside = [f"{path.relative_to(ROOT)}" for top in ("dashapp", "queries", "tests", "bench", "scripts")
               for path in (ROOT / top).rglob("*.py") if "shared/reference" in path.read_text()
               and path.name != "test_layout.py"]
    assert outside == [] and [name for name, text in _documents().items() if "shared/reference" in text] == []
    assert (ROOT / "docs" / "sync-tables.md").exists() and (ROOT / "docs" / "json-api.md").exists()


def _links(text: str) -> list[str]:
    """The local targets of a Markdown text's links and images, without their #anchors."""
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [target.split("#", 1)[0] for target in targets
            if not re.match(r"[a-z]+:", target) and not target.startswith("#")]


def test_docs_every_link_resolves():
    """Every link and image in the README and docs/ names a file or folder of the repository."""
    broken = [f"{name}: {target}" for name, text in _documents().items() for target in _links(text)
              if not ((ROOT / name).parent / target).exists()]
    assert broken == []


def test_docs_the_readme_is_a_front_door():
    """The README stays short, and links the docs' index; the rest lives in docs/."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= README_MAX_LINES
    assert "docs/README.md" in _links(readme)


def test_docs_the_index_lists_every_docs_file():
    """docs/README.md links every file and folder directly in docs/, so nothing there is an orphan."""
    linked = {target.rstrip("/") for target in _links((DOCS / "README.md").read_text())}
    present = {path.name for path in DOCS.iterdir() if path.name != "README.md" and not path.name.startswith(".")}
    assert sorted(present - linked) == []

