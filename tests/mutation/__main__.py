"""Mutation testing of the pure modules: ``tox -e mutation [-- OPTIONS]``.

mutmut (configured in ``pyproject.toml``, ``[tool.mutmut]``) changes the pure modules one small
change at a time and runs, for each change, the non-Docker tests that reach the changed function.
A change no test notices is a survivor. This driver runs mutmut in a copy of the checkout (the
checkout itself is never touched), then writes the score and every survivor, with the reason it
is equivalent or accepted from ``tests/mutation/accepted.toml``, to ``tests/mutation/RESULTS.md``.

    tox -e mutation                              # every pure module (by hand; see RESULTS.md)
    tox -e mutation -- --only churn/features.py  # some modules
    tox -e mutation -- --min-score 85            # exit 1 below that score
    tox -e mutation -- --keep                    # again after new tests: changed functions and
                                                 # the last run's survivors only (a killed mutant
                                                 # is not tried again: start afresh after
                                                 # weakening a test)

It exits 1 when the score is below ``--min-score`` or a survivor is neither explained in
accepted.toml nor allowed by ``--allow-unexplained``.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ACCEPTED = HERE / "accepted.toml"
RESULTS = HERE / "RESULTS.md"

#: mutmut's statuses that count as the mutant being noticed. A timeout is a mutant that made a
#: test run far longer than its clean time (an endless loop): noticed, as mutmut counts it.
PURE_LAYER_TESTS = ("the pure layer's tests: the non-Docker suite without `tests/backends/`, `tests/runner/` and the CLI, report, "
                    "registry and versions tests (`[tool.mutmut]` in pyproject.toml)")
#: The non-Docker suite (tox's default env).
NON_DOCKER = "not docker and not e2e and not official_stack"
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


@dataclass(frozen=True)
class Mutant:
    name: str  # churn.features.x_feature_tokens__mutmut_2
    status: str
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.name.rsplit(".", 1)[0]

    @property
    def function(self) -> str:
        """``churn.features.feature_tokens`` (mutmut's ``x_`` prefix and ``__mutmut_N`` dropped;
        a method is ``module.Class.method``)."""
        module, mangled = self.name.rsplit(".", 1)
        mangled = re.sub(r"__mutmut_\d+$", "", mangled)
        if "ǁ" in mangled:  # mutmut's method mangling: xǁClassǁmethod
            _, cls, method = mangled.split("ǁ")
            return f"{module}.{cls}.{method}"
        return f"{module}.{mangled.removeprefix('x_')}"


@dataclass(frozen=True)
class Explanation:
    function: str  # a name, or a glob such as "churn.*"
    added: str | None  # the mutated line(s)
    kind: str  # "equivalent" or "accepted"
    why: str
    removed: str | None = None  # the original line(s), where the added text alone is ambiguous
    #: Instead of ``added``/``removed``: a regular expression for a kind of change, matched
    #: against ``ORIGINAL => MUTATED`` (whitespace runs as one space).
    change: str | None = None


_ENTRY_KEYS = {"function", "added", "removed", "change", "kind", "why"}


def load_explanations(path: Path = ACCEPTED) -> list[Explanation]:
    document = tomllib.loads(path.read_text()) if path.exists() else {}
    if set(document) - {"mutant"} or not isinstance(document.get("mutant", []), list):
        raise SystemExit(f"{path}: only [[mutant]] tables belong here, found {sorted(document)}")
    explanations = []
    for number, entry in enumerate(document.get("mutant", []), start=1):
        unknown, missing = set(entry) - _ENTRY_KEYS, {"function", "kind", "why"} - set(entry)
        if unknown or missing:  # a misspelled "removed" would make the entry match more than meant
            raise SystemExit(f"{path}: entry {number} has unknown keys {sorted(unknown)} or lacks {sorted(missing)}")
        if entry["kind"] not in ("equivalent", "accepted"):
            raise SystemExit(f"{path}: kind must be 'equivalent' or 'accepted', got {entry['kind']!r}")
        if ("added" in entry) == ("change" in entry):
            raise SystemExit(f"{path}: an entry for {entry['function']} needs either added or change")
        explanations.append(Explanation(entry["function"], entry.get("added"), entry["kind"], entry["why"],
                                        entry.get("removed"), entry.get("change")))
    return explanations


def _normalize(code: str) -> str:
    return " ".join(code.split())


def explanation_for(mutant: Mutant, explanations: list[Explanation]) -> Explanation | None:
    """The entry for a survivor: same function, same changed line(s) (and same original line(s)
    where the entry gives them), or a change of the kind the entry's pattern describes. Matching
    on the text of the change rather than mutmut's number keeps an entry valid when other lines
    move."""
    added, removed = _normalize("\n".join(mutant.added)), _normalize("\n".join(mutant.removed))
    for explanation in explanations:
        if not fnmatch.fnmatchcase(mutant.function, explanation.function):
            continue
        if explanation.change is not None:
            if re.fullmatch(explanation.change, f"{removed} => {added}"):
                return explanation
        elif _normalize(explanation.added) == added and (
                explanation.removed is None or _normalize(explanation.removed) == removed):
            return explanation
    return None


def _set_list(text: str, key: str, values: list[str]) -> str:
    listed = ", ".join(json.dumps(value) for value in values)  # a TOML basic string is a JSON string
    text, count = re.subn(rf"^{key} = \[[^\]]*\]", f"{key} = [{listed}]", text, flags=re.M)
    assert count == 1, f"pyproject.toml has no [tool.mutmut] {key} list"
    return text


def listed_files(source: Path) -> list[str]:
    """The files of a checkout: git's tracked and new, not ignored; outside a git checkout,
    every file but tox's, mutmut's and git's own folders and caches."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source, capture_output=True, check=False,
    )
    inside = subprocess.run(["git", "rev-parse", "--show-prefix"], cwd=source, capture_output=True, text=True, check=False)
    if listed.returncode == 0 and inside.returncode == 0 and not inside.stdout.strip():
        return [name for name in listed.stdout.decode().split("\0") if name]
    skipped = {".git", ".tox", ".venv", "mutants", "__pycache__", ".hypothesis", ".pytest_cache", ".ruff_cache",
               ".mypy_cache", "runs", "build", "dist"}
    return [str(path.relative_to(source)) for path in sorted(source.rglob("*"))
            if path.is_file() and not skipped & set(path.relative_to(source).parts)
            and not any(part.endswith(".egg-info") for part in path.relative_to(source).parts)]


