"""The package's import structure, read from the source (ast): what may import what."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "churn"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (a function-level import counts too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules() -> dict[str, set[str]]:
    return {path.relative_to(PACKAGE.parent).as_posix(): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _load_time_graph() -> dict[str, set[str]]:
    """churn module -> the churn modules it imports when it is loaded (module-level statements:
    an import inside a function runs later, and cannot make a cycle of loading). ``from a import
    b`` loads package ``a`` and, when ``a.b`` is a module, ``a.b`` too."""
    names = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in names.items():
        edges = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                edges.add(node.module)
                edges.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {edge for edge in edges if edge in names and edge != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_only_the_local_executor_imports_sagemaker_local():
    importers = sorted(
        module for module, names in _modules().items() if any(n == "sagemaker.local" or n.startswith("sagemaker.local.") for n in names)
    )
    assert importers == ["churn/runner/local_executor.py"]


def test_the_check_sees_function_level_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from sagemaker.local.pipeline import LocalPipelineExecutor\n")
    assert "sagemaker.local.pipeline" in _imports(source)


def test_no_module_imports_itself_back_when_loaded():
    assert _cycles(_load_time_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


#: The layers, lowest first: a module may import its own layer and those below, never above
#: (at any depth, so a function-level import counts too). "core": the step logic that runs in the
#: containers and the records and files it reads and writes; "compile": the step graph and what
#: differs between the backends, and what reads a compiled definition or a finished run;
#: "run": running it; "interface": the command line and what it shows while a run runs.
LAYERS = {
    "core": ("schema", "features", "split", "metrics", "selection", "tables", "model_io", "parameters", "files",
             "layout", "steps", "algorithm", "predict", "summary", "registry", "dataset", "dataset_infer",
             "training_metrics", "serving", "tuning", "sizing", "atomic", "rules"),
    "compile": ("backends", "pipeline", "definition", "versions", "graph", "report", "diff", "history", "tracking"),
    "run": ("runner",),
    "interface": ("cli", "progress"),
}


def _layer(module: str) -> str | None:
    top = module.split("/")[1].removesuffix(".py") if "/" in module else module.split(".")[1]
    return next((layer for layer, tops in LAYERS.items() if top in tops), None)


def test_every_module_has_a_layer():
    assert [m for m in _modules() if m != "churn/__init__.py" and _layer(m) is None] == []


def test_no_module_imports_from_a_layer_above_its_own():
    order = list(LAYERS)
    upward = []
    for module, names in _modules().items():
        own = _layer(module)
        if own is None:
            continue
        for name in names:
            if name.startswith("churn.") and _layer(name) is not None and order.index(_layer(name)) > order.index(own):
                upward.append(f"{module} imports {name}")
    assert sorted(set(upward)) == []
