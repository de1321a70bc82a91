"""Train, save and load the shared subword tokenizer (``tokenizers`` Unigram or BPE).

Special tokens and ids follow docs/interfaces.md: ``<pad>``=0, ``<unk>``=1, ``<mask>``=2,
``<s>``=3, ``</s>``=4, then one ``<2xxx>`` tag per language. The tokenizer is trained on a
language-balanced sample (``sample_sentences_per_language`` distinct sentences of each
non-English language and of English, drawn per language by :mod:`ems.data.sample`) and saved with ``PreTrainedTokenizerFast`` so that
``AutoTokenizer.from_pretrained(dir)`` loads it. Lower-casing, when configured, is both a
normaliser inside ``tokenizer.json`` (so any loader reproduces it) and done in Python by
:func:`encode_batch` (recorded as ``ems_lowercase`` in ``tokenizer_config.json``).
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from ems.data.official_tokenizer import official_tokenizer
from ems.errors import DataError
from ems.io import atomic_dir
from ems.languages import ENGLISH

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = ["<pad>", "<unk>", "<mask>", "<s>", "</s>"]
PAD, UNK, MASK, BOS, EOS = range(5)


def language_tag(lang: str) -> str:
    return f"<2{lang}>"


def limit_alphabet(texts: Sequence[str], vocab_size: int, n_special: int, coverage: float) -> list[str]:
    """Drop rare characters from the training sample, as SentencePiece's character coverage.

    Scripts with thousands of characters (Han) would otherwise not fit a small vocabulary
    (``tokenizers`` then fails with "vocabulary is not large enough to contain all chars").
    Kept: the most frequent characters covering ``coverage`` of all character occurrences,
    at most half of the non-special vocabulary; the others become ``<unk>`` when encoding.
    """
    counts = Counter(ch for text in texts for ch in text if not ch.isspace())
    total = sum(counts.values())
    max_chars = max(1, (vocab_size - n_special) // 2)
    keep: set[str] = set()
    covered = 0
    for ch, count in counts.most_common():
        if len(keep) >= max_chars or (total and covered / total >= coverage):
            break
        keep.add(ch)
        covered += count
    dropped = [ch for ch in counts if ch not in keep]
    if not dropped:
        return list(texts)
    logger.info("character coverage: kept %d of %d characters (%.4f of occurrences); the rest map to <unk>",
                len(keep), len(counts), covered / total)
    table = str.maketrans({ch: None for ch in dropped})
    return [t.translate(table) for t in texts]


def build_tokenizer(texts: Sequence[str], languages: Sequence[str], settings: Mapping[str, Any]) -> Tokenizer:
    """Train a tokenizers.Tokenizer on ``texts`` (already balanced)."""
    special = SPECIAL_TOKENS + [language_tag(l) for l in languages]
    vocab_size = settings["vocab_size"]
    if vocab_size <= len(special) + 10:
        raise DataError(f"tokenizer.vocab_size={vocab_size} leaves no room beside {len(special)} special tokens")
    if settings["model"] == "unigram":
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=special, unk_token="<unk>",
                                          shrinking_factor=0.75, max_piece_length=16, show_progress=False)
    else:
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False,
                                      min_frequency=2)
    norms = [normalizers.NFKC()]
    if settings["lowercase"]:
        norms.append(normalizers.Lowercase())
    tok.normalizer = normalizers.Sequence(norms)
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    for i, token in enumerate(special):
        if tok.token_to_id(token) != i:
            raise DataError(f"tokenizer training put special token {token} at id {tok.token_to_id(token)}, not {i}")
    return tok


def save_tokenizer(tok: Tokenizer, out_dir: str | os.PathLike[str], languages: Sequence[str],
                   settings: Mapping[str, Any]) -> None:
    """Save as a transformers fast tokenizer (atomically), with ``ems_*`` keys in its config."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
        bos_token="<s>", eos_token="</s>", model_max_length=settings["max_length"],
    )
    with atomic_dir(out_dir) as tmp:
        fast.save_pretrained(tmp)
        cfg_path = Path(tmp) / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        cfg.update({
            "ems_lowercase": bool(settings["lowercase"]), "ems_languages": list(languages),
            "ems_language_tags": [language_tag(l) for l in languages], "ems_model": settings["model"],
            "ems_max_length": settings["max_length"],
        })
        cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def train_tokenizer(samples: Mapping[str, Sequence[str]], out_dir: str | os.PathLike[str],
                    settings: Mapping[str, Any]) -> None:
    """Train on ``{lang: sentences}`` (English included; :func:`ems.data.sample.read_tokenizer_samples`)
    and save; the language tags are the sample's languages, sorted."""
    languages = sorted(set(samples) | {ENGLISH})
    texts = [t for lang in sorted(samples) for t in samples[lang]]
    if settings["lowercase"]:
        texts = [t.lower() for t in texts]
    logger.info("training a %s tokenizer (vocab %d) on %d sentences of %d languages", settings["model"],
                settings["vocab_size"], len(texts), len(samples))
    n_special = len(SPECIAL_TOKENS) + len(languages)
    texts = limit_alphabet(texts, settings["vocab_size"], n_special, settings["character_coverage"])
    tok = build_tokenizer(texts, languages, settings)
    save_tokenizer(tok, out_dir, languages, settings)
    logger.info("tokenizer saved to %s (%d tokens)", out_dir, tok.get_vocab_size())


