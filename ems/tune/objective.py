"""The tuning objective on the real trainer: a short run scored by dev retrieval accuracy.

Each trial deep-merges its sampled values into the training settings, trains for
``tune.budget_steps`` steps (or ``tune.budget_seconds``) with a dev evaluation every
``eval_every`` steps on the validation pairs (never a test set), and scores the trial by its
best dev value. Pruning and the divergence guard are trainer callbacks
(:class:`~ems.train.callbacks.TrainerCallback`): :class:`OptunaPruning` reports each dev
value and aborts a trial the pruner stops, :class:`DivergenceGuard` aborts at a NaN loss (both
through ``TrainerControl.abort``). The trial trains through :func:`ems.train.entry.run_training`.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ems.config import deep_merge
from ems.errors import EmsError
from ems.train.callbacks import TrainerCallback, TrainerControl, TrainerState
from ems.train.settings import SECTIONS as TRAINER_SECTIONS
from ems.tune.reporting import ObjectiveFn, Report, TrialDiverged
from ems.tune.settings import TuneSettings, tune_section
from ems.tune.space import SearchParam, to_overrides

logger = logging.getLogger(__name__)

class OptunaPruning(TrainerCallback):
    """Reports each dev evaluation to the trial; aborts the run with the ``optuna.TrialPruned`` the reporter raises."""

    def __init__(self, report: Report, metric: str) -> None:
        self.report = report
        self.metric = metric
        self.best: float | None = None

    def on_evaluate(self, state: TrainerState, control: TrainerControl, metrics: Mapping[str, float]) -> None:
        import optuna

        if (diverged := non_finite_loss(metrics, state.step)) is not None:  # NaN weights still give an accuracy
            control.abort(diverged)
            return
        if self.metric not in metrics:
            raise EmsError(f"tune.metric: the trainer reported no {self.metric!r} (it reported {sorted(metrics)})")
        value = float(metrics[self.metric])
        if math.isfinite(value):
            self.best = value if self.best is None else max(self.best, value)
        try:
            self.report(state.step, value)
        except (optuna.TrialPruned, TrialDiverged) as exc:
            control.abort(exc)


class DivergenceGuard(TrainerCallback):
    """Aborts the trial (``TrialDiverged``) at the first non-finite training loss."""

    def on_step_end(self, state: TrainerState, control: TrainerControl, losses: Mapping[str, float]) -> None:
        if (diverged := non_finite_loss(losses, state.step)) is not None:
            control.abort(diverged)


def non_finite_loss(metrics: Mapping[str, float], step: int | None) -> TrialDiverged | None:
    """The TrialDiverged to abort with when a loss (training or dev) is NaN or infinite, else None."""
    for key, value in metrics.items():
        if "loss" in key and value is not None and not math.isfinite(float(value)):
            return TrialDiverged(f"{key} is {value} at step {step}")
    return None


def trial_settings(settings: Mapping[str, Any], overrides: Mapping[str, Any], tune: TuneSettings) -> dict[str, Any]:
    """Training settings of one trial: base sections + sampled values + the trial budget."""
    base = {s: copy.deepcopy(dict(settings.get(s) or {})) for s in TRAINER_SECTIONS}
    for extra in ("name", "results_dir"):
        if extra in settings:
            base[extra] = settings[extra]
    out = deep_merge(base, overrides)
    budget, every = tune.budget_steps, tune.trial_eval_every
    out["train"].update(
        max_steps=budget,
        max_seconds=tune.budget_seconds,
        max_epochs=None,
        eval_every=every,
        checkpoint_every=max(budget, every),
        early_stopping_patience=None,  # the pruner decides; a trial runs its whole budget otherwise
    )
    tuned_warmup = "warmup_steps" in (overrides.get("train") or {})
    if not tuned_warmup and out["train"].get("warmup_steps", 0) > budget // 10:
        # a warm-up as long as the trial would leave no time to learn: keep the schedule's shape
        logger.info("trial warm-up capped at %d steps (a tenth of tune.budget_steps)", budget // 10)
        out["train"]["warmup_steps"] = budget // 10
    return out


def training_objective(
    settings: Mapping[str, Any],
    space: list[SearchParam],
    train_dir: str | os.PathLike[str],
    valid_dir: str | os.PathLike[str],
    tokenizer_dir: str | os.PathLike[str],
    trials_dir: str | os.PathLike[str],
    keep_models: bool = False,
) -> ObjectiveFn:
    """``objective_fn(params, report)`` that trains a short EMS model per trial."""
    tune = tune_section(settings)
    metric = tune.metric_name
    trials_dir = Path(trials_dir)

    def objective(params: dict[str, Any], report: Report) -> float:
        from ems.train.entry import Tracking, run_training
        from ems.train.run import resolve_run

        cfg = trial_settings(settings, to_overrides(params, space), tune)
        out_dir = trials_dir / f"trial-{report.number:04d}"
        if out_dir.exists():
            shutil.rmtree(out_dir)  # a stale folder of an interrupted session must not be resumed
        pruning = OptunaPruning(report, metric)
        try:
            run = resolve_run(cfg, train_dir, valid_dir, tokenizer_dir, out_dir)
            # the trial's tracking run is the study's: opened by the worker, its final state set by end_trial
            run_training(run, Tracking(open_run=report.tracker), [pruning, DivergenceGuard()],
                         log_models=keep_models, progress=False)
        finally:
            if not keep_models:
                shutil.rmtree(out_dir, ignore_errors=True)
        if pruning.best is None:
            raise EmsError("the trial ended without a finite dev evaluation; lower tune.eval_every")
        return pruning.best

    return objective
