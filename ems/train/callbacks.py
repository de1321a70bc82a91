"""The one extension interface of the training loop, in the spirit of transformers' ``TrainerCallback``.

The :class:`~ems.train.trainer.Trainer` calls every callback's hooks in order, on rank 0
only (the loop broadcasts a stop to the other ranks). Tracking (MLflow), Optuna pruning and
the divergence guard are callbacks; the trainer itself knows none of them.

- To stop gracefully (keep the best model so far, as early stopping does), a hook sets
  ``state.should_stop = True`` and ``state.stop_reason``.
- To abort (e.g. ``optuna.TrialPruned``, a diverged loss), a hook raises: the exception
  propagates out of the trainer after ``on_train_end(state, "KILLED")`` ran; whoever opened
  the tracking run (the CLI or the tuning objective) closes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    bad_evals: int = 0
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)
    should_stop: bool = False
    stop_reason: str = ""
    #: Facts of this process's run (device, parameter count, world size...); set at train begin.
    derived: dict[str, Any] = dataclasses.field(default_factory=dict)

    def best_dev(self) -> dict[str, float | None]:
        """Dev retrieval accuracy and dev loss of the kept (best) step, from the history (``best`` itself is
        whatever ``train.select_on`` ranks by)."""
        rows = [r for r in self.history if r.get("step") == self.best_step and "dev/loss_total" in r]
        row = rows[-1] if rows else {}
        return {"best_dev_retrieval_acc": row.get("dev/retrieval_acc"), "best_dev_loss": row.get("dev/loss_total")}

    def state_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for field in dataclasses.fields(self):
            if field.name in state:
                setattr(self, field.name, state[field.name])


class TrainerCallback:
    """Override the hooks you need; each default does nothing."""

    def on_train_begin(self, run: TrainingRun, state: TrainerState) -> None:
        """Once, after the model is built and a checkpoint (if any) is restored."""

    def on_step_end(self, state: TrainerState, losses: Mapping[str, float]) -> None:
        """After every optimiser step, with that step's losses (``loss``, ``xtr``, ``contrastive``...)."""

    def on_log(self, state: TrainerState, metrics: Mapping[str, float]) -> None:
        """Every ``train.log_every`` steps, with smoothed training metrics (lr, pairs/s, losses)."""

    def on_evaluate(self, state: TrainerState, metrics: Mapping[str, float]) -> None:
        """After each dev evaluation, with its metrics (``dev/retrieval_acc``...)."""

    def on_save(self, state: TrainerState, path: Path) -> None:
        """After a checkpoint or the final model was written to ``path``."""

    def on_train_end(self, state: TrainerState, status: str) -> None:
        """Once at the end: ``FINISHED`` (also after a graceful stop), ``FAILED`` or ``KILLED``."""

