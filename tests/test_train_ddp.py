"""DDP: ``torchrun`` with 2 gloo CPU processes agrees with 1 process on the same global batches."""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import pytest
import torch
from _bounded import run_bounded
from _train_toy import TINY_SETTINGS, make_toy_data, train_toy

from ems.train.checkpoint import load_checkpoint

torch.set_num_threads(1)
LR = 1e-3


def _settings(batch_size: int) -> dict:
    s = copy.deepcopy(TINY_SETTINGS)
    s["model"]["dropout"] = 0.0
    s["objective"]["gather_negatives"] = True  # 2 x 8 pairs see the same negatives as 1 x 16
    s["train"].update(batch_size=batch_size, max_steps=3, eval_every=3, checkpoint_every=3, lr=LR,
                      warmup_steps=0, weight_decay=0.0, schedule="constant")
    return s


@pytest.mark.timeout(240)
def test_two_gloo_processes_match_one(tmp_path: Path) -> None:
    toy = make_toy_data(tmp_path, n_train=256, n_valid=32)
    one = tmp_path / "one" / "seed1"
    train_toy(_settings(16), toy, one, keep_checkpoints=True)

    two = tmp_path / "two" / "seed1"
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", MLFLOW_DISABLE_TELEMETRY="true")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ems.cli",
        "train", "--shards", str(toy["train"]), "--valid", str(toy["valid"]), "--tokenizer", str(toy["tokenizer"]),
        "--out", str(two), "--settings", json.dumps(_settings(8)), "--no-tracking", "--keep-checkpoints",
        "--no-progress",
    ]
    proc = run_bounded(cmd, env, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]

    a = load_checkpoint(one / "checkpoints" / "last.pt")
    b = load_checkpoint(two / "checkpoints" / "last.pt")
    assert a["run"]["step"] == b["run"]["step"] == 3
    worst = max((a["model"][k] - b["model"][k]).abs().max().item() for k in a["model"])
    moved = max((a["model"][k] - load_checkpoint(one / "checkpoints" / "best.pt")["model"][k]).abs().max().item()
                for k in a["model"])
    # 3 Adam steps move weights by up to ~3 * LR; the two runs agree far more closely than that
    assert worst < 0.05 * LR, worst
    assert len(b["rng"]) == 2  # one RNG state per rank, for exact resumption
    da = [h for h in a["run"]["history"] if "dev/retrieval_acc" in h][-1]
    db = [h for h in b["run"]["history"] if "dev/retrieval_acc" in h][-1]
    assert da["dev/loss_total"] == pytest.approx(db["dev/loss_total"], rel=1e-5)
    assert (two / "model" / "model.safetensors").exists() and (two / "run.json").exists()
    del moved
