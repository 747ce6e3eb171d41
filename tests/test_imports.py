"""The library's import graph: no cycle among its modules, and every module imports on its own.

The graph is read from the source with :mod:`ast`, so a cycle is found even where import order
happens to hide it today. Two graphs are checked: the imports that run when a module is imported
(module level, not under ``if TYPE_CHECKING``), and all imports, deferred ones inside functions
included (a deferred import hides a cycle from the interpreter, not from the design).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import visualact_env

PACKAGE = "visualact_env"
ROOT = Path(visualact_env.__file__).resolve().parent


def _module_names() -> dict[str, Path]:
    """``{dotted module name: file}`` for every module of the package."""
    names = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


MODULES = _module_names()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(importer: str, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not _is_package(importer):
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run at import time: module body, also inside try/if (not TYPE_CHECKING)."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                stack.extend(node.body)
            stack.extend(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                stack.extend(block)
            for handler in node.handlers:
                stack.extend(handler.body)
        elif isinstance(node, ast.With):
            stack.extend(node.body)
    return found


def _targets(importer: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The package's modules whose code an import statement runs."""
    out: set[str] = set()
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = _resolve(importer, node.module, node.level)
        names = []
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            names.append(sub if sub in MODULES else base)
    for name in names:
        if name != PACKAGE and not name.startswith(PACKAGE + "."):
            continue
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # a.b.c runs a, a.b and a.b.c
            target = ".".join(parts[:i])
            ancestor = importer == target or importer.startswith(target + ".")
            if target in MODULES and target != importer and (not ancestor or i == len(parts)):
                out.add(target)
    return out


def _all_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]


def import_graph(*, deferred: bool = False) -> dict[str, set[str]]:
    """``{module: modules it imports at import time}`` for the whole package; with ``deferred``,
    also the imports inside functions."""
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        nodes = _all_imports(tree) if deferred else _top_level_imports(tree)
        graph[name] = set().union(*(_targets(name, n) for n in nodes))
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_the_runner_and_report_edges() -> None:
    """The walker reads real edges (else the no-cycle test below would pass vacuously)."""
    graph = import_graph()
    assert "visualact_env.rundir" in graph["visualact_env.runner"]
    assert "visualact_env.rundir" in graph["visualact_env.report.summary"]
    assert "visualact_env.report.summary" in graph["visualact_env.report"]
    assert "visualact_env.envs.registration" in graph["visualact_env"]


def test_no_import_cycle_among_library_modules() -> None:
    cycles = find_cycles(import_graph())
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_import_cycle_even_through_deferred_imports() -> None:
    graph = import_graph(deferred=True)
    assert "visualact_env.report" in graph["visualact_env.runner"]  # the runner's lazy import
    cycles = find_cycles(graph)
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_run_folder_module_sits_below_runner_and_reports() -> None:
    """``rundir`` imports neither the runner nor the reports, not even lazily."""
    imported = import_graph(deferred=True)["visualact_env.rundir"]
    for upper in ("runner", "report", "merge", "sweep", "commands"):
        assert not any(m.startswith(f"{PACKAGE}.{upper}") for m in imported), upper


@pytest.mark.parametrize("module", sorted(set(MODULES) - {f"{PACKAGE}.__main__"}))
def test_each_module_imports_in_a_fresh_interpreter(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


# --------------------------------------------------------------------------------------------
# Layers: ARCHITECTURE.md's "Layers" table assigns every module a layer; no module imports a
# module of a higher layer (deferred imports included), and the agents stay outside.

ARCHITECTURE = ROOT.parent / "ARCHITECTURE.md"
AGENTS_ROOT = ROOT.parent / "agents"
AGENTS_MAX_LAYER = 3
"""The agents (``visualact_agents``) may import the library's layers 0..3 only."""


def read_layers(text: str) -> dict[str, int]:
    """``{module pattern: layer}`` from the ``## Layers`` table: rows ``| N name | `mod`, `pkg.*`,
    ... | ... |``; names are relative to ``visualact_env`` (``.`` is the package itself)."""
    section = text.split("\n## Layers", 1)[1].split("\n## ", 1)[0]
    layers: dict[str, int] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0][:1].isdigit():
            continue
        layer = int(cells[0].split()[0])
        for pattern in re.findall(r"`([^`]+)`", cells[1]):
            assert pattern not in layers, f"{pattern} is listed twice in the Layers table"
            layers[pattern] = layer
    return layers


