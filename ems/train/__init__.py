"""EMS trainer: batching, optimisation, validation, checkpoint/resume, DDP and tracking."""

from __future__ import annotations

from ems.train.callbacks import TrainerCallback, TrainerState

__all__ = ["TrainerCallback", "TrainerState", "train"]


def __getattr__(name: str):  # lazy: importing the package must not pull in torch.distributed etc.
    if name == "train":
        from ems.train.trainer import train

        return train
    raise AttributeError(name)
