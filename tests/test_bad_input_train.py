"""Bad inputs of ``ems train``, ``ems embed`` and ``ems tracking-setup``: one error line naming
the culprit, exit status 2, nothing left behind (issue 14 items 4, 5, 7)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from _train_toy import TINY_SETTINGS, make_toy_data
from bad_input_helpers import assert_clean_failure, run_cli


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_toy_data(tmp_path_factory.mktemp("toy"), n_train=64, n_valid=16)


def _train_args(toy: dict, out: Path, settings: dict) -> list[str]:
    return ["train", "--shards", str(toy["train"]), "--valid", str(toy["valid"]), "--tokenizer", str(toy["tokenizer"]),
            "--out", str(out / "m" / "seed1"), "--settings", json.dumps(settings), "--no-tracking", "--no-progress"]


def test_unknown_top_level_key_is_named(toy: dict, tmp_path: Path) -> None:
    settings = {**copy.deepcopy(TINY_SETTINGS), "bogus": {}}
    proc = run_cli(_train_args(toy, tmp_path / "out", settings), cwd=tmp_path)
    assert_clean_failure(proc, "'bogus'", folder=tmp_path / "out")


def test_missing_shards_leave_no_checkpoint_folder(toy: dict, tmp_path: Path) -> None:
    args = _train_args(toy, tmp_path / "out", copy.deepcopy(TINY_SETTINGS))
    args[args.index("--shards") + 1] = str(tmp_path / "nowhere")
    proc = run_cli(args, cwd=tmp_path)
    assert_clean_failure(proc, str(tmp_path / "nowhere" / "meta.json"), folder=tmp_path / "out")


@pytest.mark.parametrize("stdin,culprit", [(b"", "stdin is empty"), (b"\n\n", "stdin is empty"),
                                           (b"ok\n\xff\xfe bad\n", "not UTF-8 text (line 2")])
def test_embed_empty_or_binary_stdin(tmp_path: Path, stdin: bytes, culprit: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = run_cli(["embed", "--model", str(tmp_path / "model"), "--lang", "deu", "--output", str(out / "v.npy")],
                   cwd=tmp_path, stdin=stdin)
    assert_clean_failure(proc, culprit, folder=out)


def test_tracking_setup_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    settings = {"name": "toy", "results_dir": str(blocker / "results"), "tracking": {"uri": None}}
    proc = run_cli(["tracking-setup", "--settings", json.dumps(settings), "--out", str(tmp_path / "t" / "parent.json")],
                   cwd=tmp_path, env={"MLFLOW_TRACKING_URI": ""})
    assert_clean_failure(proc, str(blocker), folder=tmp_path / "t")
    assert not (tmp_path / "t").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_tracking_setup_on_an_unwritable_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        settings = {"name": "toy", "results_dir": str(locked / "results"), "tracking": {"uri": None}}
        proc = run_cli(["tracking-setup", "--settings", json.dumps(settings), "--out", str(locked / "parent.json")],
                       cwd=tmp_path, env={"MLFLOW_TRACKING_URI": ""})
        assert_clean_failure(proc, str(locked), folder=locked)
    finally:
        locked.chmod(0o700)
