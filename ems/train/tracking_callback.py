"""The tracking plug-in of the trainer: a :class:`TrainerCallback` that logs a run to a :class:`Tracker`.

Params (resolved settings + derived facts), tags (code commit, config / data hashes, model
id, cell / factor values / seed, the run a fresh start replaces), training and dev metrics, the
final artifacts, and the model as an MLflow model (``tracking.log_model``; else a plain folder) unless
``log_models`` is off (tuning trials whose models are not kept: a study of many trials would
otherwise fill the artifact store with models nobody reads, and pay ~15 s per trial). It opens
and closes nothing: :func:`ems.train.entry.run_training` opens and closes the tracking run.
A resumed run is marked running again only here, when training really begins, so
a resume that fails earlier leaves the run's status as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ems.paths import MODEL_FOLDER_FILES
from ems.tracking.base import Tracker, git_commit, logged_model_id
from ems.train.callbacks import TrainerCallback, TrainerControl, TrainerState

logger = logging.getLogger(__name__)

ARTIFACT_FILES = tuple(MODEL_FOLDER_FILES[k] for k in ("settings", "history", "curve"))
MODEL_FILES = (MODEL_FOLDER_FILES["heads"],)  # weights: logged with the model


def logged_model_name(model_id: str) -> str:
    """An MLflow logged-model name from a model id: ``objective~both_temp~0.1/seed1`` ->
    ``objective-both_temp-0_1-seed1`` (MLflow refuses ``/ : . %`` and quotes: letters, digits, ``-``, ``_``)."""
    import re

    return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9_-]", lambda m: "_" if m[0] == "." else "-", model_id)).strip("-") \
        or "model"


class TrackingCallback(TrainerCallback):
    """Log a training run to ``tracker`` (an :class:`~ems.tracking.mlflow_tracker.MlflowTracker` in practice)."""

    def __init__(self, tracker: Tracker, log_models: bool = True) -> None:
        self.tracker, self.log_models = tracker, log_models

    def on_train_begin(self, run: Any, state: TrainerState, control: TrainerControl, model: Any) -> None:
        self.run = run
        self.tracker.reopen()
        self.tracker.log_params({**run.settings.to_dict(), "derived": state.derived})
        commit = git_commit()
        self.tracker.set_tags({"git_commit": commit, "mlflow.source.git.commit": commit, **run.tags()})

    def on_log(self, state: TrainerState, control: TrainerControl, metrics: Mapping[str, float]) -> None:
        self.tracker.log_metrics(metrics, step=state.step)

    def on_evaluate(self, state: TrainerState, control: TrainerControl, metrics: Mapping[str, float]) -> None:
        self.tracker.log_metrics(metrics, step=state.step)

    def on_model_saved(self, state: TrainerState, control: TrainerControl, out_dir: Path) -> None:
        """Artifacts, then the model (an MLflow logged model named by cell and seed), then the kept step's dev
        metrics, linked to that model (dataset ``dev``, digest = the validation shards' hash)."""
        for name in ARTIFACT_FILES:
            self.tracker.log_artifact(out_dir / name)
        logged = None
        if self.log_models:
            for name in MODEL_FILES:
                self.tracker.log_artifact(out_dir / name)
            if self.run.settings.to_dict()["tracking"]["log_model"]:
                uri = self.tracker.log_model(out_dir / MODEL_FOLDER_FILES["model"], logged_model_name(self.run.model_id))
                if uri:
                    self.tracker.set_tags({"ems.model_uri": uri})
                    logged = logged_model_id(uri)
            else:
                self.tracker.log_artifact(out_dir / MODEL_FOLDER_FILES["model"], "model")  # the plain folder
            self.tracker.log_artifact(self.run.tokenizer_dir, "tokenizer")
        best = state.best_dev()  # state.best is what train.select_on ranks by
        self.tracker.log_metrics({"best/dev_retrieval_acc": best["best_dev_retrieval_acc"],
                                  "best/dev_loss": best["best_dev_loss"], "best/step": state.best_step,
                                  "steps": state.step}, step=state.step, model_id=logged,
                                 dataset=("dev", str(self.run.valid_hash)[:16]) if logged else None)

    def on_train_end(self, state: TrainerState, control: TrainerControl, status: str) -> None:
        if control.stop_reason:
            self.tracker.set_tags({"ems.stopped": control.stop_reason})
