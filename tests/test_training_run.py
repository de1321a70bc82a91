"""One resume decision for checkpoint and tracking run (issue 10 item 1, issue 14 item 2).

Through the real ``ems train`` on toy shards with a real MLflow SQLite store: new data with
the same settings starts a new tracking run tagged with the one it replaces (the old run
keeps its metric history, no step twice); a discarded checkpoint does the same; a resume
that fails before training leaves the earlier run's status as it was.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from _train_toy import TINY_SETTINGS, make_toy_data, toy_pairs, write_shards

from ems.cli import main
from ems.io import sha256_file, write_json
from ems.tracking.setup import tracking_setup
from ems.train.checkpoint import LAST, PREVIOUS, sidecar
from ems.train.run import resolve_run

torch.set_num_threads(1)


@pytest.fixture()
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    toy = make_toy_data(tmp_path, n_train=128, n_valid=32)
    cfg = {"name": "toy", "results_dir": str(tmp_path / "results"), "tracking": {"uri": None, "experiment": None}}
    parent = tmp_path / "parent.json"
    tracking_setup(cfg, parent)
    settings = {**copy.deepcopy(TINY_SETTINGS), **cfg}
    settings["train"].update(max_steps=4, eval_every=2, checkpoint_every=2, log_every=2)
    return {"toy": toy, "settings": settings, "parent": parent, "out": tmp_path / "models" / "v" / "seed1",
            "ckpt": tmp_path / "ckpt", "tmp": tmp_path}


def _train(w: dict, shards: Path | None = None) -> int:
    return main(["train", "--shards", str(shards or w["toy"]["train"]), "--valid", str(w["toy"]["valid"]),
                 "--tokenizer", str(w["toy"]["tokenizer"]), "--out", str(w["out"]), "--settings",
                 json.dumps(w["settings"]), "--parent-run", str(w["parent"]), "--checkpoint-dir", str(w["ckpt"]),
                 "--keep-checkpoints", "--no-progress"])


def _client(w: dict):
    from mlflow.tracking import MlflowClient

    return MlflowClient(json.loads(w["parent"].read_text())["tracking_uri"])


def _steps(w: dict, run_id: str) -> list[int]:
    return [m.step for m in _client(w).get_metric_history(run_id, "dev/retrieval_acc")]


def _run_id(w: dict) -> str:
    return json.loads((w["out"] / "run.json").read_text())["run_id"]


def test_new_data_same_settings_starts_a_new_tracking_run(world: dict) -> None:
    assert _train(world) == 0
    first = _run_id(world)
    new_data = write_shards(world["tmp"] / "shards2" / "train", world["toy"]["tokenizer"], toy_pairs(128, seed=7))
    assert resolve_run(world["settings"], new_data, world["toy"]["valid"], world["toy"]["tokenizer"], world["out"],
                       checkpoint_dir=world["ckpt"]).resume.checkpoint is None
    assert _train(world, new_data) == 0
    second = _run_id(world)
    assert second != first
    assert _steps(world, first) == [2, 4] and _steps(world, second) == [2, 4]  # no step logged twice
    run = _client(world).get_run(second)
    assert run.data.tags["ems.replaces"] == first and run.info.status == "FINISHED"
    meta = json.loads((new_data / "meta.json").read_text())
    assert run.data.tags["data_hash"] == meta["content_sha256"]
    assert _client(world).get_run(first).info.status == "FINISHED"


def test_same_data_and_settings_resume_checkpoint_and_run_together(world: dict) -> None:
    assert _train(world) == 0
    first = _run_id(world)
    assert _train(world) == 0  # the kept checkpoint is at the last step: resumed, nothing to train
    assert _run_id(world) == first and _steps(world, first) == [2, 4]
    assert _client(world).get_run(first).info.status == "FINISHED"


def test_discarded_checkpoint_retrains_into_a_new_tagged_run(world: dict) -> None:
    assert _train(world) == 0
    first = _run_id(world)
    for name in (LAST, PREVIOUS):
        (world["ckpt"] / name).unlink()
        sidecar(world["ckpt"] / name).unlink()
    assert _train(world) == 0
    second = _run_id(world)
    assert second != first and _client(world).get_run(second).data.tags["ems.replaces"] == first
    assert _steps(world, first) == [2, 4] and _steps(world, second) == [2, 4]


def test_failed_resume_leaves_the_earlier_status(world: dict) -> None:
    assert _train(world) == 0
    first = _run_id(world)
    last = world["ckpt"] / LAST
    last.write_bytes(b"not a torch file, but with a matching checksum")  # verified, yet unreadable
    write_json(sidecar(last), {**json.loads(sidecar(last).read_text()), "sha256": sha256_file(last),
                               "bytes": last.stat().st_size})
    assert resolve_run(world["settings"], world["toy"]["train"], world["toy"]["valid"], world["toy"]["tokenizer"],
                       world["out"], checkpoint_dir=world["ckpt"]).resume.continue_run["run_id"] == first
    assert _train(world) == 2  # DataError: cannot read checkpoint
    assert _client(world).get_run(first).info.status == "FINISHED"
