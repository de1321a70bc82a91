"""MLflow logging of evaluation results through :mod:`ems.tracking` (evaluators never import MLflow).

A trained model's ``run.json`` names its training run: metrics go there, the evaluation
config and the evaluator's parameters as params ``eval.<task>.*``. A peer (no run.json) gets
a run ``<model_id>/<task>`` of its own, a child of the configuration's parent run
(``parent.json`` of the ``tracking_setup`` rule).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from ems.errors import ConfigError, DataError, EmsError, TrackingError
from ems.evaluation.result import EvalResult
from ems.io import read_json_input
from ems.redact import connectable, redact_text, redact_uri

logger = logging.getLogger(__name__)


def log_result(result: EvalResult, model_id: str, settings: Mapping[str, Any],
               run_json: str | os.PathLike[str] | None = None,
               parent_json: str | os.PathLike[str] | None = None) -> str | None:
    """Log ``result`` to MLflow; return the run id (None when neither file is given)."""
    if run_json is None and parent_json is None:
        logger.info("no --run-json or --parent-json: results are not logged to MLflow")
        return None
    from ems.tracking import MlflowTracker

    tags = {"ems.model_id": model_id, f"ems.eval.{result.task}.primary_metric": result.primary_metric}
    source = run_json if run_json is not None else parent_json
    info = _read_tracking_json(source)
    uri = info["tracking_uri"]
    try:
        if run_json is not None:
            tracker = MlflowTracker(connectable(uri), info["run_id"], info.get("experiment_id", ""))
            close = False
        else:
            tracker = MlflowTracker.attach(parent_json, f"{model_id}/{result.task}",
                                           tags={"ems.role": "peer-eval" if model_id.startswith("peer-") else "eval",
                                                 "ems.eval.task": result.task, "ems.model_id": model_id})
            close = True
        tracker.log_metrics(result.metrics, step=0)
        tracker.log_params({"eval": {result.task: {"params": _plain(result.params), "config": _plain(settings)}}})
        tracker.set_tags(tags)
        if close:
            tracker.close()
    except EmsError:
        raise
    except Exception as exc:  # MLflow, SQLAlchemy and requests raise many types; all mean "not logged"
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise TrackingError(f"{source}: tracking store {redact_uri(uri)} did not take the results "
                            f"({type(exc).__name__}: {redact_text(reason)}); the CSV/JSON were not written: rerun when it is reachable") from exc
    logger.info("logged %d metrics of %s to MLflow run %s", len(result.metrics), result.task, tracker.run_id)
    return tracker.run_id


def check_tracking_inputs(run_json: str | os.PathLike[str] | None, parent_json: str | os.PathLike[str] | None) -> None:
    """Fail before any work when a given run.json / parent.json is missing or malformed."""
    for path in (run_json, parent_json):
        if path is not None:
            _read_tracking_json(path)


def _read_tracking_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``run.json`` / ``parent.json`` with its ``run_id`` and ``tracking_uri`` (DataError/ConfigError naming it)."""
    info = read_json_input(path)
    if not isinstance(info, dict):
        raise DataError(f"{path}: expected a JSON object")
    missing = [k for k in ("run_id", "tracking_uri") if not info.get(k)]
    if missing:
        raise ConfigError(f"{path}: missing {missing}")
    return info


def _plain(value: Any) -> Any:
    """Mappings stay nested (flattened by the tracker); lists become strings."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
