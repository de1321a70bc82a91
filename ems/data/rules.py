"""Helpers of ``workflow/rules/data.smk``: which files each per-language job reads and its settings.

Kept in the package (not the rule file) so that the rule file holds rules only and the logic is
importable and testable. A language job's settings hold only what it reads (its own sources and
the filters), so that adding a language or changing the sampling reruns no other language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ems import paths
from ems.config import settings_json
from ems.data import corpora
from ems.data.corpora import tsv as corpus_tsv

PREPARE_KEYS = ("min_chars", "max_chars", "max_length_ratio")
PLAN_KEYS = ("min_pairs_per_language", "valid_pairs_per_language", "sampling_temperature",
             "max_pairs_per_language", "max_train_pairs", "seed")


def alternatives(values: Iterable[str]) -> str:
    """A wildcard constraint matching exactly ``values`` (nothing when empty)."""
    return "|".join(re.escape(v) for v in sorted(set(values))) or "$^"


def corpus_files(config: Mapping[str, Any], langs: Iterable[str]) -> dict[tuple[str, str], tuple[dict, Any]]:
    """``{(source id, file name): (source entry, RemoteFile)}`` of every file the languages need."""
    return {(f.source, f.name): (entry, f) for entry in config["corpus"]["sources"] for lang in langs
            for f in corpora.remote_files(entry, config, lang)}


def language_entries(config: Mapping[str, Any], lang: str) -> list[dict]:
    """The corpus.sources entries that hold ``lang``."""
    return [e for e in config["corpus"]["sources"] if lang in corpora.code_map(e, config)]


def language_inputs(config: Mapping[str, Any], lang: str) -> list[Path]:
    """Fetched files, the OPUS-MT-testsets marker, or the user's files that a language job reads."""
    out: list[Path] = []
    for entry in language_entries(config, lang):
        if entry["kind"] == "opus_mt_testsets":
            out.append(paths.source_marker(paths.source_dir(config, "opus_mt_testsets")))
        elif entry["kind"] == "tsv":
            out.append(corpus_tsv.path_for(entry, corpora.code_map(entry, config)[lang]))
        else:
            out += [paths.corpus_source_file(config, f.source, f.name) for f in corpora.remote_files(entry, config, lang)]
    return out


def prepare_settings(config: Mapping[str, Any], lang: str) -> str:
    corpus = {k: config["corpus"][k] for k in PREPARE_KEYS}
    corpus["sources"] = language_entries(config, lang)
    return settings_json({"corpus": corpus, "sources": config["sources"]})


def plan_settings(config: Mapping[str, Any]) -> str:
    return settings_json({k: config["corpus"][k] for k in PLAN_KEYS})
