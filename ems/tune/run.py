"""Entry points of the tuning stage: one worker session, and the summary of a study.

``tune_worker`` and ``tune_summary`` take the resolved settings (sections ``tune``,
``model``, ``objective``, ``train``, ``tracking``, plus ``name``/``results_dir``) and
explicit paths, so the CLI and the tests call the same code.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from ems.config import _extend_with_defaults, key_path, load_schema
from ems.errors import ConfigError
from ems.io import stable_hash, write_json
from ems.tune.storage import storage_spec
from ems.tune.study import ObjectiveFn, StudySpec, WorkerResult, open_study, run_worker

logger = logging.getLogger(__name__)


def _interrupt(signum: int, frame: Any) -> None:
    from ems.tune.study import defer_signal

    if not defer_signal(f"signal {signum}"):  # never in the middle of a storage write
        raise KeyboardInterrupt(f"signal {signum}")


def interrupt_on_sigterm() -> None:
    """Turn SIGTERM (Snakemake cancelling a job) into KeyboardInterrupt, so the running trial
    is closed as ``interrupted`` (it does not count, and a rerun makes it up)."""
    import signal

    signal.signal(signal.SIGTERM, _interrupt)


def resolve_tune(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the ``tune`` section against the project schema and fill its defaults."""
    schema = load_schema()
    sub = {
        "$schema": schema.get("$schema"),
        "$defs": schema.get("$defs", {}),
        "type": "object",
        "properties": {"tune": schema["properties"]["tune"]},
    }
    cfg = {"tune": copy.deepcopy(dict(settings.get("tune") or {}))}
    validator = _extend_with_defaults(jsonschema.validators.validator_for(sub))(sub)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("invalid tune settings:\n" + "\n".join(f"  {key_path(e)}: {e.message}" for e in errors[:10]))
    return cfg["tune"]


def study_name(settings: Mapping[str, Any], tune: Mapping[str, Any]) -> str:
    return tune.get("study_name") or f"ems-{settings.get('name', 'study')}"


def make_spec(settings: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> StudySpec:
    tune = resolve_tune(settings)
    spec = StudySpec.from_settings(tune, study_name(settings, tune), storage_spec(tune.get("storage"), out_dir))
    sections = {s: settings.get(s) for s in ("model", "objective", "train")}
    tags = {"ems.config": str(settings.get("name", "")), "ems.tune_hash": stable_hash(tune),
            "ems.base_settings_hash": stable_hash(sections)}
    return dataclasses.replace(spec, tags=tags)


def make_tracker(settings: Mapping[str, Any], tracking_parent: str | os.PathLike[str] | None) -> Any:
    from ems.tune.mlflow_log import StudyTracker

    if tracking_parent:
        return StudyTracker.from_parent_json(tracking_parent)
    return StudyTracker.from_settings(settings)


def tune_worker(
    settings: Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    objective_fn: ObjectiveFn,
    worker_id: int = 0,
    tracker: Any = None,
    max_trials: int | None = None,
    done: str | os.PathLike[str] | None = None,
) -> WorkerResult:
    """Run one worker on the study of ``settings`` until it is full (or ``max_trials`` here)."""
    from ems.tune.study import TrialDiverged

    spec = make_spec(settings, out_dir)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    catch: tuple[type[BaseException], ...] = (ArithmeticError, TrialDiverged)
    result = run_worker(spec, objective_fn, worker_id, tracker, catch=catch, max_trials=max_trials)
    logger.info("worker %d ran %d trial(s): %s", worker_id, len(result.trials), result.states)
    if done is not None:
        write_json(done, {"worker_id": worker_id, "study": spec.name, "storage": spec.storage,
                          "trials": result.trials, "states": result.states})
    return result


def tune_summary(
    settings: Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    best_params: str | os.PathLike[str],
    trials_csv: str | os.PathLike[str],
    figures: Mapping[str, str | os.PathLike[str]],
    tracker: Any = None,
) -> dict[str, Any]:
    """Write ``best_params.yaml``, the trials CSV and the figures; end the study's MLflow run."""
    from ems.io import atomic_open
    from ems.tune.outputs import state_counts, trials_table, write_best_params, write_figures

    spec = make_spec(settings, out_dir)
    study = open_study(spec)
    table = trials_table(study)
    with atomic_open(trials_csv) as fh:
        table.to_csv(fh, index=False)
    overrides = write_best_params(best_params, study, spec.space)
    drawn = write_figures(study, figures)
    counts = state_counts(study)
    logger.info("study %s: %s; best value %.4f with %s", spec.name, counts, study.best_value, overrides)
    if tracker is not None:
        from ems.tune.mlflow_log import PARENT_ATTR

        tracker.parent_run_id = study.user_attrs.get(PARENT_ATTR)
        best = {f"{s}.{k}": v for s, sec in overrides.items() for k, v in sec.items()}
        tracker.finish_study(study.best_value, best, counts,
                             [Path(best_params), Path(trials_csv), *map(Path, figures.values())])
    return {"best": overrides, "best_value": study.best_value, "counts": counts, "figures": drawn}
