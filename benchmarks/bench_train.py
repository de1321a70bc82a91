"""Benchmark of the EMS training step (not a test): pairs/s and useful FLOP/s, ours vs straightforward.

Measures in one run, on the same data and model:

* **ours**: the trainer's step (``ems.train``): length-bucketed batches, vectorised XTR
  targets (one scatter), fused Adam where available;
* **straightforward**: random batches padded to their longest sentence (no bucketing), XTR
  targets built with a Python loop over rows as the official EMS code does;
* this machine's fp32 matmul peak (``torch.mm`` of large square matrices).

Useful FLOPs count matmul work on non-padding positions only (analytic count, checked
against ``torch.utils.flop_counter`` on a padded batch); padded FLOPs count every position.

    .venv/bin/python benchmarks/bench_train.py [--shards results/default/shards/train] [--threads 2]

Without ``--shards`` it uses synthetic shards whose length distribution gives random batches
about a quarter padding. Prints a Markdown table and writes JSON with ``--json``.

On a shared machine wall-clock rates swing with the other processes' load, so every rate
is also given per *CPU-second* of this process, normalised to the thread count
(``cpu_time / threads``): steps and the matmul peak are then measured in the same currency
and their ratio (% of peak) does not depend on how busy the machine was. Rounds alternate
ours / straightforward so that both see the same load.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ems.losses.contrastive import info_nce
from ems.losses.xtr import xtr_kl
from ems.model.ems_model import EmsModel
from ems.train.data import PairShards, Side, collate, load_pair_shards
from ems.train.optim import build_optimizer
from ems.train.sampler import BatchSampler
from ems.train.settings import ModelSettings, resolve_settings
from ems.train.step import compute_losses

logger = logging.getLogger("bench_train")

# The 2026-11-28 default recipe, named explicitly so that later changes of the schema's
# defaults do not change what this benchmark measures; everything else is the schema's.
RECIPE = resolve_settings({
    "model": {"layers": 2, "hidden_size": 256, "heads": 4, "ffn_size": 1024, "activation": "gelu", "dropout": 0.1,
              "max_positions": 128, "lang_embedding_dim": 128, "projection_dim": 128},
    "objective": {"xtr_weight": 1.0, "contrastive_weight": 2.0, "temperature": 0.1, "xtr_target": "official"},
    "train": {"lr": 3e-4},
})
MODEL, OBJECTIVE, TRAIN = RECIPE.model, RECIPE.objective, RECIPE.train


def synthetic_shards(n: int, vocab: int, max_length: int, seed: int = 0) -> PairShards:
    """Zipf-like token ids; source lengths: 40% at max_length (truncated), the rest uniform
    6..max; the English side's length is the source length times U(0.8, 1.25) (translations
    have correlated lengths)."""
    rng = np.random.default_rng(seed)
    src_len = np.where(rng.random(n) < 0.4, max_length, rng.integers(6, max_length + 1, n))
    tgt_len = np.clip(np.round(src_len * rng.uniform(0.8, 1.25, n)), 1, max_length).astype(np.int64)
    sides = []
    for lengths in (src_len, tgt_len):
        ranks = rng.zipf(1.2, int(lengths.sum()))
        ids = (5 + (ranks % (vocab - 5))).astype(np.int32)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        sides.append(Side(ids, offsets, rng.integers(0, 16, n).astype(np.int16)))
    sides[1].lang[:] = 16
    meta = {"n_pairs": n, "languages": [f"l{i}" for i in range(16)] + ["eng"], "vocab_size": vocab, "pad_id": 0,
            "max_length": max_length, "content_sha256": "synthetic"}
    return PairShards(sides[0], sides[1], meta, Path("synthetic"))


# ---------------------------------------------------------------- FLOP counting (analytic)

def encoder_flops(lengths: np.ndarray, width: int | None, m: ModelSettings) -> float:
    """Forward matmul FLOPs of the encoder for sentences of ``lengths`` (padded to ``width`` if given)."""
    h, f, layers = m.hidden_size, m.ffn_size, m.layers
    L = np.full_like(lengths, width) if width is not None else lengths
    per_token = 2 * (4 * h * h + 2 * h * f)  # QKV + output projection, FFN in + out
    attention = 2 * 2 * h * (L.astype(np.float64) ** 2)  # QK^T and AV per sentence
    return float(layers * (per_token * L.sum() + attention.sum()))


def heads_flops(batch: int, m: ModelSettings, vocab: int) -> float:
    h = m.hidden_size
    xtr = 2 * ((h + m.lang_embedding_dim) * h + h * vocab)
    cl = 2 * (h * h + h * m.projection_dim)
    return float(2 * batch * (xtr + cl))  # both sides of every pair


def step_flops(batch: dict[str, torch.Tensor], m: ModelSettings, vocab: int, useful: bool) -> float:
    """Forward + backward (x3) matmul FLOPs of one step; padded positions count unless ``useful``."""
    total = 0.0
    for side in ("src", "tgt"):
        mask = batch[f"{side}_mask"]
        lengths = mask.sum(1).numpy()
        total += encoder_flops(lengths, None if useful else mask.shape[1], m)
    total += heads_flops(batch["src_mask"].shape[0], m, vocab)
    return 3.0 * total


# ---------------------------------------------------------------- the straightforward step

def loop_targets(ids: torch.Tensor, mask: torch.Tensor, vocab: int) -> torch.Tensor:
    """Official-code style: a Python loop over rows, each distinct token gets 1/|y|."""
    rows = []
    for i in range(ids.shape[0]):
        sent = ids[i][mask[i].bool()].tolist()
        row = torch.zeros(vocab)
        row[sent] = 1.0 / len(sent)
        rows.append(row)
    return torch.stack(rows)


def straightforward_losses(model: EmsModel, batch: dict[str, torch.Tensor], vocab: int) -> torch.Tensor:
    out = model(**batch)
    xtr = xtr_kl(out["xtr_src"], loop_targets(batch["tgt_ids"], batch["tgt_mask"], vocab)) + xtr_kl(
        out["xtr_tgt"], loop_targets(batch["src_ids"], batch["src_mask"], vocab)
    )
    cl = info_nce(out["proj_src"], out["proj_tgt"], OBJECTIVE.temperature)
    return OBJECTIVE.xtr_weight * xtr + OBJECTIVE.contrastive_weight * cl


# ---------------------------------------------------------------- measurement

def matmul_peak(threads: int, n: int = 2048, seconds: float = 4.0) -> tuple[float, float]:
    """fp32 ``torch.mm`` FLOP/s: per wall second and per (CPU second / threads)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    reps, start, cpu0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        a @ b
        reps += 1
    flops = 2 * n**3 * reps
    return flops / (time.perf_counter() - start), flops / ((time.process_time() - cpu0) / threads)


