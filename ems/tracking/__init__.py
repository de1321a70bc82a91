"""Experiment tracking behind a small interface: ``Tracker``; MLflow and no-op implementations."""

from __future__ import annotations

from ems.tracking.base import NullTracker, Tracker, flatten_params

__all__ = ["MlflowTracker", "NullTracker", "Tracker", "flatten_params"]


def __getattr__(name: str):  # mlflow is imported only when an MLflow tracker is asked for
    if name == "MlflowTracker":
        from ems.tracking.mlflow_tracker import MlflowTracker

        return MlflowTracker
    raise AttributeError(name)
