"""Each model's evaluation results as MTEB result files (one JSON per task per model).

The format is MTEB's ``TaskResult`` (``mteb/results/task_result.py``): ``dataset_revision``,
``task_name``, ``mteb_version``, ``scores: {split: [{hf_subset, languages, main_score,
<metrics>...}]}``, ``evaluation_time``, ``kg_co2_emissions``; files are laid out as MTEB's
result cache lays them out, ``<model name with / as __>/<revision>/<task_name>.json``.

Documented differences (docs/ablations.md): the tasks are ours, not MTEB's (Tatoeba here is
accuracy in both directions, MTEB's is F1), so ``task_name`` is ``ems_<task>``; the scores
were not computed by the mteb package, so ``mteb_version`` is null; a language carries its
script only where our canonical code does (``cmn-Hans``; ``deu``, not ``deu-Latn``); no
CO2 tracking (null). A classification task's training-language row (not zero-shot) is left
out, as it is from ``<task>/acc_mean``, so the mean of the subsets' main scores is the
summary's primary metric.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ems.ablation import names
from ems.errors import DataError
from ems.io import read_json, write_json
from ems.languages import ENGLISH

logger = logging.getLogger(__name__)

SPLIT = "test"
#: MTEB's own folder name for a model without a revision.
MODEL_REVISION = "no_revision_available"
NO_REVISION = "revision_not_applicable"
#: Task → config ``sources`` role whose archive it reads (the dataset revision).
SOURCE_ROLE = {"tatoeba": "laser", "flores": "opus_mt_testsets", "mining": "opus_mt_testsets",
               "sib200": "sib200", "umsab": "umsab"}
CLASSIFICATION = ("sib200", "umsab")


def task_name(task: str) -> str:
    return f"ems_{task}"


def model_folder(model_id: str) -> str:
    """MTEB's model folder name: ``/`` as ``__`` (``objective~both_.../seed1`` → ``objective~both_...__seed1``)."""
    return model_id.replace("/", "__").replace(" ", "_")


def result_path(out_root: str | os.PathLike[str], model_id: str, task: str) -> Path:
    return Path(out_root) / model_folder(model_id) / MODEL_REVISION / f"{task_name(task)}.json"


def language_script(code: str) -> str:
    """MTEB's ``xxx-Scrp`` spelling of a canonical code (script only where the code has one; English is Latin)."""
    if code == ENGLISH:
        return "eng-Latn"
    lang, _, script = code.partition("_")
    return f"{lang}-{script}" if script else lang


def dataset_revision(task: str, sources: Mapping[str, Any] | None) -> str:
    role = SOURCE_ROLE.get(task)
    src = (sources or {}).get(role) if role else None
    return f"{src['repo']}@{src['commit']}" if src else NO_REVISION


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return value if math.isfinite(float(value)) else None
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


def _subsets(task: str, primary: str, rows: pd.DataFrame) -> list[dict[str, Any]]:
    main = names.MAIN_METRIC.get(task) or primary.split("/", 1)[-1]
    if main not in rows.columns:
        main = "acc" if "acc" in rows.columns else main
    if main not in rows.columns:
        raise DataError(f"{task}: per-language table has no column {main!r} for the main score")
    pair = "zero_shot" not in rows.columns and task not in CLASSIFICATION  # retrieval and mining: xx-eng pairs
    if "zero_shot" in rows.columns:
        rows = rows[rows["zero_shot"].astype(str).str.lower().isin(["true", "1"])]
    out = []
    for rec in rows.to_dict(orient="records"):
        lang = str(rec.pop("lang"))
        rec.pop("model_id", None)
        rec.pop("zero_shot", None)
        scores = {k: _plain(v) for k, v in rec.items()}
        out.append({**scores, "main_score": scores[main], "hf_subset": f"{lang}-{ENGLISH}" if pair else lang,
                    "languages": [language_script(lang), "eng-Latn"] if pair else [language_script(lang)]})
    return out


def task_result(doc: Mapping[str, Any], per_language: pd.DataFrame | None,
                sources: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The MTEB ``TaskResult`` dict of one evaluation summary (``eval/<model>/<task>.json``) and its CSV."""
    task = str(doc["task"])
    primary = str(doc["primary_metric"])
    metrics = doc["metrics"]
    if per_language is not None and not per_language.empty:
        subsets = _subsets(task, primary, per_language)
    else:
        prefix = f"{task}/"
        flat = {k[len(prefix):]: v for k, v in metrics.items() if k.startswith(prefix) and k.count("/") == 1}
        subsets = [{**flat, "main_score": metrics[primary], "hf_subset": "default", "languages": []}]
    seconds = metrics.get(f"{task}/seconds")
    return {"dataset_revision": dataset_revision(task, sources), "task_name": task_name(task), "mteb_version": None,
            "scores": {SPLIT: subsets}, "evaluation_time": float(seconds) if seconds is not None else None,
            "kg_co2_emissions": None}


def export(eval_jsons: Iterable[str | os.PathLike[str]], out_root: str | os.PathLike[str],
           sources: Mapping[str, Any] | None = None) -> list[Path]:
    """Write ``result_path`` for every eval JSON (its ``<task>.csv`` beside it gives the subsets)."""
    written = []
    for path in map(Path, eval_jsons):
        try:
            doc = read_json(path)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read evaluation summary {path}: {exc}") from exc
        if not isinstance(doc, dict) or not {"task", "model_id", "primary_metric", "metrics"} <= set(doc):
            raise DataError(f"{path}: expected task, model_id, primary_metric and metrics (docs/interfaces.md)")
        csv = path.with_suffix(".csv")
        try:
            rows = pd.read_csv(csv) if csv.exists() else None
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read per-language table {csv}: {exc}") from exc
        result = task_result(doc, rows, sources)
        out = result_path(out_root, str(doc["model_id"]), str(doc["task"]))
        write_json(out, result)
        written.append(out)
    logger.info("wrote %d MTEB result files under %s", len(written), out_root)
    return written
