"""The mutation-testing driver's own logic (tests/mutation/__main__.py), without running mutmut."""

from __future__ import annotations

import pytest

from tests.mutation.__main__ import (
    ACCEPTED,
    Explanation,
    Mutant,
    explanation_for,
    load_explanations,
    render,
    score,
)


def test_mutant_names_map_to_the_function_they_change():
    assert Mutant("churn.features.x_feature_tokens__mutmut_12", "survived").function == "churn.features.feature_tokens"
    assert Mutant("churn.features.x__one_hot_segments__mutmut_3", "killed").function == "churn.features._one_hot_segments"
    method = Mutant("churn.model_io.xǁArchiveǁread__mutmut_1", "survived")
    assert method.function == "churn.model_io.Archive.read"
    assert method.module == "churn.model_io"


def test_a_survivor_is_explained_by_its_function_and_changed_line_only():
    mutant = Mutant("churn.features.x_feature_matrix__mutmut_7", "survived",
                    removed=("    return x.astype(np.float64)",), added=("    return x.astype(None)",))
    same = Explanation("churn.features.feature_matrix", "return  x.astype(None)", "equivalent", "float64 is the default")
    other_function = Explanation("churn.features.feature_tokens", "return x.astype(None)", "equivalent", "-")
    other_change = Explanation("churn.features.feature_matrix", "return x.astype(np.float32)", "accepted", "-")
    assert explanation_for(mutant, [other_function, other_change]) is None
    assert explanation_for(mutant, [other_function, other_change, same]) is same


def test_the_score_counts_timeouts_as_killed_and_missing_tests_as_survivors():
    mutants = [Mutant("m.x_f__mutmut_1", "killed"), Mutant("m.x_f__mutmut_2", "timeout"),
               Mutant("m.x_f__mutmut_3", "survived"), Mutant("m.x_f__mutmut_4", "no tests")]
    assert score(mutants) == 50.0


def test_the_report_lists_each_survivor_with_its_verdict():
    mutants = [Mutant("churn.a.x_f__mutmut_1", "killed"),
               Mutant("churn.a.x_f__mutmut_2", "survived", ("    y = 1",), ("    y = 2",)),
               Mutant("churn.b.x_g__mutmut_1", "survived", ("    z = 1",), ("    z = None",))]
    text = render(mutants, [Explanation("churn.a.f", "y = 2", "equivalent", "y is never read")], only=[], seconds=60)
    assert "**Score: 33.3%** (1 of 3 mutants killed)" in text
    assert "50.0% of the 2 that are not equivalent" in text
    assert "| `churn.a` | 2 | 1 | 1 | 50.0% |" in text
    assert "-    y = 1\n+    y = 2" in text and "**equivalent**: y is never read" in text
    assert "### `churn.b.g`" in text and "**not yet explained**" in text


def test_the_explanations_file_parses_and_a_wrong_kind_is_refused(tmp_path):
    assert all(e.kind in ("equivalent", "accepted") and e.why for e in load_explanations(ACCEPTED))
    bad = tmp_path / "accepted.toml"
    bad.write_text('[[mutant]]\nfunction = "churn.a.f"\nadded = "x"\nkind = "fine"\nwhy = "-"\n')
    with pytest.raises(SystemExit, match="kind must be"):
        load_explanations(bad)


def test_the_copy_narrows_modules_and_tests_in_its_own_pyproject(tmp_path):
    """A copy of a source tree (here not a git checkout: every file but caches and tox's)."""
    import shutil
    import tomllib

    from tests.mutation.__main__ import REPO, work_copy

    source = tmp_path / "source"
    (source / "churn").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", source / "pyproject.toml")
    (source / "churn" / "features.py").write_text("X = 1\n")
    (source / ".tox" / "py311").mkdir(parents=True)
    (source / ".tox" / "py311" / "big").write_text("not copied")
    work = tmp_path / "work"
    work_copy(work, ["churn/features.py"], tests=["tests/test_features.py"], source=source)
    config = tomllib.loads((work / "pyproject.toml").read_text())["tool"]["mutmut"]
    assert config["only_mutate"] == ["churn/features.py"]
    assert config["pytest_add_cli_args_test_selection"] == [
        "-m", "not docker and not e2e and not official_stack", "tests/test_features.py"]
    assert (work / "churn" / "features.py").read_text() == "X = 1\n" and not (work / ".tox").exists()
    assert tomllib.loads((source / "pyproject.toml").read_text())["tool"]["mutmut"]["only_mutate"] != ["churn/features.py"]