#: What mutmut itself keeps in the work folder (never the checkout's).
_MUTMUT_OWN = {"mutants", "mutmut-stats.json", ".mutation-driver.json"}


def _remove_stale(work: Path, listed: set[str]) -> None:
    """Remove from a kept copy (and from mutmut's ``mutants/`` mirror of it) the files the
    checkout no longer has: a module moved away would otherwise still be imported by tests."""
    for root in (work, work / "mutants"):
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if relative.parts[0] in _MUTMUT_OWN or "__pycache__" in relative.parts or not path.is_file():
                continue
            if relative.as_posix() not in listed and path.suffix not in (".meta", ".spans"):  # mutmut's results
                path.unlink()


def work_copy(work: Path, only: list[str], keep: bool = False, tests: list[str] = (), source: Path = REPO) -> None:
    """The checkout's files copied to ``work``; ``only`` and ``tests`` narrow the modules mutated
    and the tests run. With ``keep``, an earlier copy is updated file by file (mutmut then
    mutates again only the functions that changed)."""
    if source.resolve().is_relative_to(work.resolve()):
        raise SystemExit(f"--work {work} holds the checkout itself; give a folder of its own")
    inside = work.resolve().is_relative_to(source.resolve())
    if inside and not work.resolve().is_relative_to(source.resolve() / ".tox"):
        raise SystemExit(f"--work {work} is inside the checkout; give a folder under .tox/ or outside it")
    settings = json.dumps({"only": list(only), "tests": list(tests)})
    marker = work / ".mutation-driver.json"
    if work.exists() and any(work.iterdir()) and not marker.is_file():
        raise SystemExit(f"--work {work} holds files of something else (no {marker.name}); give an empty or new folder")
    if work.exists() and not (keep and marker.is_file() and marker.read_text() == settings):
        shutil.rmtree(work)  # a fresh copy (also when --keep follows a run of other modules or tests)
    listed = [name for name in listed_files(source) if (source / name).is_file()]  # not a file deleted without git rm
    for name in listed:
        source_file, target = source / name, work / name
        if source_file.is_file() and not (target.is_file() and target.read_bytes() == source_file.read_bytes()):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source_file, target)
    _remove_stale(work, set(listed))
    pyproject = work / "pyproject.toml"
    text = pyproject.read_text()
    if only:
        text = _set_list(text, "only_mutate", only)
    if tests:
        text = _set_list(text, "pytest_add_cli_args_test_selection", ["-m", NON_DOCKER, *tests])
    pyproject.write_text(text)
    marker.write_text(settings)


