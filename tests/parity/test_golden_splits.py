"""The sample's split files are pinned by committed digests (tests/parity/golden_splits.json).

A change to the split or feature logic that moves one byte fails here, naming the file; if the
change is deliberate, rewrite the digests with ``python -m tests.parity.goldens --write``.
"""

import pytest

from tests.conftest import SAMPLE_CSV
from tests.parity import goldens


def assert_matches_golden(case: str, digests: dict[str, str | None], where: str) -> None:
    expected = goldens.load()[case]["sha256"]
    changed = [f"{split}/{split}.csv" for split in expected if digests.get(split) != expected[split]]
    assert not changed, (
        f"{where}: split file(s) differ from the golden digests for case {case!r}: {', '.join(changed)} "
        "(if deliberate: python -m tests.parity.goldens --write)"
    )


@pytest.mark.parametrize("case", sorted(goldens.CASES))
def test_in_process_preprocessing_matches_the_goldens(case):
    assert_matches_golden(case, goldens.in_process_digests(goldens.CASES[case], SAMPLE_CSV), "in-process preprocessing")


def test_the_default_case_is_what_the_product_does_by_default(tmp_path):
    """The "default" goldens are the split files of the pipeline's default parameters and of the
    preprocessing step run with no ratio or seed argument."""
    from churn.diff import SPLIT_ARTIFACTS, file_digest
    from churn.parameters import BY_NAME
    from churn.steps import preprocess

    assert set(goldens.load()) == set(goldens.CASES)
    default = goldens.load()["default"]
    assert default["parameters"] == {name: BY_NAME[name].default for name in ("TrainRatio", "ValidationRatio", "SplitSeed")}
    preprocess.main(["--input", str(SAMPLE_CSV), "--output", str(tmp_path)])
    digests = {name: file_digest(tmp_path / name / f"{name}.csv") for name in SPLIT_ARTIFACTS}
    assert_matches_golden("default", digests, "preprocessing with its default arguments")


def test_a_one_byte_change_in_the_split_logic_is_caught(monkeypatch):
    """Stand-in for a careless edit of the seed handling: the suite names the changed files."""
    from churn import split

    original = split.hash_array  # what hash_values and preprocessing's streaming path hash through
    monkeypatch.setattr(split, "hash_array", lambda keys, seed: original(keys, seed + 1))
    with pytest.raises(AssertionError, match=r"differ from the golden digests for case 'default': train/train.csv, validation/validation.csv, test/test.csv"):
        test_in_process_preprocessing_matches_the_goldens("default")
