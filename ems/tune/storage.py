"""Where a study lives: a journal file under ``results/<name>/tune/`` or an RDB URL.

The journal file tolerates several writer processes (optuna's ``JournalFileOpenLock``,
an ``O_EXCL`` lock file that also works on NFS); an RDB URL (PostgreSQL, MySQL) serves
workers on several machines and gets a heartbeat so that trials of killed workers fail.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ems.errors import ConfigError

logger = logging.getLogger(__name__)

JOURNAL_NAME = "study.journal"
#: Seconds between heartbeats of an RDB storage, and after which a silent trial is stale.
HEARTBEAT_INTERVAL = 60
HEARTBEAT_GRACE = 300


def storage_spec(storage: str | None, tune_dir: str | os.PathLike[str]) -> str:
    """The storage string recorded in outputs: a journal path, or the URL as configured."""
    if storage is None:
        return str(Path(tune_dir) / JOURNAL_NAME)
    if "://" not in storage:
        raise ConfigError(f"tune.storage: {storage!r} is not a database URL (null selects the journal file)")
    if storage.startswith("sqlite"):
        logger.warning("tune.storage: SQLite serves one process; use the journal file (null) for parallel workers")
    return storage


def is_journal(spec: str) -> bool:
    return "://" not in spec


def make_storage(spec: str, on_stale: Any = None) -> Any:
    """Open (creating if needed) the optuna storage named by :func:`storage_spec`."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    if is_journal(spec):
        Path(spec).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(spec, lock_obj=JournalFileOpenLock(spec)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                spec, heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=HEARTBEAT_GRACE, **_stale_callback(on_stale)
            )
    except Exception as exc:
        raise ConfigError(f"tune.storage: cannot open {spec!r}: {exc}") from exc


def _stale_callback(on_stale: Any) -> dict[str, Any]:
    """The stale-trial callback under its name in the installed optuna (renamed in 4.9)."""
    import inspect

    import optuna

    params = inspect.signature(optuna.storages.RDBStorage.__init__).parameters
    name = "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in params else "failed_trial_callback"
    return {name: on_stale}


@contextlib.contextmanager
def gate(spec: str) -> Iterator[None]:
    """Serialise "count the trials, then ask for a new one" between local worker processes.

    For a journal file this is an ``flock`` on a file beside it; for an RDB URL it is a
    no-op and the post-ask check of :mod:`ems.tune.study` keeps the total exact.
    """
    if not is_journal(spec):
        yield
        return
    lock_path = Path(spec).with_suffix(".gate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
