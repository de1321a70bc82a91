"""EMS trainer: batching, optimisation, validation, checkpoint/resume, DDP and tracking.

Start a training with :func:`ems.train.entry.run_training` (also importable from here).
"""

from __future__ import annotations

from ems.train.callbacks import TrainerCallback, TrainerControl, TrainerState

__all__ = ["TrainerCallback", "TrainerControl", "TrainerState", "run_training"]


def __getattr__(name: str):  # lazy: importing the package must not pull in torch.distributed etc.
    if name == "run_training":
        from ems.train.entry import run_training

        return run_training
    raise AttributeError(name)
