"""Run one worker of an Optuna study: ask, train, report, tell, until the study is full.

Several workers (processes, Snakemake jobs) may run on one study. The total is exact:

* the number of trials that count is ``COMPLETE + PRUNED + FAIL(genuine) + RUNNING``;
  trials of killed workers (``interrupted``) do not count, so a rerun makes them up;
* each worker counts and asks under a lock (journal storage), and every trial checks,
  by trial number, that fewer than ``n_trials`` counting trials precede it (RDB storage,
  where there is no shared lock), so concurrent workers never exceed ``n_trials``.

``MaxTrialsCallback`` would count finished trials only after each trial, so two workers
finishing together overshoot, and it cannot tell an interrupted trial from a failed one;
the loop below keeps its semantics (stop when the total is reached) without the race.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import socket
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ems.errors import ConfigError
from ems.io import stable_hash
from ems.tune.space import SearchParam, build_space, suggest

logger = logging.getLogger(__name__)

#: ``objective_fn(params, report) -> score``; ``report(step, value)`` may raise TrialPruned
#: (``report`` is a :class:`Reporter`; ``report.tracker`` is the trial's MLflow run or None).
Report = Callable[[int, float], None]
ObjectiveFn = Callable[[dict[str, Any], Report], float]

#: complete | pruned | failed (counts) | interrupted, error, surplus (do not count)
OUTCOME = "ems_outcome"
OWNER = "ems_worker"  # host:pid:start-time of the process running the trial
REASON = "fail_reason"
RUN_ID = "mlflow_run_id"
#: A RUNNING trial with no owner tag after this many seconds was orphaned by a killed worker.
ORPHAN_AFTER_S = 600


class _Critical:
    """Storage writes that must not be cut in half by a signal (ask + owner tag, tell).

    The SIGTERM handler of :func:`ems.tune.run.interrupt_on_sigterm` asks :func:`defer_signal`
    first; inside a critical section the interrupt is raised when the section ends.
    """

    depth = 0
    pending: str | None = None

    def __enter__(self) -> None:
        _Critical.depth += 1

    def __exit__(self, *exc: object) -> None:
        _Critical.depth -= 1
        if _Critical.depth == 0 and _Critical.pending is not None:
            reason, _Critical.pending = _Critical.pending, None
            raise KeyboardInterrupt(reason)


critical = _Critical


def defer_signal(reason: str) -> bool:
    """True (and the interrupt postponed) when a critical storage write is in progress."""
    if _Critical.depth > 0:
        _Critical.pending = reason
        return True
    return False


class TrialDiverged(FloatingPointError):
    """The objective produced a non-finite value (NaN loss or metric): the trial fails."""


@dataclass(frozen=True)
class StudySpec:
    """What a worker needs to know about its study, resolved from the ``tune`` section."""

    name: str
    storage: str
    n_trials: int
    space: list[SearchParam]
    sampler_seed: int = 1
    pruner: str = "median"
    pruner_startup_trials: int = 2
    pruner_warmup_steps: int = 0
    eval_every: int = 1
    budget_steps: int = 1
    direction: str = "maximize"
    tags: Mapping[str, str] = field(default_factory=dict)
    enqueue: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_settings(cls, tune: Mapping[str, Any], name: str, storage: str) -> StudySpec:
        budget = int(tune.get("budget_steps", 300))
        return cls(
            name=name,
            storage=storage,
            n_trials=int(tune["n_trials"]),
            space=build_space(tune.get("space") or {}),
            sampler_seed=int(tune.get("sampler_seed", 1)),
            pruner=tune.get("pruner", "median"),
            pruner_startup_trials=int(tune.get("pruner_startup_trials", 2)),
            pruner_warmup_steps=int(tune.get("pruner_warmup_steps", 0)),
            eval_every=trial_eval_every(tune),
            budget_steps=budget,
            enqueue=check_points(tune.get("enqueue") or [], build_space(tune.get("space") or {})),
        )


def check_points(points: list[Any], space: list[SearchParam]) -> tuple[dict[str, Any], ...]:
    """Validate ``tune.enqueue``: points (subsets of the space) tried first, e.g. the defaults."""
    by_name = {p.name: p for p in space}
    out = []
    for i, point in enumerate(points):
        where = f"tune.enqueue[{i}]"
        if not isinstance(point, Mapping) or not point:
            raise ConfigError(f"{where}: must be a non-empty mapping of tune.space names to values")
        for name, value in point.items():
            if name not in by_name:
                raise ConfigError(f"{where}.{name}: not a parameter of tune.space ({', '.join(by_name)})")
            dist = by_name[name].distribution()
            try:
                inside = dist._contains(dist.to_internal_repr(value))
            except (TypeError, ValueError):
                inside = False
            if not inside:
                raise ConfigError(f"{where}.{name}: {value!r} lies outside tune.space.{name}")
        out.append(dict(point))
    return tuple(out)


def trial_eval_every(tune: Mapping[str, Any]) -> int:
    """Steps between dev evaluations in a trial: ``tune.eval_every`` or a fifth of the budget."""
    budget = int(tune.get("budget_steps", 300))
    every = tune.get("eval_every") or max(1, budget // 5)
    return int(min(every, budget))


def make_pruner(spec: StudySpec) -> Any:
    import optuna

    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=spec.pruner_startup_trials, n_warmup_steps=spec.pruner_warmup_steps
        )
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=spec.eval_every, max_resource=max(spec.budget_steps, spec.eval_every), reduction_factor=3
        )
    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"tune.pruner: unknown pruner {spec.pruner!r} (median, hyperband, none)")


def worker_seed(base: int, worker_id: int, n_existing: int) -> int:
    """The sampler seed of a worker session.

    A fresh study's first worker uses ``sampler_seed`` itself (reproducible); other
    workers and resumed sessions derive theirs, or a resumed seeded sampler would replay
    the random start-up points of the first session and repeat trials.
    """
    if worker_id == 0 and n_existing == 0:
        return base
    return int(stable_hash([base, worker_id, n_existing]), 16) % (2**31 - 1)


def make_sampler(spec: StudySpec, seed: int) -> Any:
    import optuna

    startup = max(1, min(10, spec.n_trials // 2))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, constant_liar=True)


def _process_token(pid: int | None = None) -> str:
    """``host:pid:start`` (start time from /proc, so a reused pid is not mistaken for us)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        return text.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _owner_alive(token: str) -> bool | None:
    """True/False for a process of this host; None when it runs elsewhere (cannot tell)."""
    host, _, rest = token.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start == "?" or _start_time(pid) == start


