"""Synthetic parallel corpora for the data benchmark and the memory test (never committed: generated).

Each language gets words drawn from its own script (Latin with diacritics, Cyrillic, Greek,
Arabic, Devanagari, Han, kana + Han, Hangul), sentence lengths from a log-normal
distribution fitted by eye to Tatoeba/WMT (median ~9 words, long tail to ~80), an English
side of Latin words, ~10 % exact repeats of earlier pairs, and, when given, evaluation
sentences planted on either side (their count is returned, so a benchmark can check that
every one of them is removed).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Characters each language's words are made of (ranges of its script).
SCRIPTS: dict[str, str] = {
    "deu": "abcdefghijklmnopqrstuvwxyzäöüß",
    "fra": "abcdefghijklmnopqrstuvwxyzéèêàçôù",
    "rus": "".join(chr(c) for c in range(0x430, 0x450)),
    "ell": "".join(chr(c) for c in range(0x3B1, 0x3CA)),
    "arb_Arab": "".join(chr(c) for c in range(0x627, 0x64B)),
    "hin": "".join(chr(c) for c in range(0x915, 0x939)) + "ािीुूेैोौ",
    "cmn_Hans": "".join(chr(c) for c in range(0x4E00, 0x4E00 + 3000)),
    "jpn": "".join(chr(c) for c in range(0x3041, 0x3097)) + "".join(chr(c) for c in range(0x4E00, 0x4E00 + 500)),
    "kor": "".join(chr(c) for c in range(0xAC00, 0xAC00 + 2000)),
}
DEFAULT_LANGUAGES = ("deu", "fra", "rus", "ell", "arb_Arab", "hin", "cmn_Hans", "jpn")
ENGLISH = "abcdefghijklmnopqrstuvwxyz"
#: Scripts written without spaces between words.
NO_SPACES = {"cmn_Hans", "jpn"}


def _vocabulary(alphabet: str, rng: np.random.Generator, size: int = 20000, wide: bool = False) -> np.ndarray:
    letters = np.array(list(alphabet))
    lengths = rng.integers(1, 3, size) if wide else np.clip(rng.poisson(5, size), 1, 14)
    return np.array(["".join(rng.choice(letters, n)) for n in lengths], dtype=object)


def write_language(path: str | os.PathLike[str], lang: str, pairs: int, seed: int = 1,
                   duplicate_rate: float = 0.1, planted: Sequence[str] = ()) -> int:
    """Write ``pairs`` lines ``<lang sentence>\\t<English sentence>`` (gzip); return how many planted
    evaluation sentences were written (each once, on a random side, at a random line)."""
    rng = np.random.default_rng([seed, sum(map(ord, lang))])
    wide = lang in NO_SPACES
    vocab = _vocabulary(SCRIPTS[lang], rng, wide=wide)
    eng_vocab = _vocabulary(ENGLISH, rng)
    sep = "" if wide else " "
    plant_at = dict(zip(rng.choice(pairs, size=min(len(planted), pairs), replace=False).tolist(), planted))
    recent: list[str] = []
    block = 100_000
    written_planted = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1, newline="\n") as out:
        for start in range(0, pairs, block):
            n = min(block, pairs - start)
            eng_len = np.clip(np.rint(rng.lognormal(2.2, 0.55, n)), 1, 80).astype(int)
            xx_len = np.clip(np.rint(eng_len * rng.uniform(0.7, 1.4, n)), 1, 120).astype(int)
            xx_words = vocab[rng.integers(0, len(vocab), int(xx_len.sum()))]
            en_words = eng_vocab[rng.integers(0, len(eng_vocab), int(eng_len.sum()))]
            dup = rng.random(n) < duplicate_rate
            lines = []
            xi = ei = 0
            for i in range(n):
                if dup[i] and recent:
                    line = recent[int(rng.integers(0, len(recent)))]
                else:
                    xx = sep.join(xx_words[xi:xi + xx_len[i]])
                    en = " ".join(en_words[ei:ei + eng_len[i]]).capitalize() + "."
                    line = f"{xx}\t{en}\n"
                    if len(recent) < 5000:
                        recent.append(line)
                    else:
                        recent[int(rng.integers(0, 5000))] = line
                xi += xx_len[i]
                ei += eng_len[i]
                if start + i in plant_at:
                    text = plant_at[start + i].replace("\t", " ")
                    xx, en = line.rstrip("\n").split("\t")
                    line = f"{text}\t{en}\n" if rng.random() < 0.5 else f"{xx}\t{text}\n"
                    written_planted += 1
                lines.append(line)
            out.write("".join(lines))
    return written_planted


def write_corpus(folder: str | os.PathLike[str], pairs: int, languages: Sequence[str] = DEFAULT_LANGUAGES,
                 seed: int = 1, planted: dict[str, Sequence[str]] | None = None) -> dict[str, int]:
    """``<folder>/<lang>.tsv.gz`` for each language, ``pairs`` split evenly; return planted counts."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    per = pairs // len(languages)
    return {lang: write_language(folder / f"{lang}.tsv.gz", lang, per + (1 if i < pairs % len(languages) else 0),
                                 seed, planted=(planted or {}).get(lang, ()))
            for i, lang in enumerate(languages)}
