"""Loading an XGBoost model from a SageMaker ``model.tar.gz`` (XGBoost is imported only when a
model is loaded: the processing image, which trains the baseline, has none).

Only XGBoost's own model formats are loaded (JSON, UBJSON, legacy binary): the images this
project targets (its own, and the official SageMaker XGBoost 1.3-1 and later) write those. A
pickled model (SageMaker XGBoost before 1.3-1) is refused unless the caller opts in with
``allow_pickle=True`` (``churn predict --allow-pickle``; ``CHURN_ALLOW_PICKLED_MODEL=1`` in the
evaluation step and the serving container): loading a pickle can run arbitrary code.

An archive is read in memory, never extracted, and within bounds: at most ``MAX_MEMBERS``
members and ``max_model_bytes()`` bytes of content (``CHURN_MAX_MODEL_BYTES``, default 512 MiB).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import pickle
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import xgboost

MODEL_FILE = "xgboost-model"
#: The member of the deployable model.tar.gz (SelectModel's) that says which table layout the
#: model scores: the resolved dataset spec and the feature names. In a folder, because the
#: official SageMaker XGBoost container loads *every* regular file at the top of /opt/ml/model
#: as a model (serve_utils.get_loaded_booster, checked on 1.7-1) and skips folders.
FEATURES_MEMBER = "churn/features.json"
#: What a training job turned off by a parameter writes instead of a model.
DISABLED_FILE = "DISABLED"
#: The first byte of a pickle of protocol 2 or later (the PROTO opcode).
_PICKLE_MAGIC = b"\x80"

#: At most this many members in a model archive (a SageMaker model.tar.gz holds one or two).
MAX_MEMBERS = 100
#: At most this many bytes of member content in a model archive, unless CHURN_MAX_MODEL_BYTES says otherwise.
DEFAULT_MAX_MODEL_BYTES = 512 << 20
MAX_MODEL_BYTES_VARIABLE = "CHURN_MAX_MODEL_BYTES"
#: Decompressed bytes allowed beyond the content bound, for tar headers (names, PAX records).
_HEADER_ALLOWANCE = 16 << 20

#: The environment variable that lets the evaluation step and the serving container load a pickle.
ALLOW_PICKLE_VARIABLE = "CHURN_ALLOW_PICKLED_MODEL"
CLI_OPT_IN = "pass --allow-pickle if you trust the file"
ENV_OPT_IN = f"set {ALLOW_PICKLE_VARIABLE}=1 if you trust the file"


class ModelArtifactError(ValueError):
    """The model artifact cannot be read; the message says why."""


class PickledModelError(ModelArtifactError):
    """The model file is a Python pickle and the caller did not opt in to loading one."""


def max_model_bytes() -> int:
    """The bound on an archive's content: ``CHURN_MAX_MODEL_BYTES`` or 512 MiB (an XGBoost
    model of this pipeline is a few MB; the bound keeps a decompression bomb near 1 GiB of memory)."""
    text = os.environ.get(MAX_MODEL_BYTES_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_MODEL_BYTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ModelArtifactError(f"{MAX_MODEL_BYTES_VARIABLE} must be a positive number of bytes, got {text!r}")
    return value


def pickle_allowed_by_environment() -> bool:
    """Whether ``CHURN_ALLOW_PICKLED_MODEL`` opts in to loading pickled models (``1``/``true``/``yes``)."""
    return os.environ.get(ALLOW_PICKLE_VARIABLE, "").strip().lower() in {"1", "true", "yes"}


def _size(count: int) -> str:
    return f"{count / (1 << 30):.1f} GiB" if count >= 1 << 30 else f"{count / (1 << 20):.1f} MiB" if count >= 1 << 20 else f"{count} bytes"


def _too_big(archive, detail: str, bound: int) -> ModelArtifactError:
    return ModelArtifactError(
        f"model archive {archive} {detail}, over the bound of {_size(bound)}; churn refuses it "
        f"(set {MAX_MODEL_BYTES_VARIABLE} to a larger number of bytes if the model really is that big)"
    )


class _BoundedReader(io.RawIOBase):
    """A seekable view of a decompressed stream that refuses to read or seek past ``limit``
    bytes, so that no tar header or member can make churn decompress more than that."""

    def __init__(self, stream, limit: int, archive, bound: int):
        self.stream, self.limit, self.archive, self.bound = stream, limit, archive, bound

    def _check(self, end: int) -> None:
        if end > self.limit:
            raise _too_big(self.archive, "expands to more than its bound", self.bound)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.stream.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._check(offset)
        elif whence == io.SEEK_CUR:
            self._check(self.stream.tell() + offset)
        else:
            raise io.UnsupportedOperation("seek from the end of a model archive")
        return self.stream.seek(offset, whence)

    def read(self, size: int = -1) -> bytes:
        position = self.stream.tell()
        if size is None or size < 0:
            data = self.stream.read(self.limit - position + 1)
            self._check(position + len(data))
            return data
        self._check(position + size)
        return self.stream.read(size)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _decompressed(path: Path | str):
    """The archive file, decompressed on the fly (gzip, bzip2, xz or none), as ``tarfile`` would."""
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    if magic[:3] == b"BZh":
        return bz2.open(path, "rb")
    if magic == b"\xfd7zXZ\x00":
        return lzma.open(path, "rb")
    return open(path, "rb")


_READ_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError)


@contextmanager
def _archive_members(archive: Path | str) -> Iterator[tuple[tarfile.TarFile, list[tarfile.TarInfo]]]:
    """The open archive and its members, read header by header within the bounds; nothing is
    extracted onto the file system. Errors become ``ModelArtifactError``."""
    bound = max_model_bytes()
    try:
        with _decompressed(archive) as stream:
            reader = _BoundedReader(stream, bound + _HEADER_ALLOWANCE, archive, bound)
            with tarfile.open(fileobj=reader, mode="r:") as tar:
                members: list[tarfile.TarInfo] = []
                total = 0
                while (member := tar.next()) is not None:
                    members.append(member)
                    if len(members) > MAX_MEMBERS:
                        raise ModelArtifactError(
                            f"model archive {archive} holds more than {MAX_MEMBERS} members; churn refuses it "
                            f"(a SageMaker model.tar.gz holds the model file)"
                        )
                    total += max(member.size, 0)
                    if total > bound:
                        raise _too_big(archive, f"declares {_size(total)} of content (up to member {member.name!r})", bound)
                yield tar, members
    except _READ_ERRORS as error:
        raise ModelArtifactError(f"cannot read model archive {archive}: {error}") from None


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "a symbolic link"
    if member.islnk():
        return "a hard link"
    if member.isdir():
        return "a directory"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a FIFO"
    return f"of tar type {member.type!r}"


def read_model_bytes(archive: Path | str) -> bytes:
    """The bytes of the model file inside ``model.tar.gz`` (``xgboost-model`` preferred, at any
    depth, e.g. ``./xgboost-model``); else the archive's only regular file.

    Members are read in memory, within the archive bounds; a model member that is a link or a
    device is refused.
    """
    with _archive_members(archive) as (tar, members):
        named = [m for m in members if Path(m.name).name == MODEL_FILE]
        files = [m for m in members if m.isfile() and not _is_features(m)]
        if named:
            member = named[0]
            if not member.isfile():
                raise ModelArtifactError(f"{member.name!r} in {archive} is {_kind(member)}, not a regular file")
        elif len(files) == 1:
            member = files[0]
        else:
            names = ", ".join(m.name for m in members) or "nothing"
            raise ModelArtifactError(f"{archive} has no {MODEL_FILE!r} file (it holds {names})")
        return tar.extractfile(member).read()


def _is_features(member: tarfile.TarInfo) -> bool:
    return str(PurePosixPath(member.name)) == FEATURES_MEMBER  # also ./churn/features.json


def read_features(archive: Path | str) -> dict | None:
    """The features document the deployable archive carries (``{"dataset": ..., "feature_names":
    [...]}``), or None for an archive without one (a training job's, or one made before churn
    shipped it)."""
    with _archive_members(archive) as (tar, members):
        found = [m for m in members if _is_features(m)]
        if not found:
            return None
        if not found[0].isfile():
            raise ModelArtifactError(f"{FEATURES_MEMBER!r} in {archive} is {_kind(found[0])}, not a regular file")
        data = tar.extractfile(found[0]).read()
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelArtifactError(f"{FEATURES_MEMBER!r} in {archive} is not JSON: {error}") from None
    except RecursionError:
        raise ModelArtifactError(f"{FEATURES_MEMBER!r} in {archive} is nested too deeply to be a features document") from None
    features = features_in(document)
    if features is None:
        raise ModelArtifactError(f"{FEATURES_MEMBER!r} in {archive} lacks its 'dataset' object or 'feature_names' list")
    return features


def features_in(document: object) -> dict | None:
    """The features document a JSON document holds (a features document, or the preprocessing
    manifest it is taken from): its ``dataset`` object and ``feature_names`` list, else None."""
    if isinstance(document, dict) and isinstance(document.get("dataset"), dict) and isinstance(document.get("feature_names"), list):
        return {"dataset": document["dataset"], "feature_names": document["feature_names"]}
    return None


def _normalized(name: str, size: int) -> tarfile.TarInfo:
    """A member header that depends on nothing but the name and size (no time, owner or mode of
    the machine that wrote it), so the same content always makes the same archive bytes."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    return info


