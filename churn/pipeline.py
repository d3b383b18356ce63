"""The step graph, built once for any backend by :func:`build_pipeline`.

PreprocessData feeds three candidate branches that run at the same time: TrainModel ->
EvaluateModel (XGBoost with the parameters' hyperparameters), TuneModel -> EvaluateTuned
(XGBoost tuned by a SageMaker hyperparameter tuning job; EvaluateTuned evaluates its best
training job's model) and TrainBaseline -> EvaluateBaseline (scikit-learn logistic regression).
SelectModel keeps the candidate with the best SelectionMetric; CheckAccuracy gates the winner
-> CreateModel and RegisterModel (into the backend's model package group: SageMaker's registry,
or the local one, which churn's local executor runs) or AccuracyTooLow (FailStep). The tuning
branch is a compile-time choice (``Backend.tuning``; ``--no-tuning``): without it the graph
has two candidates and no Tuning* parameters. Steps reference earlier outputs only through
``.properties``; everything backend-specific comes from the :class:`~churn.backends.Backend`.
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
from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TuningStep
from sagemaker.parameter import ParameterRange
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter
from sagemaker.workflow.entities import PipelineVariable

from churn import parameters
from churn.backends import Backend
from churn import serving
from churn.backends.code_bundle import DATASET_FILE, SOURCE_ARCHIVE, bundle_hash
from churn.layout import PREPROCESS_STEP, SELECT_STEP, TUNE_STEP
from churn.selection import CANDIDATES, TUNED_CANDIDATE
from churn.split import SPLITS
from churn.steps import paths
from churn.training_metrics import METRIC_DEFINITIONS

PIPELINE_NAME = "churn"
ACCURACY_PATH = "binary_classification_metrics.accuracy.value"
#: Where the training steps read their instance type: PreprocessData's manifest (churn.sizing).
SIZING_PATH = "sizing.chosen"
#: The instance type a registered model declares for endpoints and batch transform.
SERVING_INSTANCE_TYPE = "ml.m5.large"
#: Fixed hyperparameters of the XGBoost built-in algorithm (the rest are pipeline parameters).
FIXED_HYPERPARAMETERS = {"objective": "binary:logistic", "eval_metric": "auc"}

#: What TuneModel searches, and how (SageMaker's scaling; the objective is validation:auc).
#: Early stopping is left out: the model would be saved rounds past its best round.
TUNING_RANGES = {
    "max_depth": IntegerParameter(2, 10),
    "eta": ContinuousParameter(0.01, 0.5, scaling_type="Logarithmic"),
    "num_round": IntegerParameter(50, 300),
    "min_child_weight": ContinuousParameter(1, 10),
    "subsample": ContinuousParameter(0.5, 1),
}
TUNING_OBJECTIVE = "validation:auc"

_KINDS = {str: ParameterString, int: ParameterInteger, float: ParameterFloat}


def pipeline_parameters(backend: Backend, defaults: dict[str, object] | None = None) -> dict:
    """The pipeline's parameter objects; ``defaults`` (validated overrides) replace the defaults."""
    backend_defaults = {
        "InputData": backend.input_data,
        "ProcessingInstanceType": backend.processing_instance_type,
        "TrainingInstanceType": backend.training_instance_type,
    }
    overrides = defaults or {}
    parameters.check_tuning(overrides, backend.tuning)
    parameters.check_together(overrides)
    backend.check_scaling(overrides)
    built = {}
    for spec in parameters.specs(backend.tuning):
        default = overrides.get(spec.name, backend_defaults.get(spec.name, spec.default))
        built[spec.name] = _KINDS[spec.kind](name=spec.name, default_value=default)
    return built


def _run_uri(backend: Backend, *parts: str) -> Join:
    """``<artifact root>/<execution id>/<parts...>``: every execution writes to its own folder."""
    return Join(on="/", values=[backend.artifact_root, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])


