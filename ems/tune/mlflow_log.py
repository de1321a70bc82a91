"""MLflow view of a study: one parent run per study, one nested run per trial.

The parent run id is stored in the study itself (user attribute ``mlflow_parent_run_id``)
so that every worker process of the study attaches its trials to the same parent. Each
trial run carries the sampled params, the intermediate values (metric ``intermediate_value``
with the training step), the final ``value`` and the trial state as tag ``optuna.state``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

PARENT_ATTR = "mlflow_parent_run_id"
T = TypeVar("T")

#: optuna trial state -> MLflow run status
RUN_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "FINISHED", "FAIL": "FAILED", "INTERRUPTED": "KILLED"}


def resolve_uri(tracking: Mapping[str, Any] | None, results_root: str | os.PathLike[str]) -> str:
    """``tracking.uri``, else ``$MLFLOW_TRACKING_URI``, else sqlite under ``results/<name>/mlflow``."""
    uri = (tracking or {}).get("uri") or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    store = Path(results_root).resolve() / "mlflow"
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


def experiment_name(tracking: Mapping[str, Any] | None, name: str) -> str:
    return (tracking or {}).get("experiment") or f"ems-{name}"


def _retry(fn: Callable[[], T], what: str, tries: int = 6) -> T:
    """SQLite stores answer "database is locked" under concurrent writers: back off and retry."""
    for attempt in range(tries):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - MlflowException wraps the driver error
            text = str(exc).lower()
            if attempt == tries - 1 or not ("locked" in text or "busy" in text):
                raise
            delay = 0.2 * 2**attempt
            logger.debug("MLflow %s: %s; retry in %.1fs", what, exc, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


class StudyTracker:
    """Writes a study and its trials to MLflow through ``MlflowClient`` (no global active run)."""

    def __init__(self, uri: str, experiment: str) -> None:
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        self.experiment_id = _retry(lambda: self._experiment(experiment), "experiment")
        self.parent_run_id: str | None = None

    def _experiment(self, name: str) -> str:
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        try:
            return self.client.create_experiment(name)
        except Exception:  # noqa: BLE001 - another process created it first
            exp = self.client.get_experiment_by_name(name)
            if exp is None:
                raise
            return exp.experiment_id

    def ensure_parent(self, study: Any, tags: Mapping[str, str] | None = None) -> str:
        """Return the study's parent run, creating it once (call under the study's gate)."""
        run_id = study.user_attrs.get(PARENT_ATTR)
        if run_id is None:
            all_tags = {"mlflow.runName": f"study-{study.study_name}", "optuna.study": study.study_name}
            all_tags.update(tags or {})
            run = _retry(lambda: self.client.create_run(self.experiment_id, tags=all_tags), "create parent")
            run_id = run.info.run_id
            study.set_user_attr(PARENT_ATTR, run_id)
            logger.info("MLflow parent run %s for study %s", run_id, study.study_name)
        self.parent_run_id = run_id
        return run_id

    def start_trial(self, study_name: str, number: int, params: Mapping[str, Any], worker: str) -> str:
        tags = {
            "mlflow.parentRunId": self.parent_run_id or "",
            "mlflow.runName": f"trial-{number:04d}",
            "optuna.study": study_name,
            "optuna.trial_number": str(number),
            "optuna.state": "RUNNING",
            "ems.worker": worker,
        }
        if not self.parent_run_id:
            del tags["mlflow.parentRunId"]
        run = _retry(lambda: self.client.create_run(self.experiment_id, tags=tags), "create trial run")
        run_id = run.info.run_id
        from mlflow.entities import Param

        batch = [Param(k, str(v)) for k, v in params.items()]
        _retry(lambda: self.client.log_batch(run_id, params=batch), "log params")
        return run_id

    def report(self, run_id: str, step: int, value: float) -> None:
        if math.isfinite(value):
            _retry(lambda: self.client.log_metric(run_id, "intermediate_value", value, step=step), "log metric")

    def end_trial(self, run_id: str, state: str, value: float | None, reason: str | None = None) -> None:
        if value is not None and math.isfinite(value):
            _retry(lambda: self.client.log_metric(run_id, "value", value), "log value")
        _retry(lambda: self.client.set_tag(run_id, "optuna.state", state), "set state")
        if reason:
            _retry(lambda: self.client.set_tag(run_id, "optuna.fail_reason", reason[:4000]), "set reason")
        status = RUN_STATUS.get(state, "FAILED")
        _retry(lambda: self.client.set_terminated(run_id, status=status), "terminate")

    def finish_study(self, best_value: float | None, best_params: Mapping[str, Any], counts: Mapping[str, int],
                     artifacts: list[Path]) -> None:
        """Log the outcome on the parent run and end it."""
        run_id = self.parent_run_id
        if run_id is None:
            return
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        metrics = [Metric(f"trials_{k.lower()}", float(v), now, 0) for k, v in counts.items()]
        if best_value is not None:
            metrics.append(Metric("best_value", float(best_value), now, 0))
        # tags, not params: a rerun with more trials may change the best point (params are immutable)
        tags = [RunTag(f"best.{k}", str(v)) for k, v in best_params.items()]
        _retry(lambda: self.client.log_batch(run_id, metrics=metrics, tags=tags), "log summary")
        for path in artifacts:
            if path.exists():
                _retry(lambda p=path: self.client.log_artifact(run_id, str(p)), "log artifact")
        _retry(lambda: self.client.set_terminated(run_id, status="FINISHED"), "end parent")
