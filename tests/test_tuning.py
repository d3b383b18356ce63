"""A tuning job's logic (churn.tuning): its config as a TuningStep compiles it, seeded proposals
in waves, objectives from logs, and the ranked training job summaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churn.training_metrics import METRIC_DEFINITIONS
from churn.tuning import (
    Searcher,
    Trial,
    TuningError,
    hyperparameter_text,
    objective_of,
    ranked,
    training_job_summaries,
    trial_job_name,
    trial_request,
    tuning_config,
    tuning_job_name,
)


def _config(**changes) -> dict:
    """A HyperParameterTuningJobConfig as the SDK compiles a TuningStep's (parameters resolved)."""
    config = {
        "Strategy": "Bayesian",
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2},
        "TrainingJobEarlyStoppingType": "Off",
        "RandomSeed": 42,
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
        "ParameterRanges": {
            "ContinuousParameterRanges": [
                {"Name": "eta", "MinValue": "0.01", "MaxValue": "0.5", "ScalingType": "Logarithmic"},
                {"Name": "subsample", "MinValue": "0.5", "MaxValue": "1", "ScalingType": "Auto"},
            ],
            "CategoricalParameterRanges": [],
            "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "10", "ScalingType": "Auto"}],
        },
    }
    config.update(changes)
    return config


def test_the_compiled_config_is_read():
    config = tuning_config(_config())
    assert (config.strategy, config.max_jobs, config.max_parallel, config.seed) == ("Bayesian", 6, 2, 42)
    assert (config.metric, config.maximize) == ("validation:auc", True)
    assert [(r.name, r.kind, r.low, r.high, r.log) for r in config.ranges] == [
        ("max_depth", "Integer", 2.0, 10.0, False), ("eta", "Continuous", 0.01, 0.5, True), ("subsample", "Continuous", 0.5, 1.0, False)]


