"""The project's stand-in for the SageMaker XGBoost built-in algorithm container.

``train`` and ``serve`` follow the official container's contract (hyperparameters as strings
in ``/opt/ml/input/config/hyperparameters.json``, label-first headerless CSV channels, the
model at ``/opt/ml/model/xgboost-model``, ``/ping`` and ``/invocations`` on port 8080), so the
same pipeline definition runs on this image locally and on the official image in the cloud.
"""
