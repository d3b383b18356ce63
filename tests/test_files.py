"""The bottom layer's file utilities: a folder is published whole or not at all."""

from __future__ import annotations

import pytest

from churn.files import file_sha256, new_folder, text_sha256


def test_a_new_folder_appears_whole_and_leaves_no_partial(tmp_path):
    target = tmp_path / "entry"
    with new_folder(target) as partial:
        assert partial.is_dir() and partial.parent == tmp_path and partial.name.startswith(".entry.")
        (partial / "a.txt").write_text("a")
        assert not target.exists()  # nothing is visible while it is written
    assert (target / "a.txt").read_text() == "a"
    assert [p.name for p in tmp_path.iterdir()] == ["entry"]


def test_a_failed_new_folder_publishes_nothing(tmp_path):
    target = tmp_path / "entry"
    with pytest.raises(RuntimeError, match="broke"):
        with new_folder(target) as partial:
            (partial / "a.txt").write_text("a")
            raise RuntimeError("broke")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_published_meanwhile_by_another_process_is_kept(tmp_path):
    target = tmp_path / "entry"
    with new_folder(target) as partial:
        (partial / "a.txt").write_text("mine")
        target.mkdir()
        (target / "a.txt").write_text("theirs")
    assert (target / "a.txt").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["entry"]


def test_an_error_with_no_folder_published_is_raised(tmp_path):
    with pytest.raises(OSError):
        with new_folder(tmp_path / "entry") as partial:
            (partial / "missing" / "a.txt").write_text("a")
    assert list(tmp_path.iterdir()) == []


def test_hashes(tmp_path):
    path = tmp_path / "f"
    path.write_text("é")
    digest = "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c"  # sha256 of UTF-8 "é"
    assert text_sha256("é") == file_sha256(path) == digest
