"""A hyperparameter tuning job as SageMaker runs one, for the local backend (issue 18).

SageMaker's tuning job (``CreateHyperParameterTuningJob``, a pipeline's ``TuningStep``) trains
up to ``MaxNumberOfTrainingJobs`` jobs, at most ``MaxParallelTrainingJobs`` at a time, each with
the static hyperparameters plus values the strategy proposes from the parameter ranges; each
job's objective is the final value of its objective metric, read from its log by the metric
definitions; a job that fails or reports no objective does not fail the tuning job unless none
reports one. ``TrainingJobSummaries`` lists the jobs best first (``get_top_model_s3_uri`` reads
the first), without those that reported no objective.

This module is that logic without I/O: :func:`tuning_config` reads the step's resolved
``HyperParameterTuningJobConfig``; :class:`Searcher` proposes trials in waves with optuna
(Bayesian: TPE; Random: random sampling), seeded by the job's ``RandomSeed`` so a re-run proposes
the same trials; :func:`objective_of` reads a trial's objective from its log; and
:func:`training_job_summaries` ranks the finished trials as SageMaker lists them;
:func:`trial_request` and :func:`trial_job_name` make a trial's training job request and name
from the job's ``TrainingJobDefinition``. The local executor runs each trial as a training job in
the XGBoost container (:mod:`churn.runner.local_tuning`).
"""

from __future__ import annotations

import hashlib
import json
import copy
import dataclasses
from datetime import datetime
import math
import re
from dataclasses import dataclass, field

from churn.training_metrics import metric_series

#: The strategies a local tuning job runs (SageMaker's Hyperband and Grid are cloud-only).
STRATEGIES = ("Bayesian", "Random")
#: The seed of a tuning job that names none (SageMaker documents no default; churn's pipeline
#: always gives one, ``TuningSeed``).
DEFAULT_SEED = 0
#: The largest seed SageMaker takes (its RandomSeed is a 32-bit integer from 0).
MAX_SEED = 2**31 - 1
#: SageMaker lists at most this many training jobs of a tuning job in ``TrainingJobSummaries``.
MAX_SUMMARIES = 50
#: Settings of a tuning job that the local backend does not run: refused, never ignored (those
#: of the request, and those of its HyperParameterTuningJobConfig).
_UNSUPPORTED_REQUEST = {"WarmStartConfig": "warm start", "Autotune": "autotune", "TrainingJobDefinitions": "several training job definitions"}
_UNSUPPORTED_CONFIG = {"TuningJobCompletionCriteria": "completion criteria", "StrategyConfig": "a strategy configuration"}


class TuningError(ValueError):
    """A tuning job the local backend cannot run as given; the message names the field."""


@dataclass(frozen=True)
class Range:
    """One hyperparameter range of ``ParameterRanges``."""

    name: str
    kind: str  # "Integer", "Continuous" or "Categorical"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class TuningConfig:
    strategy: str
    max_jobs: int
    max_parallel: int
    seed: int
    metric: str
    maximize: bool
    ranges: tuple[Range, ...]


