"""What a trial's objective gets and gives: the :class:`Report` it reports to, the tracker protocol
of a study, and :class:`TrialDiverged`.

``objective_fn(params, report) -> score``: ``report(step, value)`` may raise ``optuna.TrialPruned``;
``report.number`` is the trial's number and ``report.tracker`` its tracking run (None when untracked).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ems.tracking import Tracker


class TrialDiverged(FloatingPointError):
    """The objective produced a non-finite value (NaN loss or metric): the trial fails."""


class Report(Protocol):
    """What an objective reports to: a callable with the trial's number and tracking run."""

    number: int
    tracker: Tracker | None

    def __call__(self, step: int, value: float) -> None:
        """Record the dev value at ``step``; raises ``optuna.TrialPruned`` to stop the trial."""


ObjectiveFn = Callable[[dict[str, Any], Report], float]

#: outcome of a trial -> the state its tracking run records
RUN_STATE = {"complete": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL", "error": "FAIL",
             "interrupted": "INTERRUPTED"}


class StudyTracker(Protocol):
    """Where a study and its trials are tracked (``ems.tune.mlflow_log.MlflowStudyTracker``)."""

    def ensure_parent(self, study: Any, tags: Mapping[str, str] | None = None) -> str:
        """The study's own run, created once; its id is kept in the study."""

    def start_trial(self, study_name: str, number: int, params: Mapping[str, Any], worker: str) -> Tracker:
        """Open a trial's run (nested under the study's); the trainer logs into it."""

    def report(self, run_id: str, step: int, value: float) -> None:
        """Record an intermediate value of a trial."""

    def end_trial(self, run_id: str, state: str, value: float | None, reason: str | None = None) -> None:
        """Record the final state and value and close the trial's run."""

    def finish_study(self, best_value: float | None, best_params: Mapping[str, Any], counts: Mapping[str, int],
                     artifacts: list[Path]) -> None:
        """Record the study's outcome on its run and close it (``ems tune-summary``)."""


class Reporter:
    """The :class:`Report` of one trial: ``report(step, value)`` records an intermediate dev value and
    raises ``optuna.TrialPruned`` when the pruner stops the trial."""

    def __init__(self, trial: Any, study_tracker: StudyTracker | None = None, tracker: Tracker | None = None,
                 last_step: int | None = None) -> None:
        self.trial = trial
        self.number = trial.number
        self.tracker = tracker
        self.last_step = last_step
        self._study_tracker = study_tracker

    def __call__(self, step: int, value: float) -> None:
        import optuna

        value = float(value)
        if not math.isfinite(value):
            raise TrialDiverged(f"dev metric is {value} at step {step}")
        self.trial.report(value, int(step))
        if self._study_tracker is not None and self.tracker is not None and self.tracker.run_id:
            self._study_tracker.report(self.tracker.run_id, int(step), value)
        final = self.last_step is not None and step >= self.last_step  # the budget is spent: nothing to save
        if not final and self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step} (dev value {value:.4f})")
