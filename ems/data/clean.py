"""The one text normalisation of the corpus, and the length measure of its ratio filter.

:func:`normalise` (NFKC, control/invisible characters dropped, whitespace collapsed) is the
one text normalisation of the corpus; decontamination matches evaluation sentences through
the same function. The filters that use it, and exact de-duplication, are in
:mod:`ems.data.prepare`.
"""

from __future__ import annotations

import logging
import re
import unicodedata

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


_ASCII_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")


def normalise(text: str) -> str:
    """NFKC, drop control/invisible characters, collapse all whitespace runs to one space.

    ASCII text takes a fast path (NFKC leaves it unchanged; only its control characters go),
    with the same result as the full path.
    """
    if text.isascii():
        if _ASCII_CONTROL.search(text):
            text = _ASCII_CONTROL.sub("", text)
        return " ".join(text.split())
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return " ".join(text.split())