def _positive(value, where: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise TuningError(f"{where} must be a whole number, got {value!r}") from None
    if number < 1:
        raise TuningError(f"{where} must be at least 1, got {number}")
    return number


def _ranges(document: dict) -> tuple[Range, ...]:
    ranges: list[Range] = []
    for kind in ("Integer", "Continuous", "Categorical"):
        for item in document.get(f"{kind}ParameterRanges") or []:
            name = item["Name"]
            if kind == "Categorical":
                values = tuple(str(v) for v in item.get("Values") or [])
                if not values:
                    raise TuningError(f"categorical range {name!r} has no values")
                ranges.append(Range(name, kind, values=values))
                continue
            scaling = item.get("ScalingType", "Auto")
            if scaling not in ("Auto", "Linear", "Logarithmic"):
                raise TuningError(f"range {name!r}: scaling {scaling!r} is not one the local backend runs (Auto, Linear, Logarithmic)")
            try:
                low, high = float(item["MinValue"]), float(item["MaxValue"])
            except (KeyError, TypeError, ValueError):
                raise TuningError(f"range {name!r} needs numeric MinValue and MaxValue") from None
            if not low <= high or (scaling == "Logarithmic" and low <= 0):
                raise TuningError(f"range {name!r}: {low} .. {high} is not a range{' above 0' if scaling == 'Logarithmic' else ''}")
            ranges.append(Range(name, kind, low, high, scaling == "Logarithmic"))
    if not ranges:
        raise TuningError("the tuning job has no parameter ranges")
    names = [r.name for r in ranges]
    repeated = next((n for n in names if names.count(n) > 1), None)
    if repeated:
        raise TuningError(f"hyperparameter {repeated!r} has more than one range")
    return tuple(ranges)


def check_request(arguments: dict) -> None:
    """Refuse a ``CreateHyperParameterTuningJob`` request with settings the local backend does
    not run (its config is checked by :func:`tuning_config`)."""
    for key, what in _UNSUPPORTED_REQUEST.items():
        if arguments.get(key):
            raise TuningError(f"the tuning job sets {key} ({what}), which the local backend does not run")


def tuning_config(config: dict) -> TuningConfig:
    """The resolved ``HyperParameterTuningJobConfig`` of a tuning step, checked."""
    for key, what in _UNSUPPORTED_CONFIG.items():
        if config.get(key):
            raise TuningError(f"the tuning job sets {key} ({what}), which the local backend does not run")
    if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        raise TuningError("TrainingJobEarlyStoppingType must be Off: the local backend stops no trial early")
    if (config.get("ResourceLimits") or {}).get("MaxRuntimeInSeconds"):
        raise TuningError("ResourceLimits.MaxRuntimeInSeconds: the local backend does not bound a tuning job's time")
    strategy = config.get("Strategy", "Bayesian")
    if strategy not in STRATEGIES:
        raise TuningError(f"TuningStrategy {strategy!r}: the local backend runs {' and '.join(STRATEGIES)}")
    limits = config.get("ResourceLimits") or {}
    objective = config.get("HyperParameterTuningJobObjective") or {}
    if objective.get("Type") not in ("Maximize", "Minimize") or not objective.get("MetricName"):
        raise TuningError("the tuning job needs an objective: a MetricName to Maximize or Minimize")
    seed = config.get("RandomSeed", DEFAULT_SEED)
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise TuningError(f"the tuning seed must be a whole number, got {seed!r}") from None
    if not 0 <= seed <= MAX_SEED:  # (optuna's samplers would fail on it mid-run, in numpy's words)
        raise TuningError(f"TuningSeed (RandomSeed) must be in [0, {MAX_SEED}], got {seed}")
    return TuningConfig(
        strategy=strategy,
        max_jobs=_positive(limits.get("MaxNumberOfTrainingJobs"), "TuningMaxJobs (MaxNumberOfTrainingJobs)"),
        max_parallel=_positive(limits.get("MaxParallelTrainingJobs"), "TuningMaxParallelJobs (MaxParallelTrainingJobs)"),
        seed=seed,
        metric=objective["MetricName"],
        maximize=objective["Type"] == "Maximize",
        ranges=_ranges(config.get("ParameterRanges") or {}),
    )


def hyperparameter_text(value) -> str:
    """A proposed value as a training job's hyperparameter (SageMaker passes strings): whole
    numbers without a decimal point, other numbers in their shortest exact form."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 2**53):
        return str(int(value))
    return repr(float(value))


@dataclass
class Proposal:
    number: int
    hyperparameters: dict[str, str]
    #: The searcher's own number of the trial.
    search_number: int = field(default=-1, repr=False)


class Searcher:
    """Proposes trials in waves and learns from their objectives (optuna, in memory).

    Waves are deterministic: the same config (and so the same seed) and the same objectives
    give the same proposals, whatever the order trials finish in; a wave's trials are recorded
    in their numbers' order before the next wave is asked for."""

    def __init__(self, config: TuningConfig):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler: optuna.samplers.BaseSampler
        if config.strategy == "Random":
            sampler = optuna.samplers.RandomSampler(seed=config.seed)
        else:
            # TPE starts with random trials (10 by default, which a small budget never passes).
            sampler = optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=max(2, config.max_jobs // 3), constant_liar=True)
        self.config = config
        self.study = optuna.create_study(direction="maximize" if config.maximize else "minimize", sampler=sampler)
        self.distributions = {r.name: _distribution(r) for r in config.ranges}
        self.proposed = 0

    def next_wave(self) -> list[Proposal]:
        """Up to ``max_parallel`` new trials, none past ``max_jobs``; empty when the budget is spent."""
        count = min(self.config.max_parallel, self.config.max_jobs - self.proposed)
        wave = []
        for _ in range(max(count, 0)):
            trial = self.study.ask(self.distributions)
            values = {name: hyperparameter_text(trial.params[name]) for name in self.distributions}
            wave.append(Proposal(self.proposed, values, trial.number))
            self.proposed += 1
        return wave

    def record(self, proposals: list[Proposal], objectives: dict[int, float | None]) -> None:
        """Tell the searcher each trial's objective (None: failed or reported none), in order."""
        import optuna

        for proposal in sorted(proposals, key=lambda p: p.number):
            value = objectives.get(proposal.number)
            if value is None or not math.isfinite(value):
                self.study.tell(proposal.search_number, state=optuna.trial.TrialState.FAIL)
            else:
                self.study.tell(proposal.search_number, value)


#: SageMaker's limits on names: a tuning job's (``HyperParameterTuningJobName``) and a training job's.
MAX_TUNING_JOB_NAME = 32
MAX_TRAINING_JOB_NAME = 63


def tuning_job_name(step: str) -> str:
    """The local tuning job's name: its step's, as a tuning job name may be (letters, digits and
    hyphens, at most :data:`MAX_TUNING_JOB_NAME` characters)."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", step).strip("-")[:MAX_TUNING_JOB_NAME].rstrip("-")
    return name or "tuning"


def trial_job_name(tuning_job: str, number: int, hyperparameters: dict[str, str]) -> str:
    """Trial ``number``'s (from 1) training job name, as SageMaker names a tuning job's:
    ``<tuning job>-<NNN>-<8 hex>``, the hex a hash of its hyperparameters (so a re-run that
    proposes the same trials names them the same); at most :data:`MAX_TRAINING_JOB_NAME`."""
    digest = hashlib.sha256(json.dumps(hyperparameters, sort_keys=True).encode()).hexdigest()[:8]
    suffix = f"-{number:03d}-{digest}"
    return tuning_job[: MAX_TRAINING_JOB_NAME - len(suffix)].rstrip("-") + suffix


#: Members of a ``TrainingJobDefinition`` a trial's ``CreateTrainingJob`` request takes as they are.
_PASSED_ON = (
    "AlgorithmSpecification", "RoleArn", "InputDataConfig", "StoppingCondition", "Environment", "VpcConfig",
    "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining", "CheckpointConfig",
    "RetryStrategy",
)
#: The members of ``HyperParameterTuningResourceConfig`` a training job's ``ResourceConfig`` has.
_RESOURCE_MEMBERS = ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId", "KeepAlivePeriodInSeconds")


def trial_request(definition: dict, hyperparameters: dict[str, str], job: str) -> dict:
    """A trial's ``CreateTrainingJob`` request (without its name) from the tuning job's resolved
    ``TrainingJobDefinition``: the static hyperparameters and the trial's, as strings; its
    resource config as ``ResourceConfig``; its output under ``<S3OutputPath>/<job>/output``, where
    SageMaker writes a tuning job's models (local mode writes ``model.tar.gz`` into a ``file://``
    output path as it is)."""
    if "OutputDataConfig" not in definition or "AlgorithmSpecification" not in definition:
        raise TuningError("the tuning job's TrainingJobDefinition needs an AlgorithmSpecification and an OutputDataConfig")
    resources = definition.get("HyperParameterTuningResourceConfig") or definition.get("ResourceConfig")
    if not resources or "InstanceType" not in resources:
        raise TuningError("the tuning job's TrainingJobDefinition needs an instance type (HyperParameterTuningResourceConfig)")
    output = dict(definition["OutputDataConfig"])
    output["S3OutputPath"] = "/".join((str(output.get("S3OutputPath", "")).rstrip("/"), job, "output"))
    # A copy for each trial: local mode writes into a request's channels (DataUri), and trials
    # start side by side from the one definition.
    request = {key: copy.deepcopy(definition[key]) for key in _PASSED_ON if key in definition}
    request["HyperParameters"] = {
        **{str(k): hyperparameter_text(v) for k, v in (definition.get("StaticHyperParameters") or {}).items()},
        **{str(k): hyperparameter_text(v) for k, v in hyperparameters.items()},
    }
    request["ResourceConfig"] = {key: resources[key] for key in _RESOURCE_MEMBERS if key in resources}
    request["OutputDataConfig"] = output
    return request


def _distribution(item: Range):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if item.kind == "Categorical":
        return CategoricalDistribution(list(item.values))
    if item.kind == "Integer":
        return IntDistribution(int(math.ceil(item.low)), int(math.floor(item.high)), log=item.log)
    return FloatDistribution(item.low, item.high, log=item.log)


def objective_of(log_text: str, metric: str, definitions: list[dict]) -> float | None:
    """A trial's objective: the final value of ``metric`` in its log, by the job's definitions
    (None when the log has none)."""
    wanted = [d for d in definitions if d.get("Name") == metric]
    if not wanted:
        return None
    values = metric_series(log_text, wanted)[metric]
    return values[-1] if values else None


@dataclass
class Trial:
    """One finished trial, as the run folder records it."""

    number: int
    job: str
    hyperparameters: dict[str, str]
    status: str  # "Completed", "Failed" or "Stopped"
    objective: float | None = None
    seconds: float | None = None
    cached: bool = False
    failure: str | None = None
    #: When the trial's job was created (ISO 8601, UTC).
    created: str | None = None


def ranked(trials: list[Trial], maximize: bool) -> list[Trial]:
    """The completed trials that reported a finite objective, best first (ties: the earlier trial)."""
    scored = [t for t in trials if t.status == "Completed" and t.objective is not None and math.isfinite(t.objective)]
    return sorted(scored, key=lambda t: ((-t.objective if maximize else t.objective), t.number))  # type: ignore[operator]


def trials_document(tuning_job: str, config: TuningConfig, trials: list[Trial]) -> dict:
    """``trials.json``: the tuning job's settings, its best trial and every trial in number order
    (also the ``tuning`` object of ``summary.json``)."""
    best = ranked(trials, config.maximize)
    return {
        "tuning_job": tuning_job,
        "strategy": config.strategy,
        "max_jobs": config.max_jobs,
        "max_parallel": config.max_parallel,
        "seed": config.seed,
        "objective": {"metric": config.metric, "type": "Maximize" if config.maximize else "Minimize"},
        "best": best[0].job if best else None,
        "trials": [dataclasses.asdict(t) for t in sorted(trials, key=lambda t: t.number)],
    }


def _iso(value) -> str | None:
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else (None if value is None else str(value))


def service_trials_document(job: dict, summaries: list[dict], cached: bool = False) -> dict:
    """``trials.json`` of a tuning job SageMaker ran, from ``DescribeHyperParameterTuningJob``
    (``job``) and every ``ListTrainingJobsForHyperParameterTuningJob`` summary: the same shape as
    a local tuning job's, trials numbered in the order they were created. ``best`` is the first
    of the summaries as SageMaker sorts them for the pipeline (``TrainingJobSummaries[0]``, the
    model EvaluateTuned evaluates); ``cached``: the step was served from SageMaker's cache."""
    config = job.get("HyperParameterTuningJobConfig") or {}
    limits, objective = config.get("ResourceLimits") or {}, config.get("HyperParameterTuningJobObjective") or {}
    trials = []
    for number, summary in enumerate(sorted(summaries, key=lambda s: (_iso(s.get("CreationTime")) or "", s["TrainingJobName"])), 1):
        start, end = summary.get("TrainingStartTime"), summary.get("TrainingEndTime")
        trials.append(Trial(
            number=number,
            job=summary["TrainingJobName"],
            hyperparameters={str(k): str(v) for k, v in (summary.get("TunedHyperParameters") or {}).items()},
            status=str(summary.get("TrainingJobStatus") or "Unknown"),
            objective=(summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value"),
            seconds=round((end - start).total_seconds(), 3) if isinstance(start, datetime) and isinstance(end, datetime) else None,
            failure=summary.get("FailureReason"),
            cached=cached,
            created=_iso(summary.get("CreationTime")),
        ))
    maximize = objective.get("Type") != "Minimize"
    best = ranked(trials, maximize)
    return {
        "tuning_job": job.get("HyperParameterTuningJobName"),
        "strategy": config.get("Strategy"),
        "max_jobs": limits.get("MaxNumberOfTrainingJobs"),
        "max_parallel": limits.get("MaxParallelTrainingJobs"),
        "seed": config.get("RandomSeed"),
        "objective": {"metric": objective.get("MetricName"), "type": objective.get("Type")},
        "best": best[0].job if best else None,
        "trials": [dataclasses.asdict(t) for t in trials],
    }


def _number(value, finite_only: bool = True) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and (not finite_only or math.isfinite(value))


def _bad(key: str, what: str, value) -> TuningError:
    return TuningError(f"{key} must be {what}, got {value!r}"[:300])


def _checked_trial(trial, at: str) -> Trial:
    """One record of a ``trials.json``'s ``trials``, checked (``at``: its key's path)."""
    if not isinstance(trial, dict):
        raise _bad(at, "an object", trial)
    number, job, status = trial.get("number"), trial.get("job"), trial.get("status")
    if not isinstance(number, int) or isinstance(number, bool):
        raise _bad(f"{at}.number", "a whole number", number)
    if not isinstance(job, str) or not job:
        raise _bad(f"{at}.job", "a training job name", job)
    if not isinstance(status, str):
        raise _bad(f"{at}.status", "text", status)
    hyperparameters = trial.get("hyperparameters", {})
    if not isinstance(hyperparameters, dict) or not all(isinstance(v, str) for v in hyperparameters.values()):
        raise _bad(f"{at}.hyperparameters", "an object of texts", hyperparameters)
    value, seconds = trial.get("objective"), trial.get("seconds")
    if value is not None and not _number(value):
        raise _bad(f"{at}.objective", "a finite number or null", value)
    if seconds is not None and not (_number(seconds) and seconds >= 0):
        raise _bad(f"{at}.seconds", "a number of seconds or null", seconds)
    for key in ("failure", "created"):
        if not isinstance(trial.get(key), (str, type(None))):
            raise _bad(f"{at}.{key}", "text or null", trial.get(key))
    if not isinstance(trial.get("cached", False), bool):
        raise _bad(f"{at}.cached", "true or false", trial.get("cached"))
    return Trial(number, job, hyperparameters, status, value)


def check_trials_document(document, where: str = "trials.json") -> dict:
    """``document`` (a ``trials.json``, or ``summary.json``'s ``tuning``) as :func:`trials_document`
    and :func:`service_trials_document` write it; else :class:`TuningError` naming the key and
    its value (``where`` starts the key's path). ``best`` must be the trial the objectives rank
    first: a record whose best is not its best trial is damaged. (An objective may be negative:
    the objective metric is any the training job defines.)"""
    if not isinstance(document, dict):
        raise _bad(where, "an object", document)
    objective = document.get("objective") or {}
    if not isinstance(objective, dict) or objective.get("type") not in ("Maximize", "Minimize", None):
        raise _bad(f"{where}.objective", "an object whose type is Maximize or Minimize", objective)
    if not isinstance(objective.get("metric"), (str, type(None))):
        raise _bad(f"{where}.objective.metric", "text", objective.get("metric"))
    trials = document.get("trials")
    if not isinstance(trials, list):
        raise _bad(f"{where}.trials", "a list", trials)
    records = [_checked_trial(trial, f"{where}.trials[{index}]") for index, trial in enumerate(trials)]
    jobs = [t.job for t in records]
    repeated = next((job for job in jobs if jobs.count(job) > 1), None)
    if repeated:
        raise _bad(f"{where}.trials", "trials of different training jobs", f"{repeated} more than once")
    best = ranked(records, objective.get("type") != "Minimize")
    expected = best[0].job if best else None
    if document.get("best") != expected:
        ranks = f"the objectives rank {expected!r} first" if expected else "no trial reported the objective"
        raise TuningError(f"{where}.best is {document.get('best')!r}, but {ranks}"[:300])
    return document


def best_trial(document: dict) -> dict | None:
    """The record of a ``trials.json`` document's best trial (None when no trial is best)."""
    return next((t for t in document.get("trials") or [] if t.get("job") == document.get("best")), None)


#: The account and region in the ARNs of a local tuning job's trials (none exists on AWS).
LOCAL_ARN_PREFIX = "arn:aws:sagemaker:local:000000000000"


def training_job_summaries(trials: list[Trial], config: TuningConfig) -> list[dict]:
    """``TrainingJobSummaries`` of the tuning step's properties: the ranked trials, in the shape
    of ``ListTrainingJobsForHyperParameterTuningJob`` sorted by ``FinalObjectiveMetricValue``."""
    return [
        {
            "TrainingJobName": t.job,
            "TrainingJobArn": f"{LOCAL_ARN_PREFIX}:training-job/{t.job}",
            "CreationTime": t.created,
            "TrainingJobStatus": t.status,
            "TunedHyperParameters": dict(t.hyperparameters),
            "FinalHyperParameterTuningJobObjectiveMetric": {
                "Type": "Maximize" if config.maximize else "Minimize", "MetricName": config.metric, "Value": t.objective,
            },
            "ObjectiveStatus": "Succeeded",
        }
        for t in ranked(trials, config.maximize)[:MAX_SUMMARIES]
    ]
