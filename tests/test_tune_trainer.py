"""``ems tune`` / ``ems tune-summary`` on the real trainer, with tiny toy shards.

The toy data (tests/_train_toy.py) is learnable by construction: foreign sentences are
English ones through fixed word dictionaries. A learning rate of 1e-7 learns nothing in the
budget, so it falls below the median and is pruned; a contrastive temperature of 1e-40
overflows to NaN losses, so that trial fails and the study goes on.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from _train_toy import TINY_SETTINGS, make_toy_data

from ems.cli import main
from ems.config import deep_merge
from ems.tune.run import make_spec
from ems.tune.study import open_study

torch.set_num_threads(1)

SPACE = {
    "lr": {"type": "float", "low": 1.0e-7, "high": 1.0e-2, "log": True},
    "temperature": {"type": "float", "low": 1.0e-40, "high": 0.5, "log": True},
}
POINTS = [
    {"lr": 3e-3, "temperature": 0.1},
    {"lr": 3e-3, "temperature": 0.05},
    {"lr": 3e-3, "temperature": 1e-40},  # NaN loss
    {"lr": 1e-7, "temperature": 0.1},  # learns nothing: pruned
]


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_toy_data(tmp_path_factory.mktemp("toy"))


def test_study_on_the_trainer_end_to_end(toy: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    settings = copy.deepcopy(TINY_SETTINGS)
    settings["train"].update(max_steps=1000, max_seconds=None, early_stopping_patience=1)  # the trial budget wins
    settings.update(
        name="toy",
        tracking={"uri": None, "experiment": "tune-trainer"},
        tune={"n_trials": 4, "budget_steps": 12, "eval_every": 4, "pruner": "median", "pruner_startup_trials": 2,
              "sampler_seed": 3, "space": SPACE},
    )
    out = tmp_path / "tune"
    study = open_study(make_spec(settings, out))
    for point in POINTS:
        study.enqueue_trial(point)
    args = ["tune", "--shards", str(toy["train"]), "--valid", str(toy["valid"]), "--tokenizer", str(toy["tokenizer"]),
            "--out-dir", str(out), "--settings", json.dumps(settings), "--worker-id", "0",
            "--done", str(out / "worker-0.json")]
    assert main(args) == 0

    trials = open_study(make_spec(settings, out)).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "FAIL", "PRUNED"]
    assert "nan" in trials[2].user_attrs["fail_reason"].lower()
    assert trials[3].last_step == 4  # stopped at its first dev evaluation
    for t in trials[:2]:
        assert sorted(t.intermediate_values) == [4, 8, 12]  # the whole budget; early stopping is off
        assert t.value == max(t.intermediate_values.values())  # score = best dev retrieval accuracy
        assert 0.0 <= t.value <= 1.0
    assert trials[3].intermediate_values[4] < min(trials[0].intermediate_values[4], trials[1].intermediate_values[4])
    assert not any((out / "trials").glob("trial-*"))  # trial models are not kept

    summary = tmp_path / "summary"
    assert main(["tune-summary", "--out-dir", str(out), "--settings", json.dumps(settings),
                 "--best-params", str(summary / "best_params.yaml"), "--trials", str(summary / "trials.csv"),
                 "--history", str(summary / "history.png"), "--importances", str(summary / "importances.png"),
                 "--parallel", str(summary / "parallel.png")]) == 0
    best = yaml.safe_load((summary / "best_params.yaml").read_text())
    winner = max(trials[:2], key=lambda t: t.value)
    assert best == {"train": {"lr": winner.params["lr"]}, "objective": {"temperature": winner.params["temperature"]}}
    merged = deep_merge(TINY_SETTINGS, best)
    assert merged["objective"]["temperature"] == winner.params["temperature"]
    assert pd.read_csv(summary / "trials.csv")["state"].tolist() == ["COMPLETE", "COMPLETE", "FAIL", "PRUNED"]

    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("tune-trainer").experiment_id])
    parent = next(r for r in runs if r.data.tags.get("ems.role") == "study")
    trial_runs = {int(r.data.tags["optuna.trial_number"]): r for r in runs if r.data.tags.get("ems.role") == "trial"}
    assert sorted(trial_runs) == [0, 1, 2, 3]
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in trial_runs.values())
    assert [trial_runs[i].info.status for i in range(4)] == ["FINISHED", "FINISHED", "FAILED", "FINISHED"]
    assert trial_runs[3].data.tags["optuna.state"] == "PRUNED"
    # the trainer logged its own losses and dev metrics into the trial's nested run
    assert "loss/total" in trial_runs[0].data.metrics and "dev/retrieval_acc" in trial_runs[0].data.metrics
    assert math.isclose(trial_runs[0].data.metrics["value"], trials[0].value, rel_tol=1e-6)
    # trial models are not kept, so no weights go to the artifact store either: history yes, model no
    logged = {a.path for a in client.list_artifacts(trial_runs[0].info.run_id)}
    assert "history.csv" in logged and not logged & {"model", "heads.pt", "tokenizer"}, logged
    assert parent.info.status == "FINISHED" and parent.data.metrics["best_value"] == pytest.approx(winner.value)


def test_pruning_and_divergence_are_trainer_callbacks() -> None:
    """The plug-ins on their own: a NaN step loss aborts through the control, each dev value is reported, the best
    one kept, a pruned trial aborts with the pruner's TrialPruned."""
    import optuna

    from ems.train.callbacks import TrainerCallback, TrainerControl, TrainerState
    from ems.tune.objective import DivergenceGuard, OptunaPruning
    from ems.tune.reporting import TrialDiverged

    state = TrainerState(step=7, max_steps=12)
    guard, control = DivergenceGuard(), TrainerControl()
    assert isinstance(guard, TrainerCallback)
    guard.on_step_end(state, control, {"loss/total": 1.5, "loss/xtr": 0.5})  # finite: goes on
    assert control.abort_error is None
    guard.on_step_end(state, control, {"loss/total": 1.5, "loss/xtr": float("nan")})
    assert isinstance(control.abort_error, TrialDiverged) and "loss/xtr is nan at step 7" in str(control.abort_error)

    reported: list[tuple[int, float]] = []

    def report(step: int, value: float) -> None:
        reported.append((step, value))
        if value < 0.2:
            raise optuna.TrialPruned(f"pruned at step {step}")

    pruning, control = OptunaPruning(report, "dev/retrieval_acc"), TrainerControl()
    for step, acc in ((4, 0.5), (8, 0.7), (12, 0.6)):
        state.step = step
        pruning.on_evaluate(state, control, {"dev/retrieval_acc": acc, "dev/loss_total": 1.0})
    assert reported == [(4, 0.5), (8, 0.7), (12, 0.6)] and pruning.best == 0.7 and control.abort_error is None
    pruning.on_evaluate(state, control, {"dev/retrieval_acc": 0.1, "dev/loss_total": 1.0})
    assert isinstance(control.abort_error, optuna.TrialPruned)
    control = TrainerControl()
    pruning.on_evaluate(state, control, {"dev/retrieval_acc": 0.5, "dev/loss_total": float("inf")})
    assert isinstance(control.abort_error, TrialDiverged) and "dev/loss_total" in str(control.abort_error)