def is_surplus(study: Any, number: int, n_trials: int) -> bool:
    """Whether trial ``number`` would exceed ``n_trials``: that many counting trials precede it.

    Exact without a lock: trial numbers are allocated by the storage in order, and a
    preceding trial not yet known to be surplus is counted, which only matters when it is
    surplus itself, and then ``number`` is too.
    """
    return trials_used(study, before=number) >= n_trials


def counts_toward_total(trial: Any) -> bool:
    from optuna.trial import TrialState

    outcome = trial.user_attrs.get(OUTCOME)
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    if trial.state == TrialState.FAIL:
        return outcome == "failed"  # None: failed by optuna's heartbeat check (worker gone)
    if trial.state == TrialState.RUNNING:
        return outcome != "surplus"
    return False


def trials_used(study: Any, before: int | None = None) -> int:
    """Trials that count toward ``n_trials`` (optionally only those numbered below ``before``)."""
    return sum(
        1
        for t in study.get_trials(deepcopy=False)
        if (before is None or t.number < before) and counts_toward_total(t)
    )


def open_study(spec: StudySpec, worker_id: int = 0, storage: Any = None) -> Any:
    """Create or load the study, with a sampler seeded for this worker session."""
    import optuna

    from ems.tune.storage import make_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = storage if storage is not None else make_storage(spec.storage)
    study = optuna.create_study(
        storage=storage,
        study_name=spec.name,
        direction=spec.direction,
        pruner=make_pruner(spec),
        load_if_exists=True,
    )
    if study.direction.name.lower() != spec.direction:
        raise ConfigError(f"study {spec.name!r} in {spec.storage} is {study.direction.name.lower()}, not {spec.direction}")
    n_existing = len(study.get_trials(deepcopy=False))
    seed = worker_seed(spec.sampler_seed, worker_id, n_existing)
    study.sampler = make_sampler(spec, seed)
    logger.info("study %s: %d trial(s) stored, worker %d sampler seed %d", spec.name, n_existing, worker_id, seed)
    return study


