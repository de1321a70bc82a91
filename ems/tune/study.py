"""One worker of an Optuna study: ask, train, report, tell, until the study holds ``n_trials``.

A thin loop on Optuna's public ``ask``/``tell`` API (see :mod:`ems.tune.optuna_adapter` for
why not ``study.optimize``). Several workers (processes, Snakemake jobs) may run on one
study and the total is exact: on a journal each worker reaps lost trials, counts and asks
under a lock beside the journal; on an RDB storage (no shared lock) each new trial checks
by its number that fewer than ``n_trials`` counting trials precede it. What counts, and
how lost trials are retried, is in :mod:`ems.tune.trials`. What a study is lives in
:mod:`ems.tune.spec`, what an objective reports to in :mod:`ems.tune.reporting`, SIGTERM handling
in :mod:`ems.tune.signals`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import socket
import warnings
from typing import Any

from ems.errors import ConfigError
from ems.io import stable_hash
from ems.tune.optuna_adapter import beat, fail_stale_trials, heartbeat
from ems.tune.reporting import RUN_STATE, ObjectiveFn, Reporter, StudyTracker, TrialDiverged
from ems.tune.signals import Interrupts
from ems.tune.space import suggest
from ems.tune.spec import StudySpec, make_pruner
from ems.tune.storage import WorkerLease, gate, is_journal, make_storage
from ems.tune.trials import (
    OUTCOME,
    OWNER,
    REASON,
    RUN_ID,
    LostTrials,
    enqueue_points,
    is_surplus,
    reap_lost,
    trials_used,
)

logger = logging.getLogger(__name__)

def worker_seed(base: int, worker_id: int, n_existing: int) -> int:
    """The sampler seed of a worker session.

    A fresh study's first worker uses ``sampler_seed`` itself (reproducible); other
    workers and resumed sessions derive theirs, or a resumed seeded sampler would replay
    the random start-up points of the first session and repeat trials.
    """
    if worker_id == 0 and n_existing == 0:
        return base
    return int(stable_hash([base, worker_id, n_existing]), 16) % (2**31 - 1)


def open_study(spec: StudySpec, worker_id: int = 0, storage: Any = None) -> Any:
    """Create or load the study, with a TPE sampler seeded for this worker session."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage is None:
        storage = make_storage(spec.storage, spec.tune.heartbeat_interval, spec.tune.heartbeat_grace)
    study = optuna.create_study(storage=storage, study_name=spec.name, direction=spec.direction,
                                pruner=make_pruner(spec), load_if_exists=True)
    if study.direction.name.lower() != spec.direction:
        raise ConfigError(f"study {spec.name!r} in {spec.storage} is {study.direction.name.lower()}, not {spec.direction}")
    n_existing = len(study.get_trials(deepcopy=False))
    seed = worker_seed(spec.tune.sampler_seed, worker_id, n_existing)
    startup = max(1, min(10, spec.n_trials // 2))
    study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, constant_liar=True)
    logger.info("study %s: %d trial(s) stored, worker %d sampler seed %d", spec.name, n_existing, worker_id, seed)
    return study


def prepare_study(spec: StudySpec, storage: Any = None, tracker: StudyTracker | None = None) -> Any:
    """Create the study, enqueue ``tune.enqueue`` and open its tracking run, once before workers start.

    Idempotent: ``ems tune-setup`` calls it, and so does every journal worker under the gate.
    """
    study = open_study(spec, 0, storage)
    if study.metric_names != [spec.tune.metric_name]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental in some optuna versions
            study.set_metric_names([spec.tune.metric_name])  # optuna-dashboard names the axis after it
    enqueue_points(study, spec.enqueue)
    if tracker is not None:
        tracker.ensure_parent(study, tags=dict(spec.tags))
    return study


def _study_exists(storage: Any, name: str) -> bool:
    import optuna

    return name in optuna.get_all_study_names(storage=storage)


@dataclasses.dataclass
class WorkerResult:
    worker_id: int
    trials: list[int] = dataclasses.field(default_factory=list)
    states: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Worker:
    """One worker session on a study: its storage, tracker, lease token and error policy."""

    spec: StudySpec
    study: Any
    storage: Any
    lost: LostTrials
    token: str
    worker_id: int = 0
    tracker: StudyTracker | None = None
    catch: tuple[type[BaseException], ...] = (ArithmeticError,)
    interrupts: Interrupts | None = None

    def admit(self) -> Any | None:
        """The next trial (asked and tagged with this worker), or None when the study is full."""
        spec = self.spec
        with gate(spec.storage):
            if self.interrupts is not None:
                self.interrupts.check()
            if is_journal(spec.storage):
                reap_lost(self.study, spec.storage, self.lost)
            else:
                fail_stale_trials(self.study)
            used = trials_used(self.study)
            if used >= spec.n_trials:
                logger.info("study %s holds %d/%d trials: worker %d stops", spec.name, used, spec.n_trials,
                            self.worker_id)
                return None
            with warnings.catch_warnings():  # "heartbeat is supposed to be used with optimize": we run it
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = self.study.ask()
            beat(self.storage, spec.name, trial.number)  # RDB: from its first moment, a lost trial can be found
            trial.set_user_attr(OWNER, self.token)
        if not is_journal(spec.storage) and is_surplus(self.study, trial.number, spec.n_trials):
            self._finish(trial, "surplus", None, "study already full")  # another worker asked first
            return None
        return trial

    def run_trial(self, trial: Any, objective_fn: ObjectiveFn) -> str:
        """Run one asked trial to its end; return its outcome (complete, pruned or failed)."""
        params = suggest(trial, self.spec.space)
        run = None
        if self.tracker is not None:  # the trial's tracking run: opened here, closed below, whatever happens
            run = self.tracker.start_trial(self.study.study_name, trial.number, params, str(self.worker_id))
            trial.set_user_attr(RUN_ID, run.run_id)
        logger.info("trial %d: %s", trial.number, params)
        report = Reporter(trial, self.tracker, run, last_step=self.spec.tune.budget_steps)
        outcome, value, reason, error = self._call(trial, objective_fn, params, report)
        frozen = self._finish(trial, outcome, value, reason)
        if self.tracker is not None and run is not None:
            self.tracker.end_trial(run.run_id, RUN_STATE[outcome], frozen.value, reason)
        if outcome == "interrupted":
            self.lost.retry(self.study, frozen)
        if error is not None:
            raise error
        return outcome

    def _call(self, trial: Any, objective_fn: ObjectiveFn, params: dict[str, Any],
              report: Reporter) -> tuple[str, float | None, str | None, BaseException | None]:
        """Run the objective: (outcome, value, reason, exception to re-raise after recording)."""
        import optuna

        armed = self.interrupts.armed() if self.interrupts is not None else contextlib.nullcontext()
        try:
            with heartbeat(self.storage, self.study.study_name, trial.number), armed:
                value = float(objective_fn(params, report))
            if not math.isfinite(value):
                raise TrialDiverged(f"objective returned {value}")
        except optuna.TrialPruned as exc:
            logger.info("trial %d: %s", trial.number, exc)
            return "pruned", None, str(exc), None
        except self.catch as exc:
            logger.warning("trial %d failed (%s: %s); the study goes on", trial.number, type(exc).__name__, exc)
            return "failed", None, f"{type(exc).__name__}: {exc}", None
        except (KeyboardInterrupt, SystemExit) as exc:
            return "interrupted", None, f"{type(exc).__name__}: {exc}", exc
        except BaseException as exc:  # noqa: BLE001 - not the sampled point's fault (a bug, bad input): the worker stops
            return "error", None, f"{type(exc).__name__}: {exc}", exc
        logger.info("trial %d: value %.4f", trial.number, value)
        return "complete", value, None, None

    def _finish(self, trial: Any, outcome: str, value: float | None, reason: str | None) -> Any:
        from optuna.trial import TrialState

        trial.set_user_attr(OUTCOME, outcome)
        if reason:
            trial.set_user_attr(REASON, reason[:2000])
        if outcome == "complete":
            return self.study.tell(trial, value)
        return self.study.tell(trial, state=TrialState.PRUNED if outcome == "pruned" else TrialState.FAIL)


def attach(spec: StudySpec, storage: Any, worker_id: int, tracker: StudyTracker | None) -> Any:
    """The worker's study: made by ``ems tune-setup``, or here under the gate (journal; a lone RDB worker)."""
    with gate(spec.storage):
        if is_journal(spec.storage) or not _study_exists(storage, spec.name):
            prepare_study(spec, storage, tracker)
        study = open_study(spec, worker_id, storage)
        if tracker is not None:
            tracker.ensure_parent(study, tags=dict(spec.tags))
    return study


def run_worker(spec: StudySpec, objective_fn: ObjectiveFn, worker_id: int = 0, tracker: StudyTracker | None = None,
               catch: tuple[type[BaseException], ...] = (ArithmeticError,), max_trials: int | None = None,
               interrupts: Interrupts | None = None) -> WorkerResult:
    """Run trials until the study holds ``spec.n_trials`` counting trials (or ``max_trials`` here)."""
    lost = LostTrials(spec.tune.retries, spec.enqueue, tracker)
    storage = make_storage(spec.storage, spec.tune.heartbeat_interval, spec.tune.heartbeat_grace, on_stale=lost)
    study = attach(spec, storage, worker_id, tracker)
    result = WorkerResult(worker_id)
    lease = WorkerLease(spec.storage) if is_journal(spec.storage) else None
    with lease if lease is not None else contextlib.nullcontext():
        token = lease.token if lease is not None else f"{socket.gethostname()}-{os.getpid()}"
        worker = Worker(spec, study, storage, lost, token, worker_id, tracker, catch, interrupts)
        while max_trials is None or len(result.trials) < max_trials:
            trial = worker.admit()
            if trial is None:
                break
            outcome = worker.run_trial(trial, objective_fn)
            result.trials.append(trial.number)
            result.states[outcome] = result.states.get(outcome, 0) + 1
    return result
