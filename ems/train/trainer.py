"""The EMS training loop: ``train(settings, train_dir, valid_dir, tokenizer_dir, out_dir, tracker)``.

Batches of mixed languages (optionally length-bucketed / token-budgeted), Adam(W) with
warm-up + decay, gradient clipping and accumulation, AMP on CUDA, periodic dev evaluation
(keeps the best model by dev retrieval accuracy, optional early stopping), resumable
checkpoints (rerunning after a crash or kill continues from the last one), DDP under
``torchrun``. Everything reported goes to a :class:`ems.tracking.Tracker`.

Callbacks ``callback(step, dev_metrics)`` run on rank 0 after each dev evaluation; see
:mod:`ems.train.callbacks` (Optuna pruning plugs in here).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ems.config import config_hash
from ems.errors import ConfigError, DataError
from ems.io import atomic_open, write_json
from ems.model.ems_model import EmsModel
from ems.model.io import save_model
from ems.tracking.base import NullTracker, Tracker, git_commit
from ems.train.callbacks import Callback, StopTraining
from ems.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from ems.train.data import PairShards, collate, load_pair_shards
from ems.train.distributed import (
    DistInfo,
    barrier,
    broadcast_int,
    gather_objects,
    init_distributed,
    shutdown,
)
from ems.train.evaluate import dev_evaluate
from ems.train.optim import Schedule, build_optimizer
from ems.train.sampler import BatchSampler, rank_slice
from ems.train.settings import Settings, TrainSettings, identity_hash, resolve_settings
from ems.train.step import compute_losses

logger = logging.getLogger(__name__)

PRIMARY = "dev/retrieval_acc"
LAST, BEST = "last.pt", "best.pt"


def default_checkpoint_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Checkpoints live beside the rule's outputs (never inside a declared output)."""
    return Path(out_dir) / "checkpoints"


