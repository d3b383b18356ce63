"""Loading an XGBoost model from a SageMaker ``model.tar.gz`` (XGBoost is imported only when a
model is loaded: the processing image, which trains the baseline, has none)."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import xgboost

MODEL_FILE = "xgboost-model"
#: What a training job turned off by a parameter writes instead of a model.
DISABLED_FILE = "DISABLED"
_PICKLE_MAGIC = b"\x80"


class ModelArtifactError(ValueError):
    """The model artifact cannot be read; the message says why."""


def read_model_bytes(archive: Path | str) -> bytes:
    """The bytes of the model file inside ``model.tar.gz`` (``xgboost-model`` preferred).

    Members are read in memory; nothing is extracted onto the file system.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            named = [m for m in members if Path(m.name).name == MODEL_FILE]
            if named:
                member = named[0]
            elif len(members) == 1:
                member = members[0]
            else:
                names = ", ".join(m.name for m in members) or "nothing"
                raise ModelArtifactError(f"{archive} has no {MODEL_FILE!r} file (it holds {names})")
            return tar.extractfile(member).read()
    except (tarfile.TarError, OSError) as error:
        raise ModelArtifactError(f"cannot read model archive {archive}: {error}") from None


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
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar.getmembers():
                if member.isfile() and Path(member.name).name == DISABLED_FILE:
                    return tar.extractfile(member).read().decode("utf-8", "replace").strip()
    except (tarfile.TarError, OSError) as error:
        raise ModelArtifactError(f"cannot read model archive {archive}: {error}") from None
    return None


def booster_from_bytes(data: bytes) -> xgboost.Booster:
    """A Booster from either format the official images write: a pickled Booster (script mode,
    older containers) or XGBoost's native model file (JSON, UBJSON or legacy binary)."""
    import xgboost

    if data[:1] == _PICKLE_MAGIC:
        model = pickle.loads(data)  # noqa: S301 - the user's own training output
        if isinstance(model, xgboost.XGBModel):
            model = model.get_booster()
        if not isinstance(model, xgboost.Booster):
            raise ModelArtifactError(f"pickled model is a {type(model).__name__}, not an XGBoost Booster")
        return model
    booster = xgboost.Booster()
    try:
        booster.load_model(bytearray(data))
    except xgboost.core.XGBoostError as error:
        raise ModelArtifactError(f"not an XGBoost model file: {str(error).splitlines()[0]}") from None
    return booster


def load_booster(archive: Path | str) -> xgboost.Booster:
    return booster_from_bytes(read_model_bytes(archive))
