"""MLflow implementation of :class:`ems.tracking.Tracker`, through ``MlflowClient`` only.

The client API (no fluent ``mlflow.start_run``) keeps no global active run, so several
trackers can coexist in one process and ``MLFLOW_RUN_ID`` is never read or exported.
Children attach to a parent run with the ``mlflow.parentRunId`` tag.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ems.io import read_json
from ems.redact import connectable, redact_uri, redact_value
from ems.tracking.base import Tracker, flatten_params

logger = logging.getLogger(__name__)

PARENT_TAG = "mlflow.parentRunId"


_REACHED: set[str] = set()


def _client(uri: str):
    """An MlflowClient on ``uri``; a server or database that takes no connection fails within 30 s first
    (MLflow's own retries would wait ~4 min), once per store and process."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.tracking import MlflowClient

    if uri not in _REACHED:
        from ems.tracking.setup import check_reachable

        check_reachable(uri)
        _REACHED.add(uri)
    if redact_uri(uri) != uri:  # MLflow prints "View run ... at: <uri>" to stdout, password included
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    return MlflowClient(tracking_uri=uri)


class MlflowTracker(Tracker):
    """Logs to one MLflow run."""

    def __init__(self, uri: str, run_id: str, experiment_id: str) -> None:
        self.tracking_uri = uri
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.client = _client(uri)
        self._closed = False
        self._resumed_status: str | None = None  # set by resume() until reopen()

    @classmethod
    def start(
        cls,
        uri: str,
        experiment_id: str,
        run_name: str,
        parent_run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> MlflowTracker:
        client = _client(uri)
        all_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        if parent_run_id:
            all_tags[PARENT_TAG] = parent_run_id
        run = client.create_run(experiment_id, run_name=run_name, tags=all_tags)
        logger.info("MLflow run %s (%s) in experiment %s at %s", run.info.run_id, run_name, experiment_id,
                    redact_uri(uri))
        return cls(uri, run.info.run_id, experiment_id)

    @classmethod
    def attach(cls, parent_json: str | os.PathLike[str], run_name: str, tags: Mapping[str, Any] | None = None) -> MlflowTracker:
        """A new child run of the parent written by ``ems tracking-setup``."""
        parent = read_json(parent_json)
        return cls.start(connectable(parent["tracking_uri"]), parent["experiment_id"], run_name, parent["run_id"], tags)

    @classmethod
    def resume(cls, uri: str, run_id: str) -> MlflowTracker:
        """An existing run (a training job resumed after a crash); its status changes only at
        :meth:`reopen`, so a resume that fails before training leaves it as it was."""
        client = _client(uri)
        run = client.get_run(run_id)
        logger.info("resuming MLflow run %s (%s)", run_id, run.info.status)
        tracker = cls(uri, run_id, run.info.experiment_id)
        tracker._resumed_status = run.info.status
        return tracker

    def reopen(self) -> None:
        if self._resumed_status is not None:
            self.client.update_run(self.run_id, status="RUNNING")
            self._resumed_status = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        flat = flatten_params(redact_value(params))  # no credentials of a URI in a param
        existing = self.client.get_run(self.run_id).data.params
        new = {k: v[:6000] for k, v in flat.items() if k not in existing}
        changed = [k for k, v in flat.items() if k in existing and existing[k] != v[:6000]]
        if changed:
            logger.warning("MLflow run %s already has different values for %s; kept the old ones", self.run_id, changed)
        items = [Param(k, v) for k, v in sorted(new.items())]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None, model_id: str | None = None,
                    dataset: tuple[str, str] | None = None) -> None:
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        name, digest = dataset if dataset else (None, None)
        items = [
            Metric(k, float(v), ts, int(step or 0), model_id=model_id, dataset_name=name, dataset_digest=digest)
            for k, v in metrics.items() if v is not None and math.isfinite(float(v))
        ]
        for i in range(0, len(items), 1000):
            self.client.log_batch(self.run_id, metrics=items[i : i + 1000])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(str(k), str(v)) for k, v in tags.items()])

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        p = Path(path)
        if p.is_dir():
            self.client.log_artifacts(self.run_id, str(p), artifact_path or p.name)
        else:
            self.client.log_artifact(self.run_id, str(p), artifact_path)

    def log_model(self, path: str | os.PathLike[str], name: str = "model") -> str:
        """Log the saved sentence-transformers folder ``path`` as an MLflow model (flavour
        ``mlflow.sentence_transformers``), linked to this run; return its ``models:/`` URI.

        Requirements are pinned from the installed versions (MLflow's inference of them loads the
        model in a subprocess: ~15 s). ``log_model`` reads the tracking URI and experiment from
        MLflow's globals: they are set for the call only and restored after it."""
        import mlflow.sentence_transformers
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(path), device="cpu")
        with _scoped_mlflow(self.tracking_uri, self.experiment_id):
            info = mlflow.sentence_transformers.log_model(model, name=name, run_id=self.run_id,
                                                          pip_requirements=_pinned_requirements())
        logger.info("logged %s as MLflow model %s (sentence_transformers flavour)", path, info.model_uri)
        return info.model_uri

    def close(self, status: str = "FINISHED") -> None:
        if self._resumed_status is not None:  # never reopened: the earlier status stays
            logger.info("MLflow run %s left %s (the resume did not start training)", self.run_id, self._resumed_status)
            self._closed = True
        if not self._closed:
            self.client.set_terminated(self.run_id, status=status)
            self._closed = True


def _pinned_requirements() -> list[str]:
    """``package==version`` of what loading the model needs (local version labels such as ``+cpu`` dropped)."""
    from importlib import metadata

    return [f"{pkg}=={metadata.version(pkg).split('+')[0]}" for pkg in ("sentence-transformers", "transformers", "torch")]


@contextlib.contextmanager
def _scoped_mlflow(uri: str, experiment_id: str | None):
    """MLflow's global tracking URI and experiment set for one fluent call, then restored exactly
    (``set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI``; later runs must not inherit it)."""
    import mlflow

    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")}
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    if experiment_id:
        os.environ["MLFLOW_EXPERIMENT_ID"] = str(experiment_id)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
