"""OPUS corpora in Moses format: one zip per language pair, as OPUS publishes them.

URL layout (OpusTools ``opus_get``, OPUS-MT-train): ``<url>/OPUS-<corpus>/<version>/moses/<l1>-<l2>.txt.zip``
with the two OPUS language codes in sorted order; inside, ``<corpus>.<l1>-<l2>.<l1>`` and
``<corpus>.<l1>-<l2>.<l2>``, line-aligned (plus README, LICENSE, ids and xml files, unused).
OPUS codes are mostly ISO 639-1 (``de``, ``en``, ``zh_CN``); a source's ``languages`` maps
canonical codes to them where the default (ISO 639-1, else the ISO 639-3 base code) is wrong.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ems.data.corpora.lines import STREAM_ERRORS, CountingReader, Progress, decoded_lines, parallel
from ems.errors import DataError

ENGLISH_CODE = "en"


def pair_name(code: str) -> str:
    """``<l1>-<l2>``: the OPUS pair of a language code with English, codes sorted."""
    return "-".join(sorted((code, ENGLISH_CODE)))


def file_name(code: str) -> str:
    return f"{pair_name(code)}.txt.zip"


def url(base: str, corpus: str, version: str, code: str) -> str:
    return f"{base.rstrip('/')}/OPUS-{corpus}/{version}/moses/{file_name(code)}"


def iter_pairs(path: str | os.PathLike[str], corpus: str, code: str, progress: Progress) -> Iterator[tuple[str, str, str]]:
    """``(xx, eng, origin)`` of a Moses zip, streamed (both members read in step)."""
    path = Path(path)
    pair = pair_name(code)
    names = (f"{corpus}.{pair}.{code}", f"{corpus}.{pair}.{ENGLISH_CODE}")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path}: not a readable zip ({exc}); delete it and fetch again") from None
    with zf:
        present = set(zf.namelist())
        for name in names:
            if name not in present:
                raise DataError(f"{path}: no member {name} (members: {sorted(present)[:6]})")
        progress.total += zf.getinfo(names[0]).file_size
        origin = f"{corpus}/{pair}"
        try:
            with zf.open(names[0]) as fx, zf.open(names[1]) as fe:
                xx = decoded_lines(io.BufferedReader(CountingReader(fx, progress)), f"{path}:{names[0]}")
                eng = decoded_lines(fe, f"{path}:{names[1]}")
                for a, b in parallel(xx, eng, f"{path}:{names[0]}", f"{path}:{names[1]}"):
                    yield a, b, origin
        except STREAM_ERRORS as exc:
            raise DataError(f"{path}: truncated or corrupt zip ({exc}); delete it and fetch again") from None
