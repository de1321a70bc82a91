"""The saved model folder loads three ways with identical embeddings; ``ems embed`` works."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _train_toy import make_tokenizer

from ems.encoders.ems_encoder import EmsEncoder
from ems.model.encoder import build_encoder
from ems.model.io import load_model, save_model

torch.set_num_threads(1)

MODEL = {"layers": 1, "hidden_size": 16, "heads": 2, "ffn_size": 32, "activation": "gelu", "dropout": 0.1,
         "max_positions": 16}
SENTENCES = ["The cat sees the dog", "RED fish", "a small bird runs near the old river road", "tac", "Dog"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("io")
    tok = make_tokenizer(root / "tokenizer", lowercase=True)
    torch.manual_seed(0)
    from transformers import AutoTokenizer

    enc = build_encoder(MODEL, len(AutoTokenizer.from_pretrained(str(tok))), 0)
    return save_model(enc, tok, root / "model", max_length=8, info={"model_id": "toy/seed1"})


def test_three_loaders_agree(model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    ours = EmsEncoder(model_dir, batch_size=2).encode(SENTENCES, "eng")
    assert ours.dtype == np.float32 and ours.shape == (len(SENTENCES), 16)

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    hf = AutoModel.from_pretrained(str(model_dir)).eval()
    batch = tok(SENTENCES, padding=True, truncation=True, max_length=8, return_tensors="pt")
    with torch.inference_mode():
        h = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).float()
    auto = ((h * m).sum(1) / m.sum(1)).numpy()

    st = SentenceTransformer(str(model_dir), device="cpu").encode(SENTENCES, batch_size=3, convert_to_numpy=True)

    np.testing.assert_allclose(ours, auto, atol=1e-5)
    np.testing.assert_allclose(ours, st, atol=1e-5)
    assert np.abs(ours).sum() > 0


def test_saved_tokenizer_lowercases_and_adds_no_specials(model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    upper = tok("RED Fish")["input_ids"]
    assert upper == tok("red fish")["input_ids"]
    assert tok.unk_token_id not in upper and len(upper) == 2  # no <s>/</s>, known words
    enc = EmsEncoder(model_dir)
    np.testing.assert_allclose(enc.encode(["RED Fish"], "eng"), enc.encode(["red fish"], "eng"), atol=1e-6)


def test_order_and_batching_do_not_change_vectors(model_dir: Path) -> None:
    a = EmsEncoder(model_dir, batch_size=1).encode(SENTENCES, "eng")
    b = EmsEncoder(model_dir, batch_size=64).encode(SENTENCES[::-1], "eng")[::-1]
    np.testing.assert_allclose(a, b, atol=1e-5)
    model, _, info = load_model(model_dir)
    assert not model.training and info["model_id"] == "toy/seed1" and info["max_length"] == 8


def test_embed_cli(model_dir: Path, tmp_path: Path) -> None:
    text = "\n".join(SENTENCES) + "\n"
    proc = subprocess.run(
        [sys.executable, "-m", "ems.cli", "embed", "--model", str(model_dir), "--lang", "de"],
        input=text.encode(), capture_output=True, check=True, timeout=120,
    )
    vectors = np.load(io.BytesIO(proc.stdout))
    np.testing.assert_allclose(vectors, EmsEncoder(model_dir).encode(SENTENCES, "deu"), atol=1e-6)


def test_model_card_has_provenance_then_this_models_results(tmp_path: Path) -> None:
    """save_model writes a Hub-style card (front matter, config, languages, data hash, commit, how to load);
    `ems model-card` adds the model's own evaluation numbers beside the folder."""
    import json

    import yaml
    from _train_toy import make_toy_data, toy_pairs

    from ems.evaluation.retrieval import RetrievalEvaluator
    from ems.tracking.base import git_commit

    toy = make_toy_data(tmp_path, n_train=32, n_valid=16)
    data_hash = json.loads((toy["train"] / "meta.json").read_text())["content_sha256"]
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    enc = build_encoder(MODEL, len(AutoTokenizer.from_pretrained(str(toy["tokenizer"]))), 0)
    settings = {"model": MODEL, "objective": {"temperature": 0.1, "xtr_weight": 1.0}, "train": {"lr": 0.003, "seed": 1}}
    info = {"model_id": "v/seed1", "languages": ["deu", "fra", "eng"], "settings": settings, "data_hash": data_hash,
            "git_commit": git_commit(), "best_step": 4, "steps": 6, "best_dev_retrieval_acc": 0.5}
    folder = save_model(enc, toy["tokenizer"], tmp_path / "models" / "v" / "seed1" / "model", max_length=8, info=info)
    card = (folder / "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["language"] == ["de", "fr", "en"] and front["library_name"] == "sentence-transformers"
    assert front["license"] == "unknown" and "sentence-transformers" in front["tags"]
    assert data_hash in card and info["git_commit"] in card and "| `objective.temperature` | 0.1000 |" in card
    assert "German (`deu`)" in card and 'SentenceTransformer("path/to/model")' in card and "../README.md" in card

    # A real evaluation of this model (toy retrieval deu/fra -> English), then the full card.
    pairs = toy_pairs(12, seed=5)
    data = {lang: ([p[1] for p in pairs if p[0] == lang], [p[2] for p in pairs if p[0] == lang]) for lang in ("deu", "fra")}
    result = RetrievalEvaluator("toyret", data)(EmsEncoder(folder, batch_size=4))
    result.write(tmp_path / "eval" / "toyret.csv", tmp_path / "eval" / "toyret.json", "v/seed1")
    run_json = folder.parent / "run.json"
    run_json.write_text(json.dumps({"run_id": "abc123", "data_hash": data_hash, "model_id": "v/seed1"}))
    out = folder.parent / "README.md"
    proc = subprocess.run([sys.executable, "-m", "ems.cli", "model-card", "--model", str(folder), "--run", str(run_json),
                           "--evals", str(tmp_path / "eval" / "toyret.json"), "--out", str(out)],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    full = out.read_text(encoding="utf-8")
    assert f"| toyret | `toyret/acc_mean` (primary) | {result.metrics['toyret/acc_mean']:.4f} |" in full
    assert f"| toyret | `toyret/acc_xx2en` | {result.metrics['toyret/acc_xx2en']:.4f} |" in full
    assert "`abc123`" in full and data_hash in full and "Not evaluated" not in full
    other = tmp_path / "eval" / "other.json"
    other.write_text(json.dumps({**result.to_json("w/seed2")}))
    bad = subprocess.run([sys.executable, "-m", "ems.cli", "model-card", "--model", str(folder), "--evals", str(other),
                          "--out", str(tmp_path / "x.md")], capture_output=True, text=True, check=False, timeout=120)
    assert bad.returncode == 2 and "not of v/seed1" in bad.stderr and not (tmp_path / "x.md").exists()
