"""Throughput of the official tokenizer (pre-tokenisation + SentencePiece) against the default BPE.

    EMS_DATA_MIRROR=../shared/data .venv/bin/python benchmarks/official_tokenizer.py

Sentences: the Tatoeba v1 test sides of the mirror (the eng side of deu-eng, then deu, fra, rus,
cmn, jpn), repeated to 20,000 per language; one process, one thread. Prints sentences/s per
language for the official tokenizer (what a binarise job does per side).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

LANGS = {"eng": ("deu", "eng"), "deu": ("deu", "deu"), "fra": ("fra", "fra"), "rus": ("rus", "rus"),
         "cmn_Hans": ("cmn", "cmn"), "jpn": ("jpn", "jpn")}
N = 20000


def main() -> None:
    from ems.data.fetch import fetch_source
    from ems.data.official_tokenizer import (
        REPOSITORY_MODEL,
        OfficialTokenizer,
        save_official_tokenizer,
    )

    mirror = os.environ.get("EMS_DATA_MIRROR") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fetch_source("facebookresearch/LASER", "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821", ["data/tatoeba/v1/"],
                     tmp / "laser", mirror=mirror)
        fetch_source("Mao-KU/EMS", "2d4227289127876202ba089ce6c6d513f1e097a7", [REPOSITORY_MODEL], tmp / "ems",
                     mirror=mirror)
        save_official_tokenizer(tmp / "ems" / REPOSITORY_MODEL, tmp / "tok", {"max_length": 120})
        tok = OfficialTokenizer(tmp / "tok", 120)
        for lang, (pair, side) in LANGS.items():
            lines = (tmp / "laser" / "data" / "tatoeba" / "v1" / f"tatoeba.{pair}-eng.{side}").read_text(
                encoding="utf-8").splitlines()
            sents = (lines * (N // len(lines) + 1))[:N]
            tok.encode(sents[:10], lang)  # build the segmenter outside the timing
            start = time.perf_counter()
            tok.encode(sents, lang)
            seconds = time.perf_counter() - start
            print(f"{lang}\t{N / seconds:,.0f} sentences/s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
