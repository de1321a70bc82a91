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


# The model card and the release folder: tests/test_model_card.py
