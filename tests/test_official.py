"""The authors' tokenizer and checkpoint inside the workflow, checked against their own code.

The Mao-KU/EMS archive of the data mirror is fetched (verified) and its code run in a subprocess
(tests/official_reference.py): token ids of 200 Tatoeba sentences in 8 languages must equal the
official ``load_data`` + ``BPETokenizer``; a small official ``BilingualModel`` with random
weights, saved as the official training saves it and imported by ``ems import-official``, must
embed like the official inference (max abs difference <= 1e-5).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import official_reference as _reference

pytest.importorskip("sentencepiece")
pytest.importorskip("sacremoses")
pytest.importorskip("jieba")

#: official code -> Tatoeba v1 file (LASER) of that language.
LANGUAGES = {"en": ("deu", "eng"), "de": ("deu", "deu"), "fr": ("fra", "fra"), "ru": ("rus", "rus"),
             "zh": ("cmn", "cmn"), "ar": ("ara", "ara"), "hi": ("hin", "hin"), "ko": ("kor", "kor")}
#: official code -> our canonical code
CANONICAL = {"en": "eng", "de": "deu", "fr": "fra", "ru": "rus", "zh": "cmn_Hans", "ar": "arb_Arab", "hi": "hin",
             "ko": "kor"}
N = 200


@pytest.fixture(scope="module")
def tokenizer_dir(official_repo: Path, tmp_path_factory) -> Path:
    from ems.data.official_tokenizer import REPOSITORY_MODEL, save_official_tokenizer

    out = tmp_path_factory.mktemp("tok") / "tokenizer"
    save_official_tokenizer(official_repo / REPOSITORY_MODEL, out, {"max_length": 120})
    return out


@pytest.fixture(scope="module")
def sentences(sources: dict[str, Path]) -> dict[str, list[str]]:
    """200 Tatoeba v1 sentences of each of the 8 languages (mixed case, punctuation, digits)."""
    folder = sources["laser"] / "data" / "tatoeba" / "v1"
    out = {}
    for code, (pair, side) in LANGUAGES.items():
        lines = (folder / f"tatoeba.{pair}-eng.{side}").read_text(encoding="utf-8").splitlines()
        out[code] = [line for line in lines if line.strip()][:N]
    return out


def test_official_tokenizer_ids_equal_the_official_code(official_repo, tokenizer_dir, sentences, tmp_path):
    from ems.data.tokenizer import SavedTokenizer, encode_batch

    (tmp_path / "in.json").write_text(json.dumps(sentences), encoding="utf-8")
    _reference(official_repo, "ids", tmp_path, input=tmp_path / "in.json", output=tmp_path / "ids.json")
    expected = json.loads((tmp_path / "ids.json").read_text(encoding="utf-8"))
    tok = SavedTokenizer(tokenizer_dir)
    assert tok.official is not None and len(tok) == 60000
    for code, sents in sentences.items():
        ours = encode_batch(tok, sents, lang=CANONICAL[code])
        assert len(ours) == len(expected[code]) == N
        differing = [i for i, (a, b) in enumerate(zip(ours, expected[code])) if a != b]
        assert not differing, (code, sents[differing[0]], ours[differing[0]], expected[code][differing[0]])
    # the segmentation is really applied: Moses splits the apostrophe and the full stop of English
    assert tok.official.sp.encode("don't.") != encode_batch(tok, ["don't."], lang="eng")[0]
    # the transformers-side loader segments too, and refuses to guess the language
    from ems.data.tokenizer import load_tokenizer

    hf = load_tokenizer(tokenizer_dir)
    assert encode_batch(hf, sentences["zh"], lang="cmn_Hans") == expected["zh"]
    with pytest.raises(ValueError, match="lang"):
        encode_batch(hf, sentences["zh"])


def test_official_language_ids_are_the_tag_ids_minus_3(tokenizer_dir):
    """The official dataset.py: language id = PieceToId('<2xx>') - 3; ours is the index in ems_languages."""
    import sentencepiece as spm

    from ems.data.official_tokenizer import SPM_FILE
    from ems.data.pretokenize import official_code

    cfg = json.loads((tokenizer_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_dir / SPM_FILE))
    assert len(cfg["ems_languages"]) == 62 and cfg["ems_languages"][0] == "eng"
    for index, lang in enumerate(cfg["ems_languages"]):
        assert sp.piece_to_id(f"<2{official_code(lang)}>") - 3 == index, lang


def test_converted_tokenizer_json_agrees_with_sentencepiece(tokenizer_dir, sentences):
    """AutoTokenizer (tokenizer.json, for sentence-transformers) gives the SentencePiece ids of pre-tokenised text."""
    from transformers import AutoTokenizer

    from ems.data.pretokenize import pretokenize
    from ems.data.tokenizer import SavedTokenizer

    hf = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    sp = SavedTokenizer(tokenizer_dir).official.sp
    texts = [t for code, sents in sentences.items() for t in pretokenize(sents, code)]
    ours = hf(texts, add_special_tokens=False)["input_ids"]
    assert sum(a != b for a, b in zip(ours, sp.encode(texts))) == 0


@pytest.fixture(scope="module")
def imported(official_repo, tokenizer_dir, tmp_path_factory):
    """A small official model with random weights, saved as the official training does, then imported."""
    tmp = tmp_path_factory.mktemp("import")
    _reference(official_repo, "checkpoint", tmp, output=tmp / "model_best.pt", seed=3)
    proc = subprocess.run([sys.executable, "-m", "ems.cli", "import-official", "--checkpoint", str(tmp / "model_best.pt"),
                           "--tokenizer", str(tokenizer_dir), "--out", str(tmp / "model"), "--heads", "4",
                           "--heads-out", str(tmp / "heads.pt")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp


def test_imported_checkpoint_embeds_like_the_official_inference(official_repo, imported, sentences, tmp_path):
    (tmp_path / "in.json").write_text(json.dumps(sentences), encoding="utf-8")
    _reference(official_repo, "embed", tmp_path, input=tmp_path / "in.json", checkpoint=imported / "model_best.pt",
               output=tmp_path / "official")
    for code, sents in sentences.items():
        expected = np.load(tmp_path / "official" / f"{code}.npy")
        proc = subprocess.run([sys.executable, "-m", "ems.cli", "embed", "--model", str(imported / "model"),
                               "--lang", CANONICAL[code], "--batch-size", "16"],
                              input=("\n".join(sents) + "\n").encode(), capture_output=True, check=False)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        ours = np.load(__import__("io").BytesIO(proc.stdout))
        assert ours.shape == expected.shape == (N, 32)
        diff = float(np.abs(ours - expected).max())
        assert diff <= 1e-5, (code, diff)
        assert float(np.abs(expected).mean()) > 0.1  # real vectors, not zeros


def test_imported_folder_loads_in_sentence_transformers(imported, tokenizer_dir, sentences):
    """sentence-transformers on pre-tokenised text gives our vectors (the card says to pre-tokenise)."""
    from sentence_transformers import SentenceTransformer

    from ems.data.pretokenize import pretokenize
    from ems.encoders.ems_encoder import EmsEncoder

    texts = sentences["de"][:20]
    ours = EmsEncoder(imported / "model").encode(texts, "deu")
    st = SentenceTransformer(str(imported / "model"), device="cpu").encode(pretokenize(texts, "de"))
    assert np.abs(st - ours).max() <= 1e-5
    card = (imported / "model" / "README.md").read_text(encoding="utf-8")
    assert "model_best.pt" in card and "Pre-tokenise first" in card
    info = json.loads((imported / "model" / "ems_model.json").read_text(encoding="utf-8"))
    from ems.io import sha256_file

    assert info["checkpoint_sha256"] == sha256_file(imported / "model_best.pt") and info["official_step"] == 1234
    assert set(torch.load(imported / "heads.pt")) >= {"xtr_head.output.weight", "contrastive_head.net.2.weight"}


def test_mapping_is_strict(imported, tokenizer_dir, tmp_path):
    """A key with no place, a wrong shape and a missing key each name the key; nothing is written."""
    from ems.errors import DataError
    from ems.model.official import import_official

    ckpt = torch.load(imported / "model_best.pt", weights_only=False)
    cases = {
        "extra": ("module.model.bert.pooler.dense.weight", torch.zeros(2, 2)),
        "shape": ("module.model.bert.encoder.layer.0.intermediate.dense.bias", torch.zeros(3)),
    }
    for name, (key, value) in cases.items():
        bad = {**ckpt, "state_dict": {**ckpt["state_dict"], key: value}}
        torch.save(bad, tmp_path / f"{name}.pt")
        with pytest.raises(DataError, match=key.replace(".", r"\.")):
            import_official(tmp_path / f"{name}.pt", tokenizer_dir, tmp_path / name, heads=4)
        assert not (tmp_path / name).exists()
    missing = {**ckpt, "state_dict": {k: v for k, v in ckpt["state_dict"].items() if "alignproj.3.bias" not in k}}
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(DataError, match=r"contrastive_head\.net\.2\.bias"):
        import_official(tmp_path / "missing.pt", tokenizer_dir, tmp_path / "missing", heads=4)
    with pytest.raises(DataError, match="sha256"):
        import_official(imported / "model_best.pt", tokenizer_dir, tmp_path / "sha", heads=4, sha256="0" * 64)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="junk.pt: not a readable PyTorch checkpoint"):
        import_official(tmp_path / "junk.pt", tokenizer_dir, tmp_path / "junk", heads=4)


@pytest.mark.skipif(not Path(os.environ.get("EMS_MECAB_JUMAN_DIC") or "/var/lib/mecab/dic/juman-utf8").is_dir(),
                    reason="MeCab's JUMAN dictionary is not installed (apt-get install mecab-jumandic-utf8)")
def test_japanese_is_segmented_with_the_juman_dictionary(tokenizer_dir):
    from ems.data.pretokenize import pretokenize
    from ems.data.tokenizer import SavedTokenizer, encode_batch

    assert pretokenize(["今日はいい天気です。東京タワーに行きました！"], "ja") == [
        "今日 は いい 天気 です 。 東京 タワー に 行き ました ！"]
    tok = SavedTokenizer(tokenizer_dir)
    spaced = tok.official.sp.encode("今日 は いい 天気 です 。")
    assert encode_batch(tok, ["今日はいい天気です。"], lang="jpn")[0] == spaced
