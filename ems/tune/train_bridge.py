"""The one call from tuning into training: a trial's settings, data, model folder, tracking run, callbacks.

The tuning plug-ins are :class:`~ems.train.callbacks.TrainerCallback` objects. The trainer
built around that interface takes them as they are. The legacy ``train()`` still calls
plain ``(step, dev_metrics)`` functions after each dev evaluation and shows its training
losses only to the tracker (every ``train.log_every`` steps), so for it this module turns
the callbacks into those two forms; the branch goes when the legacy trainer does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ems.train.callbacks import TrainerCallback, TrainerState

if TYPE_CHECKING:
    from ems.tracking import Tracker

logger = logging.getLogger(__name__)

Folder = str | os.PathLike[str]


def _legacy_trainer() -> bool:
    from ems.train import trainer

    return not hasattr(trainer, "Trainer")


class _LossesToCallbacks:
    """Legacy trainer only: the tracker it logs to, also handing logged losses to ``on_step_end``."""

    def __init__(self, inner: Tracker, callbacks: Sequence[TrainerCallback], state: TrainerState) -> None:
        self._inner, self._callbacks, self._state = inner, callbacks, state

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._inner.log_metrics(metrics, step=step)
        losses = {k: v for k, v in metrics.items() if k.startswith("loss")}
        if losses:
            self._state.step = int(step or 0)
            for cb in self._callbacks:
                cb.on_step_end(self._state, losses)


def run_training(settings: Mapping[str, Any], data: tuple[Folder, Folder, Folder], out_dir: Folder,
                 tracker: Tracker | None, callbacks: Sequence[TrainerCallback]) -> dict[str, Any]:
    """Train one trial's model; ``data`` is (train shards, valid shards, tokenizer); callbacks may raise to abort."""
    from ems.tracking import NullTracker
    from ems.train import train

    tracker = tracker if tracker is not None else NullTracker()
    train_dir, valid_dir, tokenizer_dir = data
    if not _legacy_trainer():
        return train(settings, train_dir, valid_dir, tokenizer_dir, out_dir, tracker, callbacks=list(callbacks),
                     progress=False)
    state = TrainerState(max_steps=int(settings["train"]["max_steps"]))

    def on_dev(step: int, metrics: Mapping[str, float]) -> None:
        state.step = step
        for cb in callbacks:
            cb.on_evaluate(state, metrics)

    return train(settings, train_dir, valid_dir, tokenizer_dir, out_dir, _LossesToCallbacks(tracker, callbacks, state),
                 callbacks=(on_dev,), progress=False)
