"""A user's own parallel files: one file per language, a path pattern with ``{lang}``.

Columns are names (with ``header: true``) or 0-based positions; ``compression`` is ``auto``
(by the ``.gz`` suffix), ``gzip`` or ``none``. Fields are split on tabs, never quoted.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ems.data.corpora.lines import CountingReader, Progress, decoded_lines
from ems.errors import DataError


def path_for(entry: Mapping[str, Any], code: str) -> Path:
    return Path(entry["path"].format(lang=code))


def iter_pairs(entry: Mapping[str, Any], code: str, progress: Progress) -> Iterator[tuple[str, str, str]]:
    """``(xx, eng, origin)`` of one language's file."""
    path = path_for(entry, code)
    if not path.is_file():
        raise DataError(f"{path}: {'a directory, not a file' if path.is_dir() else 'file not found'} "
                        f"(corpus.sources tsv {entry['name']!r}, language {code})")
    progress.total += path.stat().st_size
    compressed = entry["compression"] == "gzip" or (entry["compression"] == "auto" and path.suffix == ".gz")
    raw = CountingReader(open(path, "rb"), progress)  # noqa: SIM115 (closed by the with below)
    stream = gzip.GzipFile(fileobj=io.BufferedReader(raw)) if compressed else io.BufferedReader(raw)
    cols = entry["columns"]
    origin = f"{entry['name']}/{path.name}"
    with raw:
        lines = decoded_lines(stream, str(path))
        src_col, tgt_col = cols["src"], cols["tgt"]
        start = 1
        if entry["header"]:
            header = next(lines, None)
            if header is None:
                raise DataError(f"{path}: empty file; expected a header line")
            names = header.split("\t")
            try:
                src_col, tgt_col = (c if isinstance(c, int) else names.index(c) for c in (src_col, tgt_col))
            except ValueError:
                raise DataError(f"{path}, line 1: header {names} lacks column {cols['src']!r} or {cols['tgt']!r}") from None
            start = 2
        need = max(src_col, tgt_col)
        for number, line in enumerate(lines, start=start):
            fields = line.split("\t")
            if len(fields) <= need:
                raise DataError(f"{path}, line {number}: {len(fields)} field(s), need column {need} (0-based)")
            yield fields[src_col], fields[tgt_col], origin