def reap_interrupted(study: Any, tracker: Any = None) -> int:
    """Fail RUNNING trials whose worker process is gone; they do not count.

    On this host the owner's pid tells; on an RDB storage a missed heartbeat does (for
    workers on other machines), and optuna fails those trials without an outcome tag,
    which :func:`counts_toward_total` treats as interrupted too.
    """
    import optuna
    from optuna.trial import TrialState

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # no-op without heartbeat (journal file)
    reaped = 0
    now = datetime.datetime.now()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        token = t.user_attrs.get(OWNER)
        if token is None:
            # the owner is tagged right after ask(); without it for long, the asker died in between
            started = t.datetime_start or now
            if (now - started).total_seconds() < ORPHAN_AFTER_S:
                continue
            token = "unknown"
        elif _owner_alive(token) is not False:
            continue
        logger.warning("trial %d: its worker (%s) is gone; recorded as interrupted", t.number, token)
        study._storage.set_trial_user_attr(t._trial_id, OUTCOME, "interrupted")
        study._storage.set_trial_user_attr(t._trial_id, REASON, f"worker {token} died")
        study.tell(t.number, state=TrialState.FAIL)
        if tracker is not None and t.user_attrs.get(RUN_ID):
            tracker.end_trial(t.user_attrs[RUN_ID], "INTERRUPTED", None, f"worker {token} died")
        reaped += 1
    return reaped


class Reporter:
    """``report(step, value)``: record an intermediate dev value; raise TrialPruned to stop.

    ``tracker`` is the trial's own MLflow run (an ``ems.tracking.Tracker``, or None), for
    the objective to hand to the trainer.
    """

    def __init__(self, trial: Any, study_tracker: Any = None, run_id: str | None = None, tracker: Any = None,
                 last_step: int | None = None) -> None:
        self.trial = trial
        self.last_step = last_step
        self.number = trial.number
        self.tracker = tracker
        self._study_tracker = study_tracker
        self._run_id = run_id

    def __call__(self, step: int, value: float) -> None:
        import optuna

        value = float(value)
        if not math.isfinite(value):
            raise TrialDiverged(f"dev metric is {value} at step {step}")
        self.trial.report(value, int(step))
        if self._study_tracker is not None and self._run_id is not None:
            self._study_tracker.report(self._run_id, int(step), value)
        final = self.last_step is not None and step >= self.last_step  # the budget is spent: nothing to save
        if not final and self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step} (dev value {value:.4f})")


@dataclass
class WorkerResult:
    worker_id: int
    trials: list[int] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)


def _finish(study: Any, trial: Any, tracker: Any, run_id: str | None, state: str, outcome: str,
            value: float | None, reason: str | None = None) -> None:
    from optuna.trial import TrialState

    with critical():
        trial.set_user_attr(OUTCOME, outcome)
        if reason:
            trial.set_user_attr(REASON, reason[:2000])
        if state == "COMPLETE":
            study.tell(trial, value)
        else:
            study.tell(trial, state=TrialState[state])
    if tracker is not None and run_id is not None:
        final = study._storage.get_trial(trial._trial_id).value
        tracker.end_trial(run_id, "INTERRUPTED" if outcome == "interrupted" else state, final, reason)


