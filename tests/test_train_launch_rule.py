"""The train rule launches ``torchrun`` itself: 2 gloo CPU ranks through Snakemake match a direct torchrun run.

Only the ``train``, ``tracking_setup`` and ``tracking_names`` rules run (``--allowed-rules``), on toy shards put
where the data stage would write them, with ``launch.cpu_processes: 2``. The direct run takes
the settings the rule's job resolved (``settings.resolved.json``); both runs must agree within
the tolerance of tests/test_train_ddp.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _bounded import run_bounded
from _train_toy import make_toy_data

ROOT = Path(__file__).resolve().parents[1]
LR = 1e-3
MODEL_ID = "objective~both_langemb~True_temp~0.1_frac~1.0/seed1"
OVERLAY = {
    "name": "launch",
    "model": {"layers": 1, "hidden_size": 32, "heads": 2, "ffn_size": 64, "max_positions": 32,
              "lang_embedding_dim": 8, "projection_dim": 16, "dropout": 0.0},
    "objective": {"gather_negatives": True},  # 2 x 8 pairs see the same negatives as one rank
    "train": {"batch_size": 8, "max_steps": 3, "max_seconds": None, "eval_every": 3, "checkpoint_every": 3,
              "lr": LR, "warmup_steps": 0, "weight_decay": 0.0, "schedule": "constant", "device": "cpu"},
    "launch": {"gpus": 0, "cpu_processes": 2},
    "tune": {"enabled": False, "use_best": False},
    "ablation": {"factors": {"objective": ["both"], "language_embedding": [True], "temperature": [0.1],
                             "data_fraction": [1.0]}, "seeds": [1]},
}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "WORLD_SIZE",
                                                             "RANK", "LOCAL_RANK")}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", OMP_NUM_THREADS="1")
    return env


def _run(cmd: list[str], cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    return run_bounded(cmd, _env(), timeout, cwd=cwd)


@pytest.mark.timeout(400)
def test_train_rule_runs_two_gloo_ranks_like_direct_torchrun(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    work = tmp_path / "wf"
    work.mkdir()
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / name, work / name)
    for name in ("config", "workflow", "envs"):
        shutil.copytree(ROOT / name, work / name)
    (work / "overlay.yaml").write_text(yaml.safe_dump(OVERLAY))
    toy = make_toy_data(tmp_path / "toy", n_train=256, n_valid=32)
    results = work / "results" / "launch"
    (results / "shards").mkdir(parents=True)
    shutil.copytree(toy["train"], results / "shards" / "train")
    shutil.copytree(toy["valid"], results / "shards" / "valid")
    shutil.copytree(toy["tokenizer"], results / "tokenizer")

    target = f"results/launch/models/{MODEL_ID}/run.json"
    proc = _run([sys.executable, "-m", "snakemake", "--cores", "2", "--allowed-rules", "train", "tracking_setup", "tracking_names",
                 "--configfile", "config/smoke.yaml", "overlay.yaml", "--", target], work, timeout=300)
    log = work / "logs" / "launch" / "train" / f"{MODEL_ID}.log"
    assert proc.returncode == 0, proc.stderr[-3000:] + (log.read_text()[-3000:] if log.exists() else "")
    text = log.read_text()
    assert "torch.distributed.run" in text and "DDP rank 1 of 2" in text, text[-2000:]  # the rule launched 2 ranks

    out = results / "models" / MODEL_ID
    resolved = json.loads((out / "settings.resolved.json").read_text())
    direct = tmp_path / "direct" / "seed1"
    proc = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ems.cli",
                 "train", "--shards", str(results / "shards" / "train"), "--valid", str(results / "shards" / "valid"),
                 "--tokenizer", str(results / "tokenizer"), "--out", str(direct), "--settings", json.dumps(resolved),
                 "--no-tracking", "--no-progress", "--threads", "1"], tmp_path, timeout=200)
    assert proc.returncode == 0, proc.stderr[-3000:]

    a = load_file(str(out / "model" / "model.safetensors"))
    b = load_file(str(direct / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    worst = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert worst < 0.05 * LR, worst  # tests/test_train_ddp.py's tolerance
    import pandas as pd

    ha, hb = pd.read_csv(out / "history.csv"), pd.read_csv(direct / "history.csv")
    assert ha["step"].max() == hb["step"].max() == 3
    dev = [c for c in ha.columns if c.startswith("dev/loss")]
    assert dev and ha[dev].dropna().iloc[-1].to_numpy() == pytest.approx(hb[dev].dropna().iloc[-1].to_numpy(), rel=1e-5)
