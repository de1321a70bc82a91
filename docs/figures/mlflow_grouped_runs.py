"""Rebuild docs/figures/mlflow_grouped_runs.png: a small real MLflow store, the UI grouped by ``ems.cell``.

2 cells (objective both / xtr) x 2 seeds of real tiny trainings through ``ems train`` (the test
fixtures' toy data and tiny config), each model and a TF-IDF peer evaluated on a toy retrieval
set and logged as the evaluate rule does, the parent finished by the summary step's code; then
``mlflow server`` on 127.0.0.1 and headless Chromium. Needs ``chromium``; takes a few minutes.

    .venv/bin/python docs/figures/mlflow_grouped_runs.py [WORKDIR]
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

import pandas as pd
from _train_toy import TINY_SETTINGS, make_toy_data, toy_pairs

from ems import grid
from ems.ablation import aggregate, mlflow_summary
from ems.config import settings_json
from ems.encoders import load_encoder
from ems.evaluation.retrieval import RetrievalEvaluator
from ems.evaluation.tracking import log_result, peer_run

GRID = {"name": "screenshot", "objective": TINY_SETTINGS["objective"], "evaluation": {"peers": ["tfidf"]},
        "ablation": {"factors": {"objective": ["both", "xtr"]}, "seeds": [1, 2]}}
VIEW = {"groupBy": {"aggregateFunction": "average", "groupByKeys": [{"mode": "tag", "groupByData": "ems.cell"}]},
        "selectedColumns": ["metrics.`toyret/acc_mean`", "metrics.`best/dev_retrieval_acc`", "tags.`ems.factor.objective`",
                            "tags.`ems.seed`", "tags.`ems.role`"],
        "groupsExpanded": {}, "runsExpanded": {}, "searchFilter": "", "orderByKey": "attributes.start_time",
        "orderByAsc": False}


def build_store(root: Path) -> tuple[str, str]:
    """Train, evaluate and summarise as the workflow does; return (tracking URI, experiment id)."""
    toy = make_toy_data(root, n_train=256, n_valid=48)
    cfg = {"name": "screenshot", "results_dir": str(root / "results"), "tracking": {"uri": None, "experiment": None}}
    res = root / "results" / "screenshot"
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    ems = [sys.executable, "-m", "ems.cli"]
    parent_json, names_json = res / "tracking" / "parent.json", res / "tracking" / "run_names.json"
    subprocess.run([*ems, "tracking-setup", "--settings", json.dumps(cfg), "--out", str(parent_json)], env=env, check=True)
    subprocess.run([*ems, "tracking-names", "--settings", json.dumps(GRID), "--out", str(names_json)], env=env, check=True)
    settings = {**copy.deepcopy(TINY_SETTINGS), **cfg}
    settings["train"].update(max_steps=12, eval_every=4, log_every=2)
    for mid in grid.model_ids(GRID):
        parsed = grid.parse_model_id(mid)
        overrides = {**grid.variant_overrides(GRID, parsed["variant"]), "train": {"seed": parsed["seed"]}}
        subprocess.run([*ems, "train", "--shards", str(toy["train"]), "--valid", str(toy["valid"]),
                        "--tokenizer", str(toy["tokenizer"]), "--out", str(res / "models" / mid),
                        "--settings", json.dumps(settings), "--set", settings_json(overrides),
                        "--parent-run", str(parent_json), "--run-names", str(names_json), "--model-id", mid,
                        "--no-progress"], env=env, check=True)
    pairs = toy_pairs(200, seed=7)
    data = {lang: ([p[1] for p in pairs if p[0] == lang], [p[2].lower() for p in pairs if p[0] == lang])
            for lang in ("deu", "fra")}
    evaluator = RetrievalEvaluator("toyret", data)
    peer_json = res / "tracking" / "peers" / "peer-tfidf.json"
    peer_run(parent_json, "peer-tfidf", peer_json)
    for mid in grid.model_ids(GRID) + ["peer-tfidf"]:
        peer = mid.startswith("peer-")
        result = evaluator(load_encoder("tfidf" if peer else f"ems:{res / 'models' / mid}"))
        log_result(result, mid, {}, run_json=peer_json if peer else res / "models" / mid / "run.json")
        result.write(res / "eval" / mid / "toyret.csv", res / "eval" / mid / "toyret.json", mid)
    aggregate.aggregate(aggregate.find_eval_files(res / "eval"), res / "ablation", grid.reference_variant(GRID),
                        res / "eval")
    parent = mlflow_summary.read_parent(parent_json)
    run_ids = mlflow_summary.run_ids_from_models(res / "models", grid.model_ids(GRID))
    mlflow_summary.finish_parent(parent, GRID, pd.read_csv(res / "ablation" / "summary.csv"), run_ids)
    uri = f"sqlite:///{(res / 'mlflow' / 'mlflow.db').resolve()}"
    return uri, parent["experiment_id"]


def screenshot(uri: str, experiment_id: str, out: Path) -> None:
    """Share the grouped view (experiment tag), serve the store on 127.0.0.1, screenshot, stop the server."""
    from mlflow.tracking import MlflowClient

    MlflowClient(uri).set_experiment_tag(experiment_id, "mlflow.sharedViewState.bycell", json.dumps(VIEW))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", uri, "--workers", "1"],
                              env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(180):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                time.sleep(1)
        url = f"http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs?viewStateShareKey=bycell"
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={out}",
                        "--window-size=1600,720", "--virtual-time-budget=20000", url], check=True, timeout=180)
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ems-mlflow-shot-"))
    uri, exp = build_store(root)
    screenshot(uri, exp, Path(__file__).with_suffix(".png"))
    print(f"store: {uri}; figure: {Path(__file__).with_suffix('.png')}")


if __name__ == "__main__":
    main()
