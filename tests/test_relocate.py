"""A copied results folder reads its MLflow runs and logged models from the copy (issue 26, item 1)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from _train_toy import make_tokenizer


def test_a_copied_store_loads_its_runs_and_models_from_the_copy(tmp_path: Path, monkeypatch) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient
    from transformers import AutoTokenizer

    from ems.model.ems_model import EmsModel
    from ems.model.io import save_model
    from ems.tracking.mlflow_tracker import MlflowTracker
    from ems.tracking.relocate import relocate_results
    from ems.tracking.setup import tracking_setup

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first = tmp_path / "first"
    (first / "results").mkdir(parents=True)
    monkeypatch.chdir(first)
    # a name of its own: MLflow caches one store per URI string in the process, and the relative URI
    # sqlite:///results/<name>/... of another test's folder must not meet this one's (deleted) folder
    settings = {"name": "relocated", "results_dir": "results", "tracking": {"uri": None}}
    parent = tracking_setup(settings, "results/relocated/tracking/parent.json")
    tok = make_tokenizer(tmp_path / "tok")
    torch.manual_seed(0)
    model = EmsModel({"layers": 1, "hidden_size": 16, "heads": 2, "ffn_size": 32, "activation": "gelu",
                      "dropout": 0.0, "max_positions": 16, "lang_embedding_dim": 4, "projection_dim": 4,
                      "tie_xtr_output": False, "xtr_head": "compact", "init": "bert"},
                     {"xtr_weight": 1.0, "contrastive_weight": 0.0, "language_embedding": True}, len(AutoTokenizer.from_pretrained(str(tok))), 3)
    folder = save_model(model.encoder, tok, tmp_path / "model", 16)
    tracker = MlflowTracker.attach("results/relocated/tracking/parent.json", "both/s1")
    (tmp_path / "note.txt").write_text("hello")
    tracker.log_artifact(tmp_path / "note.txt")
    uri = tracker.log_model(folder, "both-s1")
    tracker.close()
    # the whole project folder is copied elsewhere and the original is gone
    second = tmp_path / "second"
    shutil.copytree(first, second)
    shutil.rmtree(first)
    monkeypatch.chdir(second)
    assert relocate_results("results/relocated") > 0
    assert relocate_results("results/relocated") == 0  # idempotent
    store = f"sqlite:///{second / 'results' / 'relocated' / 'mlflow' / 'mlflow.db'}"
    client = MlflowClient(store)
    exp = client.get_experiment(parent["experiment_id"])
    assert exp.artifact_location.startswith((second / "results").as_uri())
    local = client.download_artifacts(tracker.run_id, "note.txt", str(tmp_path / "dl"))
    assert Path(local).read_text() == "hello"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(store)
    try:
        loaded = mlflow.sentence_transformers.load_model(uri)
    finally:
        mlflow.set_tracking_uri(previous)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    vectors = loaded.encode(["the cat", "nehtac"])
    assert vectors.shape == (2, 16) and np.isfinite(vectors).all()
    assert json.loads((second / "results" / "relocated" / "tracking" / "parent.json").read_text())["tracking_uri"] == \
        "sqlite:///results/relocated/mlflow/mlflow.db"
