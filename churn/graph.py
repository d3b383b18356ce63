"""The step graph of a compiled definition, and a picture of it: SVG written directly (a report
needs no matplotlib), or PNG drawn by matplotlib from the same layout."""

from __future__ import annotations

import html
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


#: Pixels: the font's size and a character's estimated width (box widths fit their text), a
#: box's padding and line height, the gaps between columns and between rows.
_FONT, _CHAR, _PAD, _LINE, _GAP_X, _GAP_Y = 12, 7.2, 10, 16, 60, 24


@dataclass
class _Box:
    x: float  # centre
    y: float
    width: float
    lines: list[str]
    fill: str


@dataclass
class _Edge:
    start: tuple[float, float]
    segments: list[tuple[tuple[float, float], ...]]  # a point: a line to it; three: a cubic curve
    label: str
    label_at: tuple[float, float]


@dataclass
class _Drawing:
    boxes: dict[str, _Box]  # by step name
    height: float  # every box's
    edges: list[_Edge]
    bounds: tuple[float, float, float, float]  # left, top, width, height


def _layout(graph: StepGraph, statuses: dict[str, StepRecord]) -> _Drawing:
    """Each step's box (in its column, by its longest path from a source) and the edges:
    straight to the next column, or arcing over the boxes of the columns they skip."""
    level = _levels(graph)
    columns: dict[int, list[str]] = {}
    for name in graph.nodes:
        columns.setdefault(level[name], []).append(name)
    texts = {}
    for name in graph.nodes:
        record = statuses.get(name)
        texts[name] = [name.replace("-CreateModel", "").replace("-RegisterModel", "")]
        if record and record.status:
            duration = record.duration_seconds
            texts[name].append(record.status + (f" {duration:.1f}s" if duration is not None else "") + (" cached" if record.cache_hit else ""))
    height = max(len(lines) for lines in texts.values()) * _LINE + _PAD
    boxes: dict[str, _Box] = {}
    left = 0.0
    for column in sorted(columns):
        names = columns[column]
        widths = {name: max(len(line) for line in texts[name]) * _CHAR + 2 * _PAD for name in names}
        for row, name in enumerate(names):
            record = statuses.get(name)
            fill = STATUS_COLOURS.get(record.status if record else None, "#ffffff")
            boxes[name] = _Box(left + max(widths.values()) / 2, (row - (len(names) - 1) / 2) * (height + _GAP_Y), widths[name], texts[name], fill)
        left += max(widths.values()) + _GAP_X
    edges = []
    for source, target, label in graph.edges:
        if source not in boxes or target not in boxes:  # (a reference to no step of the definition)
            continue
        a, b = boxes[source], boxes[target]
        start, end = (a.x + a.width / 2, a.y), (b.x - b.width / 2, b.y)
        skipped = [boxes[name] for column in range(level[source] + 1, level[target]) for name in columns.get(column, [])]
        if not skipped:
            edges.append(_Edge(start, [(end,)], label, ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)))
            continue
        # Out in the gap after the source, across the skipped boxes, back in the gap before the
        # target: above them, or below when its ends are in the lower half (a longer edge a
        # little further out, so that edges side by side stay apart).
        side = 1 if a.y + b.y > 0 else -1
        span = level[target] - level[source]
        level_y = side * max(side * y for y in [box.y for box in skipped] + [a.y, b.y]) + side * (height / 2 + 8 * span)
        over = (min(box.x - box.width / 2 for box in skipped) - _GAP_X / 2, max(box.x + box.width / 2 for box in skipped) + _GAP_X / 2)
        out = ((start[0] + over[0]) / 2, start[1]), ((start[0] + over[0]) / 2, level_y), (over[0], level_y)
        back = ((over[1] + end[0]) / 2, level_y), ((over[1] + end[0]) / 2, end[1]), end
        edges.append(_Edge(start, [out, ((over[1], level_y),), back], label, ((over[0] + over[1]) / 2, level_y)))
    xs = [x for box in boxes.values() for x in (box.x - box.width / 2, box.x + box.width / 2)]
    ys = [y for box in boxes.values() for y in (box.y - height / 2, box.y + height / 2)]
    ys += [y for edge in edges for _, y in [point for segment in edge.segments for point in segment]] + [edge.label_at[1] - _FONT for edge in edges]
    x0, x1, y0, y1 = min(xs) - _PAD, max(xs) + _PAD, min(ys) - _PAD, max(ys) + _PAD
    return _Drawing(boxes, height, edges, (x0, y0, x1 - x0, y1 - y0))


