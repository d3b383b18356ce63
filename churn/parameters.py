"""The pipeline's parameters: names, types, defaults and validation, in one table.

``--param Name=Value`` on the command line is parsed and checked here, before anything is
compiled or any container starts.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from churn import rules, sizing
from churn.rules import METRIC_NAMES
from churn.tuning import MAX_SEED, STRATEGIES

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")


class ParameterError(ValueError):
    """A pipeline parameter override is unknown or invalid; the message names it."""


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    kind: type  # str, int or float
    default: object  # None: the backend decides the default (``backend_default`` says how)
    help: str
    check: Callable[[object], str | None] = lambda value: None
    #: What the backend takes when ``default`` is None.
    backend_default: str = ""

    @property
    def type_name(self) -> str:
        return {str: "text", int: "integer", float: "number"}[self.kind]

    @property
    def allowed(self) -> str:
        """The values ``check`` accepts, in words (for ``churn params``)."""
        return _ALLOWED.get(self.check, "any")

    @property
    def default_text(self) -> str:
        return self.backend_default if self.default is None else str(self.default)


def _unit_open(value) -> str | None:
    return None if 0 < value < 1 else "must be in (0, 1)"


def _unit_closed(value) -> str | None:
    return None if 0 <= value <= 1 else "must be in [0, 1]"


def _positive(value) -> str | None:
    return None if value > 0 else "must be positive"


def _non_negative(value) -> str | None:
    return None if value >= 0 else "must be zero or positive"


def _seed(value) -> str | None:
    return None if 0 <= value <= MAX_SEED else f"must be in [0, {MAX_SEED}] (SageMaker's RandomSeed is a 32-bit integer)"


def _choice(choices: tuple[str, ...], value) -> str | None:
    return None if value in choices else f"must be one of {', '.join(choices)}"


def _true_or_false(value) -> str | None:
    return _choice(("true", "false"), value)


def _metric_name(value) -> str | None:
    return _choice(METRIC_NAMES, value)


def _approval_status(value) -> str | None:
    return _choice(APPROVAL_STATUSES, value)


def _strategy(value) -> str | None:
    return _choice(STRATEGIES, value)


#: CreateProcessingJob takes at most this many instances (botocore's ProcessingInstanceCount).
MAX_PROCESSING_INSTANCES = 100


def _instance_count(value) -> str | None:
    return None if value >= 1 else "must be at least 1"


def _processing_instances(value) -> str | None:
    return None if 1 <= value <= MAX_PROCESSING_INSTANCES else f"must be in [1, {MAX_PROCESSING_INSTANCES}] (CreateProcessingJob's range)"


def _not_empty(value) -> str | None:
    return None if value.strip() else "must not be empty"


def _training_instance(value) -> str | None:
    return sizing.instance_type_problem(value)


_ALLOWED: dict[Callable, str] = {
    _unit_open: "0 < x < 1",
    _unit_closed: "0 <= x <= 1",
    _positive: "x > 0",
    _non_negative: "x >= 0",
    _seed: f"0 <= x <= {MAX_SEED}",
    _true_or_false: "true | false",
    _metric_name: " | ".join(METRIC_NAMES),
    _approval_status: " | ".join(APPROVAL_STATUSES),
    _strategy: " | ".join(STRATEGIES),
    _not_empty: "not empty",
    _instance_count: "x >= 1",
    _processing_instances: f"1 <= x <= {MAX_PROCESSING_INSTANCES}",
    _training_instance: f"{sizing.AUTO} | {' | '.join(sizing.LOCAL_TYPES)} | ml.<family>.<size>",
}
#: What the backends take when a parameter has no default of its own (churn.backends.local and .cloud).
_INSTANCE_DEFAULT = "local (cloud: ml.m5.large)"

SPECS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "InputData", str, None, "URI of the raw churn CSV (file or folder)", _not_empty,
        "data/sample/churn.csv (cloud: staged to S3)",
    ),
    ParameterSpec("TrainRatio", float, 0.7, "share of rows in the train split", _unit_open),
    ParameterSpec("ValidationRatio", float, 0.15, "share of rows in the validation split", _unit_open),
    ParameterSpec("SplitSeed", int, 42, "seed of the content-hash split", _non_negative),
    ParameterSpec("MaxDepth", int, 5, "XGBoost max_depth", _positive),
    ParameterSpec("NumRound", int, 100, "XGBoost boosting rounds", _positive),
    ParameterSpec("Eta", float, 0.2, "XGBoost learning rate", _unit_closed),
    ParameterSpec("TuningStrategy", str, "Bayesian", "how TuneModel proposes trials (tuning branch)", _strategy),
    ParameterSpec("TuningMaxJobs", int, 6, "training jobs TuneModel runs in all (tuning branch)", _positive),
    ParameterSpec("TuningMaxParallelJobs", int, 2, "TuneModel's training jobs at a time (tuning branch)", _positive),
    ParameterSpec("TuningSeed", int, 42, "seed of TuneModel's search: a re-run proposes the same trials (tuning branch)", _seed),
    ParameterSpec("BaselineEnabled", str, "true", "train the logistic-regression baseline candidate too", _true_or_false),
    ParameterSpec("BaselineC", float, 1.0, "inverse regularisation strength of the baseline", _positive),
    ParameterSpec("SelectionMetric", str, "auc", "test metric that picks the winning candidate", _metric_name),
    ParameterSpec("AccuracyThreshold", float, 0.8, "test accuracy the winning model must reach", _unit_closed),
    ParameterSpec("ProcessingInstanceType", str, None, "instance type of processing steps", _not_empty, _INSTANCE_DEFAULT),
    ParameterSpec(
        "TrainingInstanceType", str, None, f"instance type of the training steps ({sizing.AUTO}: from the training rows)",
        _training_instance, f"local (cloud: {sizing.AUTO})",
    ),
    ParameterSpec(
        "ProcessingInstanceCount", int, 1,
        "instances of PreprocessData; above 1 (cloud only) each preprocesses a share of the input's files", _processing_instances,
    ),
    ParameterSpec(
        "TrainingInstanceCount", int, 1,
        "instances of TrainModel; above 1 (cloud only) XGBoost trains distributed on the train split's files", _instance_count,
    ),
    ParameterSpec("ModelApprovalStatus", str, "PendingManualApproval", "approval status of the registered model", _approval_status),
)
BY_NAME = {spec.name: spec for spec in SPECS}
#: The parameters of the tuning branch (TuneModel): a pipeline compiled without it has none of them.
TUNING = tuple(name for name in BY_NAME if name.startswith("Tuning"))


def specs(tuning: bool = True) -> tuple[ParameterSpec, ...]:
    """The parameters of a pipeline compiled with or without the tuning branch."""
    return SPECS if tuning else tuple(spec for spec in SPECS if spec.name not in TUNING)


def check_tuning(values: Iterable[str], tuning: bool, version: str | None = None) -> None:
    """Refuse overrides of the tuning branch's parameters for a pipeline compiled without it
    (``version``: the recorded pipeline version that was)."""
    given = [name for name in values if name in TUNING]
    if given and not tuning:
        raise ParameterError(
            f"{', '.join(given)} {'is a parameter' if len(given) == 1 else 'are parameters'} of the tuning branch, which --no-tuning leaves out"
            + (f" (version {version} was compiled without it)" if version else "")
        )


def convert(name: str, text: str) -> object:
    """Parse one override; raise :class:`ParameterError` naming the parameter and the problem."""
    spec = BY_NAME.get(name)
    if spec is None:
        lowered = {known.lower(): known for known in BY_NAME}
        close = [lowered[match] for match in difflib.get_close_matches(name.lower(), lowered, cutoff=0.7)]  # at most 3
        if close:
            suggestions = " or ".join(map(repr, close))
            raise ParameterError(f"unknown parameter {name!r}; did you mean {suggestions}? (churn params lists them all)")
        raise ParameterError(f"unknown parameter {name!r}; known parameters: {', '.join(BY_NAME)}")
    try:
        value = spec.kind(text)
    except ValueError:
        raise ParameterError(f"{name} must be {'an integer' if spec.kind is int else 'a number'}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {text!r}")
    problem = spec.check(value)
    if problem:
        raise ParameterError(f"{name} {problem}, got {text!r}")
    return value


def parse_overrides(pairs: Iterable[str]) -> dict[str, object]:
    """``["Name=Value", ...]`` -> typed, validated values (ratios checked together)."""
    values: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise ParameterError(f"parameter override {pair!r} must look like Name=Value")
        values[name.strip()] = convert(name.strip(), text.strip())
    check_together(values)
    return values


def check_together(values: dict[str, object]) -> None:
    """The checks that take more than one parameter: the ratios, and the instance counts (the
    train split is one file per PreprocessData instance, and ShardedByS3Key gives each training
    instance whole files, so a training instance beyond the files would get no rows)."""
    processing = values.get("ProcessingInstanceCount", BY_NAME["ProcessingInstanceCount"].default)
    training = values.get("TrainingInstanceCount", BY_NAME["TrainingInstanceCount"].default)
    if training > processing:  # type: ignore[operator]  # convert() gives both as integers
        raise ParameterError(
            f"TrainingInstanceCount={training} is more than ProcessingInstanceCount={processing}: the train split is one file per "
            "PreprocessData instance and each training instance takes whole files, so some would get no rows"
        )
    train = values.get("TrainRatio", BY_NAME["TrainRatio"].default)
    validation = values.get("ValidationRatio", BY_NAME["ValidationRatio"].default)
    try:
        rules.validate_ratios(train, validation)  # type: ignore[arg-type]  # convert() gives the ratios as floats
    except ValueError as error:
        raise ParameterError(str(error)) from None


#: What shards PreprocessData's input and TrainModel's train channel (cloud backend only).
SCALING = ("ProcessingInstanceCount", "TrainingInstanceCount")


def check_scaling(values: dict[str, object], *, local: bool, training_instance_type: object, collected: Iterable[str] = ()) -> None:
    """Refuse instance counts above 1 where they cannot work, before anything runs: on the local
    backend (SageMaker local mode supports FullyReplicated inputs only, so nothing would be
    sharded: every instance would process every row); and with ProcessingInstanceCount above 1,
    ``TrainingInstanceType=auto`` (no instance counts the whole train split that ``auto`` sizes
    from) or a dataset spec with collected vocabularies (no instance sees every value).
    ``training_instance_type``: the override or the backend's default; ``collected``: the
    spec's collected columns."""
    if local:
        given = [f"{name}={values[name]}" for name in SCALING if values.get(name, 1) != 1]
        if given:
            raise ParameterError(
                f"{', '.join(given)}: the local backend runs one instance per job (local mode shards no input); "
                "instance counts above 1 are for --backend cloud"
            )
        return
    processing = values.get("ProcessingInstanceCount", 1)
    if processing == 1:
        return
    problem = rules.sharding_problem(processing, training_instance_type, collected)
    if problem:
        raise ParameterError(problem)