def write_with_features(source: Path | str, features: dict, target: Path) -> None:
    """Write ``target``, the deployable archive: the model file of ``source`` (the member
    :func:`read_model_bytes` picks, so what was evaluated is what ships) as ``xgboost-model``,
    plus :data:`FEATURES_MEMBER` holding ``features``; nothing else (any other member of
    ``source`` is left out: the official XGBoost container would try to load it as a model).
    Deterministic (fixed headers, gzip without a time stamp) and atomic."""
    from churn.atomic import AtomicTextWriter

    contents = {
        MODEL_FILE: read_model_bytes(source),
        FEATURES_MEMBER: (json.dumps(features, indent=2, sort_keys=True) + "\n").encode(),
    }
    with AtomicTextWriter(target) as out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=out.handle, mtime=0) as compressed:
            with tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive:
                for name in sorted(contents):
                    archive.addfile(_normalized(name, len(contents[name])), io.BytesIO(contents[name]))


def find_archive(location: Path) -> Path:
    """``location`` itself when it is a file, else the first ``model.tar.gz`` below it."""
    if location.is_file():
        return location
    archives = sorted(location.rglob("model.tar.gz"))
    if not archives:
        raise FileNotFoundError(f"no model.tar.gz under {location}")
    return archives[0]


def disabled_reason(archive: Path | str) -> str | None:
    """The text of the ``DISABLED`` marker when the archive holds one instead of a model."""
    with _archive_members(archive) as (tar, members):
        for member in members:
            if member.isfile() and Path(member.name).name == DISABLED_FILE:
                return tar.extractfile(member).read().decode("utf-8", "replace").strip()
    return None