def _step_processor(backend: Backend, image: str, module: str, instance_type, base_job_name: str, instance_count=1) -> Processor:
    return Processor(
        role=backend.role_arn,
        image_uri=image,
        entrypoint=["python3", "-m", module],
        instance_count=instance_count,
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
class Preprocessed:
    """What the candidate branches take from PreprocessData: the URI of each split, and the
    training instance type its manifest records (``sizing.chosen``; churn.sizing)."""

    splits: dict[str, PipelineVariable]
    instance_type: JsonGet


@dataclass(frozen=True)
class CandidateSteps:
    """One candidate model's branch: its name in selection.json, its two steps, the URI of the
    model it evaluates and the hyperparameters it was trained with (``name=value ...``)."""

    name: str
    train: TrainingStep | TuningStep
    evaluate: ProcessingStep
    #: The URI of the model it evaluates (a step property, or a Join around one).
    model_data: PipelineVariable
    hyperparameters: Join

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


def _pairs(values: dict) -> Join:
    """``name=value name=value`` of pipeline values, as one flat Join."""
    parts: list = []
    for name, value in values.items():
        parts += [f"{' ' if parts else ''}{name}=", value]
    return Join(on="", values=parts)


def _estimator(
    backend: Backend, instance_type: JsonGet, *, name: str, step: str, image: str, hyperparameters: dict, instance_count=1,
) -> Estimator:
    return Estimator(
        image_uri=image,
        role=backend.role_arn,
        # TrainModel: TrainingInstanceCount (SageMaker's XGBoost image trains distributed with
        # several hosts); the baseline and each tuning trial: one instance.
        instance_count=instance_count,
        # PreprocessData's manifest: TrainingInstanceType, or for "auto" the training rows' tier.
        instance_type=instance_type,
        output_path=_run_uri(backend, step),
        base_job_name=f"churn-train-{name}",
        # SageMaker Debugger and Profiler are not used (and local mode cannot run them).
        disable_profiler=True,
        debugger_hook_config=False,
        hyperparameters=hyperparameters,
        metric_definitions=_metric_definitions(backend, image),
        sagemaker_session=backend.session(),
    )


def _metric_definitions(backend: Backend, image: str) -> list | None:
    """Per-round metrics read from the training log (SageMaker's algorithm image has its own)."""
    return None if image == backend.images.training and backend.images.training_builtin else list(METRIC_DEFINITIONS)


def _channels(data: Preprocessed, train_distribution: str = "FullyReplicated") -> dict:
    """The train and validation channels. A scaled-out TrainModel's train channel is
    ``ShardedByS3Key`` (each instance gets whole split files, its share of the rows); validation
    is ``FullyReplicated``: every instance evaluates on all of it."""
    return {
        channel: TrainingInput(
            s3_data=data.splits[channel], content_type="text/csv",
            distribution=train_distribution if channel == "train" else "FullyReplicated",
        )
        for channel in ("train", "validation")
    }


def _evaluation(backend: Backend, params: dict, data: Preprocessed, *, name: str, step: str, model_data) -> ProcessingStep:
    """EvaluateX: the model at ``model_data`` on the test split."""
    return ProcessingStep(
        name=f"Evaluate{step}",
        **_job_step_options(backend),
        step_args=_step_processor(
            backend, backend.images.evaluation, "churn.steps.evaluate", params["ProcessingInstanceType"], f"churn-evaluate-{name}"
        ).run(
            inputs=[
                ProcessingInput(source=model_data, destination=paths.MODEL, input_name="model"),
                ProcessingInput(source=data.splits["test"], destination=paths.TEST, input_name="test"),
                _code_input(backend),
            ],
            outputs=_outputs(backend, f"Evaluate{step}", ("evaluation",)),
        ),
    )


def _candidate(
    backend: Backend, params: dict, data: Preprocessed, *, name: str, step: str, image: str, hyperparameters: dict, recorded: dict,
    scaled: bool = False,
) -> CandidateSteps:
    """TrainX on train/validation, then its evaluation on the test split (``scaled``: on
    TrainingInstanceCount instances, the train channel shared out among them)."""
    estimator = _estimator(
        backend, data.instance_type, name=name, step=f"Train{step}", image=image, hyperparameters=hyperparameters,
        instance_count=params["TrainingInstanceCount"] if scaled else 1,
    )
    channels = _channels(data, backend.distribution if scaled else "FullyReplicated")
    train = TrainingStep(name=f"Train{step}", **_job_step_options(backend), step_args=estimator.fit(inputs=channels))
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts
    evaluate = _evaluation(backend, params, data, name=name, step=step, model_data=model_data)
    return CandidateSteps(name, train, evaluate, model_data, _pairs(recorded))


def _tuned_candidate(backend: Backend, params: dict, data: Preprocessed) -> CandidateSteps:
    """TuneModel (a hyperparameter tuning job over the XGBoost estimator), then the evaluation
    of its best training job's model: ``get_top_model_s3_uri``'s URI,
    ``<S3OutputPath>/<best job>/output/model.tar.gz``, as one flat Join that also reaches a
    local ``file://`` root (the SDK's helper writes ``s3:/``). The output path is read from the
    tuning job's own properties, not this execution's id: a TuneModel step SageMaker serves from
    its cache is an earlier execution's tuning job, whose models are under that execution."""
    estimator = _estimator(
        backend, data.instance_type, name=TUNED_CANDIDATE, step=TUNE_STEP, image=backend.images.training, hyperparameters=dict(FIXED_HYPERPARAMETERS),
    )
    ranges: dict[str | PipelineVariable, ParameterRange] = {name: scale for name, scale in TUNING_RANGES.items()}  # a typed copy
    tuner = HyperparameterTuner(
        estimator,
        TUNING_OBJECTIVE,
        ranges,
        metric_definitions=_metric_definitions(backend, backend.images.training),
        objective_type="Maximize",
        strategy=params["TuningStrategy"],
        max_jobs=params["TuningMaxJobs"],
        max_parallel_jobs=params["TuningMaxParallelJobs"],
        random_seed=params["TuningSeed"],
        early_stopping_type="Off",
    )
    tune = TuningStep(name=TUNE_STEP, **_job_step_options(backend), step_args=tuner.fit(inputs=_channels(data)))
    best = tune.properties.TrainingJobSummaries[0]
    model_data = Join(
        on="/",
        values=[tune.properties.TrainingJobDefinition.OutputDataConfig.S3OutputPath, best.TrainingJobName, "output", "model.tar.gz"],
    )
    evaluate = _evaluation(backend, params, data, name=TUNED_CANDIDATE, step="Tuned", model_data=model_data)
    return CandidateSteps(
        TUNED_CANDIDATE, tune, evaluate, model_data, _pairs({name: best.TunedHyperParameters[name] for name in TUNING_RANGES}),
    )


def _build(backend: Backend, parameter_defaults: dict[str, object] | None) -> Pipeline:
    params = pipeline_parameters(backend, parameter_defaults)
    session = backend.session()
    manifest_file = PropertyFile(name="Manifest", output_name="manifest", path="manifest.json")

    preprocess = ProcessingStep(
        name=PREPROCESS_STEP,
        **_job_step_options(backend),
        step_args=_step_processor(
            backend, backend.images.processing, "churn.steps.preprocess", params["ProcessingInstanceType"], "churn-preprocess",
            instance_count=params["ProcessingInstanceCount"],
        ).run(
            inputs=[
                # Scaled out, each instance gets whole input files, its share (churn.steps.preprocess).
                ProcessingInput(
                    source=params["InputData"], destination=paths.RAW, input_name="raw", s3_data_distribution_type=backend.distribution,
                ),
                _code_input(backend),
            ],
            outputs=_outputs(backend, PREPROCESS_STEP, (*SPLITS, "manifest")),
            arguments=[
                "--train-ratio", params["TrainRatio"].to_string(),
                "--validation-ratio", params["ValidationRatio"].to_string(),
                "--split-seed", params["SplitSeed"].to_string(),
                "--dataset", f"{paths.CODE}/{DATASET_FILE}",
                "--training-instance-type", params["TrainingInstanceType"],
            ],
        ),
        property_files=[manifest_file],
    )
    data = Preprocessed(
        {name: preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri for name in SPLITS},
        JsonGet(step_name=preprocess.name, property_file=manifest_file, json_path=SIZING_PATH),
    )

    xgboost_name, baseline_name = CANDIDATES
    xgboost = {"max_depth": params["MaxDepth"], "num_round": params["NumRound"], "eta": params["Eta"]}
    candidates = [
        _candidate(
            backend, params, data, name=xgboost_name, step="Model", image=backend.images.training,
            hyperparameters={**FIXED_HYPERPARAMETERS, **xgboost}, recorded=xgboost, scaled=True,
        ),
        _candidate(
            backend, params, data, name=baseline_name, step="Baseline", image=backend.images.baseline,
            hyperparameters={
                "C": params["BaselineC"],
                "enabled": params["BaselineEnabled"],
                **backend.baseline_hyperparameters(_code_uri(backend, SOURCE_ARCHIVE)),
            },
            recorded={"C": params["BaselineC"]},
        ),
    ]
    if backend.tuning:  # last in tie-break order: it wins only when strictly better
        candidates.append(_tuned_candidate(backend, params, data))

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
                *(argument for c in candidates for argument in ("--hyperparameters", c.name, c.hyperparameters)),
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
                "Hyperparameters": JsonGet(step_name=select.name, property_file=selection_file, json_path="hyperparameters"),
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
        # The tuning branch, the longest, first: a local run starts its jobs first.
        steps=[preprocess, *(step for c in sorted(candidates, key=lambda c: c.name != TUNED_CANDIDATE) for step in (c.train, c.evaluate)), select, gate],
        sagemaker_session=session,
    )
