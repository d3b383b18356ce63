"""Names and places of the project declared once, for every layer (nothing here imports churn).

Some project files live beside the package in a source checkout (the sample data, the
Dockerfiles, the compose file, the lock file). A built wheel carries copies of them inside the
package, under ``_resources/`` (``setup.py`` puts them there), so an installed ``churn`` finds its
default input and builds its images from any directory.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: The project files the images are built from (with the package's algorithm code).
IMAGE_FILES = (
    "constraints.txt",
    "docker-compose.yml",
    "docker/Dockerfile",
    "docker/baseline/train",
    "docker/xgboost/train",
    "docker/xgboost/serve",
)
#: Project files a wheel carries inside the package (their paths relative to the checkout).
SHIPPED_FILES = (*IMAGE_FILES, "docker/build-base-image.sh", "docker/stage.sh", "data/sample/churn.csv", "data/sample/README.md")
#: Where an installed wheel keeps them.
RESOURCES_DIR = PACKAGE_DIR / "_resources"
#: Where this installation keeps them: inside the package when installed from a wheel, else the
#: source checkout the package lies in.
PROJECT_DIR = RESOURCES_DIR if RESOURCES_DIR.is_dir() else PACKAGE_DIR.parent


def project_file(relative: str) -> Path:
    """The installation's copy of a project file (one of :data:`SHIPPED_FILES`)."""
    if relative not in SHIPPED_FILES:
        raise ValueError(f"{relative} is not one of the project files an installation carries")
    return PROJECT_DIR / relative


#: What a run reads when no input is given.
SAMPLE_DATA = project_file("data/sample/churn.csv")

#: In ``runs/<execution-id>/``: what a run started with (written first, so a run killed before
#: its summary is still known and can be resumed) ...
RUN_RECORD = "run.json"
#: ... and the folder's suffix once Ctrl-C stopped the run (``runs/<id>.interrupted``).
INTERRUPTED_SUFFIX = ".interrupted"

#: In ``runs/<execution-id>/<Step>/``: the step's container output (bounded), and the full text of
#: its failure reason when it failed.
STEP_LOG = "logs.txt"
#: In ``runs/<id>/<TuningStep>/``: every trial of the tuning job (hyperparameters, objective, status).
TRIALS_FILE = "trials.json"
#: What the runs of a runs folder share, beside their own folders: the step cache (with the
#: report's memoised plots in ``.cache/plots``), the staged inputs and the step code bundles.
CACHE_DIR, INPUTS_DIR, CODE_DIR = ".cache", ".inputs", ".code"
#: Under the runs folder: what each succeeded local run did, by a digest of what decided it
#: (a re-run with nothing changed replays it without the SDK: ``churn.runner.replay``).
REPLAY_DIR = ".replay"
#: Under the runs folder: one lock file per execution a run resumed (``--resume`` claims it there, for good).
RESUMES_DIR = ".resumes"
PLOTS_DIR = "plots"

#: The steps whose outputs are a run's artifacts (churn.pipeline names them so).
PREPROCESS_STEP = "PreprocessData"
SELECT_STEP = "SelectModel"
#: The tuning branch's hyperparameter tuning job (a TuningStep).
TUNE_STEP = "TuneModel"
#: A run's artifacts: name -> (step, output, file). Each backend copies or writes them to
#: ``runs/<execution-id>/<step>/<output>/<file>``.
ARTIFACT_FILES = {
    "train": (PREPROCESS_STEP, "train", "train.csv"),
    "validation": (PREPROCESS_STEP, "validation", "validation.csv"),
    "test": (PREPROCESS_STEP, "test", "test.csv"),
    "manifest": (PREPROCESS_STEP, "manifest", "manifest.json"),
    # The winning candidate's model and evaluation, and how it won.
    "model": (SELECT_STEP, "model", "model.tar.gz"),
    "evaluation": (SELECT_STEP, "evaluation", "evaluation.json"),
    "selection": (SELECT_STEP, "selection", "selection.json"),
}
#: Where each artifact lives inside ``runs/<execution-id>/``.
ARTIFACTS = {name: f"{step}/{output}/{file}" for name, (step, output, file) in ARTIFACT_FILES.items()}
#: The step that writes each artifact: only a succeeded step's artifacts are listed.
ARTIFACT_STEP = {name: step for name, (step, _, _) in ARTIFACT_FILES.items()}
