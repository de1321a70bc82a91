"""Outputs of a finished study: ``best_params.yaml`` and the trials table.

``best_params.yaml`` is in config-section form (``{train: {lr: ...}, objective: {...}}``)
so the training rule deep-merges it into its settings. The figures are in :mod:`ems.tune.figures`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import yaml

from ems.errors import EmsError
from ems.io import atomic_open
from ems.tune.space import SearchParam, to_overrides
from ems.tune.trials import OWNER, REASON, RETRY_OF, RUN_ID, outcome

logger = logging.getLogger(__name__)

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


def state_counts(study: Any) -> dict[str, int]:
    """Trials per outcome (complete, pruned, failed count toward n_trials; interrupted, error, surplus do not)."""
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[outcome(t)] = counts.get(outcome(t), 0) + 1
    return counts
