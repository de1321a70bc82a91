"""The official code's behaviours as options (docs/paper.md): initialisation, dev-loss selection, the dropped
partial batch, LASER's mining threshold."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _train_toy import TINY_SETTINGS, make_toy_data, train_toy

from ems.evaluation.mining import sweep_threshold
from ems.model.ems_model import EmsModel
from ems.train.sampler import BatchSampler

torch.set_num_threads(1)
MODEL = {"layers": 1, "hidden_size": 32, "heads": 2, "ffn_size": 64, "activation": "gelu", "dropout": 0.1,
         "max_positions": 16, "lang_embedding_dim": 8, "projection_dim": 8, "tie_xtr_output": False,
         "xtr_head": "official"}
OBJECTIVE = {"xtr_weight": 1.0, "contrastive_weight": 1.0, "language_embedding": True}


def test_official_init_uses_pytorch_defaults() -> None:
    torch.manual_seed(0)
    bert = EmsModel({**MODEL, "init": "bert"}, OBJECTIVE, 500, 3)
    torch.manual_seed(0)
    official = EmsModel({**MODEL, "init": "official"}, OBJECTIVE, 500, 3)
    words = lambda m: m.encoder.embeddings.word_embeddings.weight
    assert abs(float(words(bert).detach().std()) - 0.02) < 0.005
    assert abs(float(words(official).detach().std()) - 1.0) < 0.05  # nn.Embedding: N(0, 1)
    assert float(words(official)[0].abs().sum()) == 0.0  # the padding row stays zero
    query = lambda m: m.encoder.encoder.layer[0].attention.self.query
    assert float(query(bert).bias.abs().sum()) == 0.0 and float(query(official).bias.abs().sum()) > 0.0


def test_drop_last_drops_the_partial_batch() -> None:
    lengths = np.full(10, 5)
    keep = BatchSampler(lengths, 4, seed=1, bucketing=False)
    drop = BatchSampler(lengths, 4, seed=1, bucketing=False, drop_last=True)
    assert sorted(len(b) for b in keep.batches_of_epoch(0)) == [2, 4, 4]
    assert [len(b) for b in drop.batches_of_epoch(0)] == [4, 4]
    bucketed = BatchSampler(np.arange(30) % 7, 4, seed=1, bucketing=True, bucket_batches=2, drop_last=True)
    assert {len(b) for b in bucketed.batches_of_epoch(0)} == {4}


def test_mining_threshold_midpoint_is_lasers() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, True, False, False])
    assert sweep_threshold(scores, correct, 2)[0] == pytest.approx(0.8)
    assert sweep_threshold(scores, correct, 2, "midpoint")[0] == pytest.approx(0.75)  # (0.8 + 0.7) / 2
    assert sweep_threshold(scores, correct, 2, "midpoint")[1:] == sweep_threshold(scores, correct, 2)[1:]


def test_select_on_loss_keeps_the_lowest_dev_loss(tmp_path: Path) -> None:
    toy = make_toy_data(tmp_path / "toy")
    settings = copy.deepcopy(TINY_SETTINGS)
    settings["train"].update(max_steps=40, eval_every=4, lr=3e-3, warmup_steps=2, log_every=4, select_on="loss",
                             checkpoint_every=1000)
    out = tmp_path / "loss" / "seed1"
    summary = train_toy(settings, toy, out)
    hist = pd.read_csv(out / "history.csv").dropna(subset=["dev/loss_total"])
    best = hist.loc[hist["dev/loss_total"].idxmin()]
    # meaningful only where retrieval would keep another step: its first maximum comes earlier (measured: 32 vs 40)
    assert int(hist.loc[hist["dev/retrieval_acc"].idxmax(), "step"]) != int(best["step"])
    assert summary["best_step"] == int(best["step"])
    assert summary["best_dev_loss"] == pytest.approx(float(best["dev/loss_total"]))
    assert summary["best_dev_retrieval_acc"] == pytest.approx(float(best["dev/retrieval_acc"]))
    info = json.loads((out / "model" / "ems_model.json").read_text())
    assert info["best_dev_loss"] == pytest.approx(float(best["dev/loss_total"]))
