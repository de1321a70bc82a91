"""Bad inputs of ``ems train``, ``ems embed`` and ``ems tracking-setup``: one error line naming
the culprit, exit status 2, nothing left behind (issue 14 items 4, 5, 7)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from _train_toy import TINY_SETTINGS, make_toy_data, train_toy
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


# ---------------------------------------------------------------- a saved model folder: integrity, embed options

@pytest.fixture(scope="module")
def saved_model(toy: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained on the toy data (deu, fra), saved as the train rule saves it."""
    
    out = tmp_path_factory.mktemp("saved") / "m" / "seed1"
    train_toy(copy.deepcopy(TINY_SETTINGS), toy, out)
    return out / "model"


def _copy_model(saved_model: Path, tmp_path: Path) -> Path:
    import shutil

    folder = tmp_path / "in" / "model"
    shutil.copytree(saved_model, folder)
    return folder


def _embed(model: Path, tmp_path: Path, *extra: str, stdin: bytes = b"der hund\ndie katze\n", lang: str = "deu"):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    args = ["embed", "--model", str(model), "--lang", lang, *extra]
    if "--output" not in extra:
        args += ["--output", str(out / "v.npy")]
    return run_cli(args, cwd=tmp_path, stdin=stdin), out


def test_saved_model_lists_the_checksum_of_every_file(saved_model: Path) -> None:
    listed = {line.split("  ", 1)[1] for line in (saved_model / "checksums.sha256").read_text().splitlines()}
    present = {p.relative_to(saved_model).as_posix() for p in saved_model.rglob("*") if p.is_file()}
    assert listed == present - {"checksums.sha256"} and {"model.safetensors", "tokenizer.json"} <= listed


def test_embed_refuses_a_model_without_its_tokenizer(saved_model: Path, tmp_path: Path) -> None:
    model = _copy_model(saved_model, tmp_path)
    (model / "tokenizer.json").unlink()
    proc, out = _embed(model, tmp_path)
    assert_clean_failure(proc, [str(model / "tokenizer.json"), "missing"], folder=out)


def test_embed_refuses_changed_weights(saved_model: Path, tmp_path: Path) -> None:
    model = _copy_model(saved_model, tmp_path)
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-512:-256] = bytes(b ^ 0xFF for b in data[-512:-256])  # 256 bytes of the tensors flipped
    weights.write_bytes(bytes(data))
    proc, out = _embed(model, tmp_path)
    assert_clean_failure(proc, [str(weights), "changed or damaged"], folder=out)


def test_embed_batch_size_zero_and_output_folder(saved_model: Path, tmp_path: Path) -> None:
    proc, out = _embed(saved_model, tmp_path, "--batch-size", "0")
    assert_clean_failure(proc, "--batch-size: 0", folder=out)
    folder = tmp_path / "out" / "a-folder"
    folder.mkdir(parents=True)
    proc, out = _embed(saved_model, tmp_path, "--output", str(folder))
    assert_clean_failure(proc, ["--output", str(folder), "a folder"], folder=out, before=frozenset({"a-folder"}))


def test_embed_warns_of_nul_bytes_and_unseen_languages(saved_model: Path, tmp_path: Path) -> None:
    proc, _ = _embed(saved_model, tmp_path, stdin=b"der hund\ndie\x00katze\n", lang="jpn")
    assert proc.returncode == 0, proc.stderr
    assert "1 of 2 sentences hold a NUL byte" in proc.stderr
    assert "jpn is not among the" in proc.stderr and "trained on" in proc.stderr
    proc, _ = _embed(saved_model, tmp_path, lang="deu")
    assert proc.returncode == 0 and "NUL" not in proc.stderr and "not among" not in proc.stderr


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_non_finite_learning_rate_is_refused(toy: dict, tmp_path: Path, value: float) -> None:
    settings = copy.deepcopy(TINY_SETTINGS)
    settings["train"]["lr"] = value
    proc = run_cli(_train_args(toy, tmp_path / "out", settings), cwd=tmp_path)
    assert_clean_failure(proc, ["train.lr:", "not a finite number"], folder=tmp_path / "out")


def test_evaluate_warns_of_languages_the_model_never_saw(saved_model: Path, tmp_path: Path) -> None:
    """Tatoeba on kab and deu with a model trained on deu and fra: scored, with a warning naming kab and the count."""
    folder = tmp_path / "in" / "laser" / "data" / "tatoeba" / "v1"
    folder.mkdir(parents=True)
    for lang in ("deu", "kab"):
        (folder / f"tatoeba.{lang}-eng.{lang}").write_text("".join(f"{lang} satz {i}\n" for i in range(20)))
        (folder / f"tatoeba.{lang}-eng.eng").write_text("".join(f"sentence {i}\n" for i in range(20)))
    out = tmp_path / "out"
    settings = {"evaluation": {"tatoeba": {"languages": ["deu", "kab"]}}}
    proc = run_cli(["evaluate", "--task", "tatoeba", "--model", f"ems:{saved_model}", "--out-csv",
                    str(out / "t.csv"), "--out-json", str(out / "t.json"), "--settings", json.dumps(settings),
                    "--source", f"laser={tmp_path / 'in' / 'laser'}", "--no-cache"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tatoeba: 1 of the 2 languages scored were not among the 3" in proc.stderr and "(kab)" in proc.stderr
    assert json.loads((out / "t.json").read_text())["params"]["unseen_languages"] == 1
