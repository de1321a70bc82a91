"""The one way to train: :func:`run_training` (the CLI, the tuning objective, the benchmarks and the tests).

It opens the run's tracking (continued with the checkpoint, a fresh child of a parent run, an
already open tuning trial, or none), adds the tracking plug-in and the callbacks the settings ask
for (early stopping), runs the :class:`~ems.train.trainer.Trainer`, decides the run's status
once (``FINISHED``, ``KILLED`` for an interrupt or a callback's abort, ``FAILED`` otherwise),
tells the callbacks and closes the tracking run.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ems.train.callbacks import EarlyStopping, TrainerCallback, TrainerControl
from ems.train.run import TrainingRun

if TYPE_CHECKING:
    from ems.tracking.base import Tracker

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Tracking:
    """Where a training run logs.

    ``open_run``: a tracking run someone else opened (a tuning trial's: the study sets its final
    state); otherwise, when ``enabled``, the run of the resume decision: the one continued, or a
    fresh child of ``parent_json`` (made by ``ems tracking-setup``; created beside the checkpoints
    when not given), named from ``run_names`` (``tracking/run_names.json``).
    """

    enabled: bool = False
    parent_json: Path | None = None
    run_names: str | None = None
    open_run: Tracker | None = None


def open_tracker(run: TrainingRun, tracking: Tracking, is_main: bool) -> Tracker:
    """The tracking run to log ``run`` to (a no-op tracker when tracking is off, or off rank 0)."""
    from ems.tracking.base import NullTracker

    if not is_main:
        return NullTracker()
    if tracking.open_run is not None:
        return tracking.open_run
    if not tracking.enabled:
        return NullTracker()
    from ems.redact import connectable
    from ems.tracking.mlflow_tracker import MlflowTracker

    resumed = run.resume.continue_run
    if resumed:
        return MlflowTracker.resume(connectable(resumed["tracking_uri"]), resumed["run_id"])
    parent = tracking.parent_json
    if not parent:
        from ems.tracking.setup import tracking_setup

        parent = run.checkpoint_dir / "parent.json"
        tracking_setup(run.settings.to_dict(), parent)
    from ems.run_names import name_for
    from ems.tracking.naming import ROLE_TRAIN

    tags = {"ems.role": ROLE_TRAIN, **({"ems.replaces": run.resume.replaces} if run.resume.replaces else {})}
    return MlflowTracker.attach(parent, name_for(run.model_id, tracking.run_names), tags)


def run_status(error: BaseException | None, control: TrainerControl) -> str:
    """The run's MLflow status: finished, killed (an interrupt, another rank's or a callback's abort), or failed."""
    from ems.train.trainer import Aborted

    if error is None:
        return "FINISHED"
    if isinstance(error, KeyboardInterrupt | Aborted) or error is control.abort_error:
        return "KILLED"
    return "FAILED"


def settings_callbacks(run: TrainingRun) -> list[TrainerCallback]:
    """The callbacks the settings ask for: early stopping (``train.early_stopping_patience``)."""
    patience = run.settings.train.early_stopping_patience
    return [EarlyStopping(patience)] if patience else []


def run_training(run: TrainingRun, tracking: Tracking | None = None, callbacks: Iterable[TrainerCallback] = (), *,
                 log_models: bool = True, keep_checkpoints: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train ``run`` (from :func:`ems.train.run.resolve_run`); write ``out_dir/{model/,heads.pt,history.csv,run.json}``;
    return the summary (rank 0; ``{}`` on other ranks).

    ``callbacks`` run after the tracking plug-in and before progress; ``log_models``: log the weights to the
    tracking run too (metrics, settings and history always).
    """
    from ems.train.distributed import env_rank
    from ems.train.tracking_callback import TrackingCallback
    from ems.train.trainer import Trainer

    tracker = open_tracker(run, tracking or Tracking(), is_main=env_rank() == 0)  # before the trainer's process group
    error: BaseException | None = None
    trainer = None
    try:
        run = run.with_tracking(tracker.tracking_uri, tracker.run_id, tracker.experiment_id)
        cbs = [TrackingCallback(tracker, log_models=log_models), *settings_callbacks(run), *callbacks]
        trainer = Trainer(run, cbs, keep_checkpoints=keep_checkpoints, progress=progress)
        return trainer.train()
    except BaseException as exc:
        error = exc
        raise
    finally:
        status = run_status(error, trainer.control if trainer is not None else TrainerControl())
        if trainer is not None:
            trainer.end(status)
        tracker.close(status)
