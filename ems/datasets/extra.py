"""Reading the datasets added by configuration alone (``evaluation.extra_datasets``), e.g. MLDoc or MARC files.

Each entry names a path pattern with ``{lang}`` (the dataset's own code) and ``{split}``, a
format (``tsv``, ``csv``, ``jsonl``, or ``lines`` = one sentence per line), the columns to
read and a language mapping (dataset code → canonical code); entries arrive validated, with the
schema's defaults filled. Evaluation (:mod:`ems.evaluation.extra`) and decontamination
(:mod:`ems.data.decontaminate`) both read them through here. See docs/evaluation.md.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ems.datasets import decode_escapes
from ems.datasets._io import read_lines
from ems.errors import ConfigError, DataError
from ems.languages import canonical

logger = logging.getLogger(__name__)

FORMATS = ("tsv", "csv", "jsonl", "lines")


def language_map(entry: Mapping[str, Any]) -> dict[str, str]:
    """Canonical code → the dataset's own code (``languages`` is a list or a mapping)."""
    langs = entry.get("languages")
    if not langs:
        raise ConfigError(f"evaluation.extra_datasets[{entry.get('name')}].languages: required")
    pairs = langs.items() if isinstance(langs, Mapping) else ((code, code) for code in langs)
    out = {}
    for own, canon in pairs:
        out[canonical(str(canon))] = str(own)
    return out


#: ``quoting`` option of tsv/csv entries: ``minimal`` (default) reads fields in double quotes,
#: which may hold tabs, commas, newlines and doubled quotes (""), as Python's csv and pandas
#: write them; ``none`` takes every character literally (a quote is text; no field spans lines).
QUOTING = {"minimal": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}


def require_file(path: Path) -> Path:
    """``path`` itself: FileNotFoundError when absent (a missing language, the caller's skip policy
    decides), DataError when it is a folder (a pattern that stops at a directory)."""
    if path.is_dir():
        raise DataError(f"{path}: a folder, not a data file; check the path pattern of evaluation.extra_datasets")
    if not path.exists():
        raise FileNotFoundError(path)
    return path


def read_table(path: Path, fmt: str, columns: Sequence[str], header: bool, quoting: str = "minimal") -> pd.DataFrame:
    """The named ``columns`` of a tsv/csv/jsonl file (names, or 0-based positions without header)."""
    if quoting not in QUOTING:
        raise ConfigError(f"quoting must be one of {sorted(QUOTING)}, not {quoting!r}")
    require_file(path)
    try:
        if fmt == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        else:
            frame = pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", header=0 if header else None,
                                quoting=QUOTING[quoting], dtype=str, keep_default_na=False, encoding="utf-8")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read as {fmt}: {exc}") from exc
    if not header and fmt != "jsonl":
        frame.columns = [str(c) for c in frame.columns]
    missing = [c for c in columns if str(c) not in frame.columns]
    if missing:
        raise DataError(f"{path}: column(s) {missing} not found; it has {list(frame.columns)}")
    return frame[[str(c) for c in columns]]


def _fill(pattern: str, own: str, split: str) -> Path:
    return Path(pattern.format(lang=own, split=split))


def _two_columns(entry: Mapping[str, Any], own: str, split: str, second_path: str,
                 columns: tuple[str, str]) -> tuple[list[str], list[str]]:
    """Two aligned columns of an entry's ``split``: two line files (format ``lines``: ``path`` and the key
    ``second_path``) or the ``columns`` of one table."""
    name, fmt = entry["name"], entry["format"]
    if fmt == "lines":
        if not entry.get(second_path):
            raise ConfigError(f"evaluation.extra_datasets[{name}]: format 'lines' needs {second_path}")
        first_path, other_path = _fill(entry["path"], own, split), _fill(entry[second_path], own, split)
        first, second = read_lines(require_file(first_path)), read_lines(require_file(other_path))
        if len(first) != len(second):
            raise DataError(f"ragged files: {first_path} has {len(first)} lines, {other_path} {len(second)}")
        return first, second
    cols = entry.get("columns") or {}
    if any(c not in cols for c in columns):
        raise ConfigError(f"evaluation.extra_datasets[{name}].columns needs {columns[0]} and {columns[1]}")
    frame = read_table(_fill(entry["path"], own, split), fmt, [cols[columns[0]], cols[columns[1]]], entry["header"],
                       entry["quoting"])
    return frame.iloc[:, 0].astype(str).tolist(), frame.iloc[:, 1].astype(str).tolist()


def load_labelled(entry: Mapping[str, Any], own: str, split: str) -> tuple[list[str], list[str]]:
    """(texts, labels) of a classification entry's ``split`` in the dataset's language ``own``."""
    texts, labels = _two_columns(entry, own, split, "label_path", ("text", "label"))
    if entry["unescape"]:
        texts = [decode_escapes(t) for t in texts]
    return texts, [str(label) for label in labels]


def load_pairs(entry: Mapping[str, Any], own: str, split: str) -> tuple[list[str], list[str]]:
    """(source sentences, English sentences) of a retrieval entry's ``split`` in the dataset's language ``own``."""
    return _two_columns(entry, own, split, "target_path", ("src", "tgt"))


def dataset_sentences(entry: Mapping[str, Any]) -> Iterator[str]:
    """Every sentence of an entry (all languages and splits, both sides), for decontamination.

    Files that do not exist are skipped with a log line (evaluation reports them per language).
    ``entry`` comes validated (the schema's defaults filled: ``header``, ``quoting``, ``splits``, ``split``...).
    """
    langs = language_map(entry)
    if entry.get("type") == "classification":
        splits = entry["splits"]
        for own in langs.values():
            for split in dict.fromkeys(splits.values()):
                try:
                    yield from load_labelled(entry, own, split)[0]
                except FileNotFoundError as exc:
                    logger.info("%s: no %s file for %s: %s", entry.get("name"), split, own, exc)
    elif entry.get("type") == "retrieval":
        for own in langs.values():
            try:
                src, tgt = load_pairs(entry, own, entry["split"])
            except FileNotFoundError as exc:
                logger.info("%s: no file for %s: %s", entry.get("name"), own, exc)
                continue
            yield from src
            yield from tgt
    else:
        raise ConfigError(f"evaluation.extra_datasets[{entry.get('name')}].type must be classification or retrieval")
