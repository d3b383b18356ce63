"""The step graph of a compiled definition, and a picture of it (PNG or SVG, matplotlib)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from churn.summary import StepRecord

_REFERENCE = re.compile(r"Steps\.([A-Za-z0-9_-]+)")
STATUS_COLOURS = {
    "Succeeded": "#c8e6c9",
    "Failed": "#ffcdd2",
    "Executing": "#bbdefb",
    "NotStarted": "#eeeeee",
    None: "#ffffff",
}


@dataclass
class StepGraph:
    nodes: list[str] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, label)


def _references(node, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"Get"} and isinstance(node["Get"], str):
            found.update(_REFERENCE.findall(node["Get"]))
        for key, value in node.items():
            if key not in ("IfSteps", "ElseSteps"):
                _references(value, found)
    elif isinstance(node, list):
        for value in node:
            _references(value, found)
    return found


def graph_from_definition(definition: dict) -> StepGraph:
    """Nodes are steps (condition branches included); an edge is a property reference, an
    explicit dependency or a condition outcome."""
    graph = StepGraph()

    def visit(steps, parent=None, outcome=""):
        for step in steps:
            name = step["Name"]
            graph.nodes.append(name)
            if parent:
                graph.edges.append((parent, name, outcome))
            arguments = {k: v for k, v in step.items() if k not in ("Arguments",)}
            sources = _references(step.get("Arguments", {}), set()) | _references(arguments, set())
            sources |= set(step.get("DependsOn", []))
            for source in sorted(sources - {name}):
                graph.edges.append((source, name, ""))
            visit(step.get("Arguments", {}).get("IfSteps", []), name, "true")
            visit(step.get("Arguments", {}).get("ElseSteps", []), name, "false")

    visit(definition["Steps"])
    return graph


def _levels(graph: StepGraph) -> dict[str, int]:
    level = {name: 0 for name in graph.nodes}
    for _ in graph.nodes:  # longest path from a source, by relaxation
        for source, target, _label in graph.edges:
            if source in level and target in level:
                level[target] = max(level[target], level[source] + 1)
    return level


def render(graph: StepGraph, statuses: dict[str, StepRecord] | None = None, fmt: str = "png") -> bytes:
    """Draw the graph left to right; ``statuses`` (step name -> summary step record) colours
    each box by its status and adds its duration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    statuses = statuses or {}
    level = _levels(graph)
    columns: dict[int, list[str]] = {}
    for name in graph.nodes:
        columns.setdefault(level[name], []).append(name)
    position = {}
    for column, names in columns.items():
        for row, name in enumerate(names):
            position[name] = (column * 3.2, -(row - (len(names) - 1) / 2) * 1.3)
    width = max(6.0, 3.2 * len(columns) * 0.95)
    figure, axes = plt.subplots(figsize=(width, 2.4 + 0.6 * max(len(v) for v in columns.values())))
    boxes = {}
    for name, (x, y) in position.items():
        record = statuses.get(name)
        status = record.status if record else None
        text = name.replace("-CreateModel", "").replace("-RegisterModel", "")
        if record and status:
            duration = record.duration_seconds
            text += f"\n{status}" + (f" {duration:.1f}s" if duration is not None else "") + (" cached" if record.cache_hit else "")
        boxes[name] = axes.text(
            x, y, text, ha="center", va="center", fontsize=9,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": STATUS_COLOURS.get(status, "#ffffff"), "edgecolor": "#333333"},
        )
    for source, target, label in graph.edges:
        skip = level[target] - level[source] > 1
        axes.annotate(
            "", xy=(0, 0.5), xycoords=boxes[target], xytext=(1, 0.5), textcoords=boxes[source],
            arrowprops={
                "arrowstyle": "->", "color": "#555555", "shrinkA": 6, "shrinkB": 6,
                # An edge that skips a column arcs over the boxes between.
                "connectionstyle": f"arc3,rad={-0.35 if skip else 0}",
            },
        )
        if label:
            (x1, y1), (x2, y2) = position[source], position[target]
            axes.text((x1 + x2) / 2, (y1 + y2) / 2 + 0.15, label, fontsize=8, color="#555555", ha="center")
    xs = [p[0] for p in position.values()]
    ys = [p[1] for p in position.values()]
    axes.set_xlim(min(xs) - 1.6, max(xs) + 1.6)
    axes.set_ylim(min(ys) - 0.9, max(ys) + 0.9)
    axes.axis("off")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, bbox_inches="tight", dpi=110)
    plt.close(figure)
    return buffer.getvalue()