def mutmut(work: Path, *args: str, capture: bool = True) -> str:
    environment = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    command = [sys.executable, "-c", "from mutmut.__main__ import cli; cli()", *args]
    done = subprocess.run(command, cwd=work, env=environment, text=True,
                          capture_output=capture, check=False)
    if done.returncode != 0:
        output = (done.stdout or "") + (done.stderr or "") if capture else ""
        raise SystemExit(f"mutmut {' '.join(args)} failed (exit {done.returncode}) in {work}\n{output[-4000:]}")
    return done.stdout or ""


def collect(work: Path) -> list[Mutant]:
    mutants = []
    for line in mutmut(work, "results", "--all", "true").splitlines():
        match = re.fullmatch(r"\s*(\S+): (.+)", line)
        if not match:
            continue
        name, status = match.groups()
        if status in KILLED:
            mutants.append(Mutant(name, status))
            continue
        diff = mutmut(work, "show", name).splitlines()
        removed = tuple(line[1:] for line in diff if line.startswith("-") and not line.startswith("---"))
        added = tuple(line[1:] for line in diff if line.startswith("+") and not line.startswith("+++"))
        mutants.append(Mutant(name, status, removed, added))
    return mutants


def score(mutants: list[Mutant]) -> float:
    return 100.0 * sum(m.status in KILLED for m in mutants) / len(mutants) if mutants else 100.0


