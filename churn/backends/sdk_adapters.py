"""How churn quiets the SageMaker Python SDK and stops its telemetry (both backends).

(Local mode's executor is adapted in :mod:`churn.runner.local_executor`, the only module that
imports ``sagemaker.local``.)

Pinned to sagemaker 2.257.x (see constraints.txt); each adaptation names what it changes and
why, and is checked by the test suite so an SDK upgrade that breaks it fails loudly.
"""

from __future__ import annotations

import logging
import os
import warnings

# Importing this module quiets the SDK, so it must come before the first import of the SDK.
# Its v2 deprecation notice, "Popping out 'ProcessingJobName'..." on every compile and
# "Not applying SDK defaults" (printed to stdout, where `churn definition` writes JSON) are
# not for churn's users; the SDK's warnings and errors still show.
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
warnings.filterwarnings("ignore", module=r"sagemaker(\.|$)")
logging.getLogger("sagemaker").setLevel(logging.ERROR)
logging.getLogger("sagemaker.config").setLevel(logging.ERROR)

# Importing the SDK builds a default boto3 session (sagemaker.jumpstart.constants), whose
# credential chain probes the EC2 instance-metadata address when no credentials are
# configured: a network call while merely compiling. Turn that probe off for the import only,
# so a real cloud run on EC2 can still use its instance role later.
_imds_setting = os.environ.get("AWS_EC2_METADATA_DISABLED")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
try:
    import sagemaker
    import sagemaker.workflow.pipeline  # imports the rest of the v2 API
finally:
    if _imds_setting is None:
        del os.environ["AWS_EC2_METADATA_DISABLED"]
    else:
        os.environ["AWS_EC2_METADATA_DISABLED"] = _imds_setting
from sagemaker.telemetry import telemetry_logging  # noqa: E402 - after the quieting above

SUPPORTED_SDK = "2.257."


def check_sdk_version() -> None:
    if not sagemaker.__version__.startswith(SUPPORTED_SDK):
        raise RuntimeError(
            f"churn is tested with sagemaker {SUPPORTED_SDK}x but {sagemaker.__version__} is installed; "
            "install the pinned versions: pip install -c constraints.txt -e ."
        )


def _no_telemetry(*_args, **_kwargs) -> None:
    """Replacement for the SDK's telemetry request (an STS call plus an HTTPS GET to AWS)."""


def unwrap_telemetry(owner, names) -> None:
    """Replace telemetry-decorated methods by the functions they wrap.

    The decorator ends in ``finally: return response``, which swallows KeyboardInterrupt: Ctrl-C
    during ``Pipeline.start`` returned None, and during a local job turned into a confusing
    "Could not find local training job" failure.
    """
    for name in names:
        method = owner.__dict__.get(name)
        if method is not None and telemetry_logging.__file__ == getattr(getattr(method, "__code__", None), "co_filename", None):
            setattr(owner, name, method.__wrapped__)


def disable_telemetry() -> None:
    """Stop the SDK's telemetry calls.

    Every decorated SDK call (``Estimator.fit``, local-mode job creation, ``Pipeline.start``)
    asks STS for the account id and sends a GET to an AWS telemetry bucket. Compiling must make
    no network call at all, and local runs must stay on loopback. The documented opt-out (an
    SDK config with ``TelemetryOptOut``) makes every config lookup validate a JSON schema, which
    doubled ``start()`` time, so the request function itself is replaced.
    """
    telemetry_logging._send_telemetry_request = _no_telemetry  # noqa: SLF001 - pinned SDK internals
    from sagemaker.estimator import EstimatorBase
    from sagemaker.workflow.pipeline import Pipeline

    unwrap_telemetry(Pipeline, ("create", "start"))
    unwrap_telemetry(EstimatorBase, ("fit",))
    # Local mode's job methods: churn.runner.local_executor, the one module importing sagemaker.local.