def run_trial(study: Any, trial: Any, spec: StudySpec, objective_fn: ObjectiveFn, tracker: Any = None,
              catch: tuple[type[BaseException], ...] = (ArithmeticError,), worker: str = "0") -> str:
    """Run one asked trial to its end; return its state (COMPLETE, PRUNED or FAIL)."""
    import optuna

    params = suggest(trial, spec.space)
    trial_tracker = None
    if tracker is not None:
        trial_tracker = tracker.start_trial(study.study_name, trial.number, params, worker)
        trial.set_user_attr(RUN_ID, trial_tracker.run_id)
    run_id = trial_tracker.run_id if trial_tracker is not None else None
    logger.info("trial %d: %s", trial.number, params)
    report = Reporter(trial, tracker, run_id, trial_tracker, last_step=spec.budget_steps)

    from optuna.storages._heartbeat import get_heartbeat_thread

    try:
        with get_heartbeat_thread(trial._trial_id, study._storage):  # RDB: proves this worker alive
            value = float(objective_fn(params, report))
        if not math.isfinite(value):
            raise TrialDiverged(f"objective returned {value}")
    except optuna.TrialPruned as exc:
        logger.info("trial %d: %s", trial.number, exc)
        _finish(study, trial, tracker, run_id, "PRUNED", "pruned", None, str(exc))
        return "PRUNED"
    except catch as exc:
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("trial %d failed (%s); the study goes on", trial.number, reason)
        _finish(study, trial, tracker, run_id, "FAIL", "failed", None, reason)
        return "FAIL"
    except (KeyboardInterrupt, SystemExit) as exc:
        _finish(study, trial, tracker, run_id, "FAIL", "interrupted", None, f"{type(exc).__name__}")
        raise
    except BaseException as exc:
        # not the sampled point's fault (a bug, bad input): recorded, not counted; the worker stops
        _finish(study, trial, tracker, run_id, "FAIL", "error", None, f"{type(exc).__name__}: {exc}")
        raise
    logger.info("trial %d: value %.4f", trial.number, value)
    _finish(study, trial, tracker, run_id, "COMPLETE", "complete", value)
    return "COMPLETE"


def run_worker(spec: StudySpec, objective_fn: ObjectiveFn, worker_id: int = 0, tracker: Any = None,
               catch: tuple[type[BaseException], ...] = (ArithmeticError,), max_trials: int | None = None,
               storage: Any = None) -> WorkerResult:
    """Run trials until the study holds ``spec.n_trials`` counting trials (or ``max_trials`` here)."""
    from ems.tune.storage import gate, is_journal, make_storage

    def on_stale(study: Any, frozen: Any) -> None:  # RDB heartbeat: a worker elsewhere is gone
        logger.warning("trial %d: no heartbeat from its worker; recorded as interrupted", frozen.number)
        if tracker is not None and frozen.user_attrs.get(RUN_ID):
            tracker.end_trial(frozen.user_attrs[RUN_ID], "INTERRUPTED", None, "worker heartbeat stopped")

    storage = storage if storage is not None else make_storage(spec.storage, on_stale=on_stale)
    with gate(spec.storage):
        study = open_study(spec, worker_id, storage)
        if tracker is not None:
            tracker.ensure_parent(study, tags=dict(spec.tags))
        if worker_id == 0 and spec.enqueue and not study.get_trials(deepcopy=False):
            for point in spec.enqueue:  # once per study, by one worker
                study.enqueue_trial(point)
            logger.info("study %s: %d point(s) enqueued from tune.enqueue", spec.name, len(spec.enqueue))
    result = WorkerResult(worker_id)
    token = _process_token()
    while max_trials is None or len(result.trials) < max_trials:
        trial = None
        try:
            with gate(spec.storage), critical():
                reap_interrupted(study, tracker)
                used = trials_used(study)
                if used >= spec.n_trials:
                    logger.info("study %s holds %d/%d trials: worker %d stops", spec.name, used, spec.n_trials,
                                worker_id)
                    break
                with warnings.catch_warnings():  # "heartbeat is supposed to be used with optimize": we run it
                    warnings.filterwarnings("ignore", message="Heartbeat of storage")
                    trial = study.ask()
                trial.set_user_attr(OWNER, token)
        except KeyboardInterrupt:  # a signal deferred during the write: close the new trial cleanly
            if trial is not None:
                _finish(study, trial, None, None, "FAIL", "interrupted", None, "KeyboardInterrupt")
            raise
        if not is_journal(spec.storage) and is_surplus(study, trial.number, spec.n_trials):
            # another worker asked first (no shared lock on an RDB): this one is surplus
            _finish(study, trial, None, None, "FAIL", "surplus", None, "study already full")
            break
        state = run_trial(study, trial, spec, objective_fn, tracker, catch, worker=str(worker_id))
        result.trials.append(trial.number)
        result.states[state] = result.states.get(state, 0) + 1
    return result