def render(mutants: list[Mutant], explanations: list[Explanation], *, only: list[str], seconds: float,
           tests: list[str] = ()) -> str:
    try:
        mutmut_version = importlib.metadata.version("mutmut")
    except importlib.metadata.PackageNotFoundError:
        mutmut_version = "?"
    survivors = [m for m in mutants if m.status not in KILLED]
    explained = {m.name: explanation_for(m, explanations) for m in survivors}
    equivalent = sum(1 for e in explained.values() if e and e.kind == "equivalent")
    killed = len(mutants) - len(survivors)
    lines = [
        "# Mutation testing results",
        "",
        "Written by `tox -e mutation` (`tests/mutation/__main__.py`); do not edit by hand. Reasons for",
        "survivors live in `tests/mutation/accepted.toml`.",
        "",
        f"- When: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, mutmut "
        f"{mutmut_version}, {seconds / 60:.1f} min on {os.cpu_count()} cores",
        f"- Modules: {', '.join(only) if only else 'every module in [tool.mutmut] only_mutate'}",
        f"- Tests: {'the non-Docker tests in ' + ', '.join(tests) if tests else PURE_LAYER_TESTS}; "
        "for each mutant, the tests that reach the mutated function",
        f"- **Score: {score(mutants):.1f}%** ({killed} of {len(mutants)} mutants killed); "
        f"{100.0 * killed / max(1, len(mutants) - equivalent):.1f}% of the {len(mutants) - equivalent} "
        f"that are not equivalent",
        f"- Survivors: {len(survivors)} ({equivalent} equivalent, "
        f"{sum(1 for e in explained.values() if e and e.kind == 'accepted')} accepted, "
        f"{sum(1 for e in explained.values() if e is None)} not yet explained)",
        "",
        "| module | mutants | killed | survived | score |",
        "|---|---:|---:|---:|---:|",
    ]
    by_module: dict[str, list[Mutant]] = {}
    for mutant in mutants:
        by_module.setdefault(mutant.module, []).append(mutant)
    for module in sorted(by_module):
        group = by_module[module]
        dead = sum(m.status in KILLED for m in group)
        lines.append(f"| `{module}` | {len(group)} | {dead} | {len(group) - dead} | {score(group):.1f}% |")
    lines += ["", "## Survivors", ""]
    if not survivors:
        lines.append("None.")
    for mutant in sorted(survivors, key=lambda m: (m.function, m.name)):
        explanation = explained[mutant.name]
        verdict = f"**{explanation.kind}**: {explanation.why}" if explanation else "**not yet explained**"
        status = "" if mutant.status == "survived" else f" ({mutant.status})"
        lines += [f"### `{mutant.function}`{status}", "", "```diff"]
        lines += [f"-{line}" for line in mutant.removed] + [f"+{line}" for line in mutant.added]
        lines += ["```", "", verdict, ""]
    statuses = Counter(m.status for m in mutants)
    lines += ["## Statuses", "", ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items())), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tox -e mutation --", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated module paths or globs to mutate "
                        "(default: [tool.mutmut] only_mutate)")
    parser.add_argument("--min-score", type=float, default=85.0, help="exit 1 below this score (default 85)")
    parser.add_argument("--allow-unexplained", action="store_true",
                        help="do not fail on survivors missing from accepted.toml")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"report path (default {RESULTS.relative_to(REPO)} for a full run, "
                        ".tox/mutation/subset.md with --only or --tests)")
    parser.add_argument("--work", type=Path, default=REPO / ".tox" / "mutation" / "work",
                        help="where the copy is mutated (emptied first)")
    parser.add_argument("--tests", default="", help="comma-separated test files or folders to run "
                        "(default: the whole non-Docker suite); for a quick subset")
    parser.add_argument("--keep", action="store_true",
                        help="update the copy left by an earlier run instead of starting afresh; "
                        "mutants that changed are tested again, survivors are retried against the current tests")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    only = [module.strip() for module in args.only.split(",") if module.strip()]
    tests = [path.strip() for path in args.tests.split(",") if path.strip()]
    output = args.output or (REPO / ".tox" / "mutation" / "subset.md" if only or tests else RESULTS)

    explanations = load_explanations()
    started = datetime.now()
    work_copy(args.work, only, keep=args.keep, tests=tests)
    mutmut(args.work, "run", "--max-children", str(args.max_children), capture=False)
    mutants = collect(args.work)
    retry = [m.name for m in mutants if m.status not in KILLED]
    if args.keep and retry:  # an earlier run's survivors, against tests written since
        mutmut(args.work, "run", "--max-children", str(args.max_children), *retry, capture=False)
        mutants = collect(args.work)
    seconds = (datetime.now() - started).total_seconds()
    if not mutants:
        raise SystemExit("mutmut made no mutants: check --only against [tool.mutmut] only_mutate")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(mutants, explanations, only=only, seconds=seconds, tests=tests))

    survivors = [m for m in mutants if m.status not in KILLED]
    unexplained = [m for m in survivors if explanation_for(m, explanations) is None]
    print(f"mutation score {score(mutants):.1f}% ({len(mutants) - len(survivors)} of {len(mutants)} killed), "
          f"{len(unexplained)} survivor(s) not explained; written to {output}")
    failed = score(mutants) < args.min_score
    if failed:
        print(f"the score is below {args.min_score:.0f}%")
    if unexplained and not args.allow_unexplained:
        print("explain or kill:", ", ".join(m.name for m in unexplained))
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
