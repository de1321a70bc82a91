"""Parse every X–English benchmark file pair of OPUS-MT-testsets into one table.

Both folder directions (``deu-eng`` and ``eng-deu``) and every benchmark (Tatoeba-Challenge,
WMT news, TICO-19, FLORES-1 wikipedia) are read; per-line ``.labels`` give the language of
mixed folders (``eng-zho``: ``cmn_Hans``/``cmn_Hant``/``yue_Hans``). FLORES-101/200 are
evaluation data and never parsed; ``eng-eng`` is not a translation pair.
"""

from __future__ import annotations

import logging
import os
from collections import Counter

import pandas as pd
from tqdm import tqdm

from ems.data.tsv import write_pairs
from ems.datasets.opus_mt import iter_pair_files
from ems.errors import DataError
from ems.languages import ENGLISH

logger = logging.getLogger(__name__)

_TABLE = str.maketrans({"\t": " ", "\r": " ", "\n": " ", "\x0b": " ", "\x0c": " "})


def parse_testsets(source_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """All X–English pairs as a DataFrame ``lang src tgt origin`` (raw text, tabs -> spaces)."""
    langs: list[str] = []
    srcs: list[str] = []
    tgts: list[str] = []
    origins: list[str] = []
    skipped: Counter[str] = Counter()
    files = list(iter_pair_files(source_dir))
    for pf in tqdm(files, desc="parse", unit="file", mininterval=5, disable=None):
        xx, eng, line_langs = pf.read()
        for a, b, lang in zip(xx, eng, line_langs):
            if lang == ENGLISH:
                skipped[pf.origin] += 1
                continue
            langs.append(lang)
            srcs.append(a.translate(_TABLE))
            tgts.append(b.translate(_TABLE))
            origins.append(pf.origin)
    for origin, n in skipped.items():
        logger.info("%s: %d lines labelled English on both sides skipped", origin, n)
    if not langs:
        raise DataError(f"{source_dir}: no X-English sentence pairs found (expected testsets/<xxx>-eng/*.<xxx> + *.eng files)")
    frame = pd.DataFrame({"lang": langs, "src": srcs, "tgt": tgts, "origin": origins})
    logger.info("parsed %d pairs, %d languages, from %d file pairs", len(frame), frame["lang"].nunique(), len(files))
    return frame


def run_parse(source_dir: str | os.PathLike[str], out: str | os.PathLike[str]) -> pd.DataFrame:
    frame = parse_testsets(source_dir)
    write_pairs(out, frame)
    return frame
