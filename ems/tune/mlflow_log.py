"""MLflow view of a study: one parent run per study, one nested run per trial.

Built on :mod:`ems.tracking` (``MlflowTracker``). The study's parent run is itself a child
of the configuration's parent run when ``parent.json`` (from ``ems tracking-setup``) is
given. Its id is stored in the study (user attribute ``mlflow_parent_run_id``) so every
worker process attaches its trials to the same parent. Each trial run carries the sampled
params, the intermediate values (metric ``intermediate_value`` at the training step), the
final ``value``, and its state as tag ``optuna.state`` (COMPLETE / PRUNED / FAIL), and is
handed to the trainer, which logs its losses there.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ems.io import read_json
from ems.redact import connectable
from ems.tracking import MlflowTracker

logger = logging.getLogger(__name__)

PARENT_ATTR = "mlflow_parent_run_id"
T = TypeVar("T")

#: optuna trial state -> MLflow run status
RUN_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "FINISHED", "FAIL": "FAILED", "INTERRUPTED": "KILLED"}


def retry(fn: Callable[[], T], what: str, tries: int = 8) -> T:
    """SQLite stores answer "database is locked" under concurrent writers: back off and retry."""
    for attempt in range(tries):
        try:
            return fn()
        except Exception as exc:
            text = str(exc).lower()
            if attempt == tries - 1 or not ("locked" in text or "busy" in text):
                raise
            delay = 0.1 * 2**attempt
            logger.debug("MLflow %s: %s; retry in %.1fs", what, exc, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


class MlflowStudyTracker:
    """The MLflow :class:`~ems.tune.reporting.StudyTracker`: the study's run once, one nested run per trial."""

    def __init__(self, uri: str, experiment_id: str, config_parent_run_id: str | None = None) -> None:
        self.uri = uri
        self.experiment_id = experiment_id
        self.config_parent_run_id = config_parent_run_id
        self.parent_run_id: str | None = None
        self._trials: dict[str, MlflowTracker] = {}

    @classmethod
    def from_parent_json(cls, path: str | os.PathLike[str]) -> MlflowStudyTracker:
        """Attach to the experiment and configuration parent run written by ``ems tracking-setup``."""
        info = read_json(path)
        return cls(connectable(info["tracking_uri"]), info["experiment_id"], info.get("run_id"))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> MlflowStudyTracker:
        """Find or create the experiment named by ``tracking`` (outside Snakemake's setup rule)."""
        from ems.tracking.setup import (
            experiment_name,
            get_or_create_experiment,
            open_store,
            tracking_settings,
        )

        settings = tracking_settings(settings)
        uri, client = open_store(settings)
        name = experiment_name(settings)
        return cls(uri, retry(functools.partial(get_or_create_experiment, client, uri, name, settings), "experiment"))

    def ensure_parent(self, study: Any, tags: Mapping[str, str] | None = None) -> str:
        """Return the study's parent run, creating it once (call under the study's gate)."""
        run_id = study.user_attrs.get(PARENT_ATTR)
        if run_id is None:
            all_tags = {"optuna.study": study.study_name, "ems.role": "study"}
            all_tags.update(tags or {})
            tracker = retry(
                lambda: MlflowTracker.start(self.uri, self.experiment_id, f"study-{study.study_name}",
                                            self.config_parent_run_id, all_tags),
                "create study run",
            )
            run_id = tracker.run_id
            study.set_user_attr(PARENT_ATTR, run_id)
            logger.info("MLflow parent run %s for study %s", run_id, study.study_name)
        self.parent_run_id = run_id
        return run_id

    def start_trial(self, study_name: str, number: int, params: Mapping[str, Any], worker: str) -> MlflowTracker:
        tags = {"optuna.study": study_name, "optuna.trial_number": number, "optuna.state": "RUNNING",
                "ems.role": "trial", "ems.worker": worker}
        tracker = retry(
            lambda: MlflowTracker.start(self.uri, self.experiment_id, f"trial-{number:04d}", self.parent_run_id, tags),
            "create trial run",
        )
        retry(lambda: tracker.log_params({"trial": dict(params)}), "log params")
        self._trials[tracker.run_id] = tracker
        return tracker

    def report(self, run_id: str, step: int, value: float) -> None:
        if math.isfinite(value):
            retry(lambda: self._tracker(run_id).log_metrics({"intermediate_value": value}, step=step), "log metric")

    def _tracker(self, run_id: str) -> MlflowTracker:
        if run_id not in self._trials:
            self._trials[run_id] = MlflowTracker(self.uri, run_id, self.experiment_id)
        return self._trials[run_id]

    def end_trial(self, run_id: str, state: str, value: float | None, reason: str | None = None) -> None:
        tracker = self._tracker(run_id)
        if value is not None and math.isfinite(value):
            retry(lambda: tracker.log_metrics({"value": value}), "log value")
        tags = {"optuna.state": state}
        if reason:
            tags["optuna.fail_reason"] = reason[:4000]
        retry(lambda: tracker.set_tags(tags), "set state")
        self._trials.pop(run_id, None)
        # a fresh handle: the final status is the study loop's to set, even if the trainer ended the run
        final = MlflowTracker(self.uri, run_id, self.experiment_id)
        retry(lambda: final.close(RUN_STATUS.get(state, "FAILED")), "terminate")

    def finish_study(self, best_value: float | None, best_params: Mapping[str, Any], counts: Mapping[str, int],
                     artifacts: list[Path]) -> None:
        """Log the outcome on the study's parent run and end it."""
        if self.parent_run_id is None:
            return
        parent = MlflowTracker(self.uri, self.parent_run_id, self.experiment_id)
        metrics = {f"trials_{k.lower()}": float(v) for k, v in counts.items()}
        if best_value is not None:
            metrics["best_value"] = float(best_value)
        retry(lambda: parent.log_metrics(metrics), "log summary")
        # tags, not params: a rerun with more trials may change the best point (params are immutable)
        retry(lambda: parent.set_tags({f"best.{k}": v for k, v in best_params.items()}), "log best")
        for path in artifacts:
            if path.exists():
                retry(lambda p=path: parent.log_artifact(p, "tune"), "log artifact")
        retry(lambda: parent.close("FINISHED"), "end parent")