def run_steps(kind: str, model: EmsModel, opt: torch.optim.Optimizer, data: PairShards, batches: list[np.ndarray],
              vocab: int, max_length: int) -> dict[str, float]:
    pairs = useful = padded = positions = real = 0.0
    elapsed = cpu = 0.0
    threads = torch.get_num_threads()
    for index in batches:
        start, cpu0 = time.perf_counter(), time.process_time()
        batch = collate(data, index, max_length)
        opt.zero_grad(set_to_none=True)
        if kind == "ours":
            loss = compute_losses(model(**batch), batch, OBJECTIVE)["total"]
        else:
            loss = straightforward_losses(model, batch, vocab)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        elapsed += time.perf_counter() - start
        cpu += (time.process_time() - cpu0) / threads
        pairs += len(index)
        useful += step_flops(batch, MODEL, vocab, useful=True)
        padded += step_flops(batch, MODEL, vocab, useful=False)
        for side in ("src", "tgt"):
            positions += batch[f"{side}_mask"].numel()
            real += float(batch[f"{side}_mask"].sum())
    return {"seconds": elapsed, "cpu_seconds": cpu, "pairs": pairs, "pairs_per_s": pairs / elapsed,
            "useful_flops_per_s": useful / elapsed, "padded_flops_per_s": padded / elapsed,
            "pairs_per_cpu_s": pairs / cpu, "useful_flops_per_cpu_s": useful / cpu, "padded_flops_per_cpu_s": padded / cpu,
            "padding_fraction": 1 - real / positions}


