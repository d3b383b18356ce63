"""The training instance type from the input's size: pure, shipped in the code bundle.

PreprocessData counts the rows it writes to the train split and records, in its manifest, the
instance type the training steps use (``sizing.chosen``): the ``TrainingInstanceType``
parameter as given, or, when it is ``auto`` (the cloud default), the smallest tier of
:data:`TIERS` that holds that many training rows. TrainModel, TrainBaseline and TuneModel read
``sizing.chosen`` with ``JsonGet``, so the graph stays one graph and SageMaker sizes the
training jobs of each execution from its own input. The local backend runs every job on this
machine (``local``) and records what ``auto`` would have chosen.

The tiers come from measured peaks: training on 5.5 M rows of 73 features (the 1 GB input's
train split) peaked at 4.7 GB (the baseline's float64 copies), about 0.85 kB a row; each tier
keeps that under half of the instance's memory.
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple, Union

#: The value of ``TrainingInstanceType`` that asks for the type to follow the training rows.
AUTO = "auto"
#: (most training rows, instance type), smallest first; more rows than the last: :data:`LARGEST`.
TIERS: Tuple[Tuple[int, str], ...] = ((2_000_000, "ml.m5.large"), (12_000_000, "ml.m5.2xlarge"))
LARGEST = "ml.m5.4xlarge"
#: Local mode's instance types (every job runs on this machine).
LOCAL_TYPES = ("local", "local_gpu")
_SAGEMAKER_TYPE = re.compile(r"ml\.[a-z0-9]+\.[a-z0-9]+")


def instance_for(training_rows: int) -> str:
    """The smallest tier that holds ``training_rows``."""
    return next((kind for most, kind in TIERS if training_rows <= most), LARGEST)


def instance_type_problem(value: str) -> Optional[str]:
    """What is wrong with a ``TrainingInstanceType`` value (None: nothing)."""
    if value == AUTO or value in LOCAL_TYPES or _SAGEMAKER_TYPE.fullmatch(value):
        return None
    return f"must be {AUTO}, {' or '.join(LOCAL_TYPES)}, or a SageMaker instance type such as ml.m5.xlarge"


def sizing(training_rows: int, requested: str) -> Dict[str, Union[int, str]]:
    """The manifest's ``sizing`` object: the training rows, the type asked for, the tier
    ``auto`` gives for those rows and the type the training steps use."""
    problem = instance_type_problem(requested)
    if problem:
        raise ValueError(f"training instance type {requested!r} {problem}")
    would_choose = instance_for(training_rows)
    return {
        "training_rows": training_rows,
        "requested": requested,
        "would_choose": would_choose,
        "chosen": would_choose if requested == AUTO else requested,
    }


def describe(record: dict, local: bool = False) -> Optional[str]:
    """A run's sizing in words (the printout and the report), e.g. ``ml.m5.large (auto, for
    2,345 training rows)`` or ``local (on SageMaker, auto would choose ml.m5.large for 2,345
    training rows)``; ``local``: the run was local, where every job runs on this machine.
    None for a damaged record (no type chosen or asked for, as text): it loses its line."""
    rows = record.get("training_rows")
    for_rows = f"{rows:,} training rows" if isinstance(rows, int) and not isinstance(rows, bool) else "the training rows"
    chosen, requested, would = record.get("chosen"), record.get("requested"), record.get("would_choose")
    if not isinstance(chosen, str) or not isinstance(requested, str):
        return None
    if requested == AUTO:
        text = f"{chosen} ({AUTO}, for {for_rows})"
    elif not isinstance(would, str):  # sharded preprocessing counts no whole train split: no tier
        text = f"{chosen} (as asked)"
    else:
        text = f"{chosen} ({'on SageMaker, ' if requested in LOCAL_TYPES else 'as asked; '}{AUTO} would choose {would} for {for_rows})"
    return text + ("; run on this machine" if local and chosen not in LOCAL_TYPES else "")
