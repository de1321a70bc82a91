"""The model card: written by save_model without results (pointing at the release), and by
``ems model-card`` into a release folder that sentence-transformers loads, whose front matter the
Hub's parser reads (licence, languages in one code system, a model-index equal to the evaluation
JSONs), while the trained model folder stays byte-identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from _train_toy import make_toy_data, toy_pairs

from ems.encoders.ems_encoder import EmsEncoder
from ems.model.encoder import build_encoder
from ems.model.io import CHECKSUMS, load_model, save_model, verify_checksums

torch.set_num_threads(1)

MODEL = {"layers": 1, "hidden_size": 16, "heads": 2, "ffn_size": 32, "activation": "gelu", "dropout": 0.1,
         "max_positions": 16}
LR = 3.7e-05  # rounded to 4 decimals this would print as 0.0000


def _front(card: str) -> dict:
    return yaml.safe_load(card.split("---\n")[1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from transformers import AutoTokenizer

    from ems.evaluation.retrieval import RetrievalEvaluator
    from ems.tracking.base import git_commit

    root = tmp_path_factory.mktemp("card")
    toy = make_toy_data(root, n_train=32, n_valid=16)
    data_hash = json.loads((toy["train"] / "meta.json").read_text())["content_sha256"]
    torch.manual_seed(0)
    enc = build_encoder(MODEL, len(AutoTokenizer.from_pretrained(str(toy["tokenizer"]))), 0)
    settings = {"model": MODEL, "objective": {"temperature": 0.1, "xtr_weight": 1.0},
                "train": {"lr": LR, "seed": 1}}
    info = {"model_id": "v/seed1", "languages": ["deu", "fra", "arb_Arab", "kab", "eng"], "settings": settings,
            "data_hash": data_hash, "git_commit": git_commit(), "best_step": 4, "steps": 6,
            "best_dev_retrieval_acc": 0.5}
    folder = save_model(enc, toy["tokenizer"], root / "models" / "v" / "seed1" / "model", max_length=8, info=info)
    # A real evaluation of this model (toy retrieval deu/fra -> English) under a built-in task's name.
    pairs = toy_pairs(12, seed=5)
    data = {lang: ([p[1] for p in pairs if p[0] == lang], [p[2] for p in pairs if p[0] == lang])
            for lang in ("deu", "fra")}
    result = RetrievalEvaluator("tatoeba", data)(EmsEncoder(folder, batch_size=4))
    result.write(root / "eval" / "tatoeba.csv", root / "eval" / "tatoeba.json", "v/seed1")
    run_json = folder.parent / "run.json"
    run_json.write_text(json.dumps({"run_id": "abc123", "data_hash": data_hash, "model_id": "v/seed1"}))
    return {"root": root, "folder": folder, "info": info, "data_hash": data_hash, "run": run_json,
            "eval": root / "eval" / "tatoeba.json"}


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_card_at_training_time_has_licence_languages_exact_lr_and_points_at_release(trained: dict) -> None:
    folder = trained["folder"]
    card = (folder / "README.md").read_text(encoding="utf-8")
    front = _front(card)
    # ISO 639-1 where one exists (arb -> ar through its macrolanguage), else 639-3 (Kabyle): one system
    assert front["language"] == ["de", "fr", "ar", "kab", "en"] and front["library_name"] == "sentence-transformers"
    assert front["license"] == "other" and front["license_link"] == "LICENSE.md" and front["license_name"]
    assert "model-index" not in front and "Not evaluated" in card and "../release/README.md" in card
    assert f"| `train.lr` | {LR!r} |" in card and "3.7e-05" in card
    assert "| `objective.temperature` | 0.1 |" in card and trained["data_hash"] in card
    licence = (folder / "LICENSE.md").read_text(encoding="utf-8")
    assert "Apache-2.0" in licence and "CC BY-SA 4.0" in licence and "WMT newstest" in licence
    verify_checksums(folder)  # LICENSE.md is listed too
    assert "LICENSE.md" in (folder / CHECKSUMS).read_text()


def test_release_is_loadable_with_full_card_and_model_folder_untouched(trained: dict) -> None:
    from huggingface_hub import ModelCard, metadata_load
    from sentence_transformers import SentenceTransformer

    folder = trained["folder"]
    before = _snapshot(folder)
    release = folder.parent / "release"
    settings = {"sources": {"laser": {"repo": "facebookresearch/LASER", "commit": "74bc6ae"}},
                "corpus": {"sources": [{"kind": "opus_mt_testsets"},
                                       {"kind": "opus", "corpus": "CCMatrix", "version": "v1"}]}}
    proc = subprocess.run([sys.executable, "-m", "ems.cli", "model-card", "--model", str(folder), "--run",
                           str(trained["run"]), "--evals", str(trained["eval"]), "--settings", json.dumps(settings),
                           "--out", str(release)], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _snapshot(folder) == before  # the train rule's output is not changed
    verify_checksums(folder)
    verify_checksums(release)

    # weights are hard links to the model's files (same file system here), not copies
    assert os.path.samefile(release / "model.safetensors", folder / "model.safetensors")
    assert (release / "model.safetensors").stat().st_nlink >= 2

    # the release loads three ways and embeds as the model does
    sentences = ["the cat sees the dog", "RED fish"]
    st = SentenceTransformer(str(release), device="cpu").encode(sentences, convert_to_numpy=True)
    ours = EmsEncoder(folder).encode(sentences, "eng")
    np.testing.assert_allclose(st, ours, atol=1e-5)
    _, _, info = load_model(release)
    assert info["model_id"] == "v/seed1"

    # the card is this folder's, with the results; the Hub's parser reads the front matter
    card_path = release / "README.md"
    card = card_path.read_text(encoding="utf-8")
    assert "card of the folder it is in" in card and "Not evaluated" not in card and "`abc123`" in card
    assert f"| `train.lr` | {LR!r} |" in card
    evaluation = json.loads(trained["eval"].read_text())
    meta = metadata_load(card_path)
    assert meta["license"] == "other" and meta["language"] == ["de", "fr", "ar", "kab", "en"]
    hub = ModelCard.load(card_path)
    results = hub.data.eval_results
    assert results, "the Hub parser found no model-index"
    got = {r.metric_name: r.metric_value for r in results}
    expected = {k: v for k, v in evaluation["metrics"].items() if k.count("/") == 1 and not k.endswith("/seconds")
                and not k.split("/", 1)[1].startswith("n_")}
    assert got == expected  # exact, unrounded
    assert {r.task_type for r in results} == {"sentence-similarity"} and {r.dataset_type for r in results} == {"tatoeba"}
    assert {r.dataset_revision for r in results} == {"facebookresearch/LASER@74bc6ae"}
    assert {r.dataset_split for r in results} == {"test"} and hub.data.model_name == "v/seed1"
    primary = evaluation["primary_metric"]
    assert f"| tatoeba | `{primary}` (primary) | {evaluation['metrics'][primary]:.4f} |" in card
    licence = (release / "LICENSE.md").read_text(encoding="utf-8")
    assert "OPUS corpus CCMatrix v1" in licence and "Tatoeba-Challenge test sets" in licence


def test_release_refuses_other_models_results_and_a_damaged_model(trained: dict, tmp_path: Path) -> None:
    folder = trained["folder"]
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**json.loads(trained["eval"].read_text()), "model_id": "w/seed2"}))
    out = tmp_path / "release"
    bad = subprocess.run([sys.executable, "-m", "ems.cli", "model-card", "--model", str(folder), "--evals", str(other),
                          "--out", str(out)], capture_output=True, text=True, check=False, timeout=120)
    assert bad.returncode == 2 and "not of v/seed1" in bad.stderr and not out.exists()

    import shutil

    copy = tmp_path / "model"
    shutil.copytree(folder, copy)
    (copy / "tokenizer.json").write_text("{}")
    bad = subprocess.run([sys.executable, "-m", "ems.cli", "model-card", "--model", str(copy), "--evals",
                          str(trained["eval"]), "--out", str(out)], capture_output=True, text=True, check=False,
                         timeout=120)
    assert bad.returncode == 2 and "changed or damaged" in bad.stderr and not out.exists()
