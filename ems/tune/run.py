"""Entry points of the tuning stage: one worker session, and the summary of a study.

``tune_worker`` and ``tune_summary`` take the resolved settings (sections ``tune``,
``model``, ``objective``, ``train``, ``tracking``, plus ``name``/``results_dir``) and
explicit paths, so the CLI and the tests call the same code.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ems.io import stable_hash, write_json
from ems.train.settings import SECTIONS as TRAINER_SECTIONS
from ems.tune.reporting import ObjectiveFn, StudyTracker
from ems.tune.settings import TuneSettings, tune_section
from ems.tune.signals import Interrupts
from ems.tune.spec import StudySpec
from ems.tune.storage import gate, make_storage, shown, storage_spec
from ems.tune.study import WorkerResult, open_study, prepare_study, run_worker

logger = logging.getLogger(__name__)


def interrupt_on_sigterm() -> Interrupts:
    """Turn SIGTERM (Snakemake cancelling a job) into KeyboardInterrupt outside storage writes, so
    the running trial is closed as ``interrupted`` (it does not count, and is retried)."""
    return Interrupts().install()


def study_name(settings: Mapping[str, Any], tune: TuneSettings) -> str:
    return tune.study_name or f"ems-{settings.get('name', 'study')}"


def make_spec(settings: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> StudySpec:
    """The study of ``settings`` (``tune`` validated and defaulted by the schema), stored under ``out_dir``."""
    tune = tune_section(settings)
    spec = StudySpec.from_settings(tune, study_name(settings, tune), storage_spec(tune.storage, out_dir), settings)
    sections = {s: settings.get(s) for s in TRAINER_SECTIONS if s != "tracking"}  # what a trial trains with
    tags = {"ems.config": str(settings.get("name", "")), "ems.tune_hash": stable_hash(dataclasses.asdict(tune)),
            "ems.base_settings_hash": stable_hash(sections)}
    return dataclasses.replace(spec, tags=tags)


def make_tracker(settings: Mapping[str, Any], tracking_parent: str | os.PathLike[str] | None) -> StudyTracker:
    from ems.tune.mlflow_log import MlflowStudyTracker

    if tracking_parent:
        return MlflowStudyTracker.from_parent_json(tracking_parent)
    return MlflowStudyTracker.from_settings(settings)


def tune_setup(
    settings: Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    tracker: StudyTracker | None = None,
    done: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Create the storage schema, the study (metric name, enqueued points) and its tracking run, once.

    Run before any worker starts (rule ``tune_setup``): concurrent workers on a fresh RDB
    would race to create the schema (PostgreSQL: UniqueViolation on CREATE TYPE) and the
    study run. Rerunning it is harmless; workers only attach.
    """
    from ems.tune.mlflow_log import PARENT_ATTR

    spec = make_spec(settings, out_dir)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    storage = make_storage(spec.storage, spec.tune.heartbeat_interval, spec.tune.heartbeat_grace)
    with gate(spec.storage):
        study = prepare_study(spec, storage, tracker)
    info = {"study": spec.name, "storage": shown(spec.storage), "n_trials": spec.n_trials,
            "trials": len(study.get_trials(deepcopy=False)), "study_run_id": study.user_attrs.get(PARENT_ATTR)}
    logger.info("study %s ready in %s: %s", spec.name, shown(spec.storage), info)
    if done is not None:
        write_json(done, info)
    return info


def tune_worker(
    settings: Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    objective_fn: ObjectiveFn,
    worker_id: int = 0,
    tracker: StudyTracker | None = None,
    max_trials: int | None = None,
    done: str | os.PathLike[str] | None = None,
    interrupts: Interrupts | None = None,
) -> WorkerResult:
    """Run one worker on the study of ``settings`` until it is full (or ``max_trials`` here)."""
    spec = make_spec(settings, out_dir)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    result = run_worker(spec, objective_fn, worker_id, tracker, catch=(ArithmeticError,), max_trials=max_trials,
                        interrupts=interrupts)
    logger.info("worker %d ran %d trial(s): %s", worker_id, len(result.trials), result.states)
    if done is not None:
        write_json(done, {"worker_id": worker_id, "study": spec.name, "storage": shown(spec.storage),
                          "trials": result.trials, "states": result.states})
    return result


def tune_summary(
    settings: Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    best_params: str | os.PathLike[str],
    trials_csv: str | os.PathLike[str],
    figures: Mapping[str, str | os.PathLike[str]],
    tracker: StudyTracker | None = None,
) -> dict[str, Any]:
    """Write ``best_params.yaml``, the trials CSV and the figures; end the study's MLflow run."""
    from ems.io import atomic_open
    from ems.tune.figures import pdf_beside, write_figures
    from ems.tune.outputs import state_counts, trials_table, write_best_params

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
        tracker.ensure_parent(study, tags=dict(spec.tags))
        best = {f"{s}.{k}": v for s, sec in overrides.items() for k, v in sec.items()}
        tracker.finish_study(study.best_value, best, counts,
                             [Path(best_params), Path(trials_csv), *map(Path, figures.values()),
                              *map(pdf_beside, figures.values())])
    return {"best": overrides, "best_value": study.best_value, "counts": counts, "figures": drawn}
