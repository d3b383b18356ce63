"""Sharded preprocessing on this machine (issue 19 item 4): PreprocessData as one instance, and
as N instances each given whole input files, as ShardedByS3Key deals them on SageMaker.

The local backend runs one instance per job (local mode shards no input), so the instances
here are processes of the step's own entrypoint, each with its own ``resourceconfig.json``,
started at the same time on this machine's cores; the output is checked to hold, together,
exactly the lines one instance writes. Writes a markdown table (benchmarks/SCALING.md keeps the
figures of one run and says what they show)::

    python -m benchmarks.scaling [--rows 1000000] [--files 4] [--instances 1 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.synthetic import generate


def _cut(source: Path, folder: Path, files: int) -> list[Path]:
    """``source`` as ``files`` CSV files of about equal rows, each with the header."""
    header, *rows = source.read_text().splitlines(keepends=True)
    size = -(-len(rows) // files)
    parts = []
    for number in range(files):
        part = folder / f"part-{number:02d}.csv"
        part.write_text(header + "".join(rows[number * size:(number + 1) * size]))
        parts.append(part)
    return parts


def run_instances(parts: list[Path], count: int, work: Path) -> tuple[float, Path]:
    """Wall seconds for ``count`` instances started together, each on its share of ``parts``
    (file i to instance i mod count, whole files); their shared output folder."""
    hosts = [f"algo-{i + 1}" for i in range(count)]
    out = work / f"out-{count}"
    commands = []
    for index, host in enumerate(hosts):
        share = work / f"raw-{count}" / host
        share.mkdir(parents=True)
        for part in parts[index::count]:
            (share / part.name).symlink_to(part)
        config = work / f"config-{count}-{host}.json"
        config.write_text(json.dumps({"current_host": host, "hosts": hosts}))
        commands.append([
            sys.executable, "-m", "churn.steps.preprocess", "--input", str(share), "--output", str(out),
            "--training-instance-type", "ml.m5.xlarge", "--resource-config", str(config),
        ])
    start = time.perf_counter()
    processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for command in commands]
    if any(process.wait() for process in processes):
        raise SystemExit(f"an instance of {count} failed")
    return time.perf_counter() - start, out


def _lines(folder: Path) -> Counter:
    return Counter(line for path in folder.glob("*.csv") for line in path.read_bytes().splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.scaling", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="churn-scaling-") as folder:
        work = Path(folder)
        (work / "parts").mkdir()
        parts = _cut(generate(args.rows, work / "synthetic.csv"), work / "parts", args.files)
        results = {count: run_instances(parts, count, work) for count in args.instances}
        one = results[min(results)][1]
        print(f"| instances | input files | rows | wall seconds | files per split | same lines as {min(results)} instance(s) |")
        print("| ---: | ---: | ---: | ---: | ---: | --- |")
        for count, (seconds, out) in results.items():
            same = all(_lines(out / name) == _lines(one / name) for name in ("train", "validation", "test"))
            print(f"| {count} | {args.files} | {args.rows:,} | {seconds:.1f} | {len(list((out / 'train').glob('*.csv')))} | {'yes' if same else 'NO'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
