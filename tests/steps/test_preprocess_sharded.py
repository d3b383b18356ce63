"""PreprocessData on several instances (ProcessingInstanceCount > 1, SageMaker only), simulated
in-process: each instance gets whole input files (ShardedByS3Key), writes its own split files
and manifest part into the shared output, and together they hold exactly the rows one instance
writes; with one instance the output is byte for byte what it always was."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from churn import split
from churn.dataset import COLLECT, DEFAULT_SPEC
from churn.steps import preprocess
from tests.conftest import SAMPLE_CSV

HOSTS = ["algo-1", "algo-2"]
TYPE = "ml.m5.xlarge"


def _shards(tmp_path: Path, files: int = 4) -> dict[str, Path]:
    """The sample cut into ``files`` CSV files, dealt to the two instances as whole files."""
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    folders = {host: tmp_path / "raw" / host for host in HOSTS}
    for folder in folders.values():
        folder.mkdir(parents=True)
    size = -(-len(rows) // files)
    for number in range(files):
        chunk = rows[number * size:(number + 1) * size]
        (folders[HOSTS[number % 2]] / f"part-{number:02d}.csv").write_text("\n".join([header, *chunk]) + "\n")
    return folders


def _resource_config(tmp_path: Path, host: str, hosts: list[str]) -> Path:
    path = tmp_path / "config" / host / "resourceconfig.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"current_host": host, "hosts": hosts, "network_interface_name": "eth0"}))
    return path


def _run(tmp_path: Path, host: str, hosts: list[str], source: Path, output: Path, *extra: str) -> None:
    preprocess.main([
        "--input", str(source), "--output", str(output), "--training-instance-type", TYPE,
        "--resource-config", str(_resource_config(tmp_path, host, hosts)), *extra,
    ])


def _lines(folder: Path) -> Counter:
    return Counter(line for path in sorted(folder.glob("*.csv")) for line in path.read_text().splitlines())


def test_two_instances_write_together_exactly_the_rows_of_one(tmp_path, sample_splits, capsys):
    folders, out = _shards(tmp_path), tmp_path / "out"
    for host in HOSTS:
        _run(tmp_path, host, HOSTS, folders[host], out)
    assert capsys.readouterr().out.splitlines()[0].startswith("wrote splits of instance algo-1 of 2: ")
    for name in split.SPLITS:
        assert sorted(p.name for p in (out / name).iterdir()) == [f"{name}-algo-1.csv", f"{name}-algo-2.csv"]
        # The same lines as one instance writes, as multisets; each file sorted as one instance's is.
        assert _lines(out / name) == _lines(sample_splits / name)
        for path in (out / name).iterdir():
            assert path.read_text().splitlines() == [line for line in (sample_splits / name / f"{name}.csv").read_text().splitlines()
                                                      if line in set(path.read_text().splitlines())]
    assert sorted(p.name for p in (out / "manifest").iterdir()) == ["manifest-algo-1.json", "manifest-algo-2.json", "manifest.json"]


def test_every_instance_writes_the_same_manifest_and_the_parts_add_up_to_the_whole(tmp_path, sample_splits):
    folders = _shards(tmp_path)
    outputs = {host: tmp_path / f"out-{host}" for host in HOSTS}
    for host in HOSTS:
        _run(tmp_path, host, HOSTS, folders[host], outputs[host])
    texts = {host: (outputs[host] / "manifest" / "manifest.json").read_bytes() for host in HOSTS}
    assert texts["algo-1"] == texts["algo-2"]  # S3 keeps either: the same bytes
    manifest = json.loads(texts["algo-1"])
    whole = json.loads((sample_splits / "manifest" / "manifest.json").read_text())
    assert manifest["instances"] == {"hosts": HOSTS, "parts": {h: f"manifest-{h}.json" for h in HOSTS}}
    assert manifest["sizing"] == {"training_rows": None, "requested": TYPE, "would_choose": None, "chosen": TYPE}
    assert {k: manifest[k] for k in ("feature_names", "dataset", "label")} == {k: whole[k] for k in ("feature_names", "dataset", "label")}
    assert "rows" not in manifest and "sha256" not in manifest  # an instance's own counts are in its part
    parts = {host: json.loads((outputs[host] / "manifest" / f"manifest-{host}.json").read_text()) for host in HOSTS}
    assert parts["algo-2"]["files"] == {"train": "train-algo-2.csv", "validation": "validation-algo-2.csv", "test": "test-algo-2.csv"}
    merged = split.merge_shard_manifests(manifest, parts)
    for key in ("rows", "label_counts", "missing_counts", "duplicate_rows", "ignored_columns", "feature_names", "dataset"):
        assert merged[key] == whole[key], key
    assert merged["sizing"] == {"training_rows": 2310, "requested": TYPE, "would_choose": "ml.m5.large", "chosen": TYPE}
    assert set(merged["parts"]) == set(HOSTS) and "sha256" not in merged
    with pytest.raises(ValueError, match="lacks the part of instance"):
        split.merge_shard_manifests(manifest, {"algo-1": parts["algo-1"]})


def test_one_instance_writes_todays_bytes(tmp_path, sample_splits):
    """A resource config of one instance (local mode's, or ProcessingInstanceCount=1 on
    SageMaker): the file names and bytes of every run before instance counts."""
    out = tmp_path / "out"
    preprocess.main(["--input", str(SAMPLE_CSV), "--output", str(out), "--resource-config",
                     str(_resource_config(tmp_path, "algo-1", ["algo-1"]))])
    for relative in ("train/train.csv", "validation/validation.csv", "test/test.csv", "manifest/manifest.json"):
        assert (out / relative).read_bytes() == (sample_splits / relative).read_bytes(), relative
    assert sorted(p.name for p in (out / "manifest").iterdir()) == ["manifest.json"]


def test_sharded_preprocessing_refuses_auto_collected_vocabularies_and_an_instance_without_files(tmp_path, capsys):
    folders = _shards(tmp_path, files=2)
    config = _resource_config(tmp_path, "algo-1", HOSTS)
    with pytest.raises(SystemExit):
        preprocess.entrypoint.run("PreprocessData", preprocess.main, [
            "--input", str(folders["algo-1"]), "--output", str(tmp_path / "o1"), "--training-instance-type", "auto", "--resource-config", str(config),
        ])
    assert "ProcessingInstanceCount=2 shards preprocessing, so no instance counts the whole train split" in capsys.readouterr().err
    collected = DEFAULT_SPEC.to_json()
    column = next(c for c in collected["columns"] if c["name"] == "State")
    column["vocabulary"] = COLLECT
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(collected))
    with pytest.raises(ValueError, match="collects the vocabulary of State from the whole input"):
        _run(tmp_path, "algo-1", HOSTS, folders["algo-1"], tmp_path / "o2", "--dataset", str(spec_file))
    empty = tmp_path / "raw" / "none"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"^instance algo-2 of 2 got no CSV file of InputData: .* needs at least 2 input files$"):
        _run(tmp_path, "algo-2", HOSTS, empty, tmp_path / "o3")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()


def test_a_resource_config_naming_no_current_host_is_refused():
    assert split.instances(None) == ("", []) and split.instances({"current_host": "algo-1", "hosts": ["algo-1"]}) == ("algo-1", ["algo-1"])
    with pytest.raises(ValueError, match="names no current_host"):
        split.instances({"current_host": "algo-9", "hosts": HOSTS})
