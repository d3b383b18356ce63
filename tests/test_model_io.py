import gzip
import io
import pathlib
import pickle
import re
import tarfile
import tracemalloc

import numpy as np
import pytest

from churn import model_io
from churn.model_io import ModelArtifactError, PickledModelError, disabled_reason, load_booster
from tests.conftest import write_model_archive


class TouchOnLoad:
    """A pickle whose loading creates ``marker``: proof that unpickling ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path(self.marker).touch, ())


def malicious_archive(path, marker, member="xgboost-model"):
    """A model.tar.gz whose model file is a pickle that would create ``marker`` when loaded."""
    data = pickle.dumps(TouchOnLoad(marker))
    assert data[:1] == b"\x80"
    return write_model_archive(path, data, member)


def write_tar(path, members, mode="w:gz"):
    """A tar archive of ``(TarInfo, bytes or None)`` pairs."""
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def native(booster, fmt="json"):
    return bytes(booster.save_raw(raw_format=fmt))


@pytest.mark.parametrize("fmt", ["json", "ubj"])
def test_loads_native_boosters(tmp_path, trained_booster, fmt):
    archive = write_model_archive(tmp_path / "model.tar.gz", native(trained_booster, fmt))
    import xgboost

    features = xgboost.DMatrix(np.zeros((3, 73)))
    assert np.allclose(load_booster(archive).predict(features), trained_booster.predict(features))


def test_a_pickle_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    archive = malicious_archive(tmp_path / "model.tar.gz", marker)
    with pytest.raises(PickledModelError) as error:
        load_booster(archive)
    assert not marker.exists(), "loading the model ran the pickle's code"
    message = str(error.value)
    assert message.startswith(f"{archive}: the model file is a Python pickle (SageMaker XGBoost before 1.3-1")
    assert "can run arbitrary code" in message and "--allow-pickle" in message
    assert isinstance(error.value, ModelArtifactError)


def test_a_pickle_is_refused_by_booster_from_bytes_too(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(PickledModelError, match="CHURN_ALLOW_PICKLED_MODEL=1"):
        model_io.booster_from_bytes(pickle.dumps(TouchOnLoad(marker)), source="x", opt_in=model_io.ENV_OPT_IN)
    assert not marker.exists()


def test_an_old_protocol_pickle_is_not_a_model_and_not_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    archive = write_model_archive(tmp_path / "model.tar.gz", pickle.dumps(TouchOnLoad(marker), protocol=0))
    with pytest.raises(ModelArtifactError, match="not an XGBoost model file"):
        load_booster(archive, allow_pickle=True)
    assert not marker.exists()


def test_a_pickled_booster_loads_with_the_opt_in(tmp_path, trained_booster):
    archive = write_model_archive(tmp_path / "model.tar.gz", pickle.dumps(trained_booster))
    import xgboost

    features = xgboost.DMatrix(np.zeros((3, 73)))
    assert np.allclose(load_booster(archive, allow_pickle=True).predict(features), trained_booster.predict(features))


def test_single_differently_named_member_is_accepted(tmp_path, trained_booster):
    archive = write_model_archive(tmp_path / "model.tar.gz", native(trained_booster), "model.json")
    assert load_booster(archive).num_boosted_rounds() == 20


@pytest.mark.parametrize("member", ["./xgboost-model", "model/xgboost-model"])
def test_a_nested_model_member_is_found(tmp_path, trained_booster, member):
    archive = write_tar(tmp_path / "model.tar.gz", [(tarfile.TarInfo("README"), b"notes"), (tarfile.TarInfo(member), native(trained_booster))])
    assert load_booster(archive).num_boosted_rounds() == 20


def test_garbage_model_file(tmp_path):
    archive = write_model_archive(tmp_path / "model.tar.gz", b"{not a model")
    with pytest.raises(ModelArtifactError, match="not an XGBoost model file"):
        load_booster(archive)


def test_pickle_of_something_else(tmp_path):
    archive = write_model_archive(tmp_path / "model.tar.gz", pickle.dumps({"a": 1}))
    with pytest.raises(PickledModelError):
        load_booster(archive)
    with pytest.raises(ModelArtifactError, match="not an XGBoost Booster"):
        load_booster(archive, allow_pickle=True)


def test_not_an_archive(tmp_path):
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"plain text")
    with pytest.raises(ModelArtifactError, match="cannot read model archive"):
        load_booster(path)


def _link(name, kind, target="other"):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "kind, says",
    [(tarfile.SYMTYPE, "a symbolic link"), (tarfile.LNKTYPE, "a hard link"), (tarfile.CHRTYPE, "a device"),
     (tarfile.BLKTYPE, "a device"), (tarfile.DIRTYPE, "a directory"), (tarfile.FIFOTYPE, "a FIFO")],
)
def test_a_model_member_that_is_a_link_or_device_is_refused(tmp_path, trained_booster, kind, says):
    archive = write_tar(tmp_path / "model.tar.gz", [(tarfile.TarInfo("other"), native(trained_booster)), (_link("xgboost-model", kind), None)])
    with pytest.raises(ModelArtifactError, match=f"'xgboost-model' in .* is {says}, not a regular file"):
        load_booster(archive)


def test_an_archive_of_too_many_members_is_refused(tmp_path, trained_booster):
    members = [(tarfile.TarInfo(f"f{i}"), b"") for i in range(model_io.MAX_MEMBERS)]
    archive = write_tar(tmp_path / "model.tar.gz", [(tarfile.TarInfo("xgboost-model"), native(trained_booster)), *members])
    with pytest.raises(ModelArtifactError, match=f"holds more than {model_io.MAX_MEMBERS} members"):
        load_booster(archive)
    with pytest.raises(ModelArtifactError, match="members"):
        disabled_reason(archive)


def test_an_archive_at_the_member_bound_is_read(tmp_path, trained_booster):
    members = [(tarfile.TarInfo(f"f{i}"), b"") for i in range(model_io.MAX_MEMBERS - 1)]
    archive = write_tar(tmp_path / "model.tar.gz", [(tarfile.TarInfo("xgboost-model"), native(trained_booster)), *members])
    assert load_booster(archive).num_boosted_rounds() == 20


def gzip_bomb(path, size, member="xgboost-model"):
    """A model.tar.gz whose one member is ``size`` zero bytes (a multiple of 64 MiB), made from
    one compressed 64 MiB block of zeros repeated as gzip members: about 1 MB per GiB."""
    chunk = 64 << 20
    assert size % chunk == 0
    info = tarfile.TarInfo(member)
    info.size = size
    zeros = gzip.compress(bytes(chunk), compresslevel=9)
    with open(path, "wb") as out:
        out.write(gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT)))
        for _ in range(size // chunk):
            out.write(zeros)
        out.write(gzip.compress(bytes(2 * tarfile.BLOCKSIZE)))  # end of archive
    return path


def test_a_gzip_bomb_is_refused_before_it_is_read(tmp_path):
    archive = gzip_bomb(tmp_path / "model.tar.gz", 17 * (64 << 20))  # 1.06 GiB from about 1 MB
    assert archive.stat().st_size < 3 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ModelArtifactError, match=r"declares 1\.1 GiB of content .* over the bound of 512\.0 MiB; churn refuses it"):
            load_booster(archive)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"{peak} bytes allocated to refuse the archive"


def test_the_bound_can_be_set_and_counts_every_member(tmp_path, trained_booster, monkeypatch):
    model = native(trained_booster)
    monkeypatch.setenv(model_io.MAX_MODEL_BYTES_VARIABLE, str(len(model) + 100))
    archive = write_tar(tmp_path / "model.tar.gz", [(tarfile.TarInfo("xgboost-model"), model)])
    assert load_booster(archive).num_boosted_rounds() == 20
    padded = write_tar(tmp_path / "padded.tar.gz", [(tarfile.TarInfo("xgboost-model"), model), (tarfile.TarInfo("pad"), bytes(200))])
    with pytest.raises(ModelArtifactError, match=f"over the bound .*{model_io.MAX_MODEL_BYTES_VARIABLE}"):
        load_booster(padded)


def test_a_bad_bound_is_named(tmp_path, trained_booster, monkeypatch):
    monkeypatch.setenv(model_io.MAX_MODEL_BYTES_VARIABLE, "lots")
    archive = write_model_archive(tmp_path / "model.tar.gz", native(trained_booster))
    with pytest.raises(ModelArtifactError, match="CHURN_MAX_MODEL_BYTES must be a positive number of bytes, got 'lots'"):
        load_booster(archive)


def test_a_huge_header_is_refused_before_it_is_read(tmp_path, trained_booster, monkeypatch):
    """A GNU long-name header is read whole by tarfile: the decompressed stream itself is bounded."""
    monkeypatch.setenv(model_io.MAX_MODEL_BYTES_VARIABLE, str(1 << 20))
    path = tmp_path / "model.tar.gz"
    long_name = "x" * (40 << 20)
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT, compresslevel=1) as tar:
        info = tarfile.TarInfo(long_name + "/xgboost-model")
        model = native(trained_booster)
        info.size = len(model)
        tar.addfile(info, io.BytesIO(model))
    with pytest.raises(ModelArtifactError, match="expands to more than its bound"):
        load_booster(path)


def test_disabled_marker_is_read_within_the_bounds(tmp_path):
    archive = write_model_archive(tmp_path / "model.tar.gz", b"turned off\n", "DISABLED")
    assert disabled_reason(archive) == "turned off"
    bomb = gzip_bomb(tmp_path / "bomb.tar.gz", 17 * (64 << 20), member="DISABLED")
    with pytest.raises(ModelArtifactError, match="over the bound"):
        disabled_reason(bomb)


def test_the_bounded_reader_is_a_readable_stream_that_stops_at_its_limit():
    """What ``tarfile`` and ``io`` see: a readable, seekable raw stream (``readinto`` included)
    that refuses to go past the limit."""
    import io

    from churn.model_io import ModelArtifactError, _BoundedReader

    reader = _BoundedReader(io.BytesIO(b"x" * 100), 200, "model.tar.gz", 100)
    assert reader.readable() and reader.seekable()
    assert io.BufferedReader(reader, buffer_size=16).read(100) == b"x" * 100
    short = _BoundedReader(io.BytesIO(b"y" * 10), 100, "model.tar.gz", 100)
    buffer = bytearray(8)
    short.seek(6)
    assert short.readinto(buffer) == 4 and bytes(buffer) == b"yyyy\0\0\0\0"
    reader.seek(0)
    assert reader.read(200) == b"x" * 100
    with pytest.raises(ModelArtifactError, match="expands to more than its bound"):
        reader.read(201)


@pytest.mark.parametrize(
    "count, shown",
    [(0, "0 bytes"), ((1 << 20) - 1, "1048575 bytes"), (1 << 20, "1.0 MiB"), (3 << 19, "1.5 MiB"),
     ((1 << 30) - (1 << 20), "1023.0 MiB"), (1 << 30, "1.0 GiB"), (5 << 29, "2.5 GiB")],
)
def test_sizes_are_shown_in_the_largest_whole_unit(count, shown):
    assert model_io._size(count) == shown


def test_a_disabled_marker_in_another_encoding_is_shown_not_refused(tmp_path):
    archive = write_model_archive(tmp_path / "model.tar.gz", "désactivé\n".encode("latin-1"), "DISABLED")
    assert disabled_reason(archive) == "d\ufffdsactiv\ufffd"


@pytest.mark.parametrize("value, allowed", [
    ("1", True), ("true", True), (" TRUE ", True), ("Yes", True), ("yes", True),
    ("0", False), ("", False), ("no", False), ("false", False), ("on", False), (None, False),
])
def test_the_pickle_opt_in_variable_takes_the_usual_spellings_of_yes(monkeypatch, value, allowed):
    if value is None:
        monkeypatch.delenv(model_io.ALLOW_PICKLE_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(model_io.ALLOW_PICKLE_VARIABLE, value)
    assert model_io.pickle_allowed_by_environment() is allowed


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_an_archive_is_read_whatever_its_compression(tmp_path, mode):
    """Like ``tarfile``, churn reads a model.tar.gz that is really uncompressed, bzip2 or xz."""
    archive = write_tar(tmp_path / "model.tar.gz", [(tarfile.TarInfo("xgboost-model"), b"model bytes")], mode)
    assert model_io.read_model_bytes(archive) == b"model bytes"
    marker = write_tar(tmp_path / "disabled.tar.gz", [(tarfile.TarInfo("DISABLED"), b"switched off\n")], mode)
    assert disabled_reason(marker) == "switched off"


def test_an_archive_without_a_model_file_says_what_it_holds(tmp_path):
    two = write_tar(tmp_path / "two.tar.gz", [(tarfile.TarInfo("a.json"), b"{}"), (tarfile.TarInfo("b.json"), b"{}")])
    with pytest.raises(ModelArtifactError) as error:
        model_io.read_model_bytes(two)
    assert str(error.value) == f"{two} has no 'xgboost-model' file (it holds a.json, b.json)"
    empty = write_tar(tmp_path / "empty.tar.gz", [])
    with pytest.raises(ModelArtifactError) as error:
        model_io.read_model_bytes(empty)
    assert str(error.value) == f"{empty} has no 'xgboost-model' file (it holds nothing)"


def test_content_exactly_at_a_bound_of_one_byte_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv(model_io.MAX_MODEL_BYTES_VARIABLE, "1")
    assert model_io.max_model_bytes() == 1
    archive = write_tar(tmp_path / "model.tar.gz", [(tarfile.TarInfo("xgboost-model"), b"x")])
    assert model_io.read_model_bytes(archive) == b"x"
    over = write_tar(tmp_path / "over.tar.gz", [(tarfile.TarInfo("xgboost-model"), b"xy")])
    with pytest.raises(ModelArtifactError) as error:
        model_io.read_model_bytes(over)
    assert str(error.value) == (
        f"model archive {over} declares 2 bytes of content (up to member 'xgboost-model'), over the bound of 1 bytes; "
        "churn refuses it (set CHURN_MAX_MODEL_BYTES to a larger number of bytes if the model really is that big)"
    )


def test_the_bounded_reader_refusal_names_the_archive_and_the_bound():
    reader = model_io._BoundedReader(io.BytesIO(b"x" * 300), 200, "model.tar.gz", 100)
    with pytest.raises(ModelArtifactError) as error:
        reader.read(201)
    assert str(error.value) == (
        "model archive model.tar.gz expands to more than its bound, over the bound of 100 bytes; churn refuses it "
        "(set CHURN_MAX_MODEL_BYTES to a larger number of bytes if the model really is that big)"
    )


@pytest.mark.parametrize("size", [-1, None])
def test_the_bounded_reader_reads_to_the_end_within_its_limit(size):
    """A read of everything returns the rest of the stream when it ends at or before the limit."""
    stream = io.BytesIO(bytes(range(200)))
    reader = model_io._BoundedReader(stream, 200, "model.tar.gz", 100)
    assert reader.read(size) == bytes(range(200))
    reader.seek(50)
    assert reader.read(size) == bytes(range(50, 200))
    assert reader.read(size) == b""


@pytest.mark.parametrize("start", [0, 50])
@pytest.mark.parametrize("size", [-1, None])
def test_the_bounded_reader_refuses_to_read_everything_past_its_limit(start, size):
    """A read of everything stops one byte past the limit (enough to see there is more) and refuses:
    a decompression bomb is never expanded whole."""
    stream = io.BytesIO(bytes(10_000))
    reader = model_io._BoundedReader(stream, 200, "model.tar.gz", 100)
    reader.seek(start)
    with pytest.raises(ModelArtifactError, match="expands to more than its bound"):
        reader.read(size)
    assert stream.tell() <= 201


def test_the_bounded_reader_reads_nothing_when_asked_for_nothing():
    stream = io.BytesIO(b"x" * 100)
    reader = model_io._BoundedReader(stream, 200, "model.tar.gz", 100)
    assert reader.read(0) == b""
    assert stream.tell() == 0


def test_the_bounded_reader_seeks_relative_to_its_position_within_its_limit():
    stream = io.BytesIO(bytes(range(256)))
    reader = model_io._BoundedReader(stream, 200, "model.tar.gz", 100)
    assert reader.seek(100) == 100
    assert reader.seek(50, io.SEEK_CUR) == 150
    assert reader.read(2) == bytes([150, 151])
    assert reader.seek(-52, io.SEEK_CUR) == 100 and reader.tell() == 100
    assert reader.seek(100, io.SEEK_CUR) == 200
    reader.seek(100)
    with pytest.raises(ModelArtifactError, match="expands to more than its bound"):
        reader.seek(101, io.SEEK_CUR)
    assert reader.tell() == 100


def test_the_bounded_reader_does_not_seek_from_the_end():
    stream = io.BytesIO(b"x" * 100)
    reader = model_io._BoundedReader(stream, 200, "model.tar.gz", 100)
    reader.seek(10)
    with pytest.raises(io.UnsupportedOperation) as error:
        reader.seek(0, io.SEEK_END)
    assert str(error.value) == "seek from the end of a model archive"
    assert reader.tell() == 10


def _without_times(text):
    return re.sub(r"\[\d\d:\d\d:\d\d\] ", "", text)


def test_a_file_xgboost_cannot_read_is_refused_with_xgboosts_first_line():
    import xgboost

    data = b"{not a model"
    with pytest.raises(xgboost.core.XGBoostError) as native_error:
        xgboost.Booster().load_model(bytearray(data))
    reason = str(native_error.value).splitlines()[0]
    assert reason
    with pytest.raises(ModelArtifactError) as error:
        model_io.booster_from_bytes(data)
    message = str(error.value)
    assert _without_times(message) == _without_times(f"model: not an XGBoost model file: {reason}")
    assert "\n" not in message


def test_a_file_xgboost_refuses_without_a_reason_is_called_unreadable(monkeypatch):
    import xgboost

    def refuse(self, model):
        raise xgboost.core.XGBoostError("")

    monkeypatch.setattr(xgboost.Booster, "load_model", refuse)
    with pytest.raises(ModelArtifactError) as error:
        model_io.booster_from_bytes(b"{not a model", source="m.json")
    assert str(error.value) == "m.json: not an XGBoost model file: unreadable"


def test_a_pickle_that_cannot_be_unpickled_says_why():
    broken = pickle.dumps({"a": 1})[:-1]
    with pytest.raises(ModelArtifactError) as error:
        model_io.booster_from_bytes(broken, allow_pickle=True, source="m")
    assert str(error.value) == "m: cannot unpickle the model file: UnpicklingError: pickle data was truncated"


def test_a_pickle_of_something_else_names_what_it_is():
    with pytest.raises(ModelArtifactError) as error:
        model_io.booster_from_bytes(pickle.dumps({"a": 1}), allow_pickle=True, source="m")
    assert str(error.value) == "m: pickled model is a dict, not an XGBoost Booster"


def test_a_pickled_scikit_learn_style_model_gives_its_booster():
    import xgboost

    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 3))
    model = xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(features, (features[:, 0] > 0).astype(int))
    booster = model_io.booster_from_bytes(pickle.dumps(model), allow_pickle=True)
    assert isinstance(booster, xgboost.Booster) and booster.num_boosted_rounds() == 3
    matrix = xgboost.DMatrix(features)
    assert np.allclose(booster.predict(matrix), model.get_booster().predict(matrix))


def test_the_features_document_is_read_or_refused_with_its_reason(tmp_path):
    from churn.model_io import read_features

    assert read_features(write_model_archive(tmp_path / "plain.tar.gz", b"model")) is None

    def archive(name, member, data=b"", kind=tarfile.REGTYPE):
        with tarfile.open(tmp_path / name, "w:gz") as tar:
            info = tarfile.TarInfo(member)
            info.type, info.size = kind, len(data) if kind == tarfile.REGTYPE else 0
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        return tmp_path / name

    with pytest.raises(ModelArtifactError, match="'churn/features.json' in .* is a symbolic link, not a regular file"):
        read_features(archive("link.tar.gz", "churn/features.json", kind=tarfile.SYMTYPE))
    with pytest.raises(ModelArtifactError, match="'churn/features.json' in .*text.tar.gz is not JSON"):
        read_features(archive("text.tar.gz", "./churn/features.json", b"{oops"))
    with pytest.raises(ModelArtifactError, match="is nested too deeply"):
        read_features(archive("deep.tar.gz", "churn/features.json", b"[" * 100_000 + b"]" * 100_000))
    with pytest.raises(ModelArtifactError, match="lacks its 'dataset' object or 'feature_names' list"):
        read_features(archive("list.tar.gz", "churn/features.json", b"[]"))
    assert read_features(archive("ok.tar.gz", "churn/features.json", b'{"dataset": {}, "feature_names": []}')) == {"dataset": {}, "feature_names": []}
