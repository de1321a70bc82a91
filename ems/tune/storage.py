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
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ems.errors import ConfigError

logger = logging.getLogger(__name__)

JOURNAL_NAME = "study.journal"


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


def shown(spec: str) -> str:
    """The storage as written to files and logs: a URL's password replaced by ``***``."""
    from ems.redact import redact_uri

    return redact_uri(spec)


def make_storage(spec: str, heartbeat_interval: int | None = None, heartbeat_grace: int | None = None,
                 on_stale: Any = None) -> Any:
    """Open (creating if needed) the optuna storage named by :func:`storage_spec` (RDB: heartbeat when given)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    from ems.tune.optuna_adapter import rdb_storage

    if is_journal(spec):
        Path(spec).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(spec, lock_obj=JournalFileOpenLock(spec)))
    try:
        return rdb_storage(spec, heartbeat_interval, heartbeat_grace, on_stale)
    except Exception as exc:
        raise ConfigError(f"tune.storage: cannot open {shown(spec)!r}: {str(exc).replace(spec, shown(spec))}") from exc


class WorkerLease:
    """A worker's proof of life on a journal storage: an ``flock`` it holds until it exits.

    The kernel drops the lock when the process dies (SIGKILL included), so another worker
    that can take it knows the trials tagged with this token lost their worker; no pid,
    host or ``/proc`` lookup, and the lock file sits beside the journal (NFS too).
    """

    def __init__(self, journal: str) -> None:
        self.folder = Path(journal).with_suffix(".workers")
        self.token = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._fh: Any = None

    def __enter__(self) -> WorkerLease:  # noqa: PYI034
        self.folder.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.folder / f"{self.token}.lock", "a+")  # held for the lease's life
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        (self.folder / f"{self.token}.lock").unlink(missing_ok=True)
        self._fh.close()


def owner_alive(journal: str, token: str) -> bool:
    """Whether the worker holding ``token``'s lease still runs (False when its lock is free)."""
    path = Path(journal).with_suffix(".workers") / f"{token}.lock"
    if not path.exists():
        return False
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        path.unlink(missing_ok=True)  # its owner is gone; the lock is released when fh closes
    return False


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
