"""Bookkeeping of a study's trials: which count toward ``n_trials``, lost trials, retries, enqueued points.

Every trial a worker ends carries the user attribute ``ems_outcome``. A trial failed by
someone else (the journal reaper below, or Optuna's heartbeat check on an RDB storage) has
none: its worker is gone, so it is *interrupted*. Interrupted, error and surplus trials do
not count toward ``n_trials``; a trial cut short by a kill is run again with the same values
(``tune.retries`` times), and each point of ``tune.enqueue`` gets a trial exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ems.io import stable_hash

logger = logging.getLogger(__name__)

OUTCOME = "ems_outcome"
OWNER = "ems_worker"  # the lease token of the worker running the trial
REASON = "fail_reason"
RUN_ID = "mlflow_run_id"
ENQUEUED = "ems_enqueued"  # key of the tune.enqueue point the trial runs
ATTEMPT = "ems_attempt"  # 2, 3, ... on retries of an interrupted trial
RETRY_OF = "ems_retry_of"  # number of the interrupted trial a retry repeats

#: outcomes that count toward ``n_trials`` (a running trial will end as one of the first three)
COUNTING = frozenset({"complete", "pruned", "failed", "running"})


def outcome(trial: Any) -> str:
    """complete, pruned, failed, error, surplus, interrupted, running or waiting."""
    name = trial.state.name
    if name in ("COMPLETE", "PRUNED"):
        return name.lower()
    if name == "FAIL":
        return trial.user_attrs.get(OUTCOME) or "interrupted"
    return name.lower()


def counts_toward_total(trial: Any) -> bool:
    return outcome(trial) in COUNTING


def trials_used(study: Any, before: int | None = None) -> int:
    """Trials that count toward ``n_trials`` (optionally only those numbered below ``before``)."""
    return sum(
        1 for t in study.get_trials(deepcopy=False) if (before is None or t.number < before) and counts_toward_total(t)
    )


def is_surplus(study: Any, number: int, n_trials: int) -> bool:
    """Whether trial ``number`` would exceed ``n_trials``: that many counting trials precede it.

    Exact without a lock (RDB storages): trial numbers are allocated in order, and a
    preceding trial not yet known to be surplus is counted, which only matters when it is
    surplus itself, and then ``number`` is too.
    """
    return trials_used(study, before=number) >= n_trials


def point_key(point: Mapping[str, Any]) -> str:
    return stable_hash(dict(point), 16)


def enqueue_points(study: Any, points: tuple[dict[str, Any], ...]) -> int:
    """Enqueue each point of ``tune.enqueue`` that no trial of the study runs yet (call once, under the gate)."""
    taken = {t.user_attrs.get(ENQUEUED) for t in study.get_trials(deepcopy=False)}
    added = 0
    for point in points:
        if point_key(point) not in taken:
            study.enqueue_trial(point, user_attrs={ENQUEUED: point_key(point)})
            added += 1
    if added:
        logger.info("study %s: %d point(s) of tune.enqueue enqueued", study.study_name, added)
    return added


class LostTrials:
    """What happens to a trial whose worker is gone: its MLflow run ends KILLED, and it is retried.

    Optuna's :class:`~optuna.storages.RetryHeartbeatStaleTrialCallback` re-enqueues with all
    user attributes (the dead worker's owner tag and MLflow run id among them), which a
    reaper would take for a trial of the dead worker again; this one carries over only the
    enqueued point and the attempt count. Called with ``(study, frozen_trial)``, so it also
    serves as the RDB storage's heartbeat-stale callback.
    """

    def __init__(self, retries: int, points: tuple[dict[str, Any], ...] = (), tracker: Any = None) -> None:
        self.retries = retries
        self.points = {point_key(p): p for p in points}
        self.tracker = tracker

    def __call__(self, study: Any, frozen: Any) -> None:
        reason = f"worker {frozen.user_attrs.get(OWNER, '?')} is gone"
        logger.warning("trial %d: %s; recorded as interrupted", frozen.number, reason)
        if self.tracker is not None and frozen.user_attrs.get(RUN_ID):
            self.tracker.end_trial(frozen.user_attrs[RUN_ID], "INTERRUPTED", None, reason)
        self.retry(study, frozen)

    def retry(self, study: Any, frozen: Any) -> bool:
        """Enqueue an interrupted trial's values again, unless it used up ``tune.retries``."""
        attempt = int(frozen.user_attrs.get(ATTEMPT, 1))
        key = frozen.user_attrs.get(ENQUEUED)
        params = dict(self.points.get(key) or frozen.params)
        if attempt > self.retries or not params:
            logger.info("trial %d is not retried (attempt %d of %d); a new point makes it up", frozen.number, attempt,
                        self.retries + 1)
            return False
        attrs: dict[str, Any] = {ATTEMPT: attempt + 1, RETRY_OF: frozen.number}
        if key is not None:
            attrs[ENQUEUED] = key
        study.enqueue_trial(params, user_attrs=attrs)
        logger.info("trial %d: enqueued again with the same values (attempt %d)", frozen.number, attempt + 1)
        return True


def reap_lost(study: Any, journal: str, lost: LostTrials) -> int:
    """Journal storage: fail RUNNING trials whose worker's lease is free, and hand them to ``lost``.

    Call under the gate: every worker asks and tags its trial under it, so a RUNNING trial
    without an owner tag was asked by a worker killed in between.
    """
    from optuna.trial import TrialState

    from ems.tune.storage import owner_alive

    reaped = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        token = t.user_attrs.get(OWNER)
        if token is not None and owner_alive(journal, token):
            continue
        lost(study, study.tell(t.number, state=TrialState.FAIL))
        reaped += 1
    return reaped
