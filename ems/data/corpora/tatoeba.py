"""Tatoeba-Challenge training releases: one tar per language pair (Helsinki-NLP/Tatoeba-Challenge).

URL layout (``data/README-v2021-08-07.md`` of the release; OPUS-MT-train ``lib/config/tatoeba.mk``):
``<url>/Tatoeba-Challenge-<version>/<pair>.tar``, the pair's two ISO 639-3 (macro)language codes
sorted (``deu-eng``, ``eng-fra``). Inside, ``data/release/<version>/<pair>/train.{src,trg,id}.gz``
(the release README still shows the older ``data/<pair>/``: members are found by suffix). ``src``
is the first code of the pair; ``train.id.gz`` has three tab-separated columns per line: the
OPUS corpus (``OpenSubtitles-v2018``) and the source and target language labels (``srp_Cyrl``,
``cmn_Hans``). Macrolanguage pairs (``eng-hbs``, ``eng-msa``, ``eng-zho``) hold several
languages: each canonical language keeps the lines whose label maps to it.

The release leaves the Tatoeba corpus and WMT-News out of training (its ``Makefile``:
``EXCLUDE_CORPORA := Tatoeba WMT-News MPC1``) but removes no sentence: the same sentences can
come through OpenSubtitles or CCMatrix, so decontamination still runs on every pair.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import tarfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from ems.data.corpora.lines import STREAM_ERRORS, CountingReader, Progress, decoded_lines
from ems.errors import DataError, UnknownLanguageError
from ems.languages import canonical

#: The release's pair code of an individual language (its macrolanguage), where they differ.
MACRO_OF = {"cmn": "zho", "yue": "zho", "arb": "ara", "zsm": "msa", "ind": "msa", "pes": "fas", "lvs": "lav",
            "swh": "swa", "khk": "mon", "kmr": "kur", "als": "sqi", "nob": "nor", "nno": "nor", "hrv": "hbs",
            "srp": "hbs", "bos": "hbs", "uzn": "uzb", "azj": "aze", "npi": "nep", "pbt": "pus"}
ENGLISH_CODE = "eng"

logger = logging.getLogger(__name__)


def pair_name(code: str) -> str:
    return "-".join(sorted((code, ENGLISH_CODE)))


def file_name(code: str) -> str:
    return f"{pair_name(code)}.tar"


def url(base: str, version: str, code: str) -> str:
    return f"{base.rstrip('/')}/Tatoeba-Challenge-{version}/{file_name(code)}"


def iter_pairs(path: str | os.PathLike[str], version: str, code: str, lang: str,
               progress: Progress) -> Iterator[tuple[str, str, str]]:
    """``(xx, eng, origin)`` of the lines of ``lang`` in a pair's training files (streamed, in file order)."""
    path = Path(path)
    pair = pair_name(code)
    xx_first = pair.startswith(code + "-")
    try:
        tar = tarfile.open(path, "r:")  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, OSError) as exc:
        raise DataError(f"{path}: not a readable tar ({exc}); delete it and fetch again") from None
    with tar:
        try:
            members = {m.name.rsplit("/", 2)[-2:][-1]: m for m in tar.getmembers()
                       if m.isfile() and m.name.rsplit("/", 2)[-2] == pair}
        except (tarfile.TarError, *STREAM_ERRORS) as exc:
            raise DataError(f"{path}: truncated or corrupt tar ({exc}); delete it and fetch again") from None
        for need in ("train.src.gz", "train.trg.gz", "train.id.gz"):
            if need not in members:
                raise DataError(f"{path}: no member */{pair}/{need} (members: {sorted(members)})")
        src_m, trg_m, id_m = members["train.src.gz"], members["train.trg.gz"], members["train.id.gz"]
        progress.total += src_m.size
        where = {k: f"{path}:{m.name}" for k, m in (("src", src_m), ("trg", trg_m), ("id", id_m))}
        streams = {k: gzip.GzipFile(fileobj=_member(tar, m, progress if k == "src" else None))
                   for k, m in (("src", src_m), ("trg", trg_m), ("id", id_m))}
        lines = {k: decoded_lines(s, where[k]) for k, s in streams.items()}
        label_col = 1 if xx_first else 2
        cache: dict[str, str] = {}
        skipped: Counter[str] = Counter()
        number = 0
        for number, (a, b, ids) in enumerate(zip(lines["src"], lines["trg"], lines["id"]), start=1):
            fields = ids.split("\t")
            if len(fields) != 3:
                raise DataError(f"{where['id']}, line {number}: {len(fields)} field(s), expected 3 (corpus, src, trg label)")
            label = fields[label_col]
            if label not in cache:
                try:
                    cache[label] = canonical(label)
                except UnknownLanguageError as exc:
                    raise UnknownLanguageError(f"{where['id']}, line {number}: {exc}") from None
            if cache[label] == lang:
                xx, eng = (a, b) if xx_first else (b, a)
                yield xx, eng, f"tatoeba-{version}/{fields[0]}"
            else:
                skipped[label] += 1
        if skipped:
            logger.info("%s: %d lines of other languages skipped, by label: %s", path.name, sum(skipped.values()),
                        dict(skipped.most_common(10)))
        rest = [k for k in ("src", "trg", "id") if next(lines[k], None) is not None]
        if rest:
            raise DataError(f"sides of unequal length: {where['src']}, {where['trg']} and {where['id']} differ "
                            f"after {number} lines ({', '.join(rest)} go on)")


def _member(tar: tarfile.TarFile, member: tarfile.TarInfo, progress: Progress | None):
    fh = tar.extractfile(member)
    if fh is None:
        raise DataError(f"{tar.name}: member {member.name} has no data")
    return io.BufferedReader(CountingReader(fh, progress)) if progress is not None else fh
