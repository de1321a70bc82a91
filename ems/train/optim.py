"""Optimiser and learning-rate schedule (paper: Adam with amsgrad, warm-up then cosine decay).

The schedule is a function of training *progress*: the largest of ``step / max_steps``,
``seconds / max_seconds`` and ``epochs / max_epochs``, so that whichever budget ends
training also ends the decay. Decay runs over the progress left after warm-up. Its state
(steps, seconds and epochs done, progress at the end of warm-up) is saved in checkpoints.
"""

from __future__ import annotations

import logging
import math

import torch

from ems.train.settings import TrainSettings

logger = logging.getLogger(__name__)


def build_optimizer(params: list[torch.nn.Parameter], t: TrainSettings) -> torch.optim.Optimizer:
    """Adam (L2 weight decay) or AdamW (decoupled), both with the configured amsgrad flag."""
    cls = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
    try:  # the fused kernel (CPU and CUDA) does one pass over each tensor instead of ~10
        return cls(params, lr=t.lr, weight_decay=t.weight_decay, amsgrad=t.amsgrad, fused=True)
    except (RuntimeError, TypeError, ValueError) as exc:
        logger.debug("fused %s unavailable (%s); using the default implementation", cls.__name__, exc)
        return cls(params, lr=t.lr, weight_decay=t.weight_decay, amsgrad=t.amsgrad)


class Schedule:
    """Linear warm-up to ``lr``, then cosine / linear decay to 0, or constant."""

    def __init__(self, optimizer: torch.optim.Optimizer, t: TrainSettings) -> None:
        self.optimizer = optimizer
        self.base_lr = t.lr
        self.warmup = t.warmup_steps
        self.kind = t.schedule
        self.max_steps = t.max_steps
        self.max_seconds = t.max_seconds
        self.max_epochs = t.max_epochs
        self.step_count = 0
        self.seconds = 0.0
        self.epochs = 0.0
        self.warmup_progress: float | None = None

    def progress(self) -> float:
        p = self.step_count / self.max_steps
        if self.max_seconds:
            p = max(p, self.seconds / self.max_seconds)
        if self.max_epochs:
            p = max(p, self.epochs / self.max_epochs)
        return min(p, 1.0)

    def lr(self) -> float:
        if self.warmup and self.step_count < self.warmup:
            return self.base_lr * (self.step_count + 1) / (self.warmup + 1)
        if self.kind == "constant":
            return self.base_lr
        # decay over the part of the budget left after warm-up
        p0 = self.warmup_progress if self.warmup_progress is not None else self.warmup / self.max_steps
        p = self.progress()
        frac = min(max((p - p0) / max(1.0 - p0, 1e-9), 0.0), 1.0)
        if self.kind == "linear":
            return self.base_lr * (1.0 - frac)
        return self.base_lr * 0.5 * (1.0 + math.cos(math.pi * frac))

    def apply(self) -> float:
        """Set the optimiser's lr for the coming step; return it."""
        lr = self.lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def advance(self, seconds: float, epochs: float | None = None) -> None:
        """One optimiser step done, taking ``seconds``; ``epochs``: total epochs done so far."""
        self.step_count += 1
        self.seconds += seconds
        if epochs is not None:
            self.epochs = epochs
        if self.step_count == self.warmup:
            self.warmup_progress = self.progress()

    def state_dict(self) -> dict[str, float | None]:
        return {"step_count": self.step_count, "seconds": self.seconds, "epochs": self.epochs,
                "warmup_progress": self.warmup_progress}

    def load_state_dict(self, state: dict[str, float | None]) -> None:
        self.step_count = int(state["step_count"])
        self.seconds = float(state["seconds"])
        self.epochs = float(state.get("epochs") or 0.0)
        wp = state.get("warmup_progress")
        self.warmup_progress = None if wp is None else float(wp)
