"""The official EMS pre-tokenisation: lower-case, then Moses, jieba or a JUMAN-dictionary analyser.

What github Mao-KU/EMS ``inference/embed.py`` (``encode``) does before SentencePiece, per
language: ``line.lower().strip()``, then

- Chinese (``zh``) and the other Chinese languages (``wuu``, ``yue``): ``jieba.cut``, words
  joined by a space;
- Japanese (``ja``): the surface forms (``midasi``) of Juman++ (through pyknp), joined by a
  space;
- every other language: sacremoses ``MosesTokenizer(lang).tokenize(line, escape=False)``.

Juman++ is neither on PyPI nor in Debian, and Debian's ``juman`` 7.0 package prints no
morphemes at all (its connection matrix ``JUMAN.connect`` is empty), so Japanese is segmented
by MeCab (``fugashi``) with the JUMAN dictionary (Debian ``mecab-jumandic-utf8``): the same
dictionary and segmentation standard as Juman++, a different model (docs/paper.md says how
far the two can differ; we could not measure it here, as Juman++ cannot be installed offline).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from ems.errors import ConfigError

logger = logging.getLogger(__name__)

#: Official codes that embed.py segments with jieba.
JIEBA_CODES = frozenset({"zh", "wuu", "yue"})
JAPANESE = "ja"
#: Where Debian's mecab-jumandic-utf8 puts the compiled dictionary; EMS_MECAB_JUMAN_DIC overrides it.
JUMAN_DIC_DEFAULT = "/var/lib/mecab/dic/juman-utf8"


def official_code(lang: str) -> str:
    """The official EMS code of a canonical code, as its ``<2xx>`` tags: ``deu`` -> ``de``, ``cmn_Hans`` ->
    ``zh``, ``zsm`` -> ``ms``, ``yue_Hant`` -> ``yue`` (:func:`ems.languages.two_letter`)."""
    from ems.languages import two_letter

    return two_letter(lang)


def _juman_dictionary() -> str:
    path = os.environ.get("EMS_MECAB_JUMAN_DIC") or JUMAN_DIC_DEFAULT
    if not (Path(path) / "sys.dic").exists():
        raise ConfigError(
            f"Japanese pre-tokenisation (tokenizer.model: official) needs MeCab's JUMAN dictionary at {path}: "
            "install it with `apt-get install mecab-jumandic-utf8` or set EMS_MECAB_JUMAN_DIC to its folder"
        )
    return path


@cache
def _japanese() -> Callable[[str], str]:
    try:
        import fugashi
    except ImportError as exc:
        raise ConfigError("the official tokenizer needs its extra: pip install -e .[official]") from exc
    rc = "/etc/mecabrc" if Path("/etc/mecabrc").exists() else os.devnull
    tagger = fugashi.GenericTagger(f"-r {rc} -d {_juman_dictionary()}")
    return lambda text: " ".join(word.surface for word in tagger(text))


@cache
def _chinese() -> Callable[[str], str]:
    try:
        import jieba
    except ImportError as exc:
        raise ConfigError("the official tokenizer needs its extra: pip install -e .[official]") from exc
    jieba.setLogLevel(logging.WARNING)
    return lambda text: " ".join(jieba.cut(text))


@cache
def _moses(code: str) -> Callable[[str], str]:
    try:
        from sacremoses import MosesTokenizer
    except ImportError as exc:
        raise ConfigError("the official tokenizer needs its extra: pip install -e .[official]") from exc
    tokenizer = MosesTokenizer(code)
    return lambda text: " ".join(tokenizer.tokenize(text, escape=False))


def segmenter(code: str) -> Callable[[str], str]:
    """The word segmenter of one official code (Moses, jieba or MeCab-JUMAN), built once per process."""
    if code in JIEBA_CODES:
        return _chinese()
    if code == JAPANESE:
        return _japanese()
    return _moses(code)


def pretokenize(sentences: Sequence[str], code: str) -> list[str]:
    """``sentences`` lower-cased, stripped and segmented as the official inference does for ``code``."""
    segment = segmenter(code)
    return [segment(s.lower().strip()) for s in sentences]
