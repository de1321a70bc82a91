"""Training corpora by configuration (``corpus.sources``): one reader per kind, one job per language.

A source entry names a kind and a pinned version:

- ``opus_mt_testsets``: the OPUS-MT-testsets archive of ``sources.opus_mt_testsets`` (offline default);
- ``opus``: an OPUS corpus in Moses format, one zip per language pair (:mod:`.opus`);
- ``tatoeba_challenge``: a Tatoeba-Challenge training release, one tar per pair (:mod:`.tatoeba`);
- ``tsv``: the user's own files, a path pattern with ``{lang}`` (:mod:`.tsv`).

Each source lists its languages as canonical codes, or maps canonical codes to the codes
its publisher uses. :func:`remote_files` says which files a language needs (fetched and
verified by the ``fetch_corpus`` rule); :func:`iter_pairs` streams one language's pairs.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ems.data.corpora.lines import Progress
from ems.errors import ConfigError, UnknownLanguageError
from ems.languages import ENGLISH, canonical
from ems.paths import source_name

DOWNLOAD_KINDS = ("opus", "tatoeba_challenge")
DEFAULT_LOCK_DIR = Path("locks")


@dataclass(frozen=True)
class RemoteFile:
    """One upstream file of a corpus: where it comes from and where it is kept."""

    source: str  #: the source id (folder under results/sources)
    name: str  #: file name in that folder and in the lock file
    url: str


def source_id(entry: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """The folder name of a source under ``<results_dir>/sources``."""
    kind = entry["kind"]
    if kind == "opus_mt_testsets":
        src = config["sources"]["opus_mt_testsets"]
        return source_name(src["repo"], src["commit"])
    if kind == "opus":
        return f"opus+{entry['corpus']}@{entry['version']}"
    if kind == "tatoeba_challenge":
        return f"tatoeba_challenge@{entry['version']}"
    return f"tsv+{entry['name']}"


def lock_file(entry: Mapping[str, Any], config: Mapping[str, Any]) -> Path:
    """The committed sha256 lock of a download source (``lock`` or ``locks/<source id>.sha256``)."""
    return Path(entry.get("lock") or DEFAULT_LOCK_DIR / f"{source_id(entry, config)}.sha256")


def code_map(entry: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, str]:
    """``{canonical code: the publisher's code}`` of a source's languages."""
    kind = entry["kind"]
    if kind == "opus_mt_testsets":
        from ems.data.corpora.testsets import inventory

        return {lang: lang for lang in inventory(source_id(entry, config))}
    langs = entry["languages"]
    pairs = langs.items() if isinstance(langs, Mapping) else ((code, None) for code in langs)
    out = {}
    for code, theirs in pairs:
        try:
            canon = canonical(code)
        except UnknownLanguageError as exc:
            raise ConfigError(f"corpus.sources ({source_id(entry, config)}).languages: {exc}") from None
        if canon != code:
            raise ConfigError(f"corpus.sources ({source_id(entry, config)}).languages: {code!r} is not canonical (use {canon!r})")
        if canon == ENGLISH:
            raise ConfigError(f"corpus.sources ({source_id(entry, config)}).languages: English is the other side of every pair")
        out[canon] = theirs or default_code(kind, canon)
    return out


def default_code(kind: str, lang: str) -> str:
    """The publisher's code of a canonical language when the config gives none."""
    from ems.languages import iso639_3

    base = lang.split("_", 1)[0]
    if kind == "opus":
        return iso639_3()[base][0] or base
    if kind == "tatoeba_challenge":
        from ems.data.corpora.tatoeba import MACRO_OF

        return MACRO_OF.get(base, base)
    return lang


def languages(entry: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    return sorted(code_map(entry, config))


def remote_files(entry: Mapping[str, Any], config: Mapping[str, Any], lang: str) -> list[RemoteFile]:
    """Files to fetch for ``lang`` (none for the local kinds)."""
    kind = entry["kind"]
    codes = code_map(entry, config)
    if kind not in DOWNLOAD_KINDS or lang not in codes:
        return []
    sid = source_id(entry, config)
    if kind == "opus":
        from ems.data.corpora import opus

        return [RemoteFile(sid, opus.file_name(codes[lang]),
                           opus.url(entry["url"], entry["corpus"], entry["version"], codes[lang]))]
    from ems.data.corpora import tatoeba

    return [RemoteFile(sid, tatoeba.file_name(codes[lang]), tatoeba.url(entry["url"], entry["version"], codes[lang]))]


def iter_pairs(entry: Mapping[str, Any], config: Mapping[str, Any], lang: str, sources_root: str | os.PathLike[str],
               progress: Progress) -> Iterator[tuple[str, str, str]]:
    """``(xx, eng, origin)`` of every pair of ``lang`` in one source (nothing if it lacks the language)."""
    codes = code_map(entry, config)
    if lang not in codes:
        return
    pairs = _iter_source(entry, lang, codes[lang], Path(sources_root) / source_id(entry, config), progress)
    limit = entry.get("max_pairs")
    yield from itertools.islice(pairs, limit) if limit else pairs


def _iter_source(entry: Mapping[str, Any], lang: str, code: str, folder: Path,
                 progress: Progress) -> Iterator[tuple[str, str, str]]:
    kind = entry["kind"]
    if kind == "opus_mt_testsets":
        from ems.data.corpora import testsets

        yield from testsets.iter_pairs(folder, lang, progress)
    elif kind == "opus":
        from ems.data.corpora import opus

        yield from opus.iter_pairs(folder / opus.file_name(code), entry["corpus"], code, progress)
    elif kind == "tatoeba_challenge":
        from ems.data.corpora import tatoeba

        yield from tatoeba.iter_pairs(folder / tatoeba.file_name(code), entry["version"], code, lang,
                                      progress)
    else:
        from ems.data.corpora import tsv

        yield from tsv.iter_pairs(entry, code, progress)


def corpus_languages(config: Mapping[str, Any]) -> list[str]:
    """The training languages: ``corpus.languages``, or with ``all`` every language of every source.

    A listed language that no source holds is a ConfigError naming it, before any job runs.
    """
    available: set[str] = set()
    for entry in config["corpus"]["sources"]:
        available |= set(code_map(entry, config))
    wanted = config["corpus"]["languages"]
    if wanted == "all":
        return sorted(available)
    if isinstance(wanted, str):
        raise ConfigError(f'corpus.languages: {wanted!r} is not allowed here; use "all" or a list of codes')
    missing = sorted(set(wanted) - available)
    if missing:
        raise ConfigError(f"corpus.languages: {missing} are in no corpus.sources entry; add a source or remove them")
    return sorted(set(wanted))
