"""What SageMaker Pipelines would send on a pipeline's behalf, checked as strictly as SageMaker.

botocore checks types and required members on the client, but not the patterns, enums and
lengths of its service model; AWS checks them on the server, and an emulator mostly does not.
:func:`pipeline_requests` resolves each step of a compiled definition with real values (the
parameters of an execution, its id, earlier steps' outputs, property files read from real step
outputs) into the request the pipeline service makes for it (CreateProcessingJob,
CreateTrainingJob, CreateHyperParameterTuningJob, CreateModel, CreateModelPackage), and :func:`violations` checks a request
against the service model with patterns, enums and lengths. Patterns are Java regular
expressions (``\\p{L}``...), matched with the ``regex`` package.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import regex

from churn import sizing

#: The API call the pipeline service makes for each step type.
OPERATIONS = {
    "Processing": ("CreateProcessingJob", "ProcessingJobName"),
    "Training": ("CreateTrainingJob", "TrainingJobName"),
    "Tuning": ("CreateHyperParameterTuningJob", "HyperParameterTuningJobName"),
    "Model": ("CreateModel", "ModelName"),
    "RegisterModel": ("CreateModelPackage", None),
}


@lru_cache(maxsize=1)
def service_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


@lru_cache(maxsize=None)
def _pattern(text: str):
    return regex.compile(text)


def violations(operation: str, params: dict) -> list[str]:
    """Every way ``params`` breaks the input shape of ``operation``: unknown or missing members,
    types, patterns, enums, lengths and ranges (what AWS's own validation refuses)."""
    found: list[str] = []
    _check(service_model().operation_model(operation).input_shape, params, operation, found)
    return found


def _check(shape, value, where: str, found: list[str]) -> None:  # noqa: C901 - one branch per shape type
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            found.append(f"{where}: expected a structure, got {type(value).__name__}")
            return
        for name in shape.required_members:
            if name not in value:
                found.append(f"{where}.{name}: required")
        for name, member in value.items():
            if name not in shape.members:
                found.append(f"{where}.{name}: unknown member")
            else:
                _check(shape.members[name], member, f"{where}.{name}", found)
        return
    if kind == "list":
        if not isinstance(value, list):
            found.append(f"{where}: expected a list")
            return
        _bounds(len(value), meta, where, "items", found)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{where}[{index}]", found)
        return
    if kind == "map":
        if not isinstance(value, dict):
            found.append(f"{where}: expected a map")
            return
        _bounds(len(value), meta, where, "entries", found)
        for key, item in value.items():
            _check(shape.key, key, f"{where} key {key!r}", found)
            _check(shape.value, item, f"{where}[{key!r}]", found)
        return
    if kind == "string":
        if not isinstance(value, str):
            found.append(f"{where}: expected a string, got {type(value).__name__} {value!r}")
            return
        _bounds(len(value), meta, where, "characters", found)
        if "enum" in meta and value not in meta["enum"]:
            found.append(f"{where}: {value!r} is not one of {meta['enum']}")
        if "pattern" in meta and not _pattern(meta["pattern"]).fullmatch(value):  # Java matches(): the whole value
            found.append(f"{where}: {value!r} does not match pattern {meta['pattern']!r}")
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            found.append(f"{where}: expected an integer, got {value!r}")
            return
        _bounds(value, meta, where, "", found)
        return
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            found.append(f"{where}: expected a number, got {value!r}")
            return
        _bounds(value, meta, where, "", found)
        return
    if kind == "boolean" and not isinstance(value, bool):
        found.append(f"{where}: expected a boolean, got {value!r}")


def _bounds(size, meta: dict, where: str, unit: str, found: list[str]) -> None:
    if "min" in meta and size < meta["min"]:
        found.append(f"{where}: {size} {unit} is below the minimum of {meta['min']}".replace("  ", " "))
    if "max" in meta and size > meta["max"]:
        found.append(f"{where}: {size} {unit} is above the maximum of {meta['max']}".replace("  ", " "))


# --- resolving a definition into requests --------------------------------------------------


def pipeline_requests(
    definition: dict, parameters: dict, execution_id: str, property_files: dict[str, dict], role_arn: str,
    cached: dict[str, str] | None = None,
) -> list[tuple[str, str, dict]]:
    """(step name, operation, request) for each job, model and registration step, in order.

    ``parameters`` are the execution's values (defaults filled in), ``property_files`` the
    documents each ``Steps.<step>.PropertyFiles.<name>`` reference reads (as the real step
    outputs hold them). Both branches of a condition are resolved. ``cached``: step -> id of
    the earlier execution SageMaker serves it from (its properties are that execution's job's)."""
    values = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    values.update(parameters)
    context = {"parameters": values, "execution_id": execution_id, "steps": {}, "property_files": property_files}
    requests = []
    for step in _all_steps(definition["Steps"]):
        if step["Type"] not in OPERATIONS:
            continue
        operation, name_member = OPERATIONS[step["Type"]]
        source = (cached or {}).get(step["Name"])
        arguments = _resolve(step["Arguments"], {**context, "execution_id": source} if source else context)
        if step["Type"] == "Processing":
            arguments.setdefault("RoleArn", role_arn)
        job_execution = source or execution_id
        if name_member == "HyperParameterTuningJobName":  # at most 32 characters (the pipeline service's own scheme is unknown)
            arguments[name_member] = f"{job_execution[:12]}-{step['Name'][:12]}-abc123".lower()
        elif name_member:
            arguments[name_member] = f"pipelines-{job_execution[:12]}-{step['Name'][:20]}-abc123"
        # What later steps read of it: a tuning job's properties also list its best training job.
        context["steps"][step["Name"]] = (
            {**arguments, "TrainingJobSummaries": [best_training_job(arguments)]} if step["Type"] == "Tuning" else arguments
        )
        requests.append((step["Name"], operation, _typed(operation, arguments)))
    return requests


def execution_property_files(candidate_outputs: Path, training_instance_type: str = sizing.AUTO) -> dict[str, dict]:
    """What an execution's ``Steps.<step>.PropertyFiles.<name>`` references read, as the real
    steps write them (``candidate_outputs``: conftest's fixture): PreprocessData's manifest, its
    sizing for the execution's ``TrainingInstanceType`` (the cloud default: ``auto``), and
    SelectModel's selection.json and evaluation.json."""
    manifest = json.loads((candidate_outputs / "manifest" / "manifest.json").read_text())
    manifest["sizing"] = sizing.sizing(manifest["rows"]["train"], training_instance_type)
    selected = candidate_outputs / "selected"
    return {
        "Steps.PreprocessData.PropertyFiles.Manifest": manifest,
        "Steps.SelectModel.PropertyFiles.Selection": json.loads((selected / "selection/selection.json").read_text()),
        "Steps.SelectModel.PropertyFiles.WinnerEvaluation": json.loads((selected / "evaluation/evaluation.json").read_text()),
    }


def best_training_job(request: dict) -> dict:
    """The first of a tuning job's ``TrainingJobSummaries`` as SageMaker would list it: a
    training job named after the tuning job, with a value from each range (its low end)."""
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    tuned = {
        item["Name"]: item["MinValue"] if "MinValue" in item else item["Values"][0]
        for kind in ("Integer", "Continuous", "Categorical") for item in ranges.get(f"{kind}ParameterRanges") or []
    }
    return {
        "TrainingJobName": f"{request['HyperParameterTuningJobName']}-001-0123abcd",
        "TunedHyperParameters": {name: str(value) for name, value in tuned.items()},
        "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "validation:auc", "Value": 0.9},
        "TrainingJobStatus": "Completed",
    }


def _all_steps(steps: list[dict]):
    for step in steps:
        yield step
        for branch in ("IfSteps", "ElseSteps"):
            yield from _all_steps(step.get("Arguments", {}).get(branch, []))


def _resolve(node, context):
    if isinstance(node, list):
        return [_resolve(item, context) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Get"}:
        return _get(node["Get"], context)
    if set(node) == {"Std:Join"}:
        join = node["Std:Join"]
        return join["On"].join(_text(_resolve(value, context)) for value in join["Values"])
    if set(node) == {"Std:JsonGet"}:
        get = node["Std:JsonGet"]
        reference = get["PropertyFile"]["Get"]  # Steps.<step>.PropertyFiles.<name>
        document = context["property_files"][reference]
        value = document
        for key in get["Path"].split("."):
            value = value[key]
        return value
    return {key: _resolve(value, context) for key, value in node.items()}


def _text(value) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


_OUTPUT = re.compile(r"Steps\.(\w+)\.ProcessingOutputConfig\.Outputs\['(\w+)'\]\.S3Output\.S3Uri")
_MODEL = re.compile(r"Steps\.(\w+)\.ModelArtifacts\.S3ModelArtifacts")
_MEMBER = re.compile(r"Steps\.(\w+)\.((?:TrainingJobDefinition|OutputDataConfig)(?:\.\w+)+)")
_SUMMARY = re.compile(r"Steps\.(\w+)\.TrainingJobSummaries\[(\d+)\]\.(TrainingJobName|TunedHyperParameters\['(\w+)'\])")


def _get(path: str, context):
    if path.startswith("Parameters."):
        return context["parameters"][path.split(".", 1)[1]]
    if path == "Execution.PipelineExecutionId":
        return context["execution_id"]
    if match := _OUTPUT.fullmatch(path):
        outputs = context["steps"][match[1]]["ProcessingOutputConfig"]["Outputs"]
        return next(o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == match[2])
    if match := _MODEL.fullmatch(path):
        job = context["steps"][match[1]]
        return f"{job['OutputDataConfig']['S3OutputPath']}/{job['TrainingJobName']}/output/model.tar.gz"
    if match := _SUMMARY.fullmatch(path):
        summary = context["steps"][match[1]]["TrainingJobSummaries"][int(match[2])]
        return summary["TunedHyperParameters"][match[4]] if match[4] else summary["TrainingJobName"]
    if match := _MEMBER.fullmatch(path):  # a member of the step's request, as its Describe echoes it
        value = context["steps"][match[1]]
        for key in match[2].split("."):
            value = value[key]
        return value
    raise KeyError(f"cannot resolve {path}")


def _typed(operation: str, arguments: dict) -> dict:
    """Pipeline parameters are typed (Integer, Float); the service writes a number where the
    API wants a string (hyperparameters, environment) as its text."""
    return _coerce(service_model().operation_model(operation).input_shape, arguments)


def _coerce(shape, value):
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: _coerce(shape.members[k], v) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_coerce(shape.member, v) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: _coerce(shape.value, v) for k, v in value.items()}
    if shape.type_name == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value
