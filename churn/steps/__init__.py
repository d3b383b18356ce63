"""Container entrypoints: each maps ``/opt/ml/...`` paths and arguments onto pure functions.

Run as ``python3 -m churn.steps.<name>``; they import pandas/numpy/scikit-learn/xgboost but
never the SageMaker SDK.
"""
