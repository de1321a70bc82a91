"""The EMS training loop: a :class:`Trainer` built from a resolved :class:`~ems.train.run.TrainingRun`.

Batches of mixed languages (optionally length-bucketed / token-budgeted), Adam(W) with
warm-up + decay, gradient clipping and accumulation, AMP on CUDA (fp16 with a gradient
scaler), periodic dev evaluation (keeps the best model by dev retrieval accuracy, optional
a callback's stop), verified resumable checkpoints, DDP under ``torchrun``. Everything around
the loop (tracking, progress, early stopping, pruning) is a
:class:`~ems.train.callbacks.TrainerCallback`; the loop names no tracker. It is started in one
place, :func:`ems.train.entry.run_training`, which also owns the run's status.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from ems.errors import ConfigError, DataError
from ems.model.ems_model import EmsModel
from ems.train import outputs
from ems.train.callbacks import TrainerCallback, TrainerControl, TrainerState
from ems.train.checkpoint import (
    BEST,
    LAST,
    PREVIOUS,
    load_checkpoint,
    move_aside,
    remove,
    rng_state,
    save_checkpoint,
    set_rng_state,
    verify,
)
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
from ems.train.progress import ProgressCallback
from ems.train.run import TrainingRun
from ems.train.sampler import BatchSampler, rank_slice
from ems.train.settings import TrainSettings
from ems.train.step import compute_losses

logger = logging.getLogger(__name__)

PRIMARY = "dev/retrieval_acc"
#: Per-step decision of rank 0, broadcast to every rank.
GO_ON, STOP, ABORT = 0, 1, 2


class Aborted(RuntimeError):
    """On ranks other than 0: rank 0's callback aborted the run."""


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
    """Autocast dtype, or None for fp32. AMP only on CUDA (``auto``: bf16 there; fp16 uses a GradScaler)."""
    if device.type != "cuda":
        if t.precision in ("bf16", "fp16"):
            logger.warning("train.precision=%s ignored on %s: training in fp32", t.precision, device)
        return None
    return {"auto": torch.bfloat16, "bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[t.precision]


def check_data(train: PairShards, valid: PairShards, max_positions: int) -> None:
    for key in ("vocab_size", "pad_id", "languages"):
        if train.meta[key] != valid.meta[key]:
            raise DataError(f"{valid.path}/meta.json: {key} differs from {train.path}/meta.json")
    if int(train.meta["max_length"]) > max_positions:
        raise ConfigError(
            f"model.max_positions ({max_positions}) is below the shards' max_length ({train.meta['max_length']})"
        )


class Trainer:
    """Train one model of a :class:`TrainingRun`; callbacks run on rank 0 (see :mod:`ems.train.callbacks`)."""

    def __init__(self, run: TrainingRun, callbacks: Iterable[TrainerCallback] = (), *,
                 keep_checkpoints: bool = False, progress: bool = True) -> None:
        self.run = run
        self.callbacks = [*callbacks, ProgressCallback(bar=progress)]
        self.keep_checkpoints = keep_checkpoints
        self.state = TrainerState(max_steps=run.settings.train.max_steps)
        self.control = TrainerControl()

    def train(self) -> dict[str, Any]:
        """Run to the end of the budget; write the outputs; return a summary (rank 0; ``{}`` elsewhere).

        Raises what ended the run early (a callback's abort, an interrupt, a bug); the caller
        (:func:`ems.train.entry.run_training`) decides the run's status and calls :meth:`end`.
        """
        t = self.run.settings.train
        if t.num_threads:
            torch.set_num_threads(t.num_threads)
        cuda = t.device.startswith("cuda") or (t.device == "auto" and torch.cuda.is_available())
        self.info = init_distributed(use_cuda=cuda)
        try:
            self._build()
            self._restore()
            self._fire("on_train_begin", self.run, self.state, self.control, self.model)
            self._loop()
            return self._finish()
        finally:
            shutdown(self.info)

    def end(self, status: str) -> None:
        """Tell the callbacks how the run ended (rank 0; nothing when the process group never came up)."""
        info = getattr(self, "info", None)
        if info is not None and info.is_main:
            for cb in self.callbacks:
                try:
                    cb.on_train_end(self.state, self.control, status)
                except Exception:
                    logger.exception("on_train_end of %s failed", type(cb).__name__)

    # --- set-up -----------------------------------------------------------------------------
    def _build(self) -> None:
        """Device, data, model (DDP-wrapped under torchrun), optimiser, schedule, scaler, sampler."""
        s, info = self.run.settings, self.info
        t = s.train
        self.device = choose_device(t, info)
        self.dtype = amp_dtype(t, self.device)
        self.data = load_pair_shards(self.run.train_dir)
        self.valid = load_pair_shards(self.run.valid_dir)
        check_data(self.data, self.valid, s.model.max_positions)
        self.max_length = int(self.data.meta["max_length"])
        torch.manual_seed(t.seed)  # identical initialisation on every rank
        self.model = EmsModel(s.model.__dict__, s.objective.__dict__, int(self.data.meta["vocab_size"]),
                              len(self.data.languages), int(self.data.meta["pad_id"])).to(self.device)
        torch.manual_seed(t.seed * 1_000_003 + info.rank)  # dropout streams differ per rank
        self.net: torch.nn.Module = self.model
        if info.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(self.params, t)
        self.schedule = Schedule(self.optimizer, t)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=(self.dtype == torch.float16))
        lengths = np.maximum(self.data.src.lengths, self.data.tgt.lengths)
        self.sampler = BatchSampler(lengths, t.batch_size, t.seed, t.max_tokens, t.bucketing, info.world_size,
                                    drop_last=t.drop_last)
        self.state.derived = {
            "n_parameters": sum(p.numel() for p in self.model.parameters()), "world_size": info.world_size,
            "global_batch_size": t.batch_size * info.world_size * t.grad_accumulation,
            "n_train_pairs": len(self.data), "n_valid_pairs": len(self.valid), "device": str(self.device),
            "amp_dtype": str(self.dtype) if self.dtype else "fp32", "vocab_size": int(self.data.meta["vocab_size"]),
            "languages": ",".join(self.data.languages),
        }

    def _restore(self) -> None:
        """Apply the run's resume decision: unusable checkpoints moved aside, the chosen one loaded."""
        scan, ckpt = self.run.resume.scan, self.run.checkpoint_dir
        if self.info.is_main:
            ckpt.mkdir(parents=True, exist_ok=True)
            for path, reason in scan.corrupt:
                if path.exists():
                    move_aside(path, reason)
            for path in scan.stale:
                logger.warning("%s was made with other settings or data: not resumed", path)
                remove(path)
            if scan.resumable is None:
                remove(ckpt / BEST)
        barrier(self.info)
        if scan.resumable is None:
            return
        st = load_checkpoint(scan.resumable, map_location=self.device)
        for name in ("model", "optimizer", "schedule", "sampler", "scaler"):
            getattr(self, name).load_state_dict(st[name])
        self.state.load_state_dict(st["run"])
        rngs = st["rng"]
        if len(rngs) == self.info.world_size:
            set_rng_state(rngs[self.info.rank])
        else:
            logger.warning("checkpoint made by %d processes, resuming with %d: new dropout RNG streams",
                           len(rngs), self.info.world_size)
        if self.info.is_main and (ckpt / BEST).exists() and (reason := verify(ckpt / BEST)):
            move_aside(ckpt / BEST, reason)
            self.state.best, self.state.best_step = float("-inf"), -1  # the next evaluation saves a new best
        logger.info("resumed from %s at step %d", scan.resumable, self.state.step)

    # --- the loop ---------------------------------------------------------------------------
    def _loop(self) -> None:
        t = self.run.settings.train
        self.batches = iter(self.sampler)
        self.window: dict[str, float] = {}
        self.net.train()
        decision = self._on_rank0(lambda: None)
        while decision == GO_ON:
            decision = self._after_step(self._step())
            if self.state.step % t.checkpoint_every == 0:
                self._save_last()
        scored = any(h.get("step") == self.state.step and PRIMARY in h for h in self.state.history)
        scored = bool(broadcast_int(int(scored), self.info))  # rank 0 holds the history
        if not scored:  # a last evaluation of unscored final weights
            self._on_rank0(self._evaluate)
        if not scored or self.state.step % t.checkpoint_every:  # unless last.pt already holds this state
            self._save_last()

    def budget_left(self) -> bool:
        """Whether steps, seconds and epochs all leave room for another step (and no callback asked to stop)."""
        t, st = self.run.settings.train, self.state
        if self.control.should_stop or st.step >= t.max_steps:
            return False
        if t.max_seconds and self.schedule.seconds >= t.max_seconds:
            return False
        return not (t.max_epochs and self.sampler.epochs_done() >= t.max_epochs)

    def _step(self) -> dict[str, float]:
        """One optimiser step over ``grad_accumulation`` micro-batches; returns its losses and stats."""
        t, info = self.run.settings.train, self.info
        start = time.perf_counter()
        lr = self.schedule.apply()
        self.optimizer.zero_grad(set_to_none=True)
        losses: dict[str, float] = {}
        pairs = 0
        for micro in range(t.grad_accumulation):
            global_batch = next(self.batches)
            pairs += len(global_batch)
            local = rank_slice(global_batch, info.rank, info.world_size)
            batch = {k: v.to(self.device, non_blocking=True)
                     for k, v in collate(self.data, local, self.max_length).items()}
            last_micro = micro == t.grad_accumulation - 1
            with contextlib.nullcontext() if (last_micro or not info.enabled) else self.net.no_sync():
                terms = self._forward(batch)
                self.scaler.scale(terms["total"] / t.grad_accumulation).backward()
            for k, v in terms.items():
                losses[k] = losses.get(k, 0.0) + float(v.detach()) / t.grad_accumulation
        self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, t.grad_clip if t.grad_clip else float("inf"))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        elapsed = time.perf_counter() - start
        self.schedule.advance(elapsed, self.sampler.epochs_done() if t.max_epochs else None)
        self.state.step += 1
        self.state.pairs_seen += pairs
        return {**losses, "lr": lr, "grad_norm": float(grad_norm), "pairs": pairs, "seconds": elapsed}

    def _forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        obj = self.run.settings.objective
        autocast = (torch.autocast(device_type=self.device.type, dtype=self.dtype) if self.dtype
                    else contextlib.nullcontext())
        with autocast:
            out = self.net(**batch)
            return compute_losses(out, batch, obj, gather=obj.gather_negatives and self.info.enabled)

    def _after_step(self, losses: dict[str, float]) -> int:
        """Rank 0: step callbacks, the log window, dev evaluation; every rank gets its decision."""
        t = self.run.settings.train

        def rank0() -> None:
            step_losses = {k: v for k, v in losses.items() if k not in ("lr", "grad_norm", "pairs", "seconds")}
            self._fire("on_step_end", self.state, self.control, step_losses)
            self._accumulate(losses)
            if self.state.step % t.log_every == 0:
                self._log_window()
            if self.state.step % t.eval_every == 0:
                self._evaluate()

        return self._on_rank0(rank0)

    def _on_rank0(self, fn: Callable[[], None]) -> int:
        """Run ``fn`` on rank 0 and broadcast what follows: go on, stop (state or budget), or abort.

        An exception of ``fn`` is re-raised on rank 0 after the others were told to abort.
        """
        decision, error = GO_ON, None
        if self.info.is_main:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after the broadcast
                decision, error = ABORT, exc
            else:
                decision = GO_ON if self.budget_left() else STOP
        decision = broadcast_int(decision, self.info)
        if error is not None:
            raise error
        if decision == ABORT:
            raise Aborted("rank 0 aborted the run")
        return decision

    def _accumulate(self, losses: dict[str, float]) -> None:
        w = self.window
        for k, v in losses.items():
            w[k] = w.get(k, 0.0) + v
        w["n"] = w.get("n", 0.0) + 1

    def _log_window(self) -> None:
        """Smoothed training metrics of the steps since the last log (rank 0)."""
        w, self.window = self.window, {}
        n = w.pop("n")
        pairs, seconds, lr, grad_norm = w.pop("pairs"), w.pop("seconds"), w.pop("lr"), w.pop("grad_norm")
        metrics = {f"loss/{k}": v / n for k, v in w.items()}
        metrics.update({"lr": lr / n, "grad_norm": grad_norm / n, "pairs_per_s": pairs / max(seconds, 1e-9),
                        "epoch": self.sampler.epochs_done()})
        self.state.history.append({"step": self.state.step, "seconds": self.schedule.seconds, **metrics})
        self._fire("on_log", self.state, self.control, metrics)

    def _evaluate(self) -> None:
        """Rank 0: dev metrics and the best model, then the callbacks' ``on_evaluate`` (early stopping is one)."""
        t, st = self.run.settings.train, self.state
        metrics = dev_evaluate(self.model, self.valid, self.run.settings.objective, self.device,
                               t.dev_pairs_per_language, max_length=self.max_length)
        st.history.append({"step": st.step, "seconds": self.schedule.seconds, **metrics})
        # higher is better: retrieval accuracy, or the negated dev loss (train.select_on: loss, the official code)
        score = metrics[PRIMARY] if t.select_on == "retrieval" else -metrics["dev/loss_total"]
        logger.info("step %d: dev retrieval acc %.4f, dev loss %.4f", st.step, metrics[PRIMARY], metrics["dev/loss_total"])
        if score > st.best:
            st.best, st.best_step = score, st.step
            save_checkpoint(self.run.checkpoint_dir / BEST, {"model": self.model.state_dict(), "step": st.step,
                                                             "score": score})
        self._fire("on_evaluate", st, self.control, metrics)

    def _save_last(self) -> None:
        """Collective: every rank hands in its RNG state; rank 0 writes ``last.pt`` (old one kept as previous)."""
        ckpt = self.run.checkpoint_dir
        state = {name: getattr(self, name).state_dict() for name in ("model", "optimizer", "schedule", "sampler",
                                                                      "scaler")}
        state.update(run=self.state.state_dict(), rng=gather_objects(rng_state(), self.info),
                     identity=self.run.identity)
        if self.info.is_main:
            save_checkpoint(ckpt / LAST, state, {"identity": self.run.identity, "step": self.state.step},
                            previous=ckpt / PREVIOUS)
            self._fire("on_checkpoint", self.state, self.control, ckpt / LAST)
        barrier(self.info)

    def _fire(self, hook: str, *args: Any) -> None:
        """Call ``hook`` on every callback (rank 0 only); raise a callback's abort right after its hook."""
        if not self.info.is_main:
            return
        for cb in self.callbacks:
            getattr(cb, hook)(*args)
            if self.control.abort_error is not None:
                raise self.control.abort_error

    # --- the end ----------------------------------------------------------------------------
    def _finish(self) -> dict[str, Any]:
        """Rank 0 writes the outputs (best weights) and tells the callbacks; checkpoints go unless kept."""
        summary: dict[str, Any] = {}
        if self.info.is_main:
            best = self.run.checkpoint_dir / BEST
            if best.exists():
                self.model.load_state_dict(load_checkpoint(best, map_location=self.device)["model"])
            outputs.write_model(self.run, self.model.to("cpu").eval(), self.data.languages, self.state,
                                self.max_length)
            self._fire("on_model_saved", self.state, self.control, self.run.out_dir)
            summary = outputs.write_run_json(self.run, self.state, self.control)
            if not self.keep_checkpoints:
                shutil.rmtree(self.run.checkpoint_dir, ignore_errors=True)
        barrier(self.info)
        return summary

