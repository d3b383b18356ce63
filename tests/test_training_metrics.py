"""Per-round training metrics read from a training log by metric definitions (SageMaker's way)."""

from __future__ import annotations

import json

from churn.training_metrics import METRIC_DEFINITIONS, job_metric_definitions, metric_series, read_series, write_series

XGBOOST_LOG = """training on 2666 rows x 73 features, 3 rounds
[0]\ttrain-auc:0.87714\tvalidation-auc:0.85170
[1]\ttrain-auc:0.91000\tvalidation-auc:0.86010
[2]\ttrain-auc:9.1e-01\tvalidation-auc:nan
model written to /opt/ml/model/xgboost-model
"""


def test_each_matching_line_adds_one_value_per_definition():
    assert metric_series(XGBOOST_LOG, METRIC_DEFINITIONS) == {
        "train:auc": [0.87714, 0.91, 0.91],
        "validation:auc": [0.8517, 0.8601],  # "nan" is not a number SageMaker records
    }


def test_the_baseline_line_and_cloudwatchs_tab_spelling_match_too():
    baseline = "training logistic regression on 2666 rows x 73 features, C=1\ntrain-auc:0.82317\tvalidation-auc:0.80100\n"
    assert metric_series(baseline, METRIC_DEFINITIONS) == {"train:auc": [0.82317], "validation:auc": [0.801]}
    cloudwatch = "[4]#011train-auc:0.95#011validation-auc:-1.5E-2"
    assert metric_series(cloudwatch, METRIC_DEFINITIONS) == {"train:auc": [0.95], "validation:auc": [-0.015]}


def test_a_definition_without_a_group_or_a_match_gives_an_empty_series():
    definitions = [{"Name": "rounds", "Regex": r"\[[0-9]+\]"}, {"Name": "loss", "Regex": r"loss=([0-9.]+)"}]
    assert metric_series(XGBOOST_LOG, definitions) == {"rounds": [], "loss": []}


def test_a_jobs_definitions_are_its_own_else_the_xgboost_algorithms():
    own = [{"Name": "m", "Regex": "m=(.*)"}]
    assert job_metric_definitions({"MetricDefinitions": own, "TrainingImage": "x/sagemaker-xgboost:1.7-1"}) == own
    official = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert job_metric_definitions({"TrainingImage": official}) == METRIC_DEFINITIONS
    assert job_metric_definitions({"TrainingImage": "churn-xgboost:abc"}) == []


def test_the_series_file_round_trips_with_the_final_values(tmp_path):
    path = tmp_path / "TrainModel" / "metrics.json"
    write_series(path, METRIC_DEFINITIONS, {"train:auc": [0.5, 0.9], "validation:auc": []})
    document = json.loads(path.read_text())
    assert document["final"] == {"train:auc": 0.9} and document["definitions"] == METRIC_DEFINITIONS
    assert read_series(path) == {"train:auc": [0.5, 0.9], "validation:auc": []}


def test_a_missing_or_damaged_series_file_reads_as_no_series(tmp_path):
    assert read_series(tmp_path / "absent.json") == {}
    (tmp_path / "bad.json").write_text('{"series": {"train:auc": ["x"]}}')
    assert read_series(tmp_path / "bad.json") == {}
