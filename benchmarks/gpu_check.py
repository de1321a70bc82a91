"""GPU check (issue 12, item 7; not a test): the paper-size training step on CUDA.

Measures in one run, on one GPU:

* the dense bf16 and fp16 matmul peak (``torch.mm`` of 8192² matrices, CUDA events);
* the paper-size step (6 × 1024, 16 heads, FFN 4096, swish, official XTR head, 60k
  vocabulary, batch 152, sentences of 120 tokens) with fp16 AMP + GradScaler and with bf16
  AMP: pairs/s, useful matmul FLOP/s as a share of the bf16 peak, peak memory;
* the XTR target of one batch built by a row loop (as the official code's ``index_fill_``
  per row) vs vectorised (``ems.losses.xtr.bag_of_tokens``): time ratio;
* a short ``ems train`` on CUDA (toy shards of ``tests/_train_toy.py``, or ``--shards`` /
  ``--valid`` / ``--tokenizer`` of real smoke shards when given).

    .venv/bin/python benchmarks/gpu_check.py --json docs/measurements/gpu_check.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from ems.losses.xtr import bag_of_tokens
from ems.model.ems_model import EmsModel
from ems.train.optim import build_optimizer
from ems.train.settings import ModelSettings, ObjectiveSettings, TrainSettings
from ems.train.step import compute_losses

PAPER = ModelSettings(layers=6, hidden_size=1024, heads=16, ffn_size=4096, activation="swish", dropout=0.1,
                      max_positions=128, lang_embedding_dim=128, projection_dim=128, xtr_head="official")
OBJECTIVE = ObjectiveSettings(xtr_weight=1.0, contrastive_weight=2.0, temperature=0.1, xtr_target="official")
VOCAB, LANGS, BATCH, LENGTH = 60000, 62, 152, 120


def timed(fn, repeats: int) -> float:
    """Seconds per call of ``fn`` on the GPU (CUDA events, after one warm-up call)."""
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1000 / repeats


def matmul_peak(dtype: torch.dtype, n: int = 8192, repeats: int = 30) -> float:
    a, b = torch.randn(n, n, device="cuda", dtype=dtype), torch.randn(n, n, device="cuda", dtype=dtype)
    return 2 * n**3 / timed(lambda: torch.mm(a, b), repeats)


def paper_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = {s: torch.randint(5, VOCAB, (BATCH, LENGTH), generator=g) for s in ("src", "tgt")}
    return {"src_ids": ids["src"], "src_mask": torch.ones(BATCH, LENGTH, dtype=torch.long),
            "tgt_ids": ids["tgt"], "tgt_mask": torch.ones(BATCH, LENGTH, dtype=torch.long),
            "src_lang": torch.randint(0, LANGS - 1, (BATCH,), generator=g),
            "tgt_lang": torch.full((BATCH,), LANGS - 1)}


def step_flops(m: ModelSettings) -> float:
    """Forward + backward (×3) matmul FLOPs of one full-length batch, both sides, both heads."""
    h, f, n = m.hidden_size, m.ffn_size, BATCH * LENGTH
    encoder = m.layers * (2 * (4 * h * h + 2 * h * f) * n + 2 * 2 * h * LENGTH**2 * BATCH)
    d = h + m.lang_embedding_dim
    heads = BATCH * (2 * (d * d + d * VOCAB) + 2 * (h * h + h * m.projection_dim))
    return 3.0 * 2 * (encoder + heads)


def train_step_rate(precision: str, steps: int = 10) -> dict[str, Any]:
    torch.manual_seed(0)
    model = EmsModel(PAPER.__dict__, OBJECTIVE.__dict__, VOCAB, LANGS).cuda().train()
    opt = build_optimizer(list(model.parameters()), TrainSettings(lr=3e-4, weight_decay=1e-5, amsgrad=True))
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    batch = {k: v.cuda() for k, v in paper_batch().items()}
    torch.cuda.reset_peak_memory_stats()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=dtype):
            loss = compute_losses(model(**batch), batch, OBJECTIVE)["total"]
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(2):
        step()
    seconds = timed(step, steps)
    return {"precision": precision, "seconds_per_step": seconds, "pairs_per_s": BATCH / seconds,
            "matmul_tflops_per_s": step_flops(PAPER) / seconds / 1e12,
            "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
            "parameters": sum(p.numel() for p in model.parameters())}


def xtr_targets() -> dict[str, float]:
    batch = paper_batch(1)
    ids, mask = batch["tgt_ids"].cuda(), batch["tgt_mask"].cuda()
    lengths = mask.sum(1)

    def loop() -> torch.Tensor:  # the official code: one index_fill_ per row
        label = torch.zeros(BATCH, VOCAB, device="cuda")
        for i in range(BATCH):
            label[i].index_fill_(0, ids[i][: lengths[i]], 1.0 / lengths[i])
        return label

    def vectorised() -> torch.Tensor:
        return bag_of_tokens(ids, mask, VOCAB, "official")

    torch.testing.assert_close(loop(), vectorised())
    t_loop, t_vec = timed(loop, 5), timed(vectorised, 20)
    return {"row_loop_s": t_loop, "vectorised_s": t_vec, "ratio": t_loop / t_vec}


def short_train(shards: str | None, valid: str | None, tokenizer: str | None, device: str = "cuda") -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        if shards is None:
            from _train_toy import make_toy_data

            data = make_toy_data(Path(tmp) / "toy")
            shards, valid, tokenizer = str(data["train"]), str(data["valid"]), str(data["tokenizer"])
        settings = {"name": "gpu_check", "model": {"layers": 2, "hidden_size": 128, "heads": 4, "ffn_size": 256},
                    "train": {"batch_size": 64, "max_steps": 60, "eval_every": 30, "checkpoint_every": 30,
                              "warmup_steps": 5, "device": device, "precision": "bf16"}}
        out = Path(tmp) / "model"
        cli = "import sys; from ems.cli import main; sys.exit(main(sys.argv[1:]))"
        cmd = [sys.executable, "-c", cli, "train", "--shards", shards, "--valid", valid, "--tokenizer", tokenizer,
               "--out", str(out), "--settings", json.dumps(settings), "--no-tracking", "--no-progress"]
        t0 = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        result: dict[str, Any] = {"returncode": proc.returncode, "wall_s": time.time() - t0,
                                  "stderr_tail": proc.stderr[-1500:]}
        history = out / "history.csv"
        if history.exists():
            result["history_tail"] = history.read_text().splitlines()[-2:]
        return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--shards", default=None)
    ap.add_argument("--valid", default=None)
    ap.add_argument("--tokenizer", default=None)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    report: dict[str, Any] = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
                              "cuda": torch.version.cuda, "capability": list(torch.cuda.get_device_capability(0))}
    peak = {"bf16": matmul_peak(torch.bfloat16), "fp16": matmul_peak(torch.float16)}
    report["matmul_peak_tflops_per_s"] = {k: v / 1e12 for k, v in peak.items()}
    report["paper_step"] = []
    for precision in ("fp16", "bf16"):
        r = train_step_rate(precision)
        r["pct_of_bf16_peak"] = 100 * r["matmul_tflops_per_s"] * 1e12 / peak["bf16"]
        report["paper_step"].append(r)
        torch.cuda.empty_cache()
    report["xtr_target"] = xtr_targets()
    report["ems_train"] = short_train(args.shards, args.valid, args.tokenizer)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0 if report["ems_train"]["returncode"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
