"""The few things the study loop needs that Optuna offers only inside ``study.optimize``.

Why a loop of our own (``ems.tune.study``) instead of ``study.optimize``: several workers
must never exceed ``n_trials`` together, so "count the trials, then ask for one" runs under
a lock beside the journal; ``optimize`` asks inside its own loop, where no lock can reach.
``optimize`` also runs an RDB storage's heartbeat for each trial and fails stale trials
before each ask; both are internals of Optuna (``optuna.storages._heartbeat``), so this
module redoes them on public API: the storage object we built ourselves (not
``study._storage``), its public ``record_heartbeat`` and lookup methods, and the public
(experimental) ``optuna.storages.fail_stale_trials``. Nothing else in the package touches
Optuna beyond its documented ``Study``/``Trial`` API.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

logger = logging.getLogger(__name__)

#: ``callback(study, frozen_trial)``, run by whichever worker finds a trial without heartbeat.
StaleCallback = Callable[[Any, Any], None]


def rdb_storage(url: str, interval: int | None, grace: int | None, on_stale: StaleCallback | None) -> Any:
    """An ``optuna.storages.RDBStorage`` with heartbeat (creates the schema when missing)."""
    import optuna

    params = inspect.signature(optuna.storages.RDBStorage.__init__).parameters
    # optuna 4.9 renamed failed_trial_callback (the older name is deprecated); the range allows both
    name = "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in params else "failed_trial_callback"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, heartbeat_interval=interval, grace_period=grace, **{name: on_stale})


def fail_stale_trials(study: Any) -> None:
    """Fail RUNNING trials whose heartbeat stopped (no-op without a heartbeat, e.g. a journal)."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _beat(storage: Any, trial_id: int, interval: float, stop: threading.Event) -> None:
    while True:
        try:
            storage.record_heartbeat(trial_id)
        except Exception as exc:  # noqa: BLE001 - a lost beat is retried; the trial itself goes on
            logger.warning("heartbeat of trial id %d failed: %s", trial_id, exc)
        if stop.wait(interval):
            return


def _trial_id(storage: Any, study_name: str, number: int) -> int | None:
    """The storage's id of trial ``number`` when the storage has a heartbeat, else None."""
    if not (hasattr(storage, "record_heartbeat") and storage.get_heartbeat_interval()):
        return None
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study_name), number)


def beat(storage: Any, study_name: str, number: int) -> None:
    """One heartbeat, right after ``ask``: a trial without any is never found stale if its worker dies."""
    trial_id = _trial_id(storage, study_name, number)
    if trial_id is not None:
        storage.record_heartbeat(trial_id)


@contextlib.contextmanager
def heartbeat(storage: Any, study_name: str, number: int) -> Iterator[None]:
    """Record trial ``number``'s heartbeat every interval while the block runs (RDB storages only)."""
    trial_id = _trial_id(storage, study_name, number)
    if trial_id is None:
        yield
        return
    interval = storage.get_heartbeat_interval()
    storage.record_heartbeat(trial_id)  # before the block starts, not whenever the thread gets to it
    stop = threading.Event()
    thread = threading.Thread(target=_beat, args=(storage, trial_id, interval, stop), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
