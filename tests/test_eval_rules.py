"""The evaluate rule's helpers: tasks of the real config, inputs and arguments per model kind."""

from __future__ import annotations

import re
from pathlib import Path

from ems.config import load_config
from ems.evaluation import rules

REPO = Path(__file__).resolve().parents[1]


def test_default_config_tasks_inputs_and_args():
    cfg = load_config(REPO / "config.yaml")
    assert rules.tasks(cfg) == ["tatoeba", "flores", "sib200", "umsab", "mining"]
    results = Path("results/default")
    peer = rules.inputs(cfg, results, "peer-tfidf", "tatoeba", tracking=True)
    assert peer["parent"] == results / "tracking" / "parent.json" and "run" not in peer
    assert str(peer["source_laser"]).endswith("facebookresearch+LASER@74bc6ae7ffb7cba670fe0f428d0ede9f666fb821/.verified.json")
    ems = rules.inputs(cfg, results, "objective~both/seed1", "mining", tracking=True)
    assert ems["run"] == results / "models" / "objective~both/seed1" / "run.json" and "source_opus_mt_testsets" in ems
    args = rules.args(cfg, results, "objective~both/seed1", "mining", list(ems))
    assert "--model ems:results/default/models/objective~both/seed1" in args and "--run-json" in args
    assert "--model tfidf" in rules.args(cfg, results, "peer-tfidf", "umsab", list(peer))
    assert re.fullmatch(rules.MODEL_ID_REGEX, "peer-fast-use") and re.fullmatch(rules.MODEL_ID_REGEX, "v/seed2")
    assert not re.fullmatch(rules.MODEL_ID_REGEX, "a/b/c")
    targets = rules.targets(cfg, results, ["v/seed1"])
    assert "results/default/eval/v/seed1/mining.json" in targets and "results/default/eval/peer-tfidf/umsab.json" in targets
    off = dict(cfg, evaluation=dict(cfg["evaluation"], mining=dict(cfg["evaluation"]["mining"], enabled=False)))
    assert "mining" not in rules.tasks(off)