def test_a_kept_copy_loses_the_files_the_checkout_no_longer_has(tmp_path):
    """A module moved away must not stay importable in the copy nor in mutmut's mirror of it."""
    import shutil

    from tests.mutation.__main__ import REPO, work_copy

    source = tmp_path / "source"
    (source / "churn" / "old").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", source / "pyproject.toml")
    (source / "churn" / "old" / "gone.py").write_text("X = 1\n")
    (source / "churn" / "kept.py").write_text("Y = 1\n")
    work = tmp_path / "work"
    work_copy(work, [], keep=True, source=source)
    mirror = work / "mutants" / "churn" / "old" / "gone.py"
    mirror.parent.mkdir(parents=True)
    mirror.write_text("X = 1\n")  # mutmut's copy of it
    (work / "mutmut-stats.json").write_text("{}")
    (source / "churn" / "old" / "gone.py").unlink()
    work_copy(work, [], keep=True, source=source)
    assert not (work / "churn" / "old" / "gone.py").exists() and not mirror.exists()
    assert (work / "churn" / "kept.py").is_file() and (work / "mutmut-stats.json").is_file()


def test_an_explanation_with_the_original_line_matches_only_that_line():
    first = Mutant("churn.a.x_f__mutmut_1", "survived", removed=("    print('a', flush=True)",), added=("    print(None, flush=True)",))
    second = Mutant("churn.a.x_f__mutmut_2", "survived", removed=("    print('b', flush=True)",), added=("    print(None, flush=True)",))
    only_first = Explanation("churn.a.f", "print(None, flush=True)", "accepted", "-", removed="print('a', flush=True)")
    assert explanation_for(first, [only_first]) is only_first
    assert explanation_for(second, [only_first]) is None


def test_the_copy_refuses_a_work_folder_that_holds_the_checkout(tmp_path):
    from tests.mutation.__main__ import work_copy

    source = tmp_path / "checkout"
    source.mkdir()
    with pytest.raises(SystemExit, match="holds the checkout itself"):
        work_copy(tmp_path, [], source=source)
    assert source.is_dir()


def test_an_explanation_can_describe_a_kind_of_change():
    flush = Explanation("churn.*", None, "equivalent", "when, not what",
                        change=r"(?P<head>print\(.*), flush=True\) => (?P=head), (flush=(None|False))?\)")
    def mutant(removed, added, name="churn.a.x_f__mutmut_1"):
        return Mutant(name, "survived", removed=(removed,), added=(added,))
    assert explanation_for(mutant("    print('x', flush=True)", "    print('x', flush=False)"), [flush]) is flush
    assert explanation_for(mutant("    print('x', flush=True)", "    print('x', )"), [flush]) is flush
    assert explanation_for(mutant("    print('x', flush=True)", "    print(None, flush=True)"), [flush]) is None
    assert explanation_for(mutant("    print('x', flush=True)", "    print('x', flush=False)", "other.a.x_f__mutmut_1"), [flush]) is None


def test_hypothesis_has_no_deadlines_and_is_fixed_under_mutation():
    import subprocess
    import sys

    code = "import tests.conftest; from hypothesis import settings; d = settings(); print(d.deadline, d.derandomize, d.database)"
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    assert plain.stdout.split()[:2] == ["None", "False"]
    under = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PATH": "/usr/bin:/bin", "MUTANT_UNDER_TEST": "x"})
    assert under.stdout.split() == ["None", "True", "None"]


def test_the_copy_never_clears_a_folder_it_did_not_make(tmp_path):
    """--work pointing at a folder of something else (a home folder, part of the checkout) is
    refused before anything is deleted."""
    from tests.mutation.__main__ import work_copy

    source = tmp_path / "checkout"
    (source / "src").mkdir(parents=True)
    (source / "src" / "keep.py").write_text("X = 1\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="holds files of something else"):
        work_copy(home, [], source=source)
    with pytest.raises(SystemExit, match="is inside the checkout"):
        work_copy(source / "src", [], source=source)
    assert (home / "notes.txt").read_text() == "mine" and (source / "src" / "keep.py").is_file()


def test_an_explanation_with_a_misspelled_or_missing_key_is_refused(tmp_path):
    from tests.mutation.__main__ import load_explanations

    path = tmp_path / "accepted.toml"
    path.write_text("[[mutant]]\nfunction = 'churn.a.f'\nadded = 'x'\nremoved_typo = 'y'\nkind = 'equivalent'\nwhy = 'w'\n")
    with pytest.raises(SystemExit, match=r"entry 1 has unknown keys \['removed_typo'\]"):
        load_explanations(path)
    path.write_text("[[mutant]]\nfunction = 'churn.a.f'\nadded = 'x'\nkind = 'equivalent'\n")
    with pytest.raises(SystemExit, match=r"lacks \['why'\]"):
        load_explanations(path)
    path.write_text("[[mutants]]\nfunction = 'churn.a.f'\n")
    with pytest.raises(SystemExit, match="only \\[\\[mutant\\]\\] tables belong here"):
        load_explanations(path)