def is_pickle(data: bytes) -> bool:
    """Whether ``data`` starts like a pickle of protocol 2 or later (what SageMaker XGBoost before 1.3-1 wrote)."""
    return data[:1] == _PICKLE_MAGIC


def pickle_refusal(source: str, opt_in: str = CLI_OPT_IN) -> str:
    return (
        f"{source}: the model file is a Python pickle (SageMaker XGBoost before 1.3-1 writes those); "
        f"loading a pickle can run arbitrary code, so churn refuses it; "
        f"retrain with XGBoost 1.3-1 or later, or {opt_in}"
    )


def booster_from_bytes(
    data: bytes, allow_pickle: bool = False, *, source: str = "model", opt_in: str = CLI_OPT_IN
) -> xgboost.Booster:
    """A Booster from XGBoost's native model file (JSON, UBJSON, or legacy binary where the
    installed XGBoost still reads it). XGBoost's own parser is tried first, so a native file is
    never taken for a pickle; what it cannot read is a pickle if it starts with ``\\x80``.

    A pickled Booster (SageMaker XGBoost before 1.3-1) is loaded only with ``allow_pickle``:
    unpickling runs whatever code the file names. Without it a pickle raises
    ``PickledModelError`` (``source`` and ``opt_in`` go into its message) and nothing is unpickled.
    """
    import xgboost

    booster = xgboost.Booster()
    try:
        booster.load_model(bytearray(data))
        return booster
    except xgboost.core.XGBoostError as error:
        native_error = str(error).splitlines()[0] if str(error) else "unreadable"
    if not is_pickle(data):
        raise ModelArtifactError(f"{source}: not an XGBoost model file: {native_error}")
    if not allow_pickle:
        raise PickledModelError(pickle_refusal(source, opt_in))
    try:
        model = pickle.loads(data)  # noqa: S301 - the caller opted in: a model it trusts
    except Exception as error:  # noqa: BLE001 - any unpickling failure is a bad model file
        raise ModelArtifactError(f"{source}: cannot unpickle the model file: {type(error).__name__}: {error}") from None
    if isinstance(model, xgboost.XGBModel):
        model = model.get_booster()
    if not isinstance(model, xgboost.Booster):
        raise ModelArtifactError(f"{source}: pickled model is a {type(model).__name__}, not an XGBoost Booster")
    return model


def load_booster(archive: Path | str, allow_pickle: bool = False, *, opt_in: str = CLI_OPT_IN) -> xgboost.Booster:
    """The Booster in ``model.tar.gz``; a pickled one only with ``allow_pickle`` (see ``booster_from_bytes``)."""
    return booster_from_bytes(read_model_bytes(archive), allow_pickle, source=str(archive), opt_in=opt_in)
