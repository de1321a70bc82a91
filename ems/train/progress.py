"""Progress of a training run: a tqdm bar on a terminal, else a steady "step N/M, pairs/s, ETA" log line.

Under Snakemake (no TTY) a bar would fill the log with carriage returns; there the callback
logs one line every ``interval`` seconds instead. It also silences transformers' own
progress bars, which would interleave with either.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Mapping
from typing import Any

from ems.train.callbacks import TrainerCallback, TrainerControl, TrainerState

logger = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


class ProgressCallback(TrainerCallback):
    """A bar when ``bar`` and stderr is a terminal; otherwise a log line every ``interval`` seconds."""

    def __init__(self, bar: bool = True, interval: float = 30.0, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.use_bar = bar and bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.bar: Any = None
        self.loss: float | None = None  # the last logged training loss (on_log)

    def on_train_begin(self, run: Any, state: TrainerState, control: TrainerControl, model: Any) -> None:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.t0 = self.last = time.monotonic()
        self.step0, self.pairs0 = state.step, state.pairs_seen
        self.model_id = run.model_id
        # the wall-clock budget (train.max_seconds) ends a run before max_steps when it binds
        self.max_seconds = getattr(run.settings.train, "max_seconds", None)
        self.seconds0 = float(state.history[-1].get("seconds", 0.0)) if state.history else 0.0
        if self.use_bar:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.max_steps, initial=state.step, unit="step", mininterval=2.0,
                            dynamic_ncols=True, desc=run.model_id, file=self.stream)

    def on_step_end(self, state: TrainerState, control: TrainerControl, losses: Mapping[str, float]) -> None:
        if self.bar is not None:
            self.bar.update(1)
            return
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            logger.info("%s", self.line(state, now))

    def line(self, state: TrainerState, now: float) -> str:
        """``step N/M, X pairs/s, ETA ...`` over the steps this process ran; the ETA is that of
        whichever budget ends the run first (steps, or ``train.max_seconds`` of training)."""
        elapsed = max(now - self.t0, 1e-9)
        steps = state.step - self.step0
        rate = (state.pairs_seen - self.pairs0) / elapsed
        eta = (state.max_steps - state.step) * elapsed / steps if steps else float("nan")
        budget = ""
        if self.max_seconds:
            left = self.max_seconds - self.seconds0 - elapsed
            if not math.isfinite(eta) or left < eta:
                eta, budget = left, f" (time budget {_duration(self.max_seconds)})"
        eta_text = _duration(eta) if math.isfinite(eta) else "?"
        loss = f", loss {self.loss:.4f}" if self.loss is not None else ""
        return (f"{self.model_id}: step {state.step}/{state.max_steps}{budget}{loss}, {rate:.0f} pairs/s, "
                f"{_duration(elapsed)} elapsed, ETA {eta_text}")

    def on_log(self, state: TrainerState, control: TrainerControl, metrics: Mapping[str, float]) -> None:
        if "loss/total" in metrics:
            self.loss = float(metrics["loss/total"])
        if self.bar is not None and "loss/total" in metrics:
            self.bar.set_postfix(loss=f"{metrics['loss/total']:.3f}", pairs_s=f"{metrics.get('pairs_per_s', 0):.0f}")

    def on_train_end(self, state: TrainerState, control: TrainerControl, status: str) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        else:  # the last line of a log, however short the run (a smoke run ends before the first interval)
            logger.info("%s (%s)", self.line(state, time.monotonic()), status.lower())