def check_flop_count(model: EmsModel, data: PairShards, index: np.ndarray, vocab: int, max_length: int) -> float:
    """Ratio of torch's FLOP counter to our analytic padded count on one batch (should be ~1)."""
    from torch.utils.flop_counter import FlopCounterMode

    batch = collate(data, index, max_length)
    with FlopCounterMode(display=False) as counter:
        compute_losses(model(**batch), batch, OBJECTIVE)["total"].backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / step_flops(batch, MODEL, vocab, useful=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", help="real training shards (default: synthetic)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per round and kind")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds (ours, straightforward, ...)")
    ap.add_argument("--vocab", type=int, default=16000)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load_start = os.getloadavg()
    if args.shards:
        data = load_pair_shards(args.shards)
        vocab = max(int(data.meta["vocab_size"]), args.vocab)  # the model size asked for; ids stay valid
    else:
        data = synthetic_shards(20000, args.vocab, args.max_length)
        vocab = args.vocab
    max_length = int(data.meta["max_length"])
    n_langs = len(data.meta["languages"])
    lengths = np.maximum(data.src.lengths, data.tgt.lengths)
    need = (args.steps * args.rounds + 3)
    ours_batches = BatchSampler(lengths, args.batch_size, seed=1, bucketing=True).batches_of_epoch(0)[:need]
    plain_batches = BatchSampler(lengths, args.batch_size, seed=1, bucketing=False).batches_of_epoch(0)[:need]

    results: dict[str, Any] = {}
    models = {}
    for kind in ("ours", "straightforward"):
        torch.manual_seed(0)
        model = EmsModel(MODEL.__dict__, OBJECTIVE.__dict__, vocab, n_langs).train()
        opt = build_optimizer(list(model.parameters()), TRAIN)
        models[kind] = (model, opt)
        batches = ours_batches if kind == "ours" else plain_batches
        run_steps(kind, model, opt, data, batches[:3], vocab, max_length)  # warm-up
    ratio = check_flop_count(models["ours"][0], data, plain_batches[0], vocab, max_length)
    logger.info("torch FLOP counter / analytic padded count = %.3f", ratio)
    rounds: dict[str, list[dict[str, float]]] = {"ours": [], "straightforward": []}
    for r in range(args.rounds):
        for kind in ("ours", "straightforward"):
            batches = (ours_batches if kind == "ours" else plain_batches)[3 + r * args.steps: 3 + (r + 1) * args.steps]
            res = run_steps(kind, *models[kind], data, batches, vocab, max_length)
            logger.info("round %d %s: %.1f pairs/s, %.2f GFLOP/s useful", r, kind, res["pairs_per_s"],
                        res["useful_flops_per_s"] / 1e9)
            rounds[kind].append(res)
    peak, peak_cpu = matmul_peak(args.threads)
    for kind, rs in rounds.items():
        secs = sum(x["seconds"] for x in rs)
        cpu = sum(x["cpu_seconds"] for x in rs)
        agg = {k: sum(x[k] * x["seconds"] for x in rs) / secs for k in rs[0] if k.endswith("_per_s")}
        agg.update({k: sum(x[k] * x["cpu_seconds"] for x in rs) / cpu for k in rs[0] if k.endswith("_per_cpu_s")})
        agg["padding_fraction"] = float(np.mean([x["padding_fraction"] for x in rs]))
        agg["useful_fraction_of_peak"] = agg["useful_flops_per_s"] / peak
        agg["padded_fraction_of_peak"] = agg["padded_flops_per_s"] / peak
        agg["useful_fraction_of_peak_cpu"] = agg["useful_flops_per_cpu_s"] / peak_cpu
        agg["padded_fraction_of_peak_cpu"] = agg["padded_flops_per_cpu_s"] / peak_cpu
        results[kind] = agg
    results["speedup_pairs_per_s"] = results["ours"]["pairs_per_s"] / results["straightforward"]["pairs_per_s"]
    results["speedup_pairs_per_cpu_s"] = results["ours"]["pairs_per_cpu_s"] / results["straightforward"]["pairs_per_cpu_s"]
    results["matmul_peak_flops_per_s"] = peak
    results["matmul_peak_flops_per_cpu_s"] = peak_cpu
    results["flop_counter_check"] = ratio
    results["machine"] = {
        "cpu": _cpu_name(), "cores": os.cpu_count(), "threads": args.threads, "torch": torch.__version__,
        "python": platform.python_version(), "load_average_start": load_start,
    }
    results["config"] = {"model": MODEL.__dict__, "vocab": vocab, "batch_size": args.batch_size,
                         "max_length": max_length, "data": args.shards or "synthetic", "steps": args.steps * args.rounds}
    results["machine"]["load_average_end"] = os.getloadavg()
    _print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _print_table(r: dict[str, Any]) -> None:
    peak, peak_cpu = r["matmul_peak_flops_per_s"], r["matmul_peak_flops_per_cpu_s"]
    print(f"fp32 matmul peak: {peak / 1e9:.1f} GFLOP/s wall, {peak_cpu / 1e9:.1f} GFLOP per CPU-second/thread "
          f"({r['machine']['threads']} threads, {r['machine']['cpu']})")
    print("| step | pairs/s (wall) | pairs/CPU-s | useful GFLOP/CPU-s | % of peak, useful (CPU) | "
          "% of peak, padded (CPU) | % of peak, useful (wall) | padding |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in ("ours", "straightforward"):
        x = r[kind]
        print(f"| {kind} | {x['pairs_per_s']:.1f} | {x['pairs_per_cpu_s']:.1f} | {x['useful_flops_per_cpu_s'] / 1e9:.2f} | "
              f"{100 * x['useful_fraction_of_peak_cpu']:.0f}% | {100 * x['padded_fraction_of_peak_cpu']:.0f}% | "
              f"{100 * x['useful_fraction_of_peak']:.0f}% | {100 * x['padding_fraction']:.0f}% |")
    print(f"speed-up: {r['speedup_pairs_per_s']:.2f}x pairs/s (wall), {r['speedup_pairs_per_cpu_s']:.2f}x pairs/CPU-s; "
          f"FLOP-count check {r['flop_counter_check']:.3f}; load average (1/5/15 min) at start "
          f"{_load(r['machine']['load_average_start'])}, at end {_load(r['machine']['load_average_end'])}")


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
