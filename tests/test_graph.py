"""The step graph's SVG, written without matplotlib: well-formed, a box per step with its text and
its status's colour, step names escaped, and edges that skip a column clear the boxes they pass."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from churn.definition import compile_definition
from churn.graph import _CHAR, STATUS_COLOURS, StepGraph, _layout, graph_from_definition, render, svg
from churn.summary import StepRecord

NS = {"svg": "http://www.w3.org/2000/svg"}


def _parse(document: str) -> ET.Element:
    return ET.fromstring(document)  # noqa: S314 - churn's own SVG, the document under test


def _boxes(document: str) -> dict[str, tuple[str, list[str]]]:
    """Each box's first line -> (its fill, all its lines), from the parsed SVG (a box is a rect and
    the texts after it up to the next rect)."""
    boxes: dict[str, tuple[str, list[str]]] = {}
    lines: list[str] = []
    fill = ""
    for element in _parse(document):
        tag = element.tag.split("}")[1]
        if tag == "rect":
            if lines:
                boxes[lines[0]] = (fill, lines)
            fill, lines = element.get("fill", ""), []
        elif tag == "text" and fill:
            lines.append(element.text or "")
    if lines:
        boxes[lines[0]] = (fill, lines)
    return boxes


def test_a_box_per_step_with_its_text_and_its_statuss_colour():
    graph = graph_from_definition(compile_definition("local"))
    statuses = {
        "PreprocessData": StepRecord("PreprocessData", "Succeeded", duration_seconds=1.25, cache_hit=True),
        "TrainModel": StepRecord("TrainModel", "Failed", duration_seconds=3.0),
        "TrainBaseline": StepRecord("TrainBaseline", "Executing"),
        "AccuracyTooLow": StepRecord("AccuracyTooLow", "NotStarted"),
    }
    document = render(graph, statuses).decode()
    assert document.startswith("<?xml")
    root = _parse(document)
    assert len(root.findall("svg:rect", NS)) == len(graph.nodes)
    boxes = _boxes(document)
    assert set(boxes) == {name.replace("-CreateModel", "").replace("-RegisterModel", "") for name in graph.nodes}
    assert boxes["PreprocessData"] == (STATUS_COLOURS["Succeeded"], ["PreprocessData", "Succeeded 1.2s cached"])
    assert boxes["TrainModel"] == (STATUS_COLOURS["Failed"], ["TrainModel", "Failed 3.0s"])
    assert boxes["TrainBaseline"] == (STATUS_COLOURS["Executing"], ["TrainBaseline", "Executing"])
    assert boxes["AccuracyTooLow"] == (STATUS_COLOURS["NotStarted"], ["AccuracyTooLow", "NotStarted"])
    assert boxes["CreateModel"] == (STATUS_COLOURS[None], ["CreateModel"])  # no record: white, its name alone
    labels = sorted(text.text or "" for text in root.findall("svg:text", NS) if text.get("font-size") == "10")
    assert labels == ["false", "true", "true"]  # the condition's outcomes


def test_a_hostile_step_name_is_text_not_markup():
    hostile = '</text><script>alert("x")</script><text>&amp;'
    graph = StepGraph(nodes=["Start", hostile], edges=[("Start", hostile, "<b>true</b>")])
    document = svg(graph, {hostile: StepRecord(hostile, "Failed")})
    root = _parse(document)  # well-formed
    assert not root.findall(".//svg:script", NS) and "<script>" not in document
    assert [text.text for text in root.findall("svg:text", NS)] == ["<b>true</b>", "Start", hostile, "Failed"]


def test_box_widths_fit_their_text():
    short, long = "A", "AVeryLongStepNameIndeed"
    drawing = _layout(StepGraph(nodes=[short, long]), {long: StepRecord(long, "Succeeded", duration_seconds=12.0, cache_hit=True)})
    widths = {name: box.width for name, box in drawing.boxes.items()}
    assert widths[long] >= len(long) * _CHAR > widths[short]


def test_an_edge_that_skips_a_column_passes_outside_the_boxes_it_skips():
    graph = graph_from_definition(compile_definition("local"))
    drawing = _layout(graph, {})
    boxes = drawing.boxes
    skipping = 0
    for (source, target, _), edge in zip(graph.edges, drawing.edges):
        start, end = boxes[source].x, boxes[target].x
        between = [box for box in boxes.values() if start < box.x < end]
        if not between:
            assert len(edge.segments) == 1  # the next column: a straight line
            continue
        skipping += 1
        (level,) = {y for segment in edge.segments[1:-1] for _, y in segment}  # across, at one height
        assert all(abs(level - box.y) > drawing.height / 2 for box in between), (source, target)
    assert skipping >= 5


def test_names_xml_cannot_hold_an_empty_graph_and_dangling_references_still_draw():
    """A control character or a lone surrogate in a name made SVG no XML parser reads (or raised);
    no step, or a reference to a step the definition lacks, raised."""
    graph = StepGraph(nodes=["a\x01b", "c\ud800", "x"], edges=[("a\x01b", "x", ""), ("Nope", "x", "")])
    root = _parse(svg(graph))
    assert {"a\ufffdb", "c\ufffd", "x"} <= {text.text for text in root.iter("{http://www.w3.org/2000/svg}text")}
    assert len(root.findall("svg:path", NS)) == 1
    assert _parse(svg(StepGraph())).tag.endswith("svg")
    dangling = graph_from_definition({"Steps": [{"Name": "A", "DependsOn": ["Nope"]}]})
    assert len(_parse(svg(dangling)).findall("svg:rect", NS)) == 1 and render(dangling, fmt="png").startswith(b"\x89PNG")
