"""The step graph, built once for any backend by :func:`build_pipeline`.

PreprocessData feeds two candidate branches that run at the same time: TrainModel ->
EvaluateModel (XGBoost) and TrainBaseline -> EvaluateBaseline (scikit-learn logistic
regression). SelectModel keeps the candidate with the better SelectionMetric; CheckAccuracy
gates the winner -> CreateModel and RegisterModel (into the backend's model package group:
SageMaker's registry, or the local one, which churn's local executor runs) or AccuracyTooLow
(FailStep). Steps reference earlier outputs only through ``.properties``; everything
backend-specific comes from the :class:`~churn.backends.Backend`.
"""

from __future__ import annotations

from dataclasses import dataclass

import churn.backends.sdk_adapters  # noqa: F401  (first: quiets the SDK before it is imported)
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

from churn import parameters
from churn.backends import Backend
from churn import serving
from churn.backends.code_bundle import DATASET_FILE, SOURCE_ARCHIVE, bundle_hash
from churn.layout import PREPROCESS_STEP, SELECT_STEP
from churn.selection import CANDIDATES
from churn.split import SPLITS
from churn.steps import paths
from churn.training_metrics import METRIC_DEFINITIONS

PIPELINE_NAME = "churn"
ACCURACY_PATH = "binary_classification_metrics.accuracy.value"
#: The instance type a registered model declares for endpoints and batch transform.
SERVING_INSTANCE_TYPE = "ml.m5.large"
#: Fixed hyperparameters of the XGBoost built-in algorithm (the rest are pipeline parameters).
FIXED_HYPERPARAMETERS = {"objective": "binary:logistic", "eval_metric": "auc"}

_KINDS = {str: ParameterString, int: ParameterInteger, float: ParameterFloat}


def pipeline_parameters(backend: Backend, defaults: dict[str, object] | None = None) -> dict:
    """The pipeline's parameter objects; ``defaults`` (validated overrides) replace the defaults."""
    backend_defaults = {
        "InputData": backend.input_data,
        "ProcessingInstanceType": backend.processing_instance_type,
        "TrainingInstanceType": backend.training_instance_type,
    }
    overrides = defaults or {}
    built = {}
    for spec in parameters.SPECS:
        default = overrides.get(spec.name, backend_defaults.get(spec.name, spec.default))
        built[spec.name] = _KINDS[spec.kind](name=spec.name, default_value=default)
    return built


def _run_uri(backend: Backend, *parts: str) -> Join:
    """``<artifact root>/<execution id>/<parts...>``: every execution writes to its own folder."""
    return Join(on="/", values=[backend.artifact_root, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])


