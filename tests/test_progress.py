"""Training progress under Snakemake: a steady "step N/M, pairs/s, ETA" line whose ETA follows the budget that binds."""

from __future__ import annotations

import io
from types import SimpleNamespace

from ems.train.callbacks import TrainerState
from ems.train.progress import ProgressCallback


def _begin(max_steps: int, max_seconds: float | None, history: list | None = None) -> tuple[ProgressCallback, TrainerState]:
    cb = ProgressCallback(bar=True, stream=io.StringIO())  # not a terminal: log lines, no bar
    state = TrainerState(max_steps=max_steps, history=history or [])
    run = SimpleNamespace(model_id="both/s1", settings=SimpleNamespace(train=SimpleNamespace(max_seconds=max_seconds)))
    cb.on_train_begin(run, state)
    return cb, state


def test_eta_from_steps_when_the_step_budget_binds() -> None:
    cb, state = _begin(max_steps=1000, max_seconds=None)
    state.step, state.pairs_seen = 100, 12800
    line = cb.line(state, cb.t0 + 50.0)  # 100 steps in 50 s: 900 left take 450 s
    assert cb.bar is None and line == "both/s1: step 100/1000, 256 pairs/s, ETA 7m30s"


def test_eta_from_the_time_budget_when_it_ends_the_run_first() -> None:
    cb, state = _begin(max_steps=100000, max_seconds=300, history=[{"step": 40, "seconds": 60.0}])
    state.step, state.pairs_seen = 240, 25600  # resumed at 60 s of training; 200 steps in 100 s since
    cb.step0, cb.pairs0 = 40, 0
    line = cb.line(state, cb.t0 + 100.0)
    assert line == "both/s1: step 240/100000 (time budget 5m00s), 256 pairs/s, ETA 2m20s"