def choose_device(t: TrainSettings, dist_info: DistInfo) -> torch.device:
    if t.device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", dist_info.local_rank)
        return torch.device("cpu")
    dev = torch.device(t.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device is {t.device!r} but CUDA is not available")
    if dev.type == "cuda" and dist_info.enabled:
        return torch.device("cuda", dist_info.local_rank)
    return dev


def amp_dtype(t: TrainSettings, device: torch.device) -> torch.dtype | None:
    """Autocast dtype, or None for fp32. AMP only on CUDA (``auto``: bf16 there)."""
    if device.type != "cuda":
        if t.precision in ("bf16", "fp16"):
            logger.warning("train.precision=%s ignored on %s: training in fp32", t.precision, device)
        return None
    return {"auto": torch.bfloat16, "bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[t.precision]


def _check_data(train: PairShards, valid: PairShards, s: Settings) -> None:
    for key in ("vocab_size", "pad_id", "languages"):
        if train.meta[key] != valid.meta[key]:
            raise DataError(f"{valid.path}/meta.json: {key} differs from {train.path}/meta.json")
    if int(train.meta["max_length"]) > s.model.max_positions:
        raise ConfigError(
            f"model.max_positions ({s.model.max_positions}) is below the shards' max_length ({train.meta['max_length']})"
        )


class _Run:
    """Mutable state of one training run (what a checkpoint holds besides the modules)."""

    def __init__(self) -> None:
        self.step = 0
        self.best = -math.inf
        self.best_step = -1
        self.bad_evals = 0
        self.history: list[dict[str, float]] = []
        self.stopped = ""

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "best": self.best,
            "best_step": self.best_step,
            "bad_evals": self.bad_evals,
            "history": self.history,
            "stopped": self.stopped,
        }

    def load_state_dict(self, st: Mapping[str, Any]) -> None:
        self.step, self.best, self.best_step = int(st["step"]), float(st["best"]), int(st["best_step"])
        self.bad_evals, self.history, self.stopped = int(st["bad_evals"]), list(st["history"]), str(st["stopped"])


def train(
    settings: Mapping[str, Any],
    train_dir: str | os.PathLike[str],
    valid_dir: str | os.PathLike[str],
    tokenizer_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    tracker: Tracker | None = None,
    callbacks: Iterable[Callback] = (),
    *,
    model_id: str | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    keep_checkpoints: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a model; write ``out_dir/{model/,heads.pt,history.csv,run.json}``; return a summary.

    ``settings`` holds the ``model``, ``objective``, ``train`` (and optionally ``tracking``)
    config sections. ``tracker`` receives params, tags, metrics and artifacts (rank 0 only).
    A checkpoint in ``checkpoint_dir`` (default ``out_dir/checkpoints``) is resumed from.
    """
    s = resolve_settings(settings)
    t = s.train
    tracker = tracker or NullTracker()
    callbacks = list(callbacks)
    out_dir = Path(out_dir)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir else default_checkpoint_dir(out_dir)
    model_id = model_id or "/".join(out_dir.resolve().parts[-2:])
    if t.num_threads:
        torch.set_num_threads(t.num_threads)

    info = init_distributed(use_cuda=(t.device.startswith("cuda") or (t.device == "auto" and torch.cuda.is_available())))
    try:
        return _train(s, Path(train_dir), Path(valid_dir), Path(tokenizer_dir), out_dir, ckpt_dir, tracker, callbacks,
                      model_id, keep_checkpoints, progress, info)
    finally:
        shutdown(info)


def _train(
    s: Settings,
    train_dir: Path,
    valid_dir: Path,
    tokenizer_dir: Path,
    out_dir: Path,
    ckpt_dir: Path,
    tracker: Tracker,
    callbacks: list[Callback],
    model_id: str,
    keep_checkpoints: bool,
    progress: bool,
    info: DistInfo,
) -> dict[str, Any]:
    t, obj = s.train, s.objective
    device = choose_device(t, info)
    dtype = amp_dtype(t, device)
    train_data, valid_data = load_pair_shards(train_dir), load_pair_shards(valid_dir)
    _check_data(train_data, valid_data, s)
    vocab, pad = int(train_data.meta["vocab_size"]), int(train_data.meta["pad_id"])
    max_length = int(train_data.meta["max_length"])

    torch.manual_seed(t.seed)  # identical initialisation on every rank
    model = EmsModel(s.model.__dict__, obj.__dict__, vocab, len(train_data.languages), pad).to(device)
    torch.manual_seed(t.seed * 1_000_003 + info.rank)  # dropout streams differ per rank
    net: torch.nn.Module = model
    if info.enabled:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    optimizer = build_optimizer([p for p in model.parameters() if p.requires_grad], t)
    schedule = Schedule(optimizer, t)
    scaler = torch.amp.GradScaler("cuda", enabled=(dtype == torch.float16))
    lengths = np.maximum(train_data.src.lengths, train_data.tgt.lengths)
    sampler = BatchSampler(lengths, t.batch_size, t.seed, t.max_tokens, t.bucketing, info.world_size)
    run = _Run()

    last = ckpt_dir / LAST
    identity = {"settings": identity_hash(s), "data_hash": str(train_data.meta["content_sha256"]),
                "valid_hash": str(valid_data.meta["content_sha256"])}
    st = load_checkpoint(last, map_location=device) if last.exists() else None
    if st is not None and st.get("identity") != identity:
        logger.warning("%s was made with other settings or data (%s != %s): starting afresh", last,
                       st.get("identity"), identity)
        st = None
        if info.is_main:
            for stale in (last, ckpt_dir / BEST):
                stale.unlink(missing_ok=True)
        barrier(info)
    if st is not None:
        model.load_state_dict(st["model"])
        optimizer.load_state_dict(st["optimizer"])
        schedule.load_state_dict(st["schedule"])
        sampler.load_state_dict(st["sampler"])
        scaler.load_state_dict(st["scaler"])
        run.load_state_dict(st["run"])
        rngs = st["rng"]
        if len(rngs) == info.world_size:
            set_rng_state(rngs[info.rank])
        else:
            logger.warning("checkpoint made by %d processes, resuming with %d: new dropout RNG streams", len(rngs), info.world_size)
        logger.info("resumed from %s at step %d", last, run.step)

    n_params = sum(p.numel() for p in model.parameters())
    if info.is_main:
        params = s.to_dict()
        params["derived"] = {
            "n_parameters": n_params,
            "world_size": info.world_size,
            "global_batch_size": t.batch_size * info.world_size * t.grad_accumulation,
            "n_train_pairs": len(train_data),
            "n_valid_pairs": len(valid_data),
            "device": str(device),
            "amp_dtype": str(dtype) if dtype else "fp32",
            "vocab_size": vocab,
            "languages": ",".join(train_data.languages),
        }
        tracker.log_params(params)
        tracker.set_tags(
            {
                "git_commit": git_commit(),
                "mlflow.source.git.commit": git_commit(),
                "config_hash": config_hash(s.to_dict()),
                "data_hash": train_data.meta["content_sha256"],
                "valid_data_hash": valid_data.meta["content_sha256"],
                "model_id": model_id,
            }
        )

    def checkpoint_state() -> dict[str, Any]:
        rngs = gather_objects(rng_state(), info)
        return {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "sampler": sampler.state_dict(),
            "scaler": scaler.state_dict(),
            "run": run.state_dict(),
            "rng": rngs,
            "identity": identity,
        }

    def save_last() -> None:
        state = checkpoint_state()  # collective: every rank takes part
        if info.is_main:
            save_checkpoint(last, state)
        barrier(info)

    def evaluate() -> int:
        """Rank 0 evaluates and runs callbacks; returns 0 go on, 1 stop (broadcast)."""
        decision = 0
        error: BaseException | None = None
        if info.is_main:
            metrics = dev_evaluate(model, valid_data, obj, device, t.dev_pairs_per_language, max_length=max_length)
            tracker.log_metrics(metrics, step=run.step)
            run.history.append({"step": run.step, "seconds": schedule.seconds, **metrics})
            score = metrics[PRIMARY]
            logger.info("step %d: dev retrieval acc %.4f, dev loss %.4f", run.step, score, metrics["dev/loss_total"])
            if score > run.best:
                run.best, run.best_step, run.bad_evals = score, run.step, 0
                save_checkpoint(ckpt_dir / BEST, {"model": model.state_dict(), "step": run.step, "score": score})
            else:
                run.bad_evals += 1
                if t.early_stopping_patience and run.bad_evals >= t.early_stopping_patience:
                    run.stopped = f"early stopping at step {run.step}"
                    decision = 1
            try:
                for cb in callbacks:
                    cb(run.step, metrics)
            except StopTraining as exc:
                run.stopped = f"stopped by callback at step {run.step}: {exc}"
                decision = 1
            except BaseException as exc:  # noqa: BLE001 - e.g. optuna.TrialPruned: abort, re-raise below
                error = exc
                decision = 2
        decision = broadcast_int(decision, info)
        if decision == 2:
            if error is not None:
                tracker.set_tags({"ems.stopped": f"{type(error).__name__}: {error}"[:500]})
                tracker.close("KILLED")
                raise error
            raise StopTraining("rank 0 aborted the run")
        return decision

    if info.is_main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    accum = t.grad_accumulation
    batches = iter(sampler)
    params = [p for p in model.parameters() if p.requires_grad]
    autocast = (
        (lambda: torch.autocast(device_type=device.type, dtype=dtype)) if dtype else contextlib.nullcontext
    )
    bar = tqdm(
        total=t.max_steps, initial=run.step, disable=not (progress and info.is_main), unit="step",
        mininterval=2.0, dynamic_ncols=True, desc=model_id,
    )
    window_pairs, window_time = 0, 0.0
    sums: dict[str, float] = {}
    n_sums = 0
    net.train()
    tick = time.perf_counter()

    def budget_left() -> bool:
        if run.stopped or run.step >= t.max_steps:
            return False
        if t.max_seconds and schedule.seconds >= t.max_seconds:
            return False
        return not (t.max_epochs and sampler.epochs_done() >= t.max_epochs)

    go_on = broadcast_int(int(budget_left()), info)
    while go_on:
        lr = schedule.apply()
        optimizer.zero_grad(set_to_none=True)
        step_pairs = 0
        for micro in range(accum):
            global_batch = next(batches)
            step_pairs += len(global_batch)
            local = rank_slice(global_batch, info.rank, info.world_size)
            batch = {k: v.to(device, non_blocking=True) for k, v in collate(train_data, local, max_length).items()}
            sync = contextlib.nullcontext() if (micro == accum - 1 or not info.enabled) else net.no_sync()
            with sync:
                with autocast():
                    out = net(**batch)
                    terms = compute_losses(out, batch, obj, gather=obj.gather_negatives and info.enabled)
                scaler.scale(terms["total"] / accum).backward()
            for k, v in terms.items():
                sums[f"loss/{k}"] = sums.get(f"loss/{k}", 0.0) + float(v.detach()) / accum
        n_sums += 1
        scaler.unscale_(optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(params, t.grad_clip if t.grad_clip else float("inf"))
        scaler.step(optimizer)
        scaler.update()
        now = time.perf_counter()
        elapsed, tick = now - tick, now
        schedule.advance(elapsed, sampler.epochs_done() if t.max_epochs else None)
        run.step += 1
        window_pairs += step_pairs
        window_time += elapsed
        bar.update(1)

        if run.step % t.log_every == 0 and info.is_main:
            metrics = {k: v / n_sums for k, v in sums.items()}
            metrics.update({"lr": lr, "grad_norm": float(grad_norm), "pairs_per_s": window_pairs / max(window_time, 1e-9),
                            "epoch": sampler.epochs_done()})
            tracker.log_metrics(metrics, step=run.step)
            run.history.append({"step": run.step, "seconds": schedule.seconds, **metrics})
            bar.set_postfix(loss=f"{metrics['loss/total']:.3f}", pairs_s=f"{metrics['pairs_per_s']:.0f}",
                            left_s=f"{max(t.max_seconds - schedule.seconds, 0):.0f}" if t.max_seconds else "-")
            sums, n_sums, window_pairs, window_time = {}, 0, 0, 0.0
        if run.step % t.eval_every == 0:
            evaluate()
        if run.step % t.checkpoint_every == 0:
            save_last()
        tick = time.perf_counter()  # evaluation and checkpoint time are not step time
        go_on = broadcast_int(int(budget_left()), info)
    bar.close()

    # a last evaluation if the final weights have not been scored yet
    scored = any(h.get("step") == run.step and PRIMARY in h for h in run.history)
    if not broadcast_int(int(scored), info):  # rank 0 holds the history
        evaluate()
    save_last()
    summary: dict[str, Any] = {}
    if info.is_main:
        summary = _finish(s, model, train_data, tokenizer_dir, out_dir, ckpt_dir, tracker, run, model_id, max_length, device)
        if not keep_checkpoints:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
    barrier(info)
    return summary


def _finish(
    s: Settings,
    model: EmsModel,
    train_data: PairShards,
    tokenizer_dir: Path,
    out_dir: Path,
    ckpt_dir: Path,
    tracker: Tracker,
    run: _Run,
    model_id: str,
    max_length: int,
    device: torch.device,
) -> dict[str, Any]:
    """Load the best weights; write model/, heads.pt, history.csv, run.json; log artifacts."""
    import pandas as pd

    from ems.train.figures import plot_history

    best = ckpt_dir / BEST
    if best.exists():
        model.load_state_dict(load_checkpoint(best, map_location=device)["model"])
    model = model.to("cpu").eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    info = {
        "model_id": model_id,
        "languages": train_data.languages,
        "best_step": run.best_step,
        "best_dev_retrieval_acc": run.best,
        "steps": run.step,
        "settings": s.to_dict(),
    }
    save_model(model.encoder, tokenizer_dir, out_dir / "model", max_length, info)
    save_checkpoint(
        out_dir / "heads.pt",
        {"heads": model.heads_state_dict(), "languages": train_data.languages, "settings": s.to_dict(), "step": run.best_step},
    )
    with atomic_open(out_dir / "history.csv") as fh:
        pd.DataFrame(run.history).to_csv(fh, index=False)
    write_json(out_dir / "settings.resolved.json", s.to_dict())
    plot_history(run.history, out_dir / "loss_curve.png")
    tracker.log_metrics({"best/dev_retrieval_acc": run.best, "best/step": run.best_step, "steps": run.step}, step=run.step)
    if run.stopped:
        tracker.set_tags({"ems.stopped": run.stopped})
    for name in ("settings.resolved.json", "history.csv", "loss_curve.png", "heads.pt"):
        tracker.log_artifact(out_dir / name)
    tracker.log_artifact(out_dir / "model", "model")
    tracker.log_artifact(tokenizer_dir, "tokenizer")
    result = {
        "run_id": tracker.run_id,
        "experiment_id": tracker.experiment_id,
        "tracking_uri": tracker.tracking_uri,
        "model_id": model_id,
        "config_hash": config_hash(s.to_dict()),
        "data_hash": train_data.meta["content_sha256"],
    }
    write_json(out_dir / "run.json", result)
    logger.info("saved %s (best dev retrieval acc %.4f at step %d)", out_dir / "model", run.best, run.best_step)
    return {**result, "best_dev_retrieval_acc": run.best, "best_step": run.best_step, "steps": run.step,
            "stopped": run.stopped}
