"""What a backend decides: everything that differs between running locally and on SageMaker.

``churn.pipeline.build_pipeline`` asks a :class:`Backend` for the session, image URIs,
instance types, where data and artifacts live and where models are registered; it never checks
which backend it was given.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from churn.dataset import DEFAULT_SPEC, DatasetSpec

if TYPE_CHECKING:  # the SDK is imported only when a pipeline is built
    from sagemaker.workflow.entities import PipelineVariable


#: The model package group of both backends unless one is configured.
DEFAULT_MODEL_PACKAGE_GROUP = "churn"


@dataclass(frozen=True)
class Images:
    processing: str
    #: XGBoost training; also serves every candidate's model (all are XGBoost model files).
    training: str
    evaluation: str
    #: Trains the scikit-learn baseline (a processing image).
    baseline: str
    #: True for the official scikit-learn image, which runs training code in script mode
    #: (``sagemaker_program`` in a ``sagemaker_submit_directory`` archive); the project's image
    #: has the baseline's ``train`` built in.
    baseline_script_mode: bool = False
    #: True for SageMaker's XGBoost algorithm image: it publishes its ``train:auc`` and
    #: ``validation:auc`` metrics itself, and CreateTrainingJob refuses metric definitions for
    #: SageMaker's own algorithms; the project's image gets churn's (the same names and lines).
    training_builtin: bool = False


@dataclass
class Backend:
    """Settings shared by both backends; subclasses add their session and extra steps."""

    name: ClassVar[str]
    role_arn: str
    images: Images
    processing_instance_type: str
    training_instance_type: str
    #: URI prefix of every artifact (``file:///...`` or ``s3://...``); runs go below it.
    artifact_root: str
    #: URI prefix under which the step code bundle is staged, one folder per content hash.
    code_root: str
    #: Default of the InputData parameter.
    input_data: str
    #: Settings that were not given and hold a placeholder (fine for printing a definition).
    placeholders: list[str] = field(default_factory=list)
    #: Content hash of the step code bundle to run; None: the code as it is now. Set to run a
    #: recorded pipeline version again (``churn run --pipeline-version``).
    code_version: str | None = None
    #: The model package group RegisterModel registers into (SageMaker's, or the local registry's).
    model_package_group: str = DEFAULT_MODEL_PACKAGE_GROUP
    #: The layout of the input table (travels in the code bundle; see ``churn.dataset``).
    dataset: DatasetSpec = DEFAULT_SPEC
    #: Compile the tuning branch (TuneModel -> EvaluateTuned) and its Tuning* parameters;
    #: False (``--no-tuning``) compiles the two-candidate graph.
    tuning: bool = True
    #: Jobs may run on more than one instance (``ProcessingInstanceCount``,
    #: ``TrainingInstanceCount``): PreprocessData's raw input and TrainModel's train channel are
    #: ``ShardedByS3Key``. SageMaker local mode takes ``FullyReplicated`` inputs only, so the
    #: local backend keeps those and refuses counts above 1.
    scales_out: bool = False

    @property
    def distribution(self) -> str:
        """The S3DataDistributionType of the inputs a scaled-out job shares out: with one
        instance ``ShardedByS3Key`` gives it every object, as ``FullyReplicated`` does."""
        return "ShardedByS3Key" if self.scales_out else "FullyReplicated"

    def check_scaling(self, overrides: dict) -> None:
        """Refuse instance counts this backend, the training instance type or the dataset spec
        cannot run (:func:`churn.parameters.check_scaling`)."""
        from churn import parameters

        parameters.check_scaling(
            overrides, local=not self.scales_out,
            training_instance_type=overrides.get("TrainingInstanceType", self.training_instance_type),
            collected=[c.name for c in self.dataset.categorical_columns if c.collected],
        )

    def session(self):
        """The SDK session the pipeline is compiled with (built on first use)."""
        raise NotImplementedError

    @contextmanager
    def sdk_scope(self):
        """Within this block, SDK code that makes its own ``boto3.client(...)`` (every Estimator
        does, for TensorBoard) uses this backend's boto3 session, not the default credential
        chain, which would probe the instance-metadata address when no credentials exist."""
        import boto3

        previous = boto3.DEFAULT_SESSION
        boto3.DEFAULT_SESSION = self.session().boto_session
        try:
            yield
        finally:
            boto3.DEFAULT_SESSION = previous

    def baseline_hyperparameters(self, code_archive: PipelineVariable) -> dict:
        """Hyperparameters the baseline's training image needs besides the algorithm's own."""
        from churn.backends.code_bundle import BASELINE_PROGRAM

        if not self.images.baseline_script_mode:
            return {}
        # The training toolkit's script mode reads all three (the region to fetch the archive).
        return {
            "sagemaker_program": BASELINE_PROGRAM,
            "sagemaker_submit_directory": code_archive,
            "sagemaker_region": self.session().boto_region_name,
        }

    def model_environment(self, code_archive: PipelineVariable) -> dict:
        """The deployable model's container environment (its model and its model package).

        SageMaker's XGBoost algorithm image (``training_builtin``) takes only rows of the model's
        features; with these variables it serves in script mode instead, running churn's endpoint
        program from the staged code archive (:mod:`churn.algorithm.hosting`), so it answers raw
        customer rows as the project's image does. The project's image needs none."""
        from churn.backends.code_bundle import SERVING_PROGRAM

        if not self.images.training_builtin:
            return {}
        return {
            "SAGEMAKER_PROGRAM": SERVING_PROGRAM,
            "SAGEMAKER_SUBMIT_DIRECTORY": code_archive,
            "SAGEMAKER_REGION": self.session().boto_region_name,
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
            # No Accept header, or */*: CSV, as `churn serve` answers (the toolkit's default is JSON).
            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
        }

    def cache_config(self):
        """CacheConfig for job steps, or None (local mode ignores caching)."""
        return None

    def retry_policies(self) -> list:
        """Retry policies for job steps (local mode ignores them)."""
        return []
