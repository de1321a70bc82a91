"""Tokenizer: special-token ids, AutoTokenizer round trip, encode_batch contract."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ems.config import section
from ems.data.shards import binarise, content_hash, load_shards, merge_shards
from ems.data.tokenizer import encode_batch, load_tokenizer, train_tokenizer
from ems.data.tsv import write_pairs
from ems.errors import DataError

SENTENCES = {
    "deu": ["Der Hund schläft im Garten.", "Ich trinke gern Kaffee am Morgen.", "Das Wetter ist heute schön."],
    "cmn_Hans": ["我们是学生。", "今天天气很好。", "我喜欢喝咖啡。"],
    "rus": ["Собака спит в саду.", "Я люблю пить кофе утром.", "Сегодня хорошая погода."],
}
ENGLISH = ["The dog sleeps in the garden.", "I like drinking coffee in the morning.", "The weather is nice today."]


@pytest.fixture(scope="module", params=["unigram", "bpe"])
def tokenizer_dir(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"tok-{request.param}")
    settings = section({"tokenizer": {"model": request.param, "vocab_size": 200, "lowercase": True,
                                      "sample_sentences_per_language": 50, "max_length": 6}}, "tokenizer")
    train_tokenizer({**SENTENCES, "eng": ENGLISH}, tmp / "tokenizer", settings)
    return tmp / "tokenizer"


def test_special_tokens_and_autotokenizer(tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    expected = ["<pad>", "<unk>", "<mask>", "<s>", "</s>", "<2cmn_Hans>", "<2deu>", "<2eng>", "<2rus>"]
    assert tok.convert_ids_to_tokens(list(range(9))) == expected
    assert (tok.pad_token_id, tok.unk_token_id, tok.mask_token_id) == (0, 1, 2)
    cfg = json.loads((tokenizer_dir / "tokenizer_config.json").read_text())
    assert cfg["ems_lowercase"] is True and cfg["ems_languages"] == ["cmn_Hans", "deu", "eng", "rus"]
    # No special tokens are added by default, and the lower-casing lives in the tokenizer too,
    # so AutoTokenizer (or sentence-transformers) gives the ids of encode_batch.
    ours = load_tokenizer(tokenizer_dir)
    text = "The DOG sleeps."
    assert tok(text)["input_ids"] == encode_batch(ours, [text], max_length=64)[0]


def test_encode_batch_contract(tokenizer_dir):
    tok = load_tokenizer(tokenizer_dir)
    ids = encode_batch(tok, ["Der Hund schläft im Garten und trinkt Kaffee.", "", "DER HUND"])
    assert len(ids[0]) == 6  # truncated to the saved max_length
    assert ids[1] == [1]  # never empty: <unk>
    assert ids[2] == encode_batch(tok, ["der hund"])[0]  # lower-cased
    assert all(i > 8 or i == 1 for seq in ids for i in seq)  # no special/language tokens
    assert len(encode_batch(tok, ["Der Hund schläft im Garten und trinkt Kaffee."], max_length=100)[0]) > 6


def test_binarise_and_load_shards(tokenizer_dir, tmp_path):
    pairs = pd.DataFrame({"lang": ["deu", "rus", "cmn_Hans"], "src": ["Der Hund", "Собака", "我们是学生。"],
                          "tgt": ["The dog", "", "We are students."], "origin": "t/x"})
    write_pairs(tmp_path / "valid.tsv.gz", pairs)
    meta = binarise(tmp_path / "valid.tsv.gz", tokenizer_dir, tmp_path / "shards")
    shards = load_shards(tmp_path / "shards")
    tok = load_tokenizer(tokenizer_dir)
    assert shards.n_pairs == 3 and shards.meta == meta
    assert shards.languages == ["cmn_Hans", "deu", "eng", "rus"]
    assert shards.src_lang.tolist() == [1, 3, 0] and shards.tgt_lang.tolist() == [2, 2, 2]
    assert shards.src_ids.dtype == np.int32 and shards.src_offsets.dtype == np.int64 and shards.src_lang.dtype == np.int16
    for side, texts in (("src", pairs["src"]), ("tgt", pairs["tgt"])):
        expected = encode_batch(tok, list(texts))
        assert [shards.sentence(side, i).tolist() for i in range(3)] == expected
    assert np.all(np.diff(shards.tgt_offsets) > 0)
    assert isinstance(shards.src_ids, np.memmap)
    assert meta["content_sha256"] == content_hash(tmp_path / "shards")
    assert shards.tokenizer_dir() == tokenizer_dir.resolve()
    again = binarise(tmp_path / "valid.tsv.gz", tokenizer_dir, tmp_path / "again")
    assert again["content_sha256"] == meta["content_sha256"]


def test_binarise_unknown_language_leaves_nothing(tokenizer_dir, tmp_path):
    write_pairs(tmp_path / "x.tsv.gz", pd.DataFrame({"lang": ["fra"], "src": ["Bonjour"], "tgt": ["Hello"], "origin": "t/x"}))
    with pytest.raises(DataError, match=r"\['fra'\] have no tag"):
        binarise(tmp_path / "x.tsv.gz", tokenizer_dir, tmp_path / "shards")
    assert not (tmp_path / "shards").exists() and not list(tmp_path.glob(".shards*"))


def test_bpe_training_is_deterministic(tmp_path):
    """Same sample, same tokenizer.json: the shards' content hash is reproducible (BPE default)."""
    settings = section({"tokenizer": {"model": "bpe", "vocab_size": 200, "lowercase": True,
                                      "sample_sentences_per_language": 50, "max_length": 6}}, "tokenizer")
    for name in ("a", "b"):
        train_tokenizer({**SENTENCES, "eng": ENGLISH}, tmp_path / name, settings)
    assert (tmp_path / "a/tokenizer.json").read_bytes() == (tmp_path / "b/tokenizer.json").read_bytes()


def test_merged_parts_equal_one_binarised_table(tokenizer_dir, tmp_path):
    """Per-language parts merged in order are the shards of the concatenated table, byte for byte."""
    rows = [(lang, s, ENGLISH[i]) for lang, ss in SENTENCES.items() for _ in range(3) for i, s in enumerate(ss)]
    frame = pd.DataFrame(rows, columns=["lang", "src", "tgt"]).assign(origin="t/x")
    write_pairs(tmp_path / "all.tsv.gz", frame)
    whole = binarise(tmp_path / "all.tsv.gz", tokenizer_dir, tmp_path / "whole")
    parts = []
    for lang in SENTENCES:  # the table's order: deu, cmn_Hans, rus
        write_pairs(tmp_path / f"{lang}.tsv.gz", frame[frame["lang"] == lang])
        binarise(tmp_path / f"{lang}.tsv.gz", tokenizer_dir, tmp_path / "parts" / lang)
        parts.append(tmp_path / "parts" / lang)
    write_pairs(tmp_path / "none.tsv.gz", frame.iloc[:0])  # a language the plan dropped: an empty part
    binarise(tmp_path / "none.tsv.gz", tokenizer_dir, tmp_path / "parts" / "none")
    merged = merge_shards([parts[0], tmp_path / "parts" / "none", *parts[1:]], tokenizer_dir, tmp_path / "merged")
    assert merged["content_sha256"] == whole["content_sha256"] and merged["n_pairs"] == len(frame)
    assert merged["tokens"] == whole["tokens"]
    shards = load_shards(tmp_path / "merged")
    assert [shards.sentence("tgt", i).tolist() for i in range(len(frame))] == [
        load_shards(tmp_path / "whole").sentence("tgt", i).tolist() for i in range(len(frame))]
