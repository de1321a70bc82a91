"""MLflow logging of evaluation results through :mod:`ems.tracking` (evaluators never import MLflow).

A trained model's ``run.json`` names its training run: metrics go there, the evaluation
config and the evaluator's parameters as params ``eval.<task>.*``. A peer has one run of its
own, a child of the configuration's parent run, named ``peer-<name>`` and tagged as a cell of
its own (``ems.role=peer``): every task of that peer logs to it, as a model's tasks log to its
training run, so peers sit beside models in MLflow's compare view. The workflow creates it
once (``ems tracking-peer``, before the peer's parallel evaluation jobs) and hands its run
JSON to each job as ``--run-json``; with ``--parent-json`` it is found (or created) here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from ems import paths
from ems.errors import ConfigError, DataError, EmsError, TrackingError
from ems.evaluation.result import EvalResult
from ems.io import read_json_input, stable_hash, write_json
from ems.redact import connectable, redact_text, redact_uri
from ems.run_names import model_tags, run_name
from ems.tracking.base import logged_model_id
from ems.tracking.naming import ROLE_PEER, ROLE_TRAIN

logger = logging.getLogger(__name__)


def log_result(result: EvalResult, model_id: str, settings: Mapping[str, Any],
               run_json: str | os.PathLike[str] | None = None,
               parent_json: str | os.PathLike[str] | None = None) -> str | None:
    """Log ``result`` to MLflow; return the run id (None when neither file is given)."""
    if run_json is None and parent_json is None:
        logger.info("no --run-json or --parent-json: results are not logged to MLflow")
        return None
    from ems.tracking import MlflowTracker

    tags = {**model_tags(model_id), f"ems.eval.{result.task}.primary_metric": result.primary_metric}
    # the run is the model: its path as a param would make every run differ (and lead MLflow's Compare view)
    params = {k: v for k, v in result.params.items() if k != "model"}
    source = run_json if run_json is not None else parent_json
    info = _read_tracking_json(source)
    uri = info["tracking_uri"]
    try:
        if run_json is not None:
            tracker = MlflowTracker(connectable(uri), info["run_id"], info.get("experiment_id", ""))
        else:
            found = _find_or_create_model_run(parent_json, model_id)
            tracker = MlflowTracker(connectable(uri), found["run_id"], found["experiment_id"])
        # a trained model's run holds its logged model (tag ems.model_uri): the metrics are linked to it too,
        # with the task as dataset name and a digest of what was evaluated (the task's parameters)
        logged = logged_model_id(tracker.client.get_run(tracker.run_id).data.tags.get("ems.model_uri"))
        dataset = (result.task, stable_hash({"task": result.task, "params": _plain(params)})[:16])
        tracker.log_metrics(result.metrics, step=0, model_id=logged, dataset=dataset if logged else None)
        tracker.log_params({"eval": {result.task: {"params": _plain(params), "config": _plain(settings)}}})
        tracker.set_tags(tags)
    except TrackingError as exc:  # e.g. the store takes no connection (ems.tracking.setup.check_reachable)
        raise TrackingError(f"{source}: {exc}; the CSV/JSON were not written: rerun when it is reachable") from None
    except EmsError:
        raise
    except Exception as exc:  # MLflow, SQLAlchemy and requests raise many types; all mean "not logged"
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise TrackingError(f"{source}: tracking store {redact_uri(uri)} did not take the results "
                            f"({type(exc).__name__}: {redact_text(reason)}); the CSV/JSON were not written: rerun when it is reachable") from exc
    logger.info("logged %d metrics of %s to MLflow run %s", len(result.metrics), result.task, tracker.run_id)
    return tracker.run_id


def _find_or_create_model_run(parent_json: str | os.PathLike[str], model_id: str) -> dict[str, str]:
    """The run of ``model_id`` under the parent of ``parent_json`` (tag ``ems.model_id``): found, or
    created (a peer's run: role ``peer``, name ``peer-<name>``) and ended, as a training run is."""
    from ems.tracking import MlflowTracker

    parent = _read_tracking_json(parent_json)
    uri = connectable(parent["tracking_uri"])
    tracker = MlflowTracker(uri, parent["run_id"], parent.get("experiment_id", ""))
    exp_id = parent.get("experiment_id") or tracker.client.get_run(parent["run_id"]).info.experiment_id
    found = tracker.client.search_runs(
        [exp_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent['run_id']}' AND tags.`ems.model_id` = '{model_id}'",
        max_results=1)
    if found:
        return {"run_id": found[0].info.run_id, "experiment_id": exp_id, "tracking_uri": parent["tracking_uri"]}
    role = ROLE_PEER if paths.is_peer(model_id) else ROLE_TRAIN
    run = MlflowTracker.attach(parent_json, run_name(model_id), tags={"ems.role": role, **model_tags(model_id)})
    run.close()
    logger.info("MLflow run %s of %s (all its tasks log to it)", run.run_id, model_id)
    return {"run_id": run.run_id, "experiment_id": exp_id, "tracking_uri": parent["tracking_uri"]}


def peer_run(parent_json: str | os.PathLike[str], model_id: str, out: str | os.PathLike[str]) -> dict[str, str]:
    """Find or create the one run of peer ``model_id``; write its run JSON to ``out`` (``--run-json`` of
    the peer's evaluation jobs). One job per peer: its parallel evaluation jobs never race to create it."""
    if not paths.is_peer(model_id):
        raise ConfigError(f"--model-id {model_id!r}: not a peer id (peer-<name>)")
    try:
        info = {**_find_or_create_model_run(parent_json, model_id), "model_id": model_id}
    except EmsError:
        raise
    except Exception as exc:  # as in log_result: any MLflow/SQLAlchemy/requests error means "no run"
        raise TrackingError(f"{parent_json}: could not create the MLflow run of {model_id} "
                            f"({type(exc).__name__}: {redact_text(' '.join(str(exc).split())[:300])})") from exc
    write_json(out, info)
    return info


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
