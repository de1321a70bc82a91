"""SIGTERM (Snakemake cancelling a tuning job) as an interrupt that never lands inside a storage write."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

from ems.errors import Interrupted


class Interrupts:
    """SIGTERM (Snakemake cancelling a job) as ``KeyboardInterrupt``, never inside a storage write.

    While a trial's objective runs the interrupt is raised at once (the trial is closed as
    interrupted and retried later); elsewhere it waits for the loop's next :meth:`check`.
    """

    def __init__(self) -> None:
        self.signum: int | None = None  # the signal received and not yet raised on
        self._armed = False

    def install(self) -> Interrupts:
        signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum
        if self._armed:
            raise Interrupted(signum)

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)

    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        self.check()
        self._armed = True
        try:
            yield
        finally:
            self._armed = False
