"""Optuna tuning stage: search space from ``tune.space``, resumable multi-worker studies, MLflow view."""

from __future__ import annotations

from ems.tune.reporting import ObjectiveFn, StudyTracker, TrialDiverged
from ems.tune.space import SearchParam, build_space, to_overrides
from ems.tune.spec import StudySpec
from ems.tune.study import open_study, run_worker

__all__ = [
    "ObjectiveFn",
    "SearchParam",
    "StudySpec",
    "StudyTracker",
    "TrialDiverged",
    "build_space",
    "open_study",
    "run_worker",
    "to_overrides",
]
