"""The one extension interface of the training loop, after transformers' ``TrainerCallback``.

The :class:`~ems.train.trainer.Trainer` calls every callback's hooks in order, on rank 0
only (the loop broadcasts its decision to the other ranks). Tracking (MLflow), progress,
early stopping, Optuna pruning and the divergence guard are callbacks; the loop knows none
of them. As in transformers, what the loop *knows* (:class:`TrainerState`, saved in every
checkpoint) is kept apart from what a callback *asks* (:class:`TrainerControl`, per process):

- to stop gracefully (keep the best model so far, as early stopping does): ``control.stop(reason)``;
- to abort (a pruned trial, a diverged loss): ``control.abort(error)``; the trainer raises
  ``error`` right after the hook, on rank 0, once the other ranks were told; the run ends
  ``KILLED``. Any other exception raised by a hook is a bug: the run ends ``FAILED``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ems.model.ems_model import EmsModel
    from ems.train.run import TrainingRun


@dataclasses.dataclass
class TrainerState:
    """What the loop knows between steps; a checkpoint holds it besides the modules."""

    step: int = 0
    max_steps: int = 0
    pairs_seen: int = 0
    #: what train.select_on ranks by, higher is better (dev retrieval accuracy, or the negated dev loss)
    best: float = float("-inf")
    best_step: int = -1
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)
    #: Facts of this process's run (device, parameter count, world size...); set at train begin.
    derived: dict[str, Any] = dataclasses.field(default_factory=dict)

    def best_dev(self) -> dict[str, float | None]:
        """Dev retrieval accuracy and dev loss of the kept (best) step, from the history (``best`` itself is
        whatever ``train.select_on`` ranks by)."""
        rows = [r for r in self.history if r.get("step") == self.best_step and "dev/loss_total" in r]
        row = rows[-1] if rows else {}
        return {"best_dev_retrieval_acc": row.get("dev/retrieval_acc"), "best_dev_loss": row.get("dev/loss_total")}

    def evaluations_since_best(self) -> int:
        """Dev evaluations after the kept step (what early stopping counts; survives a resume)."""
        return sum(1 for r in self.history if "dev/loss_total" in r and r.get("step", -1) > self.best_step)

    def state_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for field in dataclasses.fields(self):
            if field.name in state:
                setattr(self, field.name, state[field.name])


@dataclasses.dataclass
class TrainerControl:
    """What the callbacks ask of the loop: stop after this step, or abort now with an error."""

    should_stop: bool = False
    stop_reason: str = ""
    abort_error: BaseException | None = None

    def stop(self, reason: str) -> None:
        """End the run gracefully after the current step; the best model so far is written."""
        if not self.should_stop:
            self.should_stop, self.stop_reason = True, reason

    def abort(self, error: BaseException) -> None:
        """End the run now: the trainer raises ``error`` (no model is written; the run is ``KILLED``)."""
        if self.abort_error is None:
            self.abort_error = error


class TrainerCallback:
    """Override the hooks you need; each default does nothing."""

    def on_train_begin(self, run: TrainingRun, state: TrainerState, control: TrainerControl, model: EmsModel) -> None:
        """Once, after the model is built and a checkpoint (if any) is restored (``model``: the unwrapped model)."""

    def on_step_end(self, state: TrainerState, control: TrainerControl, losses: Mapping[str, float]) -> None:
        """After every optimiser step, with that step's losses (``total``, ``xtr``, ``contrastive``...)."""

    def on_log(self, state: TrainerState, control: TrainerControl, metrics: Mapping[str, float]) -> None:
        """Every ``train.log_every`` steps, with smoothed training metrics (lr, pairs/s, losses)."""

    def on_evaluate(self, state: TrainerState, control: TrainerControl, metrics: Mapping[str, float]) -> None:
        """After each dev evaluation, with its metrics (``dev/retrieval_acc``...)."""

    def on_checkpoint(self, state: TrainerState, control: TrainerControl, path: Path) -> None:
        """After a resumable checkpoint was written to ``path`` (``last.pt``)."""

    def on_model_saved(self, state: TrainerState, control: TrainerControl, out_dir: Path) -> None:
        """After the final model folder was written to ``out_dir`` (before its ``run.json``)."""

    def on_train_end(self, state: TrainerState, control: TrainerControl, status: str) -> None:
        """Once at the end: ``FINISHED`` (also after a graceful stop), ``FAILED`` or ``KILLED``."""


class EarlyStopping(TrainerCallback):
    """Stop once ``patience`` dev evaluations in a row did not improve the kept score (``train.early_stopping_patience``)."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_evaluate(self, state: TrainerState, control: TrainerControl, metrics: Mapping[str, float]) -> None:
        if state.evaluations_since_best() >= self.patience:
            control.stop(f"early stopping at step {state.step}")
