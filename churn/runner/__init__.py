"""The run layer: everything above the compiled pipeline (``churn.pipeline``) that runs it.

- :mod:`churn.runner.events`: lifecycle events (run started, step started / finished, run
  finished) that the progress lines and the run record listen to.
- :mod:`churn.runner.local_executor`: the local backend's executor, a subclass of the SDK's
  ``LocalPipelineExecutor``; the only module that imports ``sagemaker.local``.
- :mod:`churn.runner.cache_store`: ``churn cache info`` and ``prune`` (what the runs of a runs
  folder share, and what a run folder still needs of it).
"""