@pytest.mark.parametrize(("changes", "message"), [
    ({"Strategy": "Hyperband"}, "TuningStrategy 'Hyperband': the local backend runs Bayesian and Random"),
    ({"ResourceLimits": {"MaxNumberOfTrainingJobs": 0, "MaxParallelTrainingJobs": 2}}, "TuningMaxJobs .* must be at least 1, got 0"),
    ({"ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": "x"}}, "TuningMaxParallelJobs .* must be a whole number, got 'x'"),
    ({"HyperParameterTuningJobObjective": {"MetricName": "validation:auc"}}, "needs an objective"),
    ({"ParameterRanges": {}}, "has no parameter ranges"),
    ({"ParameterRanges": {"ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"}]}},
     "range 'eta': scaling 'ReverseLogarithmic' is not one the local backend runs"),
    ({"ParameterRanges": {"ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}]}},
     r"range 'eta': 0.0 .. 1.0 is not a range above 0"),
    ({"ParameterRanges": {"IntegerParameterRanges": [{"Name": "d", "MinValue": "5", "MaxValue": "2"}, ]}}, r"range 'd': 5.0 .. 2.0 is not a range"),
    ({"TrainingJobEarlyStoppingType": "Auto"}, "TrainingJobEarlyStoppingType must be Off"),
    ({"TuningJobCompletionCriteria": {"TargetObjectiveMetricValue": 0.9}}, "sets TuningJobCompletionCriteria .completion criteria."),
    ({"ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1, "MaxRuntimeInSeconds": 60}}, "MaxRuntimeInSeconds"),
    ({"ParameterRanges": {"IntegerParameterRanges": [{"Name": "d", "MinValue": "1", "MaxValue": "2"}],
                          "ContinuousParameterRanges": [{"Name": "d", "MinValue": "1", "MaxValue": "2"}]}}, "hyperparameter 'd' has more than one range"),
])
def test_what_the_local_backend_cannot_run_is_named(changes, message):
    with pytest.raises(TuningError, match=message):
        tuning_config(_config(**changes))


def _run(config, objective=lambda hp: float(hp["max_depth"]), failing=(), finish_order=reversed) -> list[tuple[int, dict]]:
    searcher = Searcher(tuning_config(config))
    seen = []
    while True:
        wave = searcher.next_wave()
        if not wave:
            return seen
        assert len(wave) <= searcher.config.max_parallel
        # Results come in any order; the searcher records them in the trials' order.
        results = {p.number: (None if p.number in failing else objective(p.hyperparameters)) for p in finish_order(wave)}
        searcher.record(list(finish_order(wave)), results)
        seen += [(p.number, p.hyperparameters) for p in wave]


@pytest.mark.parametrize("strategy", ["Bayesian", "Random"])
def test_the_same_seed_proposes_the_same_trials_and_another_seed_others(strategy):
    config = _config(Strategy=strategy)
    first = _run(config, failing={1, 4})
    assert first == _run(config, failing={1, 4}) == _run(config, failing={1, 4}, finish_order=list)
    assert [n for n, _ in first] == list(range(6))
    assert [hp for _, hp in first] != [hp for _, hp in _run(_config(Strategy=strategy, RandomSeed=43), failing={1, 4})]


@settings(max_examples=15, deadline=None)
@given(jobs=st.integers(1, 9), parallel=st.integers(1, 4), seed=st.integers(0, 2**31 - 1), strategy=st.sampled_from(["Bayesian", "Random"]))
def test_proposals_stay_in_their_ranges_and_the_budget(jobs, parallel, seed, strategy):
    config = _config(Strategy=strategy, RandomSeed=seed, ResourceLimits={"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel})
    trials = _run(config)
    assert len(trials) == jobs
    for _, hp in trials:
        assert set(hp) == {"max_depth", "eta", "subsample"}
        assert hp["max_depth"].isdigit() and 2 <= int(hp["max_depth"]) <= 10
        assert 0.01 <= float(hp["eta"]) <= 0.5 and 0.5 <= float(hp["subsample"]) <= 1.0


def test_bayesian_search_learns_from_the_objectives():
    """After its random start, TPE proposes near the best trials: on an objective that rewards a
    deep tree, its later proposals are deeper than its first ones."""
    config = _config(ResourceLimits={"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 2})
    trials = _run(config, objective=lambda hp: -abs(int(hp["max_depth"]) - 10))
    early = [int(hp["max_depth"]) for _, hp in trials[:6]]
    late = [int(hp["max_depth"]) for _, hp in trials[-6:]]
    assert sum(late) / len(late) > sum(early) / len(early) and max(late) == 10


def test_values_are_written_as_sagemaker_passes_hyperparameters():
    assert [hyperparameter_text(v) for v in (5, 5.0, 0.1, "gbtree", 1e-05)] == ["5", "5", "0.1", "gbtree", "1e-05"]


def test_the_objective_is_the_metrics_final_value_in_the_log():
    log = "[0]\ttrain-auc:0.80\tvalidation-auc:0.70\n[1]\ttrain-auc:0.90\tvalidation-auc:0.75\nvalidation-auc:nan\n"
    assert objective_of(log, "validation:auc", METRIC_DEFINITIONS) == 0.75
    assert objective_of(log, "train:auc", METRIC_DEFINITIONS) == 0.9
    assert objective_of("no metrics here\n", "validation:auc", METRIC_DEFINITIONS) is None
    assert objective_of(log, "validation:logloss", METRIC_DEFINITIONS) is None


def _trial(number, status="Completed", objective=None) -> Trial:
    return Trial(number, f"churn-tune-{number:03d}", {"max_depth": str(number)}, status, objective, 1.0, created="2026-11-28T12:00:00Z")


def test_summaries_list_the_reporting_trials_best_first():
    trials = [_trial(0, objective=0.80), _trial(1, "Failed"), _trial(2, objective=0.91), _trial(3), _trial(4, objective=0.91)]
    assert [t.number for t in ranked(trials, maximize=True)] == [2, 4, 0]
    assert [t.number for t in ranked(trials, maximize=False)] == [0, 2, 4]
    [best, *_] = training_job_summaries(trials, tuning_config(_config()))
    assert best["TrainingJobName"] == "churn-tune-002" and best["TunedHyperParameters"] == {"max_depth": "2"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {"Type": "Maximize", "MetricName": "validation:auc", "Value": 0.91}


def test_a_summary_has_the_members_sagemaker_lists():
    from tests.aws_contract import _check, service_model

    shape = service_model().shape_for("HyperParameterTrainingJobSummary")
    [summary] = training_job_summaries([_trial(0, objective=0.8)], tuning_config(_config()))
    found: list[str] = []
    _check(shape, {k: v for k, v in summary.items() if k != "CreationTime"}, "summary", found)
    assert [problem for problem in found if "CreationTime" not in problem] == []
    assert set(shape.required_members) <= set(summary)


def _definition() -> dict:
    """A TuningStep's TrainingJobDefinition as it reaches the executor (pipeline variables resolved)."""
    channel = {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bkt/run/PreprocessData/train", "S3DataDistributionType": "FullyReplicated"}}
    return {
        "StaticHyperParameters": {"objective": "binary:logistic", "eval_metric": "auc"},
        "RoleArn": "arn:aws:iam::111111111111:role/churn",
        "OutputDataConfig": {"S3OutputPath": "s3://bkt/churn/runs/exec-1/TuneModel"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "HyperParameterTuningResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "1.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"},
        "InputDataConfig": [{"ChannelName": "train", "ContentType": "text/csv", "DataSource": channel}],
    }


def test_a_trial_is_the_training_job_request_sagemaker_would_make():
    from tests.aws_contract import violations

    job = trial_job_name("TuneModel", 3, {"max_depth": "4", "eta": "0.1"})
    request = trial_request(_definition(), {"max_depth": "4", "eta": "0.1"}, job)
    assert violations("CreateTrainingJob", {"TrainingJobName": job, **request}) == []
    # A TrainModel step's request, without the profiler setting a tuning job has none of.
    assert sorted(request) == ["AlgorithmSpecification", "HyperParameters", "InputDataConfig", "OutputDataConfig",
                               "ResourceConfig", "RoleArn", "StoppingCondition"]
    assert request["HyperParameters"] == {"objective": "binary:logistic", "eval_metric": "auc", "max_depth": "4", "eta": "0.1"}
    assert request["ResourceConfig"] == {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}
    assert request["OutputDataConfig"] == {"S3OutputPath": f"s3://bkt/churn/runs/exec-1/TuneModel/{job}/output"}
    with pytest.raises(TuningError, match="needs an instance type"):
        trial_request({**_definition(), "HyperParameterTuningResourceConfig": {}}, {}, job)
    # Each trial's request is its own: local mode writes into a request's channels (DataUri).
    definition = _definition()
    first, second = trial_request(definition, {}, "a"), trial_request(definition, {}, "b")
    first["InputDataConfig"][0]["DataUri"] = "/opt/ml/input/data/train"
    assert "DataUri" not in second["InputDataConfig"][0] and "DataUri" not in definition["InputDataConfig"][0]


def test_trials_are_named_as_sagemaker_names_a_tuning_jobs_training_jobs():
    import re

    tuning = tuning_job_name("Tune_Model_" + "x" * 40)
    assert tuning == ("Tune-Model-" + "x" * 40)[:32] and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}", tuning)
    name = trial_job_name(tuning, 7, {"max_depth": "4"})
    assert re.fullmatch(rf"{tuning}-007-[0-9a-f]{{8}}", name) and len(name) <= 63
    assert name == trial_job_name(tuning, 7, {"max_depth": "4"}) != trial_job_name(tuning, 7, {"max_depth": "5"})
    long = trial_job_name("a" * 80, 1234, {})
    assert len(long) == 63 and long.startswith("a" * 49 + "-1234-")


@pytest.mark.parametrize(("key", "value"), [("WarmStartConfig", {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p"}], "WarmStartType": "IdenticalDataAndAlgorithm"}),
                                            ("Autotune", {"Mode": "Enabled"}), ("TrainingJobDefinitions", [{}, {}])])
def test_request_settings_the_local_backend_does_not_run_are_refused(key, value):
    from churn.tuning import check_request

    with pytest.raises(TuningError, match=f"the tuning job sets {key}"):
        check_request({"HyperParameterTuningJobConfig": _config(), key: value})
    check_request({"HyperParameterTuningJobConfig": _config()})


def test_sagemaker_lists_at_most_50_training_jobs():
    trials = [_trial(n, objective=n / 100) for n in range(60)]
    summaries = training_job_summaries(trials, tuning_config(_config()))
    assert len(summaries) == 50 and summaries[0]["TrainingJobName"] == "churn-tune-059"


def test_a_trial_with_a_non_finite_objective_is_never_the_best():
    from churn.tuning import Trial, ranked

    trials = [Trial(1, "t-1", {}, "Completed", float("nan")), Trial(2, "t-2", {}, "Completed", float("inf")),
              Trial(3, "t-3", {}, "Completed", 0.8), Trial(4, "t-4", {}, "Completed", float("-inf"))]
    assert [t.job for t in ranked(trials, maximize=True)] == ["t-3"]
    assert [t.job for t in ranked(trials, maximize=False)] == ["t-3"]


def _document() -> dict:
    from churn.tuning import trials_document, tuning_config as config_of

    config = config_of(_config())
    trials = [
        Trial(1, "TuneModel-001-aaaaaaaa", {"max_depth": "5"}, "Completed", 0.91, 3.2, created="2026-11-28T12:00:00+00:00"),
        Trial(2, "TuneModel-002-bbbbbbbb", {"max_depth": "3"}, "Completed", 0.93, 2.9, cached=True),
        Trial(3, "TuneModel-003-cccccccc", {"max_depth": "9"}, "Failed", None, 1.0, failure="out of memory"),
    ]
    return trials_document("TuneModel", config, trials)


def test_the_trials_documents_churn_writes_pass_their_check():
    from churn.tuning import check_trials_document, service_trials_document

    assert check_trials_document(_document()) == _document()
    negative = _document()
    for trial in negative["trials"][:2]:
        trial["objective"] = -trial["objective"]  # any metric may be the objective: a loss, say
    negative["best"] = "TuneModel-001-aaaaaaaa"
    assert check_trials_document(negative)["best"] == "TuneModel-001-aaaaaaaa"
    job = {"HyperParameterTuningJobName": "t", "HyperParameterTuningJobConfig": {
        "Strategy": "Bayesian", "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:logloss"}}}
    summaries = [
        {"TrainingJobName": "t-001", "TrainingJobStatus": "Completed", "TunedHyperParameters": {"eta": 0.1},
         "FinalHyperParameterTuningJobObjectiveMetric": {"Value": 0.3}},
        {"TrainingJobName": "t-002", "TrainingJobStatus": "Failed", "FailureReason": "boom"},
    ]
    assert check_trials_document(service_trials_document(job, summaries))["best"] == "t-001"
    assert check_trials_document(service_trials_document(job, summaries[1:]))["best"] is None


def _forged(path: str, value):
    document = _document()
    *keys, last = path.split(".")
    target = document
    for key in keys:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is _GONE:
        del target[last]
    else:
        target[last] = value
    return document


_GONE = object()


@pytest.mark.parametrize(
    "path, value, says",
    [
        ("best", "TuneModel-001-aaaaaaaa", "trials.json.best is 'TuneModel-001-aaaaaaaa', but the objectives rank 'TuneModel-002-bbbbbbbb' first"),
        ("best", "TuneModel-999-deadbeef", "trials.json.best is 'TuneModel-999-deadbeef', but the objectives rank 'TuneModel-002-bbbbbbbb' first"),
        ("best", None, "trials.json.best is None, but the objectives rank 'TuneModel-002-bbbbbbbb' first"),
        ("trials.1.objective", float("nan"), "trials.json.trials[1].objective must be a finite number or null, got nan"),
        ("trials.0.objective", float("inf"), "trials.json.trials[0].objective must be a finite number or null, got inf"),
        ("trials.1.objective", "0.99", "trials.json.trials[1].objective must be a finite number or null, got '0.99'"),
        ("trials.1.objective", True, "trials.json.trials[1].objective must be a finite number or null, got True"),
        ("trials.1.seconds", "3", "trials.json.trials[1].seconds must be a number of seconds or null, got '3'"),
        ("trials.1.seconds", -1, "trials.json.trials[1].seconds must be a number of seconds or null, got -1"),
        ("trials.0.number", _GONE, "trials.json.trials[0].number must be a whole number, got None"),
        ("trials.0.number", "one", "trials.json.trials[0].number must be a whole number, got 'one'"),
        ("trials.0.job", "TuneModel-002-bbbbbbbb", "trials.json.trials must be trials of different training jobs"),
        ("trials.0.hyperparameters", [1, 2], "trials.json.trials[0].hyperparameters must be an object of texts, got [1, 2]"),
        ("trials.0.status", None, "trials.json.trials[0].status must be text, got None"),
        ("trials.0.cached", "yes", "trials.json.trials[0].cached must be true or false, got 'yes'"),
        ("trials.0.failure", 5, "trials.json.trials[0].failure must be text or null, got 5"),
        ("trials.0", 5, "trials.json.trials[0] must be an object, got 5"),
        ("trials", "abc", "trials.json.trials must be a list, got 'abc'"),
        ("trials", {"a": 1}, "trials.json.trials must be a list, got {'a': 1}"),
        ("objective", "x", "trials.json.objective must be an object whose type is Maximize or Minimize, got 'x'"),
        ("objective.type", "Maximise", "trials.json.objective must be an object whose type is Maximize or Minimize"),
    ],
)
def test_a_forged_or_damaged_trials_document_is_refused_naming_the_key_and_value(path, value, says):
    from churn.tuning import check_trials_document

    with pytest.raises(TuningError) as raised:
        check_trials_document(_forged(path, value))
    assert str(raised.value).startswith(says), str(raised.value)
    assert isinstance(raised.value, ValueError)  # what `churn report`, `churn diff` and `churn runs` report as a damaged file


def test_a_minimized_objective_ranks_the_lowest_first():
    from churn.tuning import check_trials_document

    document = _forged("objective.type", "Minimize")
    with pytest.raises(TuningError, match="rank 'TuneModel-001-aaaaaaaa' first"):
        check_trials_document(document)
    document["best"] = "TuneModel-001-aaaaaaaa"
    assert check_trials_document(document) is document


def test_a_best_when_no_trial_reported_the_objective_is_refused():
    from churn.tuning import check_trials_document

    document = _forged("trials.1.objective", None)
    document["trials"][0]["objective"] = None
    with pytest.raises(TuningError, match="best is 'TuneModel-002-bbbbbbbb', but no trial reported the objective"):
        check_trials_document(document)


@pytest.mark.parametrize("seed", [-1, 2**31, 10**20])
def test_a_seed_sagemaker_would_not_take_is_refused_before_any_trial(seed):
    """SageMaker's RandomSeed is a 32-bit integer from 0; optuna's samplers failed later, mid-run,
    with numpy's own words ("Seed must be between 0 and 2**32 - 1")."""
    with pytest.raises(TuningError, match=rf"^TuningSeed \(RandomSeed\) must be in \[0, 2147483647\], got {seed}$"):
        tuning_config(_config(RandomSeed=seed))
    assert tuning_config(_config(RandomSeed=2**31 - 1)).seed == 2**31 - 1