def layer_of(module: str, layers: dict[str, int]) -> int | None:
    """The layer of a dotted module name: its exact entry, else the nearest ``pkg.*`` entry."""
    rel = module[len(PACKAGE) + 1 :] if module != PACKAGE else "."
    if rel in layers:
        return layers[rel]
    parts = rel.split(".")
    for i in range(len(parts), 0, -1):
        pattern = ".".join(parts[:i]) + ".*"
        if pattern in layers:
            return layers[pattern]
    return None


LAYERS = read_layers(ARCHITECTURE.read_text(encoding="utf-8"))


def test_the_layers_table_is_read() -> None:
    assert LAYERS["records"] < LAYERS["metric"] < LAYERS["parsing"] < LAYERS["rundir"]
    assert LAYERS["rundir"] < LAYERS["report.*"] < LAYERS["runner"] < LAYERS["cli"]
    assert layer_of("visualact_env.envs.vector", LAYERS) == LAYERS["envs.*"]
    assert layer_of("visualact_env", LAYERS) == LAYERS["."]


def test_every_module_has_a_layer() -> None:
    missing = sorted(m for m in MODULES if layer_of(m, LAYERS) is None)
    assert missing == [], f"add these modules to ARCHITECTURE.md's Layers table: {missing}"


def layer_violations(graph: dict[str, set[str]], layers: dict[str, int]) -> list[str]:
    """``importer (layer) -> imported (higher layer)`` for every upward import."""
    out = []
    for importer, targets in sorted(graph.items()):
        low = layer_of(importer, layers)
        for target in sorted(targets):
            high = layer_of(target, layers)
            if low is not None and high is not None and high > low:
                out.append(f"{importer} ({low}) -> {target} ({high})")
    return out


def test_the_layer_check_finds_a_planted_upward_import() -> None:
    graph = {f"{PACKAGE}.metric": {f"{PACKAGE}.report.summary", f"{PACKAGE}.records"}}
    assert layer_violations(graph, LAYERS) == [
        f"{PACKAGE}.metric ({LAYERS['metric']}) -> {PACKAGE}.report.summary ({LAYERS['report.*']})"
    ]


def test_lower_layers_never_import_higher_ones() -> None:
    """Deferred imports count too: a lazy import hides a dependency from the interpreter, not
    from the design."""
    violations = layer_violations(import_graph(deferred=True), LAYERS)
    assert violations == [], "upward imports (see ARCHITECTURE.md, Layers):\n" + "\n".join(
        violations
    )


def _agent_imports() -> dict[str, set[str]]:
    """``{agents/file: library modules it imports}`` (deferred imports included)."""
    out: dict[str, set[str]] = {}
    for path in sorted(AGENTS_ROOT.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found: set[str] = set()
        for node in _all_imports(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif node.level == 0 and node.module:
                names = [
                    f"{node.module}.{a.name}"
                    if f"{node.module}.{a.name}" in MODULES
                    else node.module
                    for a in node.names
                ]
            else:
                names = []
            found |= {n for n in names if n.startswith(PACKAGE + ".")}
        out[path.name] = found
    return out


def test_agents_use_only_the_lower_layers() -> None:
    imports = _agent_imports()
    assert f"{PACKAGE}.agent" in imports["baselines.py"]  # the walker sees real edges
    too_high = sorted(
        f"agents/{name} -> {module} ({layer_of(module, LAYERS)})"
        for name, modules in imports.items()
        for module in modules
        if (layer_of(module, LAYERS) or 0) > AGENTS_MAX_LAYER
    )
    assert too_high == [], too_high


def test_the_library_never_names_the_agents_package() -> None:
    """Agents are reached only through the ``visualact.agents`` entry points (the registry)."""
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _all_imports(tree):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [module or ""] + [a.name for a in node.names]
            assert not any(n.split(".")[0] in ("agents", "visualact_agents") for n in names), name