def load_tokenizer(path: str | os.PathLike[str]):
    """The saved tokenizer as ``PreTrainedTokenizerFast``, with ``ems_lowercase`` etc. as attributes."""
    from transformers import PreTrainedTokenizerFast

    path = Path(path)
    settings = _ems_settings(path)
    tok = PreTrainedTokenizerFast.from_pretrained(str(path))
    for name, value in settings.items():
        setattr(tok, name, value)
    # the authors' tokenizer: encode_batch must segment by language, never fall back to tokenizer.json alone
    tok.official = official_tokenizer(path, settings["ems_max_length"])
    return tok


def _ems_settings(path: Path) -> dict[str, Any]:
    """``ems_lowercase``, ``ems_languages``, ``ems_max_length`` of a saved tokenizer's config (one reader
    for both loaders); a folder without ``tokenizer_config.json`` is a DataError."""
    cfg_path = path / "tokenizer_config.json"
    if not cfg_path.exists():
        raise DataError(f"{path}: not a tokenizer folder (no tokenizer_config.json); run the tokenizer step")
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    return {"ems_lowercase": bool(cfg.get("ems_lowercase", False)), "ems_languages": list(cfg.get("ems_languages", [])),
            "ems_max_length": cfg.get("ems_max_length", cfg.get("model_max_length"))}


class SavedTokenizer:
    """A saved tokenizer folder read with ``tokenizers`` alone (no transformers import, ~4 s less per
    data job): what :func:`encode_batch` and the shard writer need."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        path = Path(path)
        settings = _ems_settings(path)
        if not (path / "tokenizer.json").exists():
            raise DataError(f"{path}: not a tokenizer folder (no tokenizer.json); run the tokenizer step")
        self.backend_tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.ems_lowercase: bool = settings["ems_lowercase"]
        self.ems_languages: list[str] = settings["ems_languages"]
        self.ems_max_length: int = settings["ems_max_length"]
        #: The authors' SentencePiece + pre-tokenisation (tokenizer.model: official), else None.
        self.official = official_tokenizer(path, self.ems_max_length)

    def __len__(self) -> int:
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=True)


def encode_batch(tokenizer, sentences: Sequence[str], lowercase: bool | None = None,
                 max_length: int | None = None, lang: str | None = None) -> list[list[int]]:
    """Subword ids of each sentence: no special tokens, truncated to ``max_length``, never
    empty (a sentence with no token becomes ``[<unk>]``). ``lowercase``/``max_length``
    default to the tokenizer's saved settings. The official tokenizer segments by language,
    so it needs ``lang`` (a canonical code)."""
    official = getattr(tokenizer, "official", None)
    if official is not None:
        if lang is None:
            raise ValueError("the official tokenizer pre-tokenises by language: pass lang")
        return official.encode(sentences, lang, max_length)
    if lowercase is None:
        lowercase = getattr(tokenizer, "ems_lowercase", False)
    if max_length is None:
        max_length = getattr(tokenizer, "ems_max_length", None)
    texts = [s.lower() for s in sentences] if lowercase else list(sentences)
    backend = tokenizer.backend_tokenizer if hasattr(tokenizer, "backend_tokenizer") else tokenizer
    encodings = backend.encode_batch(texts, add_special_tokens=False)
    out = []
    for enc in encodings:
        ids = enc.ids[:max_length] if max_length else enc.ids
        out.append(ids if ids else [UNK])
    return out
