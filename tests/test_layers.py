"""The layers of the code, read from the source: every module sits in one layer, imports only
its own layer or lower ones, the modules form no import cycle, and no module imports
another of ours inside a function (the sign of a layer in the wrong place).
docs/contributing.md explains the layers; a new module is placed here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("helpdesk", "routing", "offline", "notifications", "privacy")

# Lowest first. A module may import its own layer and those before it. "pkg.*": every module
# in that package.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "foundation: settings, models, crypto, events, jobs, transports",
        {
            "helpdesk",
            "helpdesk.celery",
            "helpdesk.env",
            "helpdesk.logs",
            "helpdesk.metrics",
            "helpdesk.redis_ha",
            "helpdesk.dbtrips",
            "helpdesk.pgpool",
            "helpdesk.rows",
            "helpdesk.settings",
            "helpdesk.crypto",
            "helpdesk.fields",
            "helpdesk.models",
            "helpdesk.tokens",
            "helpdesk.payloads",
            "helpdesk.events",
            "helpdesk.jobs",
            "helpdesk.ratelimit",
            "routing",
            "routing.models",
            "routing.presence",
            "routing.hours",
            "routing.rules",
            "offline",
            "offline.models",
            "notifications",
            "notifications.models",
            "notifications.transports",
            "notifications.vapid",
            "notifications.addresses",
            "privacy",
            "privacy.models",
            "helpdesk.admin_widgets",
        },
    ),
    (
        "reads: who may see what, selectors, reports",
        {
            "helpdesk.access",
            "helpdesk.files",
            "helpdesk.search",
            "helpdesk.summaries",
            "helpdesk.selectors",
            "helpdesk.site_cache",
            "helpdesk.reports",
            "routing.selectors",
            "routing.shifts",
            "helpdesk.supervision_selectors",
            "helpdesk.dashboard",
            "privacy.selectors",
            "privacy.audit",
        },
    ),
    ("the timeline of a conversation", {"helpdesk.timeline"}),
    (
        "routing, the offline store, notifications",
        {
            "routing.services",
            "routing.shift_services",
            "offline.services",
            "notifications.services",
            "notifications.services.*",
            "privacy.services",
            "helpdesk.site_settings",
        },
    ),
    (
        "visitors, sending, conversations",
        {"helpdesk.services", "helpdesk.services.*", "helpdesk.satisfaction"},
    ),
    (
        "doors: sockets, HTTP, pages, back office, tasks, commands",
        {
            "helpdesk.consumers",
            "helpdesk.sockets",
            "helpdesk.supervision",
            "helpdesk.satisfaction_views",
            "helpdesk.admin_shifts",
            "helpdesk.admin_site",
            "helpdesk.admin_config",
            "helpdesk.templatetags",
            "helpdesk.templatetags.*",
            "privacy.admin",
            "privacy.apps",
            "privacy.tasks",
            "helpdesk.monitoring",
            "helpdesk.validation",
            "helpdesk.schema",
            "notifications.validation",
            "notifications.schema",
            "helpdesk.api",
            "helpdesk.views",
            "helpdesk.urls",
            "helpdesk.asgi",
            "helpdesk.wsgi",
            "helpdesk.middleware",
            "helpdesk.auth",
            "helpdesk.admin",
            "helpdesk.admin_access",
            "helpdesk.admin_labels",
            "helpdesk.i18n",
            "helpdesk.admin_reports",
            "helpdesk.apps",
            "helpdesk.signals",
            "helpdesk.periodic",
            "helpdesk.tasks",
            "helpdesk.management",
            "helpdesk.management.*",
            "routing.admin",
            "routing.apps",
            "routing.tasks",
            "offline.admin",
            "offline.apps",
            "offline.tasks",
            "notifications.admin",
            "notifications.apps",
            "notifications.tasks",
            "notifications.views",
            "notifications.forms",
            "notifications.inbound",
            "notifications.management",
            "notifications.management.*",
        },
    ),
]


def _modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _layer(module: str) -> int:
    for rank, (_, members) in enumerate(LAYERS):
        for member in members:
            if module == member or (member.endswith(".*") and module.startswith(member[:-1])):
                return rank
    raise AssertionError(f"{module} is in no layer: place it in tests/test_layers.py")


def _target(node: ast.ImportFrom | ast.Import, alias: ast.alias) -> str | None:
    """The module of ours an import names (``from helpdesk import services`` names the
    module helpdesk.services when there is one, else the package helpdesk)."""
    if isinstance(node, ast.Import):
        name = alias.name
    else:
        if node.level or not node.module:
            return None
        name = f"{node.module}.{alias.name}"
        if name not in MODULES:
            name = node.module
    if name.split(".")[0] not in APPS:
        return None
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name if name in MODULES else None


class _Imports(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[tuple[str, int, str | None]] = []  # (target, line, enclosing function)
        self.function: list[str] = []

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.function.append(node.name)
        self.generic_visit(node)
        self.function.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def _add(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            target = _target(node, alias)
            if target:
                self.found.append(
                    (target, node.lineno, self.function[-1] if self.function else None)
                )

    visit_Import = _add  # type: ignore[assignment]
    visit_ImportFrom = _add  # type: ignore[assignment]


def _imports() -> dict[str, list[tuple[str, int, str | None]]]:
    graph = {}
    for module, path in MODULES.items():
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        graph[module] = visitor.found
    return graph


GRAPH = _imports()


def test_every_module_is_in_a_layer_and_imports_downwards_only():
    wrong = []
    for module, imports in GRAPH.items():
        for target, line, _ in imports:
            if target != module and _layer(target) > _layer(module):
                wrong.append(
                    f"{MODULES[module].relative_to(ROOT)}:{line} {module} "
                    f"({LAYERS[_layer(module)][0]}) imports {target} "
                    f"({LAYERS[_layer(target)][0]})"
                )
    assert not wrong, "\n".join(wrong)


def test_no_module_of_ours_is_imported_inside_a_function():
    """Except in AppConfig.ready, where Django wants signal receivers connected."""
    inside = [
        f"{MODULES[module].relative_to(ROOT)}:{line} in {function}(): {target}"
        for module, imports in GRAPH.items()
        for target, line, function in imports
        if function is not None and not (module.endswith(".apps") and function == "ready")
    ]
    assert not inside, "\n".join(inside)


def test_the_modules_form_no_import_cycle():
    edges = {m: {t for t, _, f in imports if t != m} for m, imports in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_grows_past_800_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in MODULES.values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 800
    }
    assert not long, long
