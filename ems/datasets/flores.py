"""FLORES-200 devtest as shipped by OPUS-MT-testsets (``testsets/flores200_dataset/devtest``).

FLORES *dev* is not in that archive; its text is available through SIB-200
(:func:`ems.datasets.sib200.load_sib200`, all splits = FLORES dev+devtest sentences).
"""

from __future__ import annotations

import logging
import os

from ems.datasets._io import locate, read_lines
from ems.errors import DataError, UnknownLanguageError
from ems.languages import canonical

logger = logging.getLogger(__name__)

FLORES_DIR = "testsets/flores200_dataset"


def load_flores(source_dir: str | os.PathLike[str], split: str = "devtest") -> dict[str, list[str]]:
    """``{canonical lang: sentences}`` (1012 multi-way parallel lines each for devtest).

    ``source_dir`` is the extracted OPUS-MT-testsets archive (or its flores200_dataset folder).
    Aliases that are symbolic links (``msa`` -> ``zsm``) are read once.
    """
    root = locate(source_dir, FLORES_DIR, f"{split}/*.{split}")
    folder = root / split
    out: dict[str, list[str]] = {}
    origin: dict[str, str] = {}
    n_lines: int | None = None
    for path in sorted(folder.glob(f"*.{split}"), key=lambda p: (p.is_symlink(), p.name)):
        code = path.name[: -len(split) - 1]
        try:
            lang = canonical(code)
        except UnknownLanguageError as exc:
            raise UnknownLanguageError(f"{path}: {exc}") from exc
        if lang in out:
            if path.is_symlink() or read_lines(path) == out[lang]:
                continue
            raise DataError(f"{path} and {origin[lang]}: both map to language {lang!r} but differ")
        lines = read_lines(path)
        if n_lines is not None and len(lines) != n_lines:
            raise DataError(f"ragged FLORES files: {path} has {len(lines)} lines, other files {n_lines}")
        n_lines = len(lines)
        out[lang] = lines
        origin[lang] = str(path)
    if not out:
        raise DataError(f"{folder}: no *.{split} files")
    return out
