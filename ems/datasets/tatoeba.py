"""Tatoeba v1 similarity-search test set of LASER (112 languages, ``tatoeba.xxx-eng.{xxx,eng}``)."""

from __future__ import annotations

import logging
import os
import re

from ems.datasets._io import locate, read_parallel
from ems.errors import DataError, UnknownLanguageError
from ems.languages import canonical

logger = logging.getLogger(__name__)

TATOEBA_DIR = "data/tatoeba/v1"
_NAME = re.compile(r"^tatoeba\.(?P<code>[a-z]+)-eng\.(?P=code)$")


def load_tatoeba(source_dir: str | os.PathLike[str]) -> dict[str, tuple[list[str], list[str]]]:
    """``{canonical lang: (xx sentences, English sentences)}``, line-aligned, file order.

    ``source_dir`` is the extracted LASER archive (or its ``data/tatoeba/v1`` folder).
    """
    folder = locate(source_dir, TATOEBA_DIR, "tatoeba.*-eng.*")
    out: dict[str, tuple[list[str], list[str]]] = {}
    for path in sorted(folder.iterdir()):
        match = _NAME.match(path.name)
        if not match:
            continue
        code = match.group("code")
        try:
            lang = canonical(code)
        except UnknownLanguageError as exc:
            raise UnknownLanguageError(f"{path}: {exc}") from exc
        if lang in out:
            raise DataError(f"{path}: language {code!r} maps to {lang!r}, which another file already gave")
        out[lang] = read_parallel(path, folder / f"tatoeba.{code}-eng.eng")
    if not out:
        raise DataError(f"{folder}: no tatoeba.xxx-eng.xxx files")
    logger.debug("Tatoeba v1: %d languages from %s", len(out), folder)
    return out