def _step_processor(backend: Backend, image: str, module: str, instance_type, base_job_name: str) -> Processor:
    return Processor(
        role=backend.role_arn,
        image_uri=image,
        entrypoint=["python3", "-m", module],
        instance_count=1,
        instance_type=instance_type,
        # No .pyc files written into the mounted, content-addressed code bundle.
        env={"PYTHONPATH": paths.CODE, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"},
        base_job_name=base_job_name,
        sagemaker_session=backend.session(),
    )


def _outputs(backend: Backend, step_name: str, names) -> list[ProcessingOutput]:
    """One output per name: ``/opt/ml/processing/output/<name>`` -> ``<run>/<step>/<name>``."""
    return [
        ProcessingOutput(output_name=name, source=paths.output(name), destination=_run_uri(backend, step_name, name))
        for name in names
    ]


def _code_uri(backend: Backend, *parts: str) -> Join:
    return Join(on="/", values=[backend.code_root, backend.code_version or bundle_hash(backend.dataset), *parts])


def _code_input(backend: Backend) -> ProcessingInput:
    return ProcessingInput(source=_code_uri(backend), destination=paths.CODE, input_name="code")


@dataclass(frozen=True)
class CandidateSteps:
    """One candidate model's branch: its name in selection.json and its two steps."""

    name: str
    train: TrainingStep
    evaluate: ProcessingStep

    @property
    def model_data(self):
        return self.train.properties.ModelArtifacts.S3ModelArtifacts

    @property
    def evaluation_uri(self):
        return self.evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri


def build_pipeline(backend: Backend, parameter_defaults: dict[str, object] | None = None) -> Pipeline:
    """The churn pipeline for ``backend``; ``parameter_defaults`` replace parameter defaults."""
    with backend.sdk_scope():
        return _build(backend, parameter_defaults)


def _job_step_options(backend: Backend) -> dict:
    """What every job step gets from the backend: SageMaker's step cache and retry policies."""
    return {"cache_config": backend.cache_config(), "retry_policies": backend.retry_policies()}


def _candidate(
    backend: Backend, params: dict, split_uri: dict, *, name: str, step: str, image: str, hyperparameters: dict
) -> CandidateSteps:
    """TrainX on train/validation, then its evaluation on the test split."""
    estimator = Estimator(
        image_uri=image,
        role=backend.role_arn,
        instance_count=1,
        instance_type=params["TrainingInstanceType"],
        output_path=_run_uri(backend, f"Train{step}"),
        base_job_name=f"churn-train-{name}",
        # SageMaker Debugger and Profiler are not used (and local mode cannot run them).
        disable_profiler=True,
        debugger_hook_config=False,
        hyperparameters=hyperparameters,
        # Per-round metrics read from the training log (SageMaker's algorithm image has its own).
        metric_definitions=None if image == backend.images.training and backend.images.training_builtin else list(METRIC_DEFINITIONS),
        sagemaker_session=backend.session(),
    )
    train = TrainingStep(
        name=f"Train{step}",
        **_job_step_options(backend),
        step_args=estimator.fit(
            inputs={
                channel: TrainingInput(s3_data=split_uri[channel], content_type="text/csv")
                for channel in ("train", "validation")
            }
        ),
    )
    evaluate = ProcessingStep(
        name=f"Evaluate{step}",
        **_job_step_options(backend),
        step_args=_step_processor(
            backend, backend.images.evaluation, "churn.steps.evaluate", params["ProcessingInstanceType"], f"churn-evaluate-{name}"
        ).run(
            inputs=[
                ProcessingInput(
                    source=train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination=paths.MODEL,
                    input_name="model",
                ),
                ProcessingInput(source=split_uri["test"], destination=paths.TEST, input_name="test"),
                _code_input(backend),
            ],
            outputs=_outputs(backend, f"Evaluate{step}", ("evaluation",)),
        ),
    )
    return CandidateSteps(name, train, evaluate)


def _build(backend: Backend, parameter_defaults: dict[str, object] | None) -> Pipeline:
    params = pipeline_parameters(backend, parameter_defaults)
    session = backend.session()

    preprocess = ProcessingStep(
        name=PREPROCESS_STEP,
        **_job_step_options(backend),
        step_args=_step_processor(
            backend, backend.images.processing, "churn.steps.preprocess", params["ProcessingInstanceType"], "churn-preprocess"
        ).run(
            inputs=[
                ProcessingInput(source=params["InputData"], destination=paths.RAW, input_name="raw"),
                _code_input(backend),
            ],
            outputs=_outputs(backend, PREPROCESS_STEP, (*SPLITS, "manifest")),
            arguments=[
                "--train-ratio", params["TrainRatio"].to_string(),
                "--validation-ratio", params["ValidationRatio"].to_string(),
                "--split-seed", params["SplitSeed"].to_string(),
                "--dataset", f"{paths.CODE}/{DATASET_FILE}",
            ],
        ),
    )
    split_uri = {name: preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri for name in SPLITS}

    xgboost_name, baseline_name = CANDIDATES
    candidates = [
        _candidate(
            backend, params, split_uri, name=xgboost_name, step="Model", image=backend.images.training,
            hyperparameters={
                **FIXED_HYPERPARAMETERS,
                "max_depth": params["MaxDepth"],
                "num_round": params["NumRound"],
                "eta": params["Eta"],
            },
        ),
        _candidate(
            backend, params, split_uri, name=baseline_name, step="Baseline", image=backend.images.baseline,
            hyperparameters={
                "C": params["BaselineC"],
                "enabled": params["BaselineEnabled"],
                **backend.baseline_hyperparameters(_code_uri(backend, SOURCE_ARCHIVE)),
            },
        ),
    ]

    selection_file = PropertyFile(name="Selection", output_name="selection", path="selection.json")
    winner_report = PropertyFile(name="WinnerEvaluation", output_name="evaluation", path="evaluation.json")
    candidate_inputs = []
    for candidate in candidates:
        candidate_inputs += [
            ProcessingInput(
                source=candidate.evaluation_uri, destination=paths.candidate_input(candidate.name, "evaluation"),
                input_name=f"{candidate.name}-evaluation",
            ),
            ProcessingInput(
                source=candidate.model_data, destination=paths.candidate_input(candidate.name, "model"), input_name=f"{candidate.name}-model",
            ),
        ]
    manifest_input = ProcessingInput(
        source=preprocess.properties.ProcessingOutputConfig.Outputs["manifest"].S3Output.S3Uri,
        destination=paths.MANIFEST, input_name="manifest",
    )
    select = ProcessingStep(
        name=SELECT_STEP,
        **_job_step_options(backend),
        step_args=_step_processor(
            backend, backend.images.processing, "churn.steps.select", params["ProcessingInstanceType"], "churn-select"
        ).run(
            inputs=[*candidate_inputs, manifest_input, _code_input(backend)],
            outputs=_outputs(backend, SELECT_STEP, ("selection", "evaluation", "model")),
            arguments=[
                "--metric", params["SelectionMetric"],
                *(argument for c in candidates for argument in ("--candidate", c.name)),
            ],
        ),
        property_files=[selection_file, winner_report],
    )
    outputs = select.properties.ProcessingOutputConfig.Outputs
    model = Model(
        image_uri=backend.images.training,
        model_data=Join(on="/", values=[outputs["model"].S3Output.S3Uri, "model.tar.gz"]),
        role=backend.role_arn,
        env=backend.model_environment(_code_uri(backend, SOURCE_ARCHIVE)),
        sagemaker_session=session,
    )
    create_model = ModelStep(name="CreateModel", step_args=model.create(instance_type=params["ProcessingInstanceType"]))
    register = ModelStep(
        name="RegisterModel",
        step_args=model.register(
            # What the model's server takes and answers (churn.serving), on both backends.
            content_types=[serving.CSV, serving.JSON],
            response_types=[serving.CSV, serving.JSON],
            inference_instances=[SERVING_INSTANCE_TYPE],
            transform_instances=[SERVING_INSTANCE_TYPE],
            model_package_group_name=backend.model_package_group,
            approval_status=params["ModelApprovalStatus"],
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    s3_uri=Join(on="/", values=[outputs["evaluation"].S3Output.S3Uri, "evaluation.json"]),
                    content_type="application/json",
                )
            ),
            # Which candidate won, on which metric, goes with the registered model.
            customer_metadata_properties={
                "WinningCandidate": JsonGet(step_name=select.name, property_file=selection_file, json_path="winner"),
                "SelectionMetric": params["SelectionMetric"],
                "Candidates": JsonGet(step_name=select.name, property_file=selection_file, json_path="summary"),
            },
        ),
    )
    gate = ConditionStep(
        name="CheckAccuracy",
        conditions=[
            ConditionGreaterThanOrEqualTo(
                # The SDK takes a JsonGet here (as its own examples do); its annotation leaves it out.
                left=JsonGet(step_name=select.name, property_file=winner_report, json_path=ACCURACY_PATH),  # type: ignore[arg-type]
                right=params["AccuracyThreshold"],
            )
        ],
        if_steps=[create_model, register],
        else_steps=[
            FailStep(
                name="AccuracyTooLow",
                error_message=Join(
                    on=" ",
                    values=["Test accuracy of the winning model is below the AccuracyThreshold of", params["AccuracyThreshold"]],
                ),
            )
        ],
    )
    return Pipeline(
        name=PIPELINE_NAME,
        parameters=list(params.values()),
        steps=[preprocess, *(step for c in candidates for step in (c.train, c.evaluate)), select, gate],
        sagemaker_session=session,
    )
