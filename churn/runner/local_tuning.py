"""A tuning step (SageMaker's hyperparameter tuning job) run by the local backend, as waves of
training jobs.

SageMaker runs a ``TuningStep`` as a hyperparameter tuning job: up to
``MaxNumberOfTrainingJobs`` training jobs, at most ``MaxParallelTrainingJobs`` at a time, each
with the hyperparameters its strategy proposes; a job that fails or reports no objective does
not fail the tuning job unless none reports one; the step's properties are the job's description
(``DescribeHyperParameterTuningJob``) with its ``TrainingJobSummaries`` best first. Local mode
refuses the step type; :func:`run_tuning` runs it:

- the proposals come from :class:`churn.tuning.Searcher` (seeded by the job's ``RandomSeed``) in
  waves of ``MaxParallelTrainingJobs`` proposals, the trials of a wave side by side on threads,
  at most ``min(MaxParallelTrainingJobs, the run's max_parallel)`` at once, the next wave asked
  for once the whole wave has ended (a slot waits for the slowest trial of its wave: SageMaker
  refills slots as they free up). The same seed and budget propose the same trials, whatever the
  run's bound;
- each trial is a training job run through :func:`churn.runner.local_jobs.run_job` as step
  ``<Step>/<job>``: its own job folder (inside the step's, under the run's jobs folder, so Ctrl-C
  stops it), container verdict, declared model output, kept log and ``metrics.json`` in
  ``runs/<id>/<Step>/<job>/``, and the step cache (whose training key does not hold the job
  name: a re-run that proposes the same trials replays them); its model is written where
  SageMaker writes a tuning job's, ``<S3OutputPath>/<job>/output/model.tar.gz``;
- a trial's objective is the final value of the objective metric in the ``metrics.json`` its
  job wrote (a cached trial's is the producing job's, so the objective is the same), else in its
  kept log;
- every trial is recorded in ``runs/<id>/<Step>/trials.json`` (after each wave, and when the
  step fails).

Nothing here imports the SDK: :mod:`churn.runner.local_executor` calls :func:`run_tuning` with
the step's resolved arguments and a ``start_trial(job_name, request) -> description`` that runs
one training job in local mode.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from churn.files import file_uri
from churn.layout import TRIALS_FILE
from churn.runner.local_jobs import LocalRun, bounded, remove_all_but, run_job
from churn.atomic import write_lines_atomically
from churn.training_metrics import METRICS_FILE, job_metric_definitions, read_series
from churn.tuning import (
    LOCAL_ARN_PREFIX,
    Proposal,
    Searcher,
    Trial,
    TuningConfig,
    TuningError,
    objective_of,
    ranked,
    trial_job_name,
    trial_request,
    training_job_summaries,
    trials_document,
    check_request,
    tuning_config,
    tuning_job_name,
)

#: How much of one trial's failure reason the step's own failure reason quotes.
_TRIAL_REASON = 200

#: Runs one trial's training job in local mode: ``start_trial(job_name, request)`` returns the
#: job's description, or raises local mode's failure.
StartTrial = Callable[[str, dict], dict]


class TrialFailed(Exception):
    """A trial's training job failed (raised by ``run_job``'s ``fail``): the trial is recorded as
    failed and the tuning goes on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TuningFailed(Exception):
    """The tuning step fails with this reason: no trial reported the objective, or Ctrl-C."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_tuning(
    run: LocalRun, step: str, arguments: dict, *, start_trial: StartTrial, execution_id: str, waves: list[list[Proposal]] | None = None,
) -> dict:
    """Run tuning step ``step`` of ``run`` from its resolved ``arguments`` (the
    ``CreateHyperParameterTuningJob`` request the SDK compiled); return the step's properties.
    With ``waves`` (a replay, :mod:`churn.runner.replay`) the trials are those proposals, in
    those waves, instead of the searcher's (which proposed them: the same seed proposes the same).

    Raises :class:`~churn.tuning.TuningError` for a job the local backend cannot run (before any
    trial) and :class:`TuningFailed` when no trial reported the objective or Ctrl-C stopped it."""
    check_request(arguments)
    config = tuning_config(arguments.get("HyperParameterTuningJobConfig") or {})
    definition = arguments.get("TrainingJobDefinition") or {}
    definitions = job_metric_definitions(definition.get("AlgorithmSpecification") or {})
    if not any(d.get("Name") == config.metric for d in definitions):
        known = ", ".join(str(d.get("Name")) for d in definitions) or "none"
        raise TuningError(f"the objective metric {config.metric!r} is not one of the training job's metric definitions ({known})")
    trial_request(definition, {}, "check")  # an incomplete definition fails the step before any trial
    tuning = _Tuning(run, step, definition, config, definitions, start_trial, execution_id)
    # Records the trials after each wave: they are there when the step fails too.
    tuning.search(Searcher(config) if waves is None else _Recorded(waves))
    if run.journal is not None:
        recorded = [[{"number": p.number, "hyperparameters": p.hyperparameters} for p in wave] for wave in tuning.waves]
        run.journal.append({"step": step, "kind": "tuning", "args": arguments, "waves": recorded})
    return tuning.properties(arguments)


class _Recorded:
    """The proposals of an earlier run of the same tuning job, wave by wave (a searcher's part)."""

    def __init__(self, waves: list[list[Proposal]]):
        self._waves = list(waves)

    def next_wave(self) -> list[Proposal]:
        return self._waves.pop(0) if self._waves else []

    def record(self, proposals: list[Proposal], objectives: dict[int, float | None]) -> None:
        pass


class _Tuning:
    def __init__(self, run: LocalRun, step: str, definition: dict, config: TuningConfig, definitions: list[dict],
                 start_trial: StartTrial, execution_id: str):
        self.run, self.step, self.definition, self.config = run, step, definition, config
        self.definitions, self.start_trial, self.execution_id = definitions, start_trial, execution_id
        self.name = tuning_job_name(step)
        self.trials: list[Trial] = []
        #: The proposals, wave by wave (what a replay of the step proposes again).
        self.waves: list[list[Proposal]] = []
        self.created = _now()
        #: How many trials of a wave run at once: the tuning job's bound, and the run's too. A wave
        #: is always MaxParallelTrainingJobs proposals, so the run's bound (--max-parallel-steps)
        #: never changes which trials are proposed, nor so their cache hits.
        self.concurrency = max(1, min(config.max_parallel, run.max_parallel))

    def search(self, searcher: Searcher | _Recorded) -> None:
        while not self.run.stopping:
            wave = searcher.next_wave()
            if not wave:
                break
            self.waves.append(wave)
            finished = self._wave(wave)
            self.trials.extend(finished)
            searcher.record(wave, {p.number: t.objective if t.status == "Completed" else None for p, t in zip(wave, finished)})
            self.write_trials()
        if self.run.stopping:
            raise TuningFailed(self.run.stopped)
        if not ranked(self.trials, self.config.maximize):
            raise TuningFailed(self._no_objective())
        if self.run.cache is not None and all(t.cached for t in self.trials):
            # No trial ran: the step is served from the cache (its progress line and summary say so).
            first = f"{self.step}/{self.trials[0].job}"
            self.run.cache.hits[self.step] = self.run.cache.hits.get(first, "an earlier run")

    def _wave(self, wave: list[Proposal]) -> list[Trial]:
        """The wave's trials, each on a thread of its own (daemon threads, as the executor's steps:
        Ctrl-C stops their jobs and waits for the step); in the proposals' order."""
        results: list[Trial | None] = [None] * len(wave)
        slots = threading.Semaphore(self.concurrency)

        def work(index: int, proposal: Proposal) -> None:
            with slots:
                results[index] = self._trial(proposal)

        threads = [
            threading.Thread(target=work, args=(i, p), name=f"trial-{self.step}-{p.number + 1}", daemon=True)
            for i, p in enumerate(wave)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return [r if r is not None else self._crashed(p) for r, p in zip(results, wave)]

    def _crashed(self, proposal: Proposal) -> Trial:
        number = proposal.number + 1
        job = trial_job_name(self.name, number, proposal.hyperparameters)
        return Trial(number, job, proposal.hyperparameters, "Failed", failure="the trial's thread ended without a result")

    def _trial(self, proposal: Proposal) -> Trial:
        number = proposal.number + 1
        job = trial_job_name(self.name, number, proposal.hyperparameters)
        trial = Trial(number, job, dict(proposal.hyperparameters), "Completed", created=_now())
        if self.run.stopping:  # Ctrl-C came as the wave started: the trial does not start
            trial.status, trial.failure = "Stopped", self.run.stopped
            return trial
        trial_step = f"{self.step}/{job}"
        started = time.monotonic()
        try:
            request = trial_request(self.definition, proposal.hyperparameters, job)

            def replay(stored: dict, _name: str, outputs: dict[str, Path]) -> dict:
                return {
                    **stored, "TrainingJobName": job, "OutputDataConfig": request["OutputDataConfig"],
                    "ModelArtifacts": {"S3ModelArtifacts": file_uri(outputs["model"] / "model.tar.gz")},
                }

            run_job(
                self.run, trial_step, "training", request, start=lambda: self.start_trial(job, request),
                fail=_raise_trial_failed, replay=replay, execution_id=self.execution_id,
            )
        except TrialFailed as failure:
            trial.status, trial.failure = "Failed", failure.reason
        except Exception as error:  # noqa: BLE001 - local mode's failure of the job (its log has it): this trial failed
            trial.status, trial.failure = "Failed", bounded(f"{type(error).__name__}: {getattr(error, 'message', error)}")
        if trial.status == "Failed":  # what it wrote (a model, say) is no result: only its log stays
            remove_all_but(self.run.step_folder(trial_step), self.run.log_file(trial_step))
        else:
            trial.objective = self._objective(trial_step)
            if trial.objective is None:
                trial.failure = f"its log reports no {self.config.metric}"
        trial.seconds = round(time.monotonic() - started, 3)
        trial.cached = bool(self.run.cache is not None and trial_step in self.run.cache.hits)
        if self.run.stopping and trial.status == "Failed":
            trial.status, trial.failure = "Stopped", self.run.stopped
        return trial

    def _objective(self, trial_step: str) -> float | None:
        """The final value of the objective metric: from the ``metrics.json`` ``run_job`` wrote
        (a cached trial's is the producing job's), else from the kept log."""
        values = read_series(self.run.step_folder(trial_step) / METRICS_FILE).get(self.config.metric)
        if values:
            return values[-1]
        try:
            text = self.run.log_file(trial_step).read_text(errors="replace")
        except OSError:
            return None
        return objective_of(text, self.config.metric, self.definitions)

    def _no_objective(self) -> str:
        """One line: no trial reported the objective, and what became of each."""
        parts = []
        for trial in self.trials:
            reason = " ".join(str(trial.failure or "no objective").split())
            if len(reason) > _TRIAL_REASON:
                reason = reason[: _TRIAL_REASON - 1] + "…"
            parts.append(f"{trial.job}: {reason}")
        return bounded(f"no trial of {len(self.trials)} reported the objective {self.config.metric}: " + "; ".join(parts))

    def write_trials(self) -> None:
        """``runs/<id>/<Step>/trials.json``: every trial so far, in their numbers' order."""
        document = trials_document(self.name, self.config, self.trials)
        try:
            write_lines_atomically(self.run.step_folder(self.step) / TRIALS_FILE, [json.dumps(document, indent=1)])
        except OSError as error:  # a full disk, say: the trials stand, their record is missing
            logging.getLogger(__name__).warning("%s: %s not written (%s)", self.step, TRIALS_FILE, error)

    def properties(self, arguments: dict) -> dict:
        """The step's properties, as ``DescribeHyperParameterTuningJob`` describes a finished tuning
        job, with ``TrainingJobSummaries`` as ``ListTrainingJobsForHyperParameterTuningJob`` lists
        them sorted by ``FinalObjectiveMetricValue`` (best first, only those with an objective)."""
        summaries = training_job_summaries(self.trials, self.config)
        statuses = [t.status for t in self.trials]
        reported = sum(t.objective is not None for t in self.trials)
        return {
            "HyperParameterTuningJobName": self.name,
            "HyperParameterTuningJobArn": f"{LOCAL_ARN_PREFIX}:hyper-parameter-tuning-job/{self.name.lower()}",
            "HyperParameterTuningJobConfig": arguments.get("HyperParameterTuningJobConfig"),
            "TrainingJobDefinition": arguments.get("TrainingJobDefinition"),
            "HyperParameterTuningJobStatus": "Completed",
            "CreationTime": self.created,
            "HyperParameterTuningEndTime": _now(),
            "TrainingJobStatusCounters": {
                "Completed": statuses.count("Completed"), "InProgress": 0, "RetryableError": 0,
                "NonRetryableError": statuses.count("Failed"), "Stopped": statuses.count("Stopped"),
            },
            "ObjectiveStatusCounters": {"Succeeded": reported, "Pending": 0, "Failed": len(self.trials) - reported},
            "BestTrainingJob": summaries[0],
            "TrainingJobSummaries": summaries,
        }


def _raise_trial_failed(reason: str) -> None:
    raise TrialFailed(reason)
