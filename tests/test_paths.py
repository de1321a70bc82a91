"""ems.paths: the one place for source-folder names, model ids and result paths."""

from __future__ import annotations

import re
from pathlib import Path

from ems import paths


def test_source_dir_name():
    cfg = {"results_dir": "res", "name": "n", "sources": {"laser": {"repo": "facebookresearch/LASER", "commit": "abc"}}}
    assert paths.source_dir(cfg, "laser") == Path("res/sources/facebookresearch+LASER@abc")
    assert paths.results_root(cfg) == Path("res/n")


def test_model_ids():
    assert re.fullmatch(paths.MODEL_ID_REGEX, "peer-fast-use")
    assert re.fullmatch(paths.MODEL_ID_REGEX, "v/seed2")
    assert not re.fullmatch(paths.MODEL_ID_REGEX, "a/b/c")
    assert not re.fullmatch(paths.MODEL_ID_REGEX, "v/seedx")
    assert paths.split_model_id(paths.model_id("objective~both", 3)) == ("objective~both", 3)
    assert paths.split_model_id("peer-labse") is None
    assert paths.is_peer(paths.peer_id("labse")) and paths.peer_name("peer-labse") == "labse"


def test_result_paths():
    r = Path("res/n")
    assert paths.checkpoint_dir(r, "v/seed1") == r / "checkpoints" / "v" / "seed1"
    assert paths.run_json(r, "v/seed1") == r / "models" / "v" / "seed1" / "run.json"
    assert paths.eval_json(r, "peer-x", "tatoeba") == r / "eval" / "peer-x" / "tatoeba.json"
    assert paths.parent_json(r) == r / "tracking" / "parent.json"
