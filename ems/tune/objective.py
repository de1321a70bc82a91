"""The tuning objective on the real trainer: a short run scored by dev retrieval accuracy.

Each trial deep-merges its sampled values into the training settings, trains for
``tune.budget_steps`` steps (or ``tune.budget_seconds``) with a dev evaluation every
``eval_every`` steps on the validation pairs (never a test set), reports each dev value so
the pruner can stop the trial, and scores the trial by its best dev value.
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
from ems.tune.settings import TuneSettings, tune_section
from ems.tune.space import SearchParam, to_overrides
from ems.tune.study import ObjectiveFn, TrialDiverged

logger = logging.getLogger(__name__)

#: Sections of the settings the trainer reads.
TRAINER_SECTIONS = ("model", "objective", "train", "tracking")
#: Dev metric names tried, in order, when ``tune.metric`` is null.
METRIC_CANDIDATES = ("dev/retrieval_acc", "dev/acc_mean", "dev/acc", "dev/tatoeba_acc", "dev_acc", "valid/acc")


def pick_metric(dev_metrics: Mapping[str, float], metric: str | None) -> tuple[str, float]:
    """The dev retrieval accuracy in ``dev_metrics``: ``metric`` or a known name."""
    if metric:
        if metric not in dev_metrics:
            raise EmsError(f"tune.metric: the trainer reported no {metric!r} (it reported {sorted(dev_metrics)})")
        return metric, float(dev_metrics[metric])
    for name in METRIC_CANDIDATES:
        if name in dev_metrics:
            return name, float(dev_metrics[name])
    accs = sorted(k for k in dev_metrics if "acc" in k.lower() and ("dev" in k.lower() or "valid" in k.lower()))
    if len(accs) == 1:
        return accs[0], float(dev_metrics[accs[0]])
    raise EmsError(f"cannot tell which dev metric to tune on among {sorted(dev_metrics)}; set tune.metric")


class DivergenceGuard:
    """A tracker wrapper that fails the trial as soon as the trainer logs a non-finite loss."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._inner.log_metrics(metrics, step=step)
        check_finite(metrics, step)


def check_finite(metrics: Mapping[str, float], step: int | None) -> None:
    """Raise TrialDiverged when a loss (training or dev) is NaN or infinite."""
    for key, value in metrics.items():
        if "loss" in key and value is not None and not math.isfinite(float(value)):
            raise TrialDiverged(f"{key} is {value} at step {step}")


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
    metric = tune.metric
    trials_dir = Path(trials_dir)

    def objective(params: dict[str, Any], report: Any) -> float:
        from ems.tracking import NullTracker
        from ems.train import train

        cfg = trial_settings(settings, to_overrides(params, space), tune)
        out_dir = trials_dir / f"trial-{getattr(report, 'number', 0):04d}"
        if out_dir.exists():
            shutil.rmtree(out_dir)  # a stale folder of an interrupted session must not be resumed
        best = {"value": -math.inf, "name": None}

        def on_dev(step: int, dev_metrics: Mapping[str, float]) -> None:
            check_finite(dev_metrics, step)  # NaN weights still give a (meaningless) accuracy
            name, value = pick_metric(dev_metrics, metric)
            if math.isfinite(value):
                best["value"] = max(best["value"], value)
                best["name"] = name
            report(step, value)

        tracker = DivergenceGuard(getattr(report, "tracker", None) or NullTracker())
        try:
            train(cfg, train_dir, valid_dir, tokenizer_dir, out_dir, tracker, callbacks=(on_dev,), progress=False)
        finally:
            if not keep_models:
                shutil.rmtree(out_dir, ignore_errors=True)
        if best["name"] is None:
            raise EmsError("the trial ended without a finite dev evaluation; lower tune.eval_every")
        return best["value"]

    return objective
