"""Offline contract tests of the cloud backend against an AWS API emulator (moto) running as
a real HTTP server on 127.0.0.1.

The emulator stores pipelines, executions, parameters, tags and S3 objects like AWS, but runs
no step: its executions are "Succeeded" at once and it lacks ListPipelineExecutionSteps. Plain
runs must therefore end in a clear error, never in a success. Where a test needs an execution
that really progresses, ``simulator`` teaches the emulator ListPipelineExecutionSteps with
SageMaker's documented response shape and writes the step outputs a real execution would.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import boto3
import pytest

from churn.backends.cloud import cloud_backend
from churn.runner.cloud import run_cloud, stage_code, stage_input
from churn.backends.code_bundle import bundle_files, bundle_hash
from churn.runner.runs import RunError, failed_step
from churn.pipeline import build_pipeline
from churn.summary import ARTIFACTS
from churn.progress import LineProgress
from churn.runner.events import Events
from tests.aws_contract import execution_property_files
from tests.conftest import SAMPLE_CSV

moto_server = pytest.importorskip("moto.server")
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/churn-pipeline"
BUCKET = "churn-contract"


@pytest.fixture(scope="module")
def emulator():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture()
def aws(emulator, monkeypatch):
    """Every AWS client of this process talks to the emulator, with throwaway credentials."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{emulator}/moto-api/reset", method="POST"))
    for name in [k for k in os.environ if k.startswith(("AWS_", "CHURN_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    return {"endpoint": emulator, "s3": s3, "sm": boto3.client("sagemaker", region_name=REGION)}


def _backend(**settings):
    return cloud_backend(**{"region": REGION, "role_arn": ROLE, "bucket": BUCKET, **settings})



def test_staging_uploads_only_what_changed(aws):
    backend = _backend()
    s3 = aws["s3"]
    uploaded = stage_code(s3, backend)
    assert len(uploaded) == len(bundle_files())
    assert stage_code(s3, backend) == []
    body = s3.get_object(Bucket=BUCKET, Key=f"churn/code/{bundle_hash()}/churn/split.py")["Body"].read()
    assert body == dict(bundle_files())["churn/split.py"]
    uri, keys, sha256 = stage_input(s3, backend, SAMPLE_CSV.resolve().as_uri())
    assert sha256 == hashlib.sha256(SAMPLE_CSV.read_bytes()).hexdigest() and sha256[:16] in uri
    assert uri.startswith(f"s3://{BUCKET}/churn/input/") and uri.endswith("/") and len(keys) == 1
    assert stage_input(s3, backend, SAMPLE_CSV.resolve().as_uri()) == (uri, [], sha256)
    with pytest.raises(RunError, match="input not found: s3://"):
        stage_input(s3, backend, f"s3://{BUCKET}/nothing/here.csv")


def test_run_goes_through_staging_upsert_and_start_and_reports_what_the_emulator_cannot_do(aws, tmp_path):
    backend = _backend()
    with pytest.raises(RunError, match="cannot list the steps of execution .*does it implement this operation"):
        run_cloud(backend, {"NumRound": 10, "MaxDepth": 3}, tmp_path, poll_seconds=0.05, timeout_seconds=10)
    sm = aws["sm"]
    pipeline = sm.describe_pipeline(PipelineName="churn")
    compiled = build_pipeline(_backend()).definition()
    assert json.loads(pipeline["PipelineDefinition"]) == json.loads(compiled)
    assert pipeline["RoleArn"] == ROLE
    digest = __import__("hashlib").sha256(compiled.encode()).hexdigest()
    assert pipeline["PipelineDescription"].endswith(f"definition sha256 {digest}")
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=pipeline["PipelineArn"])["Tags"]}
    assert tags["churn:definition-sha256"] == digest
    [execution] = sm.list_pipeline_executions(PipelineName="churn")["PipelineExecutionSummaries"]
    params = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution["PipelineExecutionArn"])
    values = {p["Name"]: p["Value"] for p in params["PipelineParameters"]}
    assert values["NumRound"] == "10" and values["MaxDepth"] == "3"
    assert values["InputData"].startswith(f"s3://{BUCKET}/churn/input/")
    assert not list(tmp_path.iterdir()), "nothing may be written for a run that could not be followed"


def test_a_changed_definition_updates_the_pipeline(aws, tmp_path):
    for expiry in ("P30D", "P1D"):
        with pytest.raises(RunError):
            run_cloud(_backend(cache_expiry=expiry), {}, tmp_path, poll_seconds=0.05)
    definition = json.loads(aws["sm"].describe_pipeline(PipelineName="churn")["PipelineDefinition"])
    assert {s["CacheConfig"]["ExpireAfter"] for s in definition["Steps"] if "CacheConfig" in s} == {"P1D"}
    assert len(aws["sm"].list_pipeline_executions(PipelineName="churn")["PipelineExecutionSummaries"]) == 2


