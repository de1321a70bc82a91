"""What a training callback may raise, and the callback signature.

A callback is called as ``callback(step, dev_metrics)`` after each dev evaluation (on rank 0
only). Raising :class:`StopTraining` ends training gracefully (the best model so far is
saved, like early stopping). Any other exception, e.g. ``optuna.TrialPruned``, aborts the
run: the tracker's run is closed as KILLED and the exception propagates out of ``train``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

logger = logging.getLogger(__name__)

Callback = Callable[[int, Mapping[str, float]], None]


class StopTraining(Exception):
    """Raised by a callback to stop training early and keep the best model so far."""
