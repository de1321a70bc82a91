"""Outputs of a finished study: ``best_params.yaml``, the trials table, and figures.

``best_params.yaml`` is in config-section form (``{train: {lr: ...}, objective: {...}}``)
so the training rule deep-merges it into its settings. Figures use optuna's matplotlib
backend; a figure that cannot be drawn (too few trials, one distinct value) becomes a
placeholder PNG that says why, so the Snakemake report still builds.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ems.errors import EmsError
from ems.io import atomic_open, atomic_path
from ems.tune.space import SearchParam, to_overrides
from ems.tune.trials import OWNER, REASON, RETRY_OF, RUN_ID, outcome

logger = logging.getLogger(__name__)

FIGURES = ("history", "importances", "parallel")


def trials_table(study: Any) -> Any:
    """One row per trial: number, state, outcome, value, params, timing, worker, MLflow run."""
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False):
        start, end = t.datetime_start, t.datetime_complete
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.name,
            "outcome": outcome(t),
            "value": t.value,
            "last_step": t.last_step,
            "n_reports": len(t.intermediate_values),
            "datetime_start": start.isoformat(timespec="seconds") if start else "",
            "duration_s": round((end - start).total_seconds(), 3) if start and end else None,
            "worker": t.user_attrs.get(OWNER, ""),
            "mlflow_run_id": t.user_attrs.get(RUN_ID, ""),
            "fail_reason": t.user_attrs.get(REASON, ""),
            "retry_of": t.user_attrs.get(RETRY_OF),
        }
        row.update({f"params_{k}": v for k, v in t.params.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def best_overrides(study: Any, space: list[SearchParam]) -> tuple[dict[str, Any], Any]:
    """The best completed trial's values in config-section form, and that trial."""
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        raise EmsError(f"study {study.study_name!r} has no completed trial; nothing to recommend")
    best = study.best_trial
    names = {p.name for p in space}
    values = {k: v for k, v in best.params.items() if k in names}
    missing = names - set(values)
    if missing:
        logger.warning("best trial %d lacks %s (space changed since it ran)", best.number, ", ".join(sorted(missing)))
    return to_overrides(values, space), best


def write_best_params(path: str | os.PathLike[str], study: Any, space: list[SearchParam]) -> dict[str, Any]:
    overrides, best = best_overrides(study, space)
    header = (
        f"# Best trial {best.number} of study {study.study_name!r}: dev value {best.value:.6g}\n"
        "# Config-section overrides; the training rule deep-merges them when tune.use_best is true.\n"
    )
    with atomic_open(path) as fh:
        fh.write(header)
        yaml.safe_dump(overrides, fh, sort_keys=True)
    return overrides


def _placeholder(path: Path, title: str, reason: str) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.axis("off")
    ax.text(0.5, 0.5, f"{title}\nnot available: {reason}", ha="center", va="center", wrap=True)
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def _plotters() -> dict[str, tuple[str, Callable[[Any], Any], int]]:
    from optuna.visualization import matplotlib as ovm

    return {
        "history": ("Optimisation history", ovm.plot_optimization_history, 1),
        "importances": ("Parameter importances", ovm.plot_param_importances, 2),
        "parallel": ("Parallel coordinates", ovm.plot_parallel_coordinate, 1),
    }


def write_figures(study: Any, paths: Mapping[str, str | os.PathLike[str]]) -> dict[str, bool]:
    """Draw each requested figure (``history``, ``importances``, ``parallel``) as PNG.

    Returns ``{name: drawn}``; a figure that cannot be drawn is replaced by a placeholder
    and the reason is logged.
    """
    import matplotlib

    matplotlib.use("Agg")
    from optuna.trial import TrialState

    n_done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    drawn: dict[str, bool] = {}
    for name, path in paths.items():
        title, plot, needed = _plotters()[name]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if n_done < needed:
            reason = f"needs >= {needed} completed trial(s), the study has {n_done}"
            logger.info("figure %s: %s", name, reason)
            _placeholder(path, title, reason)
            drawn[name] = False
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = plot(study)
            fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            _save(fig, path)
            drawn[name] = True
        except Exception as exc:  # noqa: BLE001 - optuna raises several kinds; a missing plot is not fatal
            logger.info("figure %s could not be drawn (%s: %s); writing a placeholder", name, type(exc).__name__, exc)
            _placeholder(path, title, f"{type(exc).__name__}: {exc}")
            drawn[name] = False
    return drawn


def state_counts(study: Any) -> dict[str, int]:
    """Trials per outcome (complete, pruned, failed count toward n_trials; interrupted, error, surplus do not)."""
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[outcome(t)] = counts.get(outcome(t), 0) + 1
    return counts


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
