"""Toy parallel data for the train/model tests: a word-level tokenizer and shards in the
documented format (docs/interfaces.md), with a known answer by construction.

Each "foreign" sentence is its English partner with every word mapped through a fixed
per-language dictionary, so a model that learns the dictionaries retrieves translations.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

SPECIALS = ["<pad>", "<unk>", "<mask>", "<s>", "</s>"]
LANGS = ["deu", "fra", "eng"]
WORDS = [
    "cat", "dog", "house", "tree", "river", "red", "blue", "green", "small", "big", "runs", "sleeps",
    "eats", "sees", "the", "a", "near", "under", "old", "new", "bird", "fish", "car", "road",
]


def foreign(word: str, lang: str) -> str:
    return {"deu": word[::-1] + "en", "fra": "le" + word[::-1]}[lang]


def toy_pairs(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """``n`` (lang, foreign sentence, English sentence) triples, 2-9 words each."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        lang = LANGS[i % 2]
        words = [WORDS[j] for j in rng.integers(0, len(WORDS), rng.integers(2, 10))]
        eng = " ".join(words)
        if i % 5 == 0:
            eng = eng.capitalize()
        out.append((lang, " ".join(foreign(w.lower(), lang) for w in words), eng))
    return out


def make_tokenizer(directory: Path, lowercase: bool = True) -> Path:
    """Train a word-level tokenizer on the toy vocabulary; save_pretrained it like the data stage."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tags = [f"<2{lang}>" for lang in LANGS]
    trainer = trainers.WordLevelTrainer(special_tokens=SPECIALS + tags)
    corpus = [" ".join(WORDS)] + [" ".join(foreign(w, lang) for w in WORDS) for lang in ("deu", "fra")]
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", mask_token="<mask>", bos_token="<s>", eos_token="</s>"
    )
    fast.save_pretrained(directory)
    cfg_path = directory / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["ems_lowercase"] = lowercase
    cfg_path.write_text(json.dumps(cfg))
    return directory


def write_shards(directory: Path, tokenizer_dir: Path, pairs: list[tuple[str, str, str]], max_length: int = 16) -> Path:
    """Write ``src/tgt.{ids,offsets,lang}.npy`` + ``meta.json`` exactly as docs/interfaces.md."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    directory.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    for side, col in (("src", 1), ("tgt", 2)):
        texts = [p[col].lower() for p in pairs]
        enc = tok(texts, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
        ids = np.concatenate([np.asarray(e, dtype=np.int32) for e in enc])
        offsets = np.concatenate([[0], np.cumsum([len(e) for e in enc])]).astype(np.int64)
        langs = np.array([LANGS.index(p[0] if side == "src" else "eng") for p in pairs], dtype=np.int16)
        for name, arr in (("ids", ids), ("offsets", offsets), ("lang", langs)):
            np.save(directory / f"{side}.{name}.npy", arr)
            h.update(arr.tobytes())
    meta = {
        "n_pairs": len(pairs), "languages": LANGS, "vocab_size": len(tok), "pad_id": 0, "max_length": max_length,
        "content_sha256": h.hexdigest(), "tokenizer": "../../tokenizer", "lowercase": True,
    }
    (directory / "meta.json").write_text(json.dumps(meta))
    return directory


def make_toy_data(root: Path, n_train: int = 512, n_valid: int = 64) -> dict[str, Path]:
    tok = make_tokenizer(root / "tokenizer")
    train = write_shards(root / "shards" / "train", tok, toy_pairs(n_train, seed=0))
    valid = write_shards(root / "shards" / "valid", tok, toy_pairs(n_valid, seed=1))
    return {"tokenizer": tok, "train": train, "valid": valid}


TINY_SETTINGS = {
    "model": {"layers": 1, "hidden_size": 32, "heads": 2, "ffn_size": 64, "max_positions": 32,
              "lang_embedding_dim": 8, "projection_dim": 16, "dropout": 0.0},
    "objective": {"xtr_weight": 1.0, "contrastive_weight": 1.0, "temperature": 0.1},
    "train": {"batch_size": 16, "lr": 3e-3, "warmup_steps": 2, "max_steps": 6, "eval_every": 3,
              "checkpoint_every": 3, "log_every": 2, "device": "cpu", "num_threads": 1, "seed": 1},
}


def train_toy(settings: dict, toy: dict[str, Path], out: Path, callbacks: tuple = (), **kw: object) -> dict:
    """Train on toy data through the one entry point (``resolve_run`` + ``run_training``), without tracking
    or a progress bar unless asked."""
    from ems.train.entry import run_training
    from ems.train.run import resolve_run

    run = resolve_run(settings, toy["train"], toy["valid"], toy["tokenizer"], out,
                      checkpoint_dir=kw.pop("checkpoint_dir", None), model_id=kw.pop("model_id", None))
    kw.setdefault("progress", False)
    return run_training(run, kw.pop("tracking", None), callbacks, **kw)