#: What XML 1.0 does not allow in text (control characters, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(text: str) -> str:
    """``text`` escaped for an SVG text node; a character XML cannot hold becomes U+FFFD."""
    return html.escape(_NOT_XML.sub("\ufffd", text))


def svg(graph: StepGraph, statuses: dict[str, StepRecord] | None = None) -> str:
    """The graph left to right, as an SVG document; ``statuses`` (step name -> summary step
    record) colours each box by its status and adds its duration."""
    if not graph.nodes:
        return '<?xml version="1.0" encoding="utf-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"/>\n'
    drawing = _layout(graph, statuses or {})
    left, top, width, height = drawing.bounds
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="{left:.1f} {top:.1f} {width:.1f} {height:.1f}" font-family="DejaVu Sans,Helvetica,Arial,sans-serif" font-size="{_FONT}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#555555"/></marker></defs>',
    ]
    for edge in drawing.edges:
        path = f"M{edge.start[0]:.1f},{edge.start[1]:.1f}" + "".join(
            ("L" if len(points) == 1 else "C") + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) for points in edge.segments
        )
        parts.append(f'<path d="{path}" fill="none" stroke="#555555" stroke-width="1.2" marker-end="url(#arrow)"/>')
        if edge.label:
            parts.append(f'<text x="{edge.label_at[0]:.1f}" y="{edge.label_at[1] - 4:.1f}" text-anchor="middle" font-size="10" '
                         f'fill="#555555">{_text(edge.label)}</text>')
    for box in drawing.boxes.values():
        parts.append(f'<rect x="{box.x - box.width / 2:.1f}" y="{box.y - drawing.height / 2:.1f}" width="{box.width:.1f}" '
                     f'height="{drawing.height}" rx="6" fill="{box.fill}" stroke="#333333"/>')
        first = box.y - (len(box.lines) - 1) * _LINE / 2
        parts += [f'<text x="{box.x:.1f}" y="{first + i * _LINE:.1f}" dy="0.35em" text-anchor="middle">{_text(line)}</text>'
                  for i, line in enumerate(box.lines)]
    return "\n".join(parts + ["</svg>", ""])


def render(graph: StepGraph, statuses: dict[str, StepRecord] | None = None, fmt: str = "svg") -> bytes:
    """The picture of :func:`svg` as ``fmt``: SVG, or PNG (the same layout drawn by matplotlib,
    slow to load: only ``churn graph --output x.png`` asks for one)."""
    if fmt == "svg":
        return svg(graph, statuses).encode()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    drawing = _layout(graph, statuses or {})
    left, top, width, height = drawing.bounds
    figure = plt.figure(figsize=(width / 72, height / 72))  # a pixel of the layout is a point
    axes = figure.add_axes((0, 0, 1, 1), xlim=(left, left + width), ylim=(top + height, top))
    axes.axis("off")
    for edge in drawing.edges:
        points = [edge.start] + [point for segment in edge.segments for point in segment]
        codes = [Path.MOVETO] + [Path.LINETO if len(segment) == 1 else Path.CURVE4 for segment in edge.segments for _ in segment]
        axes.add_patch(FancyArrowPatch(path=Path(points, codes), arrowstyle="-|>", mutation_scale=10, color="#555555", linewidth=1.2))
        if edge.label:
            axes.text(edge.label_at[0], edge.label_at[1] - 4, edge.label, fontsize=10, color="#555555", ha="center", va="baseline")
    for box in drawing.boxes.values():
        axes.add_patch(FancyBboxPatch((box.x - box.width / 2, box.y - drawing.height / 2), box.width, drawing.height, boxstyle="round,pad=0,rounding_size=6",
                                      facecolor=box.fill, edgecolor="#333333"))
        axes.text(box.x, box.y, "\n".join(box.lines), fontsize=_FONT, ha="center", va="center", linespacing=_LINE / _FONT / 1.2)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=144)
    plt.close(figure)
    return buffer.getvalue()
