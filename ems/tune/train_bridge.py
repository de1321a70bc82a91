"""The one call from tuning into training: a trial's settings, data, model folder, tracking run, callbacks.

The tuning plug-ins are :class:`~ems.train.callbacks.TrainerCallback` objects; the trainer
takes them as they are.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ems.train.callbacks import TrainerCallback

if TYPE_CHECKING:
    from ems.tracking import Tracker

logger = logging.getLogger(__name__)

Folder = str | os.PathLike[str]


def run_training(settings: Mapping[str, Any], data: tuple[Folder, Folder, Folder], out_dir: Folder,
                 tracker: Tracker | None, callbacks: Sequence[TrainerCallback], log_models: bool = False) -> dict[str, Any]:
    """Train one trial's model; ``data`` is (train shards, valid shards, tokenizer); callbacks may raise to abort.

    ``log_models``: log the trial's weights to its tracking run too (only when trial models are kept).
    """
    from ems.tracking import NullTracker
    from ems.train import train

    tracker = tracker if tracker is not None else NullTracker()
    train_dir, valid_dir, tokenizer_dir = data
    return train(settings, train_dir, valid_dir, tokenizer_dir, out_dir, tracker, callbacks=list(callbacks),
                 progress=False, log_models=log_models)
