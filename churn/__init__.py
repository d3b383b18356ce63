"""churn: a local-first, reproducible customer-churn pipeline on SageMaker Pipelines.

This package root stays import-light: the step entrypoints run inside containers that import
``churn.schema``/``churn.features``/... but not the SageMaker SDK.
"""

__version__ = "0.1.0"