def test_missing_bucket_is_a_clear_error(aws, tmp_path):
    with pytest.raises(RunError, match="S3 bucket 'no-such-bucket' does not exist or this account cannot use it"):
        run_cloud(_backend(bucket="no-such-bucket"), {}, tmp_path)


def test_bad_role_is_a_clear_error(aws, tmp_path):
    with pytest.raises(RunError, match="is not an IAM role ARN"):
        run_cloud(_backend(role_arn="churn-role"), {}, tmp_path)
    assert "churn" not in [p["PipelineName"] for p in aws["sm"].list_pipelines()["PipelineSummaries"]]


def test_missing_settings_are_named(aws, tmp_path):
    with pytest.raises(RunError, match=r"needs these settings: role ARN \(--role-arn or CHURN_ROLE_ARN\); bucket"):
        run_cloud(cloud_backend(region=REGION), {}, tmp_path)


# --- an execution that really progresses -------------------------------------------------


class Simulator:
    """Plays SageMaker's part for one execution: status over time, step outputs on S3, and
    SageMaker's strictness: before a step "runs", the request the pipeline service would make
    for it is validated against the service model with patterns, enums and lengths
    (tests/aws_contract.py), and a request SageMaker would refuse fails the step.

    ``cached``: step name -> id of the execution whose outputs a cache hit reuses (they stay
    under that execution's prefix, as on SageMaker). ``outcome``: "Succeeded", "Failed" (a
    training job's own error) or "PreprocessFailed" (a processing job whose container wrote
    /opt/ml/output/message: SageMaker's step reason is generic, DescribeProcessingJob has it)."""

    EXIT_MESSAGE = "PreprocessData: column 'Day Calls' must be numeric; bad values at row 5: 'many'"

    def __init__(self, s3, results: dict[str, bytes], outcome: str = "Succeeded", polls_until_done: int = 2,
                 cached: dict[str, str] | None = None, property_files: dict | None = None):
        self.s3, self.results, self.outcome, self.polls_until_done = s3, results, outcome, polls_until_done
        self.cached = cached or {}
        self.property_files = property_files
        self.polls = 0
        self.requests: list[tuple[str, str, dict]] = []
        #: The tuning jobs made on the emulator (lower-case name -> request).
        self.tuning_jobs: dict[str, dict] = {}

    def _invalid_step(self, execution, execution_id: str) -> tuple[str, str] | None:
        from tests.aws_contract import pipeline_requests, violations

        if self.property_files is None:
            return None
        definition = json.loads(execution.pipeline_definition_for_execution)
        kinds = {p["Name"]: p["Type"] for p in definition["Parameters"]}
        cast = {"Integer": int, "Float": float, "String": str, "Boolean": str}
        given = {p["Name"]: cast[kinds[p["Name"]]](p["Value"]) for p in execution.pipeline_parameters or []}
        self.requests = pipeline_requests(definition, given, execution_id, self.property_files, ROLE, cached=self.cached)
        for step, operation, request in self.requests:
            problems = violations(operation, request)
            if problems:
                return step, f"ValidationException: {problems[0]}"
        return None

    def steps(self, execution, arn: str) -> list[dict]:
        self.polls += 1
        execution_id = arn.rsplit("/", 1)[-1]
        now = datetime.now(timezone.utc).timestamp()
        if self.polls < self.polls_until_done:
            execution.pipeline_execution_status = "Executing"
            return [{"StepName": "PreprocessData", "StepStatus": "Executing", "StartTime": now}]
        job = f"pipelines-{execution_id}-TrainModel-abc123"
        processing_arn = f"arn:aws:sagemaker:{REGION}:123456789012:processing-job/pipelines-{execution_id}-preprocessdata-x1"

        def done(name, **extra):
            step = {"StepName": name, "StepStatus": "Succeeded", "StartTime": now - 5, "EndTime": now, **extra}
            if name in self.cached:
                step["CacheHitResult"] = {"SourcePipelineExecutionArn": arn.rsplit("/", 1)[0] + "/" + self.cached[name]}
            return step

        steps = [
            done("PreprocessData", Metadata={"ProcessingJob": {"Arn": processing_arn}}),
            done("TrainModel", Metadata={"TrainingJob": {"Arn": f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{job}"}}),
        ]
        tuning = {"TuneModel": f"arn:aws:sagemaker:{REGION}:123456789012:hyper-parameter-tuning-job/{execution_id[:12]}-tunemodel-abc123"}
        if self.outcome == "PreprocessFailed":
            execution.pipeline_execution_status = "Failed"
            return [{**steps[0], "StepStatus": "Failed", "FailureReason": "AlgorithmError: See job logs for more information"}]
        if self.outcome == "Failed":
            steps[1] = {**steps[1], "StepStatus": "Failed", "FailureReason": "AlgorithmError: hyperparameter num_round must be an integer"}
            execution.pipeline_execution_status = "Failed"
            return list(reversed(steps))
        invalid = self._invalid_step(execution, execution_id)
        self.tuning = any(s["Type"] == "Tuning" for s in json.loads(execution.pipeline_definition_for_execution)["Steps"])
        for step, operation, request in self.requests:  # the tuning job is made on the emulator, as SageMaker would
            if operation == "CreateHyperParameterTuningJob" and not invalid:
                if request["HyperParameterTuningJobName"].lower() not in self.tuning_jobs:  # (steps are listed at every poll)
                    boto3.client("sagemaker", region_name=REGION).create_hyper_parameter_tuning_job(**request)
                    self.tuning_jobs[request["HyperParameterTuningJobName"].lower()] = request
                tuning[step] = f"arn:aws:sagemaker:{REGION}:123456789012:hyper-parameter-tuning-job/{request['HyperParameterTuningJobName'].lower()}"
        for relative, body in self.results.items():
            source = self.cached.get(relative.split("/", 1)[0], execution_id)
            key = f"churn/runs/{source}/{relative.replace('{job}', job)}"
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        steps += [
            *(done(name, Metadata={"TuningJob": {"Arn": arn}}) for name, arn in tuning.items() if self.tuning),
            *(done("EvaluateTuned") for _ in range(self.tuning)),
            done("EvaluateModel"),
            done("TrainBaseline"),
            done("EvaluateBaseline"),
            done("SelectModel"),
            done("CheckAccuracy", Metadata={"Condition": {"Outcome": "True"}}),
            done("CreateModel-CreateModel", Metadata={"Model": {"Arn": "arn:aws:sagemaker:us-east-1:123456789012:model/m"}}),
            done("RegisterModel-RegisterModel", Metadata={"RegisterModel": {"Arn": f"arn:aws:sagemaker:{REGION}:123456789012:model-package/churn/3"}}),
        ]
        if invalid:
            names = [s["StepName"] for s in steps]
            index = names.index(invalid[0])
            steps = steps[:index] + [{**steps[index], "StepStatus": "Failed", "FailureReason": invalid[1]}]
            execution.pipeline_execution_status = "Failed"
            return list(reversed(steps))
        execution.pipeline_execution_status = "Succeeded"
        return list(reversed(steps))  # newest first, as SageMaker lists them


@pytest.fixture(scope="module")
def step_results(sample_splits, candidate_outputs):
    """What the steps of a real execution leave on S3, made in-process from the sample."""
    results = {
        f"PreprocessData/{name}/{name}.csv": (sample_splits / name / f"{name}.csv").read_bytes()
        for name in ("train", "validation", "test")
    }
    # The manifest of a cloud execution: its sizing is TrainingInstanceType auto's.
    manifest = execution_property_files(candidate_outputs)["Steps.PreprocessData.PropertyFiles.Manifest"]
    results["PreprocessData/manifest/manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    for step, candidate in (("Model", "xgboost"), ("Baseline", "logistic-regression")):
        results[f"Evaluate{step}/evaluation/evaluation.json"] = (candidate_outputs / candidate / "evaluation/evaluation.json").read_bytes()
        results[f"Train{step}/{{job}}/output/model.tar.gz"] = (candidate_outputs / candidate / "model/model.tar.gz").read_bytes()
    for output in ("selection/selection.json", "evaluation/evaluation.json", "model/model.tar.gz"):
        results[f"SelectModel/{output}"] = (candidate_outputs / "selected" / output).read_bytes()
    return results


@pytest.fixture()
def property_files(candidate_outputs) -> dict:
    """What Steps.*.PropertyFiles.* read in a real execution: the steps' outputs."""
    return execution_property_files(candidate_outputs)


@pytest.fixture()
def simulate(aws, monkeypatch, step_results, property_files):
    from moto.sagemaker import models, responses
    from moto.sagemaker.models import sagemaker_backends

    def install(**options) -> Simulator:
        simulator = Simulator(aws["s3"], step_results, **{"property_files": property_files, **options})
        describe_processing_job = models.SageMakerModelBackend.describe_processing_job

        def describe_failed_processing_job(self, name):
            """What DescribeProcessingJob says of a job whose container wrote /opt/ml/output/message."""
            if simulator.outcome == "PreprocessFailed" and "preprocessdata" in name:
                return {"ProcessingJobName": name, "ProcessingJobStatus": "Failed", "ExitMessage": Simulator.EXIT_MESSAGE,
                        "FailureReason": "AlgorithmError: See job logs for more information"}
            return describe_processing_job(self, name)

        monkeypatch.setattr(models.SageMakerModelBackend, "describe_processing_job", describe_failed_processing_job)

        def list_pipeline_execution_steps(self):
            arn = self._get_param("PipelineExecutionArn")
            backend = sagemaker_backends["123456789012"][REGION]
            execution = backend.pipelines["churn"].pipeline_executions[arn]
            return json.dumps({"PipelineExecutionSteps": simulator.steps(execution, arn)})

        monkeypatch.setattr(responses.SageMakerResponse, "list_pipeline_execution_steps", list_pipeline_execution_steps, raising=False)

        def list_training_jobs_for_hyper_parameter_tuning_job(self):
            """What moto lacks: the tuning job's training jobs (its best, as tests/aws_contract says)."""
            from tests.aws_contract import best_training_job

            request = simulator.tuning_jobs[self._get_param("HyperParameterTuningJobName").lower()]
            best = best_training_job(request)
            summary = {**best, "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:training-job/{best['TrainingJobName'].lower()}",
                       "CreationTime": 1795867200.0, "TrainingStartTime": 1795867230.0, "TrainingEndTime": 1795867272.5}
            return json.dumps({"TrainingJobSummaries": [summary]})

        monkeypatch.setattr(
            responses.SageMakerResponse, "list_training_jobs_for_hyper_parameter_tuning_job",
            list_training_jobs_for_hyper_parameter_tuning_job, raising=False,
        )
        start = models.SageMakerModelBackend.start_pipeline_execution

        def start_executing(self, *args, **kwargs):
            """A new execution is Executing until its steps are done (moto says Succeeded at once)."""
            response = start(self, *args, **kwargs)
            for pipeline in self.pipelines.values():
                execution = pipeline.pipeline_executions.get(response["PipelineExecutionArn"])
                if execution:
                    execution.pipeline_execution_status = "Executing"
            return response

        monkeypatch.setattr(models.SageMakerModelBackend, "start_pipeline_execution", start_executing)
        return simulator

    return install


def test_polling_and_download_of_results(aws, simulate, tmp_path, step_results):
    simulator = simulate(polls_until_done=3)
    lines = []
    result = run_cloud(_backend(), {"NumRound": 10}, tmp_path, events=Events(LineProgress(lines.append, verbose=True)), poll_seconds=0.01)
    assert simulator.polls == 4  # the status is read before the steps: one more poll sees Succeeded
    assert result.status == "Succeeded"
    # The same progress lines as a local run's: each step's start, then its end with its seconds.
    assert "  PreprocessData   started" in lines and "  PreprocessData   Succeeded    5.0 s" in lines
    assert lines.index("  PreprocessData   started") < lines.index("  PreprocessData   Succeeded    5.0 s")
    assert lines.index("  TrainModel       Succeeded    5.0 s") < lines.index("  RegisterModel    Succeeded    5.0 s")
    run_dir = tmp_path / result.execution_id
    for relative in ARTIFACTS.values():
        assert (run_dir / relative).read_bytes() == step_results[relative], relative
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["backend"] == "cloud" and summary["parameters"]["NumRound"] == 10
    assert summary["parameters"]["InputData"] == SAMPLE_CSV.resolve().as_uri()
    assert summary["registered_model"] == {"group": "churn", "version": 3, "arn": f"arn:aws:sagemaker:{REGION}:123456789012:model-package/churn/3"}
    assert [s["status"] for s in summary["steps"]] == ["Succeeded"] * 11 + ["NotStarted"]
    assert summary["metrics"]["accuracy"] > 0.9
    # The training jobs' instance type, from the downloaded manifest (auto: the training rows' tier).
    assert summary["sizing"] == {"training_rows": 2310, "requested": "auto", "would_choose": "ml.m5.large", "chosen": "ml.m5.large"}
    assert summary["selection"]["winner"] == "xgboost" and set(summary["selection"]["candidates"]) == {"xgboost", "logistic-regression"}
    # The tuning job's trials, from SageMaker's record (DescribeHyperParameterTuningJob and its training jobs).
    tuning = summary["tuning"]
    (request,) = simulator.tuning_jobs.values()
    assert tuning == json.loads((run_dir / "TuneModel" / "trials.json").read_text())
    assert tuning["tuning_job"] == request["HyperParameterTuningJobName"] and tuning["strategy"] == "Bayesian"
    assert (tuning["max_jobs"], tuning["max_parallel"]) == (6, 2)
    [trial] = tuning["trials"]
    assert trial["job"].startswith(request["HyperParameterTuningJobName"]) and trial["seconds"] == 42.5 and trial["objective"] == 0.9
    assert not [line for line in lines if "not recorded" in line]


def test_a_failed_execution_names_the_failing_step(aws, simulate, tmp_path):
    simulate(outcome="Failed")
    result = run_cloud(_backend(), {}, tmp_path, poll_seconds=0.01)
    assert result.status == "Failed"
    assert failed_step(result.record) == "TrainModel"
    train = next(s for s in result.summary["steps"] if s["name"] == "TrainModel")
    assert "num_round" in train["failure_reason"]


def test_success_without_results_is_an_error(aws, simulate, tmp_path):
    simulate().results = {}
    with pytest.raises(RunError, match="reports Succeeded but these results are missing.*train, validation, test, manifest, model, evaluation, selection"):
        run_cloud(_backend(), {}, tmp_path, poll_seconds=0.01)


def test_following_gives_up_after_the_timeout(aws, simulate, tmp_path):
    simulate(polls_until_done=10**6)
    with pytest.raises(RunError, match="still Executing after 0 s; it goes on running on SageMaker"):
        run_cloud(_backend(), {}, tmp_path, poll_seconds=0.01, timeout_seconds=0.2)


def _churn(aws, *args):
    env = {**os.environ, "HOME": "/nonexistent"}
    return subprocess.run([sys.executable, "-m", "churn.cli", *args], capture_output=True, text=True, env=env, timeout=300)


def test_cli_run_against_the_emulator_never_reports_success(aws, tmp_path):
    done = _churn(
        aws, "run", "--backend", "cloud", "--region", REGION, "--role-arn", ROLE, "--bucket", BUCKET,
        "--runs-dir", str(tmp_path), "--poll-seconds", "0.1", "--param", "NumRound=5",
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "note: staged:" in done.stdout and "note: execution" in done.stdout
    assert "error: cannot list the steps of execution" in done.stderr
    assert "Succeeded" not in done.stdout


def test_cli_rejects_an_unknown_parameter_before_any_request(aws, tmp_path):
    done = _churn(aws, "run", "--backend", "cloud", "--region", REGION, "--role-arn", ROLE, "--bucket", BUCKET, "--param", "Bogus=1")
    assert done.returncode == 2 and "unknown parameter 'Bogus'" in done.stderr
    assert aws["sm"].list_pipelines()["PipelineSummaries"] == []


def test_no_credential_reaches_outputs_definition_or_tags(aws, simulate, tmp_path, monkeypatch):
    secret, token = "churnSecretAccessKey0123456789abcdef", "churnSessionToken0123456789"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    simulate()
    lines: list[str] = []
    result = run_cloud(_backend(), {}, tmp_path, events=Events(LineProgress(lines.append, verbose=True)), poll_seconds=0.01)
    assert result.status == "Succeeded"
    pipeline = aws["sm"].describe_pipeline(PipelineName="churn")
    tags = aws["sm"].list_tags(ResourceArn=pipeline["PipelineArn"])["Tags"]
    texts = ["\n".join(lines), json.dumps(pipeline, default=str), json.dumps(tags)]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in result.run_dir.rglob("*") if p.is_file() and p.suffix in (".json", ".html", ".csv")]
    assert not [t for t in texts if secret in t or token in t]


# --- pipeline versions ---------------------------------------------------------------------


@pytest.fixture()
def pipeline_versions(aws, monkeypatch):
    """Teaches the emulator SageMaker's pipeline versions (moto has none): every CreatePipeline
    and UpdatePipeline makes version N+1 with that definition; ListPipelineVersions pages
    through them (two per page, to exercise NextToken); DescribePipeline and
    StartPipelineExecution take a PipelineVersionId. Returns the versions and the started ids."""
    from moto.sagemaker import responses
    from moto.sagemaker.exceptions import ValidationError

    state = {"versions": [], "started": []}

    def recording(original):
        def call(self):
            result = original(self)
            state["versions"].append({
                "PipelineVersionId": len(state["versions"]) + 1,
                "definition": self._get_param("PipelineDefinition"),
                "description": self._get_param("PipelineDescription"),
                "CreationTime": datetime.now(timezone.utc).timestamp(),
            })
            return result
        return call

    for name in ("create_pipeline", "update_pipeline"):
        monkeypatch.setattr(responses.SageMakerResponse, name, recording(getattr(responses.SageMakerResponse, name)))

    def list_pipeline_versions(self):
        rows = [{"PipelineVersionId": v["PipelineVersionId"], "CreationTime": v["CreationTime"]} for v in state["versions"]]
        if (self._get_param("SortOrder") or "Descending") == "Descending":
            rows.reverse()
        start = int(self._get_param("NextToken") or 0)
        page = {"PipelineVersionSummaries": rows[start:start + 2]}
        if start + 2 < len(rows):
            page["NextToken"] = str(start + 2)
        return json.dumps(page)

    describe = responses.SageMakerResponse.describe_pipeline

    def describe_pipeline(self):
        wanted = self._get_param("PipelineVersionId")
        if wanted is None:
            return describe(self)
        version = next((v for v in state["versions"] if v["PipelineVersionId"] == int(wanted)), None)
        if version is None:
            raise ValidationError(message=f"Pipeline version {wanted} does not exist")
        return json.dumps({"PipelineName": self._get_param("PipelineName"), "PipelineDefinition": version["definition"],
                           "PipelineDescription": version["description"]})

    start = responses.SageMakerResponse.start_pipeline_execution

    def start_pipeline_execution(self):
        state["started"].append(self._get_param("PipelineVersionId"))
        return start(self)

    monkeypatch.setattr(responses.SageMakerResponse, "list_pipeline_versions", list_pipeline_versions, raising=False)
    monkeypatch.setattr(responses.SageMakerResponse, "describe_pipeline", describe_pipeline)
    monkeypatch.setattr(responses.SageMakerResponse, "start_pipeline_execution", start_pipeline_execution)
    return state


def _three_upserts(simulate, tmp_path):
    """Runs with cache expiry P30D, P30D, P1D: three pipeline versions, two definitions."""
    simulate()
    return [run_cloud(_backend(cache_expiry=e), {}, tmp_path, poll_seconds=0.01) for e in ("P30D", "P30D", "P1D")]


def test_cloud_versions_are_sagemakers_pipeline_versions_grouped_by_definition(aws, pipeline_versions, simulate, tmp_path):
    from churn.versions import list_cloud_versions

    runs = _three_upserts(simulate, tmp_path)
    found = list_cloud_versions(aws["sm"], "churn")
    assert [v.pipeline_version_ids for v in found] == [[1, 2], [3]]
    assert [v.definition_sha256 for v in found] == [runs[0].summary["definition_sha256"], runs[2].summary["definition_sha256"]]
    assert runs[0].summary["definition_sha256"] == runs[1].summary["definition_sha256"]
    assert all(v.code_hash == bundle_hash() and v.churn_version == __import__("churn").__version__ for v in found)
    assert found[0].first_run <= found[0].last_run <= found[1].first_run


def test_cli_lists_cloud_versions(aws, pipeline_versions, simulate, tmp_path):
    runs = _three_upserts(simulate, tmp_path)
    done = _churn(aws, "versions", "--backend", "cloud", "--region", REGION, "--role-arn", ROLE, "--bucket", BUCKET)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:5] == ["version", "step", "code", "churn", "upserts"]
    assert lines[1].startswith(runs[0].summary["definition_sha256"][:12]) and lines[1].endswith("(SageMaker versions 1, 2)")
    assert lines[2].startswith(runs[2].summary["definition_sha256"][:12]) and lines[2].endswith("(SageMaker versions 3)")


def test_running_a_recorded_cloud_version_starts_it_without_upserting(aws, pipeline_versions, simulate, tmp_path):
    runs = _three_upserts(simulate, tmp_path)
    first = runs[0].summary["definition_sha256"]
    again = run_cloud(_backend(), {"NumRound": 7}, tmp_path, poll_seconds=0.01, version=first[:10])
    assert again.status == "Succeeded"
    assert len(pipeline_versions["versions"]) == 3, "running a recorded version must not upsert"
    assert pipeline_versions["started"] == [None, None, None, 2]  # the newest SageMaker version of that definition
    assert again.summary["definition_sha256"] == first
    assert json.loads((again.run_dir / "definition.json").read_text()) == json.loads(pipeline_versions["versions"][1]["definition"])
    assert again.summary["parameters"]["NumRound"] == 7


def test_a_tuning_parameter_for_a_cloud_version_without_tuning_is_refused(aws, pipeline_versions, simulate, tmp_path):
    simulate()
    backend = _backend()
    backend.tuning = False
    plain = run_cloud(backend, {}, tmp_path, poll_seconds=0.01)
    digest = plain.summary["definition_sha256"][:12]
    with pytest.raises(RunError, match=rf"^TuningSeed is a parameter of the tuning branch, which --no-tuning leaves out \(version {digest} was compiled without it\)$"):
        run_cloud(_backend(), {"TuningSeed": 3}, tmp_path, poll_seconds=0.01, version=digest)
    assert pipeline_versions["started"] == [None]


def test_auto_for_a_cloud_version_that_does_not_size_its_training_is_refused(aws, pipeline_versions, simulate, tmp_path):
    """A version from before the training instance type followed the input would hand SageMaker
    the word "auto" as an instance type."""
    from churn.versions import list_cloud_versions

    simulate()
    run_cloud(_backend(), {}, tmp_path, poll_seconds=0.01)
    old = json.loads(pipeline_versions["versions"][0]["definition"])
    for step in old["Steps"]:
        if step["Name"] == "PreprocessData":
            del step["PropertyFiles"]
    pipeline_versions["versions"][0]["definition"] = json.dumps(old)
    [version] = list_cloud_versions(aws["sm"], "churn")
    with pytest.raises(RunError, match=rf"^TrainingInstanceType=auto needs a pipeline version .*; version {version.name} passes"):
        run_cloud(_backend(), {"TrainingInstanceType": "auto"}, tmp_path, poll_seconds=0.01, version=version.name)
    assert pipeline_versions["started"] == [None]
    again = run_cloud(_backend(), {"TrainingInstanceType": "ml.m5.xlarge"}, tmp_path, poll_seconds=0.01, version=version.name)
    assert pipeline_versions["started"] == [None, 1] and again.status == "Succeeded"


def test_an_unknown_or_unrunnable_cloud_version_is_named(aws, pipeline_versions, simulate, tmp_path):
    runs = _three_upserts(simulate, tmp_path)
    with pytest.raises(RunError, match="no version 'ffffff' of pipeline 'churn' on SageMaker; `churn versions` lists them"):
        run_cloud(_backend(), {}, tmp_path, poll_seconds=0.01, version="ffffff")
    aws["s3"].delete_object(Bucket=BUCKET, Key=f"churn/code/{bundle_hash()}/.complete")
    with pytest.raises(RunError, match=f"the step code of version {runs[0].summary['definition_sha256'][:12]} .* is no longer staged"):
        run_cloud(_backend(), {}, tmp_path, poll_seconds=0.01, version=runs[0].summary["definition_sha256"][:12])
    assert pipeline_versions["started"] == [None, None, None]


# --- SageMaker as it really behaves: cache hits, processing messages, strict validation -----


def test_a_second_identical_run_downloads_the_cached_steps_outputs(aws, simulate, tmp_path, step_results):
    """SageMaker's cache key leaves out output locations: a cached step's outputs stay under the
    execution that ran it (CacheHitResult.SourcePipelineExecutionArn)."""
    simulator = simulate()
    first = run_cloud(_backend(), {}, tmp_path, poll_seconds=0.01)
    assert first.status == "Succeeded"
    every_step = ("PreprocessData", "TrainModel", "EvaluateModel", "TrainBaseline", "EvaluateBaseline", "SelectModel")
    simulator.polls, simulator.cached = 0, {step: first.execution_id for step in every_step}
    second = run_cloud(_backend(), {}, tmp_path, poll_seconds=0.01)
    assert second.status == "Succeeded" and second.execution_id != first.execution_id
    for key in aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix="churn/runs/")["Contents"]:
        assert key["Key"].startswith(f"churn/runs/{first.execution_id}/")  # nothing under the second's prefix
    for relative in ARTIFACTS.values():
        assert (second.run_dir / relative).read_bytes() == step_results[relative], relative
    assert all(s["cache_hit"] for s in second.summary["steps"] if s["name"] in every_step)


def test_a_partial_cache_hit_reads_each_step_from_where_it_ran(aws, simulate, tmp_path, step_results):
    simulator = simulate()
    first = run_cloud(_backend(), {}, tmp_path, poll_seconds=0.01)
    simulator.polls, simulator.cached = 0, {"PreprocessData": first.execution_id}  # NumRound changed: training ran again
    second = run_cloud(_backend(), {"NumRound": 50}, tmp_path, poll_seconds=0.01)
    assert second.status == "Succeeded"
    assert (second.run_dir / ARTIFACTS["train"]).read_bytes() == step_results[ARTIFACTS["train"]]
    assert (second.run_dir / ARTIFACTS["model"]).read_bytes() == step_results[ARTIFACTS["model"]]
    steps = {s["name"]: s["cache_hit"] for s in second.summary["steps"] if "cache_hit" in s}
    assert steps["PreprocessData"] is True and steps["TrainModel"] is False


def test_a_failing_processing_step_shows_its_containers_message(aws, simulate, tmp_path):
    simulate(outcome="PreprocessFailed")
    result = run_cloud(_backend(), {}, tmp_path, poll_seconds=0.01)
    assert result.status == "Failed"
    step = next(s for s in result.summary["steps"] if s["name"] == "PreprocessData")
    assert step["failure_reason"] == Simulator.EXIT_MESSAGE
    assert result.summary["failure_reason"] == f"Step 'PreprocessData' failed with message: {Simulator.EXIT_MESSAGE}"


def test_a_request_sagemaker_would_refuse_fails_its_step(aws, simulate, tmp_path, property_files):
    """The emulator refuses what SageMaker refuses: the summary format of churn <= 0.1 as
    customer metadata failed RegisterModel at the very end of every successful run."""
    property_files["Steps.SelectModel.PropertyFiles.Selection"]["summary"] = "xgboost auc=0.9212 (winner); logistic-regression auc=0.8233"
    simulate(property_files=property_files)
    result = run_cloud(_backend(), {}, tmp_path, poll_seconds=0.01)
    assert result.status == "Failed"
    register = next(s for s in result.summary["steps"] if s["name"] == "RegisterModel-RegisterModel")
    assert register["failure_reason"].startswith("ValidationException: CreateModelPackage.CustomerMetadataProperties['Candidates']")


def test_every_request_of_a_run_was_validated(aws, simulate, tmp_path):
    simulator = simulate()
    assert run_cloud(_backend(), {"NumRound": 12}, tmp_path, poll_seconds=0.01).status == "Succeeded"
    operations = [operation for _, operation, _ in simulator.requests]
    assert operations.count("CreateProcessingJob") == 5 and operations.count("CreateTrainingJob") == 2
    assert operations.count("CreateHyperParameterTuningJob") == 1
    assert operations[-2:] == ["CreateModel", "CreateModelPackage"]
    [train] = [r for s, _, r in simulator.requests if s == "TrainModel"]
    assert train["HyperParameters"]["num_round"] == "12"


def test_the_model_package_group_is_created_once(aws, simulate, tmp_path):
    simulate()
    lines: list[str] = []
    run_cloud(_backend(), {}, tmp_path, events=Events(LineProgress(lines.append, verbose=True)), poll_seconds=0.01)
    assert "note: created model package group churn" in lines
    assert aws["sm"].describe_model_package_group(ModelPackageGroupName="churn")["ModelPackageGroupName"] == "churn"
    lines.clear()
    run_cloud(_backend(), {}, tmp_path, events=Events(LineProgress(lines.append, verbose=True)), poll_seconds=0.01)
    assert not [line for line in lines if "created model package group" in line]


def test_a_bucket_in_another_region_is_a_clear_error(aws, tmp_path):
    aws["s3"].create_bucket(Bucket="churn-frankfurt", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    with pytest.raises(RunError, match="S3 bucket 'churn-frankfurt' is in eu-central-1 but the pipeline runs in us-east-1"):
        run_cloud(_backend(bucket="churn-frankfurt"), {}, tmp_path)
    assert aws["sm"].list_pipelines()["PipelineSummaries"] == []


def test_an_empty_prefix_stages_keys_without_an_empty_segment(aws, tmp_path):
    backend = _backend(prefix="/")
    keys = stage_code(aws["s3"], backend)
    _, input_keys, _ = stage_input(aws["s3"], backend, "file://" + str(SAMPLE_CSV.resolve()))
    assert all(not key.startswith("/") and "//" not in key for key in keys + input_keys)
    assert keys[0].startswith(f"code/{bundle_hash()}/") and input_keys[0].startswith("input/")


def test_a_scaled_out_run_downloads_every_instances_split_files_and_the_whole_inputs_manifest(aws, simulate, tmp_path, step_results, candidate_outputs):
    """ProcessingInstanceCount=2: PreprocessData's two instances left train-algo-1.csv and
    train-algo-2.csv (and so on) and a manifest part each beside the common manifest.json; the
    run downloads them all and records the whole input's manifest (its sizing, in summary.json)."""
    from churn import split
    from tests.steps.test_preprocess_sharded import HOSTS, _run, _shards

    folders, out = _shards(tmp_path / "shards"), tmp_path / "shards" / "out"
    for host in HOSTS:
        _run(tmp_path / "shards", host, HOSTS, folders[host], out)
    results = {key: body for key, body in step_results.items() if not key.startswith("PreprocessData/")}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        results[f"PreprocessData/{path.relative_to(out).as_posix()}"] = path.read_bytes()
    manifest = json.loads((out / "manifest" / "manifest.json").read_text())
    property_files = {**execution_property_files(candidate_outputs, "ml.m5.xlarge"), "Steps.PreprocessData.PropertyFiles.Manifest": manifest}
    simulator = simulate(property_files=property_files)
    simulator.results = results
    overrides = {"ProcessingInstanceCount": 2, "TrainingInstanceCount": 2, "TrainingInstanceType": "ml.m5.xlarge"}
    result = run_cloud(_backend(), overrides, tmp_path / "runs", poll_seconds=0.01)
    assert result.status == "Succeeded", result.summary.get("failure_reason")
    requests = {step: request for step, _, request in simulator.requests}
    assert requests["PreprocessData"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    assert requests["TrainModel"]["ResourceConfig"]["InstanceCount"] == 2
    step_dir = tmp_path / "runs" / result.execution_id / "PreprocessData"
    for name in split.SPLITS:
        assert sorted(p.name for p in (step_dir / name).iterdir()) == [f"{name}-algo-1.csv", f"{name}-algo-2.csv"]
    recorded = json.loads((step_dir / "manifest" / "manifest.json").read_text())
    assert recorded["rows"] == {"train": 2310, "validation": 524, "test": 499} and recorded["instances"]["hosts"] == HOSTS
    summary = json.loads((tmp_path / "runs" / result.execution_id / "summary.json").read_text())
    assert summary["sizing"] == {"training_rows": 2310, "requested": "ml.m5.xlarge", "would_choose": "ml.m5.large", "chosen": "ml.m5.xlarge"}
    assert summary["parameters"]["ProcessingInstanceCount"] == 2 and summary["parameters"]["TrainingInstanceCount"] == 2


def test_a_sharded_run_that_auto_would_size_is_refused_before_anything_is_staged(aws, tmp_path):
    from churn.parameters import ParameterError

    with pytest.raises(ParameterError, match="^ProcessingInstanceCount=2 shards preprocessing"):
        run_cloud(_backend(), {"ProcessingInstanceCount": 2}, tmp_path, poll_seconds=0.01)
    assert aws["s3"].list_objects_v2(Bucket=_backend().bucket).get("KeyCount", 0) == 0
