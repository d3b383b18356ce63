"""Where a processing step's container finds its inputs and leaves its outputs, declared once:
the pipeline mounts each input and collects each output at these paths (:mod:`churn.pipeline`),
and the step entrypoints read and write them (:mod:`churn.steps`). Shipped in the code bundle.

SageMaker's processing contract puts everything under ``/opt/ml/processing``; the failure
message files are those of its job contracts.
"""

PROCESSING = "/opt/ml/processing"
#: The mounted code bundle (the steps run ``python3 -m churn.steps.<step>`` from it).
CODE = f"{PROCESSING}/input/code"
#: PreprocessData: the raw CSV file(s).
RAW = f"{PROCESSING}/input/raw"
#: EvaluateModel / EvaluateBaseline: the candidate's model archive and the test split.
MODEL = f"{PROCESSING}/input/model"
TEST = f"{PROCESSING}/input/test"
#: SelectModel: one folder per candidate, each with ``evaluation/`` and ``model/``.
CANDIDATES = f"{PROCESSING}/input/candidates"
#: SelectModel: PreprocessData's manifest (the resolved dataset spec and the feature names the
#: deployable model archive carries).
MANIFEST = f"{PROCESSING}/input/manifest"
#: Every step's outputs: one folder per output name.
OUTPUT = f"{PROCESSING}/output"

#: A training job's channels (SageMaker's training contract): one folder per channel name.
TRAINING_DATA = "/opt/ml/input/data"

#: A training job's FailureReason comes from this file (SageMaker's training contract) ...
FAILURE_FILE = "/opt/ml/output/failure"
#: ... a processing job's ExitMessage from this one (DescribeProcessingJob).
MESSAGE_FILE = "/opt/ml/output/message"


def output(name: str) -> str:
    """The folder of output ``name``."""
    return f"{OUTPUT}/{name}"


def candidate_input(candidate: str, kind: str) -> str:
    """SelectModel's folder for one candidate's ``evaluation`` or ``model``."""
    return f"{CANDIDATES}/{candidate}/{kind}"
