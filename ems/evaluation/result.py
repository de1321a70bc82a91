"""The result of one evaluation, its files (per-language CSV, summary JSON) and language selection."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ems.errors import ConfigError, DataError
from ems.io import atomic_open, write_json

logger = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """Flat metrics (keys carry the definition: ``tatoeba/acc_xx2en``) and per-language rows."""

    task: str
    primary_metric: str
    metrics: dict[str, float]
    rows: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def primary(self) -> float:
        return self.metrics[self.primary_metric]

    def to_json(self, model_id: str) -> dict[str, Any]:
        return {"task": self.task, "model_id": model_id, "primary_metric": self.primary_metric,
                "metrics": self.metrics, "params": self.params, "skipped": self.skipped}

    def write(self, csv_path: str | os.PathLike[str], json_path: str | os.PathLike[str], model_id: str) -> None:
        """Per-language CSV (column ``lang`` first) and the summary JSON, both atomically."""
        frame = pd.DataFrame(self.rows)
        if "lang" in frame.columns:
            frame = frame[["lang"] + [c for c in frame.columns if c != "lang"]]
        frame.insert(0, "model_id", model_id)
        with atomic_open(csv_path) as fh:
            frame.to_csv(fh, index=False, float_format="%.6g")
        write_json(json_path, self.to_json(model_id))


def mean(values: Iterable[float]) -> float:
    vals = list(values)
    if not vals:
        raise DataError("mean over no languages")
    return float(sum(vals) / len(vals))


def finite(metrics: Mapping[str, float], where: str) -> None:
    """Refuse NaN/inf metrics: a wrong number must never be written silently."""
    bad = [k for k, v in metrics.items() if not math.isfinite(float(v))]
    if bad:
        raise DataError(f"{where}: non-finite metric(s) {bad[:5]}")


class Skips:
    """Collects languages left out, each logged; ``policy`` 'error' raises instead."""

    def __init__(self, task: str, policy: str) -> None:
        if policy not in ("error", "skip"):
            raise ConfigError(f"evaluation.on_missing_language must be 'error' or 'skip', not {policy!r}")
        self.task, self.policy, self.items = task, policy, []  # type: ignore[var-annotated]

    def add(self, lang: str, reason: str) -> None:
        if self.policy == "error":
            raise DataError(f"{self.task}: language {lang!r}: {reason} "
                            "(set evaluation.on_missing_language: skip to leave it out)")
        logger.warning("%s: skipping language %s: %s", self.task, lang, reason)
        self.items.append({"lang": lang, "reason": reason})


def select_languages(task: str, available: Iterable[str], requested: str | Sequence[str],
                     train_languages: Sequence[str] | None, skips: Skips) -> list[str]:
    """Resolve ``all`` / ``train`` / a list against the languages a dataset has.

    A requested language the dataset lacks goes through ``skips`` (error or logged skip).
    English is never a test language of an X→English set.
    """
    avail = sorted(set(available))
    if requested == "all":
        wanted = avail
    elif requested == "train":
        if train_languages is None:
            raise ConfigError(f"{task}: languages 'train' needs the training languages (--train-meta)")
        wanted = [lang for lang in train_languages if lang != "eng"]
    elif isinstance(requested, str):
        raise ConfigError(f"{task}: languages must be 'all', 'train' or a list, not {requested!r}")
    else:
        wanted = list(dict.fromkeys(_checked_codes(task, requested)))
    out = []
    for lang in wanted:
        if lang in avail:
            out.append(lang)
        else:
            skips.add(lang, "not in the dataset")
    return out


def _checked_codes(task: str, requested: Sequence[str]) -> list[str]:
    """A requested language list must hold canonical codes; anything else is a ConfigError naming it."""
    from ems.errors import UnknownLanguageError
    from ems.languages import canonical

    key = (f"evaluation.{task}.languages" if task in ("tatoeba", "flores", "sib200", "umsab")
           else f"evaluation.extra_datasets[{task}].languages")
    for code in requested:
        if not isinstance(code, str):
            raise ConfigError(f"{key}: {code!r} is not a language code")
        try:
            canon = canonical(code)
        except UnknownLanguageError as exc:
            raise ConfigError(f"{key}: {exc}") from exc
        if canon != code:
            raise ConfigError(f"{key}: {code!r} is not canonical; write {canon!r}")
    return list(requested)
