"""Training progress under Snakemake: a steady "step N/M, pairs/s, ETA" line whose ETA follows the budget that binds."""

from __future__ import annotations

import io
from types import SimpleNamespace

from ems.train.callbacks import TrainerControl, TrainerState
from ems.train.progress import ProgressCallback


def _begin(max_steps: int, max_seconds: float | None, history: list | None = None) -> tuple[ProgressCallback, TrainerState]:
    cb = ProgressCallback(bar=True, stream=io.StringIO())  # not a terminal: log lines, no bar
    state = TrainerState(max_steps=max_steps, history=history or [])
    run = SimpleNamespace(model_id="both/s1", settings=SimpleNamespace(train=SimpleNamespace(max_seconds=max_seconds)))
    cb.on_train_begin(run, state, TrainerControl(), None)
    return cb, state


def test_eta_from_steps_when_the_step_budget_binds() -> None:
    cb, state = _begin(max_steps=1000, max_seconds=None)
    state.step, state.pairs_seen = 100, 12800
    line = cb.line(state, cb.t0 + 50.0)  # 100 steps in 50 s: 900 left take 450 s
    assert cb.bar is None and line == "both/s1: step 100/1000, 256 pairs/s, 0m50s elapsed, ETA 7m30s"
    cb.on_log(state, TrainerControl(), {"loss/total": 3.25, "lr": 1e-3})  # the last training loss joins the line
    assert cb.line(state, cb.t0 + 50.0) == "both/s1: step 100/1000, loss 3.2500, 256 pairs/s, 0m50s elapsed, ETA 7m30s"


def test_eta_from_the_time_budget_when_it_ends_the_run_first() -> None:
    cb, state = _begin(max_steps=100000, max_seconds=300, history=[{"step": 40, "seconds": 60.0}])
    state.step, state.pairs_seen = 240, 25600  # resumed at 60 s of training; 200 steps in 100 s since
    cb.step0, cb.pairs0 = 40, 0
    line = cb.line(state, cb.t0 + 100.0)
    assert line == "both/s1: step 240/100000 (time budget 5m00s), 256 pairs/s, 1m40s elapsed, ETA 2m20s"


def test_a_short_run_still_logs_its_last_line(caplog) -> None:
    """A run shorter than the interval (the smoke run) ends with one line: steps, loss, elapsed, status."""
    import logging

    cb, state = _begin(max_steps=40, max_seconds=None)
    state.step, state.pairs_seen = 40, 1280
    cb.on_log(state, TrainerControl(), {"loss/total": 1.5})
    with caplog.at_level(logging.INFO, logger="ems.train.progress"):
        cb.on_train_end(state, TrainerControl(), "FINISHED")
    assert any("step 40/40, loss 1.5000" in r.getMessage() and "(finished)" in r.getMessage() for r in caplog.records)
