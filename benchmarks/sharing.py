"""What copying instead of hard-linking costs: disk use and run time of local runs, measured
side by side against an earlier churn that shared files between the user's input, the staged
input, the step cache and the run folders by hard link.

    python -m benchmarks.sharing --baseline <git revision> [--rows 11300000] [--output FILE]

For the sample and (with ``--rows``) a synthetic input of that many rows, each churn runs twice
into a fresh runs folder: a first run, then the same again (every job step from the cache).
Disk use is ``du`` of the runs folder (a file linked twice counts once) plus the user's input
where a run linked it. Results go to ``benchmarks/SHARING.md``. By hand, never in CI: the
1 GB input takes about 25 minutes for both versions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "churn.csv"


def _du_kib(*paths: Path) -> int:
    """Blocks used by ``paths`` together, each inode counted once (what the disk really holds)."""
    done = subprocess.run(["du", "-s", "-k", "-c", *map(str, paths)], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1].split()[0])


def _run(source: Path, runs: Path, data: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(source)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "churn.cli", "run", "--runs-dir", str(runs), "--input", str(data)],
        cwd=source, env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"churn run in {source} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def build_images(source: Path) -> None:
    """Each churn's images are built before anything is timed (their tags differ)."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    subprocess.run([sys.executable, "-m", "churn.cli", "images", "build", "--if-missing"], cwd=source, env=env, check=True, capture_output=True)


def measure(source: Path, data: Path, work: Path) -> dict:
    runs = work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    first = _run(source, runs, data)
    after_first = _du_kib(runs, data) - _du_kib(data)
    second = _run(source, runs, data)
    after_second = _du_kib(runs, data) - _du_kib(data)
    shutil.rmtree(runs, ignore_errors=True)
    return {"first_s": first, "cached_s": second, "disk_first_mib": after_first / 1024, "disk_both_mib": after_second / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="git revision of the churn that hard-linked")
    parser.add_argument("--rows", type=int, default=0, help="also a synthetic input of this many rows")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("SHARING.md"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="churn-sharing-"))
    baseline = work / "baseline"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(baseline), args.baseline], check=True, capture_output=True)
    try:
        for source in (baseline, REPO):
            build_images(source)
        inputs = {"sample (3,333 rows, 0.3 MB)": SAMPLE}
        if args.rows:
            from benchmarks.synthetic import generate

            big = generate(args.rows, work / "big" / "churn.csv")
            inputs[f"synthetic ({args.rows:,} rows, {big.stat().st_size / 1e9:.2f} GB)"] = big
        rows = []
        for label, data in inputs.items():
            copy = work / "input" / data.name  # the user's file, on the runs folder's file system
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(data, copy)
            for name, source in (("hard links (baseline)", baseline), ("copies (this churn)", REPO)):
                result = measure(source, copy, work / "m")
                rows.append((label, name, result))
                print(label, name, result, flush=True)
            copy.unlink()
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(baseline)], check=False)
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        "# Copies instead of hard links: disk use and run time",
        "",
        f"Measured by `python -m benchmarks.sharing --baseline {args.baseline}"
        + (f" --rows {args.rows}" if args.rows else "")
        + f"` on {datetime.now(timezone.utc).date()} (2 cores, {os.uname().sysname}; file system of /tmp: "
        + subprocess.run(["stat", "-f", "-c", "%T", "/tmp"], capture_output=True, text=True).stdout.strip()  # noqa: S108 - reports its file system
        + "). Each row: a fresh runs folder, a first run,",
        "then the same again (every job step from the cache). Disk: what the runs folder adds beyond the user's input.",
        "",
        "| input | sharing | first run, s | cached re-run, s | disk after the first run, MiB | disk after both, MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for label, name, r in rows:
        lines.append(
            f"| {label} | {name} | {r['first_s']:.1f} | {r['cached_s']:.1f} | {r['disk_first_mib']:.1f} | {r['disk_both_mib']:.1f} |"
        )
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
