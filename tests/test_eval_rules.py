"""The evaluate rule's helpers: tasks of the real config, inputs and arguments per model kind."""

from __future__ import annotations

import shlex
from pathlib import Path

from ems.config import load_config
from ems.evaluation import rules

REPO = Path(__file__).resolve().parents[1]


def test_default_config_tasks_inputs_and_args():
    cfg = load_config(REPO / "config.yaml")
    assert rules.tasks(cfg) == ["tatoeba", "flores", "sib200", "umsab", "mining"]
    results = Path("results/default")
    peer = rules.inputs(cfg, results, "peer-tfidf", "tatoeba")
    assert peer["run"] == results / "tracking" / "peers" / "peer-tfidf.json" and "parent" not in peer  # its one run
    assert str(peer["source_laser"]).endswith("facebookresearch+LASER@74bc6ae7ffb7cba670fe0f428d0ede9f666fb821/.verified.json")
    ems = rules.inputs(cfg, results, "objective~both/seed1", "mining")
    assert ems["run"] == results / "models" / "objective~both/seed1" / "run.json" and "source_opus_mt_testsets" in ems
    args = rules.args(cfg, results, "objective~both/seed1", "mining", list(ems))
    words = shlex.split(args)
    assert words[words.index("--model") + 1] == "ems:results/default/models/objective~both/seed1" and "--run-json" in words
    peer_words = shlex.split(rules.args(cfg, results, "peer-tfidf", "umsab", list(peer)))
    assert peer_words[peer_words.index("--model") + 1] == "tfidf"
    assert peer_words[peer_words.index("--run-json") + 1] == "results/default/tracking/peers/peer-tfidf.json"
    targets = rules.targets(cfg, results, ["v/seed1"])
    assert "results/default/eval/v/seed1/mining.json" in targets and "results/default/eval/peer-tfidf/umsab.json" in targets
    off = dict(cfg, evaluation=dict(cfg["evaluation"], mining=dict(cfg["evaluation"]["mining"], enabled=False)))
    assert "mining" not in rules.tasks(off)


def test_job_settings_hold_only_what_the_task_reads():
    """Each evaluate job's --settings (its rerun trigger) is the task's part of the config,
    and it still resolves into a working evaluator configuration."""
    import json

    from ems.evaluation.settings import resolve_settings

    extra = {"name": "toy", "type": "classification", "format": "tsv", "path": "toy/{lang}_{split}.tsv",
             "languages": ["deu"]}
    cfg = load_config(REPO / "config.yaml")
    cfg = dict(cfg, evaluation=dict(cfg["evaluation"], extra_datasets=[extra, dict(extra, name="other")]))
    tatoeba = json.loads(rules.settings_json(cfg, "tatoeba"))
    assert set(tatoeba) == {"evaluation"}
    assert set(tatoeba["evaluation"]) == {"batch_size", "seed", "cache", "on_missing_language", "tatoeba"}
    assert tatoeba["evaluation"]["tatoeba"] == cfg["evaluation"]["tatoeba"]
    mining = json.loads(rules.settings_json(cfg, "mining"))
    assert mining["mining"] == cfg["mining"] and "flores" not in mining["evaluation"]
    assert mining["evaluation"]["mining"]["margin_k"] == cfg["evaluation"]["mining"]["margin_k"]
    toy = json.loads(rules.settings_json(cfg, "toy"))
    assert toy["evaluation"]["extra_datasets"] == [extra] and "tatoeba" not in toy["evaluation"]
    resolved = resolve_settings(mining)
    assert resolved["mining"]["languages"] == cfg["mining"]["languages"]
    assert resolve_settings(toy)["evaluation"]["extra_datasets"][0]["path"] == extra["path"]
    tatoeba_k8 = dict(cfg, evaluation=dict(cfg["evaluation"], tatoeba=dict(cfg["evaluation"]["tatoeba"], k=8)))
    assert rules.settings_json(tatoeba_k8, "flores") == rules.settings_json(cfg, "flores")
    assert rules.settings_json(tatoeba_k8, "tatoeba") != rules.settings_json(cfg, "tatoeba")
