"""Comparing two pipeline definitions field by field, against a reviewed allow-list (test code:
the definition parity check, tests/backends/test_definition_parity.py).

The comparison walks two definitions and reports every differing field by a readable path
(``Steps[TrainModel].Arguments.AlgorithmSpecification.TrainingImage``); the allow-list of
fields that may differ between backends is data: ``tests/backends/definition_allowlist.json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ALLOWLIST_FILE = Path(__file__).parent / "backends" / "definition_allowlist.json"
_MISSING = object()


@dataclass(frozen=True)
class Difference:
    path: str
    left: object
    right: object

    def describe(self) -> str:
        def show(value):
            return "(absent)" if value is _MISSING else json.dumps(value)[:120]

        return f"{self.path}: {show(self.left)} != {show(self.right)}"


_NAME_KEYS = ("Name", "InputName", "OutputName", "ChannelName")


def _keyed(items: list) -> dict[str, object] | None:
    """Lists of named objects (steps, parameters, inputs, outputs, channels) are compared by
    name, not position."""
    for key in _NAME_KEYS:
        if items and all(isinstance(i, dict) and isinstance(i.get(key), str) for i in items):
            names = [i[key] for i in items]
            if len(set(names)) == len(names):
                return {f"[{n}]": i for n, i in zip(names, items)}
    return None


def differences(left: object, right: object, path: str = "") -> list[Difference]:
    """Every leaf where two JSON documents differ (a subtree present on one side only is one
    difference)."""
    if isinstance(left, dict) and isinstance(right, dict):
        found = []
        for key in sorted(set(left) | set(right), key=str):
            sub = f"{path}.{key}" if path else str(key)
            a, b = left.get(key, _MISSING), right.get(key, _MISSING)
            found += differences(a, b, sub) if a is not _MISSING and b is not _MISSING else [Difference(sub, a, b)]
        return found
    if isinstance(left, list) and isinstance(right, list):
        keyed_left, keyed_right = _keyed(left), _keyed(right)
        if keyed_left is None or keyed_right is None:
            keyed_left = {f"[{i}]": v for i, v in enumerate(left)}
            keyed_right = {f"[{i}]": v for i, v in enumerate(right)}
        found = []
        for key in list(keyed_left) + [k for k in keyed_right if k not in keyed_left]:
            a, b = keyed_left.get(key, _MISSING), keyed_right.get(key, _MISSING)
            sub = f"{path}{key}"
            found += differences(a, b, sub) if a is not _MISSING and b is not _MISSING else [Difference(sub, a, b)]
        return found
    return [] if left == right else [Difference(path, left, right)]


def load_allowlist(path: Path = ALLOWLIST_FILE) -> list[dict]:
    """Rules ``{"path": <fnmatch pattern>, "why": <reason>}`` of fields allowed to differ."""
    rules = json.loads(path.read_text())["allowed_differences"]
    for rule in rules:
        if not rule.get("path") or not rule.get("why"):
            raise ValueError(f"allow-list rule needs a path and a reason: {rule}")
    return rules


def _pattern(path: str) -> re.Pattern:
    """An allow-list path: literal text where ``*`` stands for any run of characters but ``.``."""
    return re.compile("[^.]*".join(re.escape(part) for part in path.split("*")))


def unexplained(found: list[Difference], rules: list[dict]) -> list[Difference]:
    """The differences no allow-list rule covers."""
    patterns = [_pattern(r["path"]) for r in rules]
    return [d for d in found if not any(p.fullmatch(d.path) for p in patterns)]
