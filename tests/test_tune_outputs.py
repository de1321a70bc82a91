"""Study outputs and their MLflow view: best_params.yaml, trials.csv, figures, nested runs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ems.config import REPO_ROOT, deep_merge, load_config, validate_config
from ems.tune.run import make_spec, make_tracker, tune_summary, tune_worker
from ems.tune.study import open_study

sys.path.insert(0, str(Path(__file__).parent))
import tune_fixtures
from tune_fixtures import make_objective, settings, start_together

mlflow_template, mlflow_uri = tune_fixtures.mlflow_template, tune_fixtures.mlflow_uri  # fixtures

FIXTURES = Path(__file__).with_name("tune_fixtures.py")

POINTS = ({"lr": 1e-3, "dropout": 0.0}, {"lr": 1e-3, "dropout": 0.1}, {"lr": 1e-3, "dropout": 0.49},
          {"lr": 1e-4, "dropout": 0.4}, {"lr": 1e-3, "dropout": 0.02})
EXPECTED_STATES = ["COMPLETE", "COMPLETE", "FAIL", "PRUNED", "COMPLETE"]


def _figures(out: Path) -> dict[str, Path]:
    return {k: out / f"{k}.png" for k in ("history", "importances", "parallel")}


def test_summary_and_nested_mlflow_runs(tmp_path: Path, mlflow_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    cfg = settings(n_trials=5)
    study = open_study(make_spec(cfg, tmp_path))
    for point in POINTS:
        study.enqueue_trial(point)
    tune_worker(cfg, tmp_path, make_objective(), tracker=make_tracker(cfg, None))
    out = tmp_path / "summary"
    res = tune_summary(cfg, tmp_path, out / "best_params.yaml", out / "trials.csv", _figures(out),
                       tracker=make_tracker(cfg, None))

    best = yaml.safe_load((out / "best_params.yaml").read_text())
    assert best == {"model": {"dropout": 0.0}, "train": {"lr": 1e-3}}  # trial 0 scores 1.0 by construction
    merged = validate_config(deep_merge(load_config(REPO_ROOT / "config.yaml"), best))
    assert merged["train"]["lr"] == 1e-3 and merged["model"]["dropout"] == 0.0

    table = pd.read_csv(out / "trials.csv")
    assert table["state"].tolist() == EXPECTED_STATES
    assert {"params_lr", "params_dropout", "value", "mlflow_run_id", "fail_reason"} <= set(table.columns)
    assert res["figures"] == {"history": True, "importances": True, "parallel": True}
    for path in _figures(out).values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"  # a PDF beside every PNG
    assert open_study(make_spec(cfg, tmp_path)).metric_names == ["dev/retrieval_acc"]  # named for the dashboard

    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("tune-test")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("ems.role") == "study"]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["best_value"] == pytest.approx(1.0)
    assert parent.data.tags["best.train.lr"] == "0.001"
    assert {k: v for k, v in parent.data.metrics.items() if k.startswith("trials_")} == {
        "trials_complete": 3.0, "trials_failed": 1.0, "trials_pruned": 1.0}
    trial_runs = sorted((r for r in runs if r.data.tags.get("ems.role") == "trial"),
                        key=lambda r: int(r.data.tags["optuna.trial_number"]))
    assert [r.data.tags["mlflow.parentRunId"] for r in trial_runs] == [parent.info.run_id] * 5
    assert [r.data.tags["optuna.state"] for r in trial_runs] == EXPECTED_STATES
    assert [r.info.status for r in trial_runs] == ["FINISHED", "FINISHED", "FAILED", "FINISHED", "FINISHED"]
    assert trial_runs[0].data.params["trial.lr"] == "0.001"
    assert trial_runs[0].data.metrics["value"] == pytest.approx(1.0)
    history = client.get_metric_history(trial_runs[0].info.run_id, "intermediate_value")
    assert [m.step for m in history] == [2, 4, 6, 8, 10]
    pruned = client.get_metric_history(trial_runs[3].info.run_id, "intermediate_value")
    assert [m.step for m in pruned] == [2]
    assert set(table["mlflow_run_id"]) == {r.info.run_id for r in trial_runs}


def test_figures_fall_back_to_placeholders(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = settings(n_trials=1)
    tune_worker(cfg, tmp_path, make_objective())
    out = tmp_path / "summary"
    with caplog.at_level("INFO"):
        res = tune_summary(cfg, tmp_path, out / "best.yaml", out / "trials.csv", _figures(out))
    assert res["figures"]["importances"] is False and res["figures"]["history"] is True
    assert "needs >= 2 completed" in caplog.text
    assert (out / "importances.png").read_bytes()[:4] == b"\x89PNG"


def test_summary_without_completed_trials_is_an_error(tmp_path: Path) -> None:
    from ems.errors import EmsError

    cfg = settings(n_trials=1)
    open_study(make_spec(cfg, tmp_path)).enqueue_trial({"lr": 1e-3, "dropout": 0.49})
    tune_worker(cfg, tmp_path, make_objective())
    with pytest.raises(EmsError, match="no completed trial"):
        tune_summary(cfg, tmp_path, tmp_path / "b.yaml", tmp_path / "t.csv", {})
    assert not (tmp_path / "b.yaml").exists()


def test_concurrent_workers_log_every_trial_under_one_parent(tmp_path: Path, mlflow_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    cfg = settings(n_trials=6, pruner="none")
    make_tracker(cfg, None)  # create the store and experiment once, before the workers start
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmds = [[sys.executable, str(FIXTURES), json.dumps(cfg), str(tmp_path), str(w), "--mlflow", "--sleep", "0.02"]
            for w in (0, 1)]
    start_together(cmds, tmp_path / "gate", env, timeout=180)
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("tune-test").experiment_id])
    parents = [r for r in runs if r.data.tags.get("ems.role") == "study"]
    trials = [r for r in runs if r.data.tags.get("ems.role") == "trial"]
    assert len(parents) == 1
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in trials) == list(range(6))
    assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {parents[0].info.run_id}
    assert {r.data.tags["ems.worker"] for r in trials} == {"0", "1"}


def test_history_shows_pruned_and_failed_trials(tmp_path: Path) -> None:
    from ems.tune.figures import plot_history

    cfg = settings(n_trials=5)
    study = open_study(make_spec(cfg, tmp_path))
    for point in POINTS:
        study.enqueue_trial(point)
    tune_worker(cfg, tmp_path, make_objective())
    trials = open_study(make_spec(cfg, tmp_path)).trials
    fig = plot_history(open_study(make_spec(cfg, tmp_path)))
    ax = fig.axes[0]
    points = {c.get_label(): [tuple(xy) for xy in c.get_offsets()] for c in ax.collections}
    assert points["completed"] == [(t.number, pytest.approx(t.value)) for t in trials if t.state.name == "COMPLETE"]
    assert points["pruned (last report)"] == [(3, pytest.approx(trials[3].intermediate_values[2]))]
    assert [x for x, _ in points["failed"]] == [2]
    assert ax.get_ylabel() == "Dev retrieval accuracy"  # the study's metric name, readable


def test_enqueued_baseline_sets_every_tuned_parameter(caplog: pytest.LogCaptureFixture) -> None:
    cfg = settings(enqueue=[{"dropout": 0.2}, {"lr": 2e-3}])
    cfg["train"] = {"lr": 5e-4}
    spec = make_spec(cfg, "unused")
    assert spec.enqueue == ({"dropout": 0.2, "lr": 5e-4}, {"lr": 2e-3, "dropout": 0.1})  # 0.1: schema default
    cfg["train"] = {"lr": 0.5}  # outside tune.space.lr: left to the sampler, loudly
    with caplog.at_level("WARNING"):
        assert make_spec(cfg, "unused").enqueue[0] == {"dropout": 0.2}
    assert "tune.enqueue[0]: the configuration's train.lr = 0.5 lies outside tune.space.lr" in caplog.text
