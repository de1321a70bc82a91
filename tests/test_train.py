"""Trainer: outputs, resume after interruption == uninterrupted, callbacks, sampler, schedule."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _train_toy import TINY_SETTINGS, make_toy_data, train_toy

from ems.config import section
from ems.train.callbacks import TrainerCallback
from ems.train.checkpoint import load_checkpoint
from ems.train.optim import Schedule
from ems.train.sampler import BatchSampler, rank_slice
from ems.train.settings import TrainSettings

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_toy_data(tmp_path_factory.mktemp("toy"))


def _train_settings(**kw: object) -> TrainSettings:
    return section({"train": kw}, "train", into=TrainSettings)


def _settings(**train_kw: object) -> dict:
    s = copy.deepcopy(TINY_SETTINGS)
    s["train"].update(train_kw)
    return s


def _run(toy: dict[str, Path], out: Path, settings: dict, **kw: object) -> dict:
    return train_toy(settings, toy, out, **kw)


def test_outputs_and_run_json(toy: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "models" / "both" / "seed1"
    summary = _run(toy, out, _settings())
    for name in ("model/config.json", "model/model.safetensors", "model/modules.json", "heads.pt", "history.csv",
                 "run.json", "loss_curve.png", "settings.resolved.json"):
        assert (out / name).exists(), name
    run = json.loads((out / "run.json").read_text())
    assert set(run) >= {"run_id", "experiment_id", "tracking_uri", "model_id", "config_hash", "data_hash"}
    assert run["model_id"] == "both/seed1"
    assert run["data_hash"] == json.loads((toy["train"] / "meta.json").read_text())["content_sha256"]
    hist = pd.read_csv(out / "history.csv")
    assert {"loss/total", "loss/xtr", "loss/contrastive", "lr", "grad_norm", "pairs_per_s", "dev/retrieval_acc"} <= set(hist)
    assert summary["steps"] == 6 and not (out / "checkpoints").exists()  # removed after success
    heads = load_checkpoint(out / "heads.pt")
    assert any(k.startswith("xtr_head.") for k in heads["heads"]) and heads["languages"] == ["deu", "fra", "eng"]


def test_resume_after_interruption_equals_uninterrupted(toy: dict[str, Path], tmp_path: Path) -> None:
    settings = _settings(max_steps=8, eval_every=2, checkpoint_every=2)
    settings["model"]["dropout"] = 0.2  # RNG state must be restored too
    full = tmp_path / "full"
    _run(toy, full, settings, keep_checkpoints=True)

    class Crash(TrainerCallback):
        def on_evaluate(self, state, control, metrics) -> None:  # type: ignore[no-untyped-def]
            if state.step == 6:
                raise RuntimeError("simulated kill")

    part = tmp_path / "part"
    with pytest.raises(RuntimeError, match="simulated kill"):
        _run(toy, part, settings, callbacks=[Crash()], keep_checkpoints=True)
    assert load_checkpoint(part / "checkpoints" / "last.pt")["run"]["step"] == 4
    assert not (part / "run.json").exists()
    _run(toy, part, settings, keep_checkpoints=True)  # rerun: resumes from step 4

    a = load_checkpoint(full / "checkpoints" / "last.pt")
    b = load_checkpoint(part / "checkpoints" / "last.pt")
    assert a["run"]["step"] == b["run"]["step"] == 8
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert [h["step"] for h in a["run"]["history"] if "dev/retrieval_acc" in h] == [2, 4, 6, 8]
    assert [h["step"] for h in b["run"]["history"] if "dev/retrieval_acc" in h] == [2, 4, 6, 8]  # 6 not twice
    strip = lambda hist: [{k: v for k, v in h.items() if k not in ("seconds", "pairs_per_s")} for h in hist]
    assert strip(a["run"]["history"]) == strip(b["run"]["history"])


def test_callback_receives_dev_metrics_and_can_stop(toy: dict[str, Path], tmp_path: Path) -> None:
    seen: list[tuple[int, float]] = []

    class Enough(TrainerCallback):
        def on_evaluate(self, state, control, metrics) -> None:  # type: ignore[no-untyped-def]
            seen.append((state.step, metrics["dev/retrieval_acc"]))
            if state.step >= 4:
                control.stop("enough")

    summary = _run(toy, tmp_path / "m" / "seed1", _settings(max_steps=20, eval_every=2), callbacks=[Enough()])
    assert [s for s, _ in seen] == [2, 4]
    assert summary["steps"] == 4 and "enough" in summary["stopped"]
    assert (tmp_path / "m" / "seed1" / "model" / "config.json").exists()


def test_early_stopping_keeps_the_best(toy: dict[str, Path], tmp_path: Path) -> None:
    s = _settings(max_steps=30, eval_every=1, lr=1e-12, warmup_steps=0, early_stopping_patience=2)
    summary = _run(toy, tmp_path / "es" / "seed1", s)  # lr ~0: no improvement after the first eval
    assert summary["steps"] == 3 and summary["best_step"] == 1 and "early stopping" in summary["stopped"]


def test_dev_retrieval_rises_on_learnable_toy_data(toy: dict[str, Path], tmp_path: Path) -> None:
    s = _settings(max_steps=120, eval_every=40, checkpoint_every=1000, log_every=20, lr=3e-3, warmup_steps=10)
    _run(toy, tmp_path / "learn" / "seed1", s)
    hist = pd.read_csv(tmp_path / "learn" / "seed1" / "history.csv").dropna(subset=["dev/retrieval_acc"])
    chance = 1 / 32  # 32 validation pairs per language
    assert hist["dev/retrieval_acc"].iloc[-1] > 10 * chance
    train_loss = pd.read_csv(tmp_path / "learn" / "seed1" / "history.csv")["loss/total"].dropna()
    assert train_loss.iloc[-1] < train_loss.iloc[0]


def test_sampler_epochs_resume_and_ranks() -> None:
    lengths = np.random.default_rng(0).integers(1, 40, 1000)
    s = BatchSampler(lengths, 32, seed=3)
    epoch0 = s.batches_of_epoch(0)
    flat = np.concatenate(epoch0)
    assert len(flat) == len(set(flat.tolist())) and len(flat) > 990  # each pair once (tiny remainder may drop)
    padded = sum(len(b) * lengths[b].max() for b in epoch0)
    assert padded / lengths[flat].sum() < 1.1  # bucketing: little padding
    plain = BatchSampler(lengths, 32, seed=3, bucketing=False).batches_of_epoch(0)
    assert sum(len(b) * lengths[b].max() for b in plain) > padded * 1.3
    it = iter(s)
    first = [next(it) for _ in range(5)]
    state = s.state_dict()
    nxt = next(it)
    r = BatchSampler(lengths, 32, seed=3)
    r.load_state_dict(state)
    assert np.array_equal(next(iter(r)), nxt)
    assert not np.array_equal(first[0], BatchSampler(lengths, 32, seed=3).batches_of_epoch(1)[0])
    two = BatchSampler(lengths, 16, seed=3, world_size=2).batches_of_epoch(0)
    assert all(len(b) % 2 == 0 for b in two)
    b = two[0]
    assert sorted(np.concatenate([rank_slice(b, 0, 2), rank_slice(b, 1, 2)]).tolist()) == sorted(b.tolist())


def test_sampler_token_budget() -> None:
    lengths = np.random.default_rng(1).integers(1, 60, 500)
    batches = BatchSampler(lengths, 64, seed=0, max_tokens=300).batches_of_epoch(0)
    assert all(len(b) * lengths[b].max() <= 300 or len(b) <= 2 for b in batches)
    assert all(len(b) <= 64 for b in batches)


def test_schedule_warmup_cosine_and_time_budget() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    t = _train_settings(lr=1.0, warmup_steps=10, max_steps=110, schedule="cosine")
    sch = Schedule(opt, t)
    lrs = []
    for _ in range(110):
        lrs.append(sch.apply())
        sch.advance(0.1)
    assert lrs[0] < lrs[5] < lrs[9] <= 1.0
    assert lrs[10] == pytest.approx(1.0) and lrs[60] == pytest.approx(0.5, abs=0.02) and lrs[-1] < 0.01
    timed = Schedule(opt, _train_settings(lr=1.0, warmup_steps=0, max_steps=10**6, max_seconds=10.0))
    timed.advance(5.0)
    assert timed.lr() == pytest.approx(0.5, abs=1e-6)  # half the time budget spent


def test_checkpoint_of_other_settings_is_not_resumed(toy: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "stale"
    _run(toy, out, _settings(max_steps=4, eval_every=2, checkpoint_every=2), keep_checkpoints=True)
    changed = _settings(max_steps=4, eval_every=2, checkpoint_every=2, lr=1e-2)
    summary = _run(toy, out, changed, keep_checkpoints=True)  # must train 4 fresh steps, not resume at 4
    fresh = tmp_path / "fresh"
    _run(toy, fresh, changed, keep_checkpoints=True)
    a = load_checkpoint(out / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(fresh / "checkpoints" / "last.pt")["model"]
    assert summary["steps"] == 4 and all(torch.equal(a[k], b[k]) for k in a)


def test_schedule_follows_the_epoch_budget_after_warmup() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sch = Schedule(opt, _train_settings(lr=1.0, warmup_steps=10, max_steps=10**7, max_epochs=2.0))
    lrs = []
    for step in range(110):
        lrs.append(sch.apply())
        sch.advance(0.0, epochs=(step + 1) / 50)  # 50 steps per epoch: 100 steps in all
    assert lrs[10] == pytest.approx(1.0)  # no jump at the end of warm-up
    assert lrs[55] == pytest.approx(0.5, abs=0.02) and lrs[99] < 0.01


def test_run_training_decides_the_status_once(toy: dict[str, Path], tmp_path: Path) -> None:
    """The one entry point: a callback's abort ends KILLED with its own error, a callback's bug FAILED, a graceful
    stop FINISHED; the callbacks' on_train_end and the tracking run's close see the same status, and the
    tracking run's marker is written beside the checkpoints."""
    from ems.tracking.base import NullTracker
    from ems.train.callbacks import TrainerControl
    from ems.train.entry import Tracking

    class Recorder(NullTracker):
        run_id, experiment_id, tracking_uri = "r1", "0", "file:///nowhere"

        def close(self, status: str = "FINISHED") -> None:
            self.closed = status

    class Ending(TrainerCallback):
        def __init__(self, action: str) -> None:
            self.action, self.ended = action, None

        def on_evaluate(self, state, control: TrainerControl, metrics) -> None:  # type: ignore[no-untyped-def]
            if state.step >= 2:
                if self.action == "abort":
                    control.abort(ValueError("pruned by the test"))
                elif self.action == "bug":
                    raise KeyError("a bug")
                else:
                    control.stop("stopped by the test")

        def on_train_end(self, state, control, status: str) -> None:  # type: ignore[no-untyped-def]
            self.ended = status

    expected = {"abort": (ValueError, "KILLED"), "bug": (KeyError, "FAILED"), "stop": (None, "FINISHED")}
    for action, (error, status) in expected.items():
        tracker, cb = Recorder(), Ending(action)
        out = tmp_path / action / "seed1"
        kw = {"callbacks": [cb], "tracking": Tracking(open_run=tracker), "keep_checkpoints": True}
        if error is None:
            summary = _run(toy, out, _settings(max_steps=20, eval_every=2), **kw)
            assert summary["stopped"] == "stopped by the test" and summary["steps"] == 2
        else:
            with pytest.raises(error):
                _run(toy, out, _settings(max_steps=20, eval_every=2), **kw)
        assert (tracker.closed, cb.ended) == (status, status), action
        marker = json.loads((out / "checkpoints" / "tracking.json").read_text())
        assert marker["run_id"] == "r1", action
