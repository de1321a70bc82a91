"""Normalise and filter the parsed pairs, then remove exact duplicates.

:func:`normalise` (NFKC, control/invisible characters dropped, whitespace collapsed) is the
one text normalisation of the corpus; decontamination matches evaluation sentences through
the same function. Filters: empty side, length out of ``[min_chars, max_chars]``,
length ratio above ``max_length_ratio`` (CJK characters weigh 3), identical sides (untranslated copies),
and exact duplicates of ``(lang, src, tgt)`` (WMT 2009–2013 sets are multi-way parallel and
both folder directions repeat older newstests: those collapse here; the same English
sentence paired with different languages is kept, once per language).
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ems.data.tsv import read_pairs, write_pairs
from ems.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

# C0/C1 controls (tabs and line breaks are whitespace and collapse instead), zero-width
# space, word joiner, BOM, soft hyphen, interlinear annotation marks. ZWJ/ZWNJ stay: they
# are meaningful in Indic and Persian scripts.
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff\ufff9-\ufffb]")


# Ideographs, kana and hangul carry about as much as three Latin letters: the length-ratio
# filter weighs them so (plain character counts would drop most Chinese/Japanese pairs).
_WIDE = re.compile("[\u1100-\u11ff\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003ffff]")
WIDE_WEIGHT = 3


def weighted_length(text: str) -> int:
    """Character count with CJK ideographs, kana and hangul counted ``WIDE_WEIGHT`` times."""
    return len(text) + (WIDE_WEIGHT - 1) * len(_WIDE.findall(text))


def normalise(text: str) -> str:
    """NFKC, drop control/invisible characters, collapse all whitespace runs to one space."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return " ".join(text.split())


def select_languages(frame: pd.DataFrame, languages: str | list[str], where: str = "the parsed table") -> pd.DataFrame:
    """Keep the configured non-English languages (``"all"`` keeps every one).

    A configured language without pairs in ``where`` is a DataError: it would silently
    drop out of training and every "seen languages" mean.
    """
    if languages == "all":
        return frame
    if isinstance(languages, str):
        raise ConfigError(f'corpus.languages: {languages!r} is not allowed here; use "all" or a list of codes')
    from ems.errors import UnknownLanguageError
    from ems.languages import canonical

    try:
        wanted = {canonical(code) for code in languages}
    except UnknownLanguageError as exc:
        raise ConfigError(f"corpus.languages: {exc}") from exc
    if wanted != set(languages):
        raise ConfigError(f"corpus.languages must hold canonical codes; got {sorted(set(languages) - wanted)}")
    missing = sorted(wanted - set(frame["lang"].unique()))
    if missing:
        raise DataError(f"corpus.languages: {missing} have no pairs in {where}; remove them from the list")
    return frame[frame["lang"].isin(wanted)]


def clean_pairs(frame: pd.DataFrame, settings: Mapping[str, Any],
                where: str = "the parsed table") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(clean pairs, removal counts per lang and reason)``; ``where`` names the input in errors."""
    min_chars, max_chars = settings["min_chars"], settings["max_chars"]
    max_ratio = settings["max_length_ratio"]
    frame = select_languages(frame, settings.get("languages", "all"), where).copy()
    frame["src"] = [normalise(s) for s in frame["src"]]
    frame["tgt"] = [normalise(s) for s in frame["tgt"]]
    src_len = frame["src"].str.len().to_numpy()
    tgt_len = frame["tgt"].str.len().to_numpy()
    short, long_ = np.minimum(src_len, tgt_len), np.maximum(src_len, tgt_len)
    src_w = np.fromiter((weighted_length(t) for t in frame["src"]), dtype=np.int64, count=len(frame))
    tgt_w = np.fromiter((weighted_length(t) for t in frame["tgt"]), dtype=np.int64, count=len(frame))
    w_short, w_long = np.minimum(src_w, tgt_w), np.maximum(src_w, tgt_w)
    reason = np.full(len(frame), "", dtype=object)
    # Order matters: each pair is counted under the first reason that applies.
    checks = [
        ("empty", short == 0),
        ("too_short", short < min_chars),
        ("too_long", long_ > max_chars),
        ("length_ratio", w_long > max_ratio * np.maximum(w_short, 1)),
        ("identical_sides", (frame["src"] == frame["tgt"]).to_numpy()),
    ]
    for name, mask in checks:
        reason[(reason == "") & mask] = name
    dup = frame.duplicated(subset=["lang", "src", "tgt"], keep="first").to_numpy()
    reason[(reason == "") & dup] = "duplicate"
    frame["reason"] = reason
    if not (reason == "").any():
        raise DataError(f"{where}: every one of its {len(frame)} pairs was removed "
                        f"({pd.Series(reason).value_counts().to_dict()}); check corpus.min_chars/max_chars/max_length_ratio")
    removed = (frame[frame["reason"] != ""].groupby(["lang", "reason"]).size()
               .rename("removed").reset_index())
    kept = frame[frame["reason"] == ""].drop(columns="reason").reset_index(drop=True)
    logger.info("clean: kept %d of %d pairs; removed by reason: %s", len(kept), len(frame),
                removed.groupby("reason")["removed"].sum().to_dict())
    return kept, removed


def run_clean(parsed: str | os.PathLike[str], out: str | os.PathLike[str], report: str | os.PathLike[str],
              settings: Mapping[str, Any]) -> pd.DataFrame:
    from ems.io import atomic_path

    kept, removed = clean_pairs(read_pairs(parsed), settings, str(parsed))
    with atomic_path(report) as tmp:  # the report is renamed into place only after the table
        removed.to_csv(tmp, index=False)
        write_pairs(out, kept)
    return kept
