"""Each model's evaluation results as MTEB result files, laid out as MTEB's result cache.

``<out>/results/<model name with / as __>/<revision>/<TaskName>.json`` plus ``model_meta.json``
(``name``, ``revision``, ...) in each revision folder: ``mteb.ResultCache(<out>).load_results()``
(or ``mteb.load_results`` with ``MTEB_CACHE=<out>``) reads every model and task back. A task file
is MTEB's ``TaskResult`` (``mteb/results/task_result.py``): ``dataset_revision``, ``task_name``,
``mteb_version``, ``scores: {split: [{hf_subset, languages, main_score, <metrics>...}]}``,
``evaluation_time``, ``kg_co2_emissions``.

Names (docs/evaluation.md, "MTEB export"): where MTEB has the same data, the task is MTEB's and
so are its subsets and language tags: ``tatoeba`` -> ``Tatoeba`` (subset ``deu-eng``, the LASER
code: ``ara-eng`` for our ``arb_Arab``; languages ``deu-Latn``, ``eng-Latn``), ``sib200`` ->
``SIB200Classification`` (subset ``deu_Latn``, the FLORES-200 code). Their ``main_score`` is ours,
not MTEB's (the mean of the subsets' main scores stays the summary's primary metric): Tatoeba's is
accuracy averaged over both directions, and the ``accuracy`` field is MTEB's own (xx->en nearest
neighbour; MTEB's main score is weighted F1, which we do not compute); SIB-200's is zero-shot
accuracy of a classifier trained on English (MTEB trains in each language). Tasks with no MTEB equivalent of the same data
keep non-colliding names: ``ems_flores`` (a subset of FLORES-200 devtest, xx->eng only; MTEB's
``FloresBitextMining`` is every pair), ``ems_mining``, ``ems_umsab``, ``ems_bucc2018`` and extra
datasets. ``mteb_version`` is the MTEB version whose format these files follow (the scores were
computed by this project); no CO2 tracking (null). A classification task's training-language row
(not zero-shot) is left out, as it is from ``<task>/acc_mean``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ems import names
from ems.datasets import SOURCE_ROLE  # task -> config sources role (the dataset revision)
from ems.errors import DataError
from ems.io import read_json, write_json
from ems.languages import ENGLISH, MULTI_SCRIPT_DEFAULT, base

logger = logging.getLogger(__name__)

SPLIT = "test"
#: MTEB's own folder name for a model without a revision.
MODEL_REVISION = "no_revision_available"
NO_REVISION = "revision_not_applicable"
#: The mteb release whose result format (folder layout, TaskResult, model_meta.json) the export follows;
#: read back with it by tests/test_mteb_export.py (docs/evaluation.md).
MTEB_FORMAT_VERSION = "2.26.24"
RESULTS_FOLDER = "results"
MODEL_META = "model_meta.json"
CLASSIFICATION = ("sib200", "umsab")
#: Our task → MTEB's task of the same data (other tasks: ``ems_<task>``, a name MTEB does not use).
MTEB_TASK = {"tatoeba": "Tatoeba", "sib200": "SIB200Classification"}
#: Canonical base code → the LASER Tatoeba code of MTEB's subset (``ara-eng``), where they differ.
TATOEBA_CODE = {"arb": "ara", "als": "sqi", "ydd": "yid", "uzn": "uzb"}
#: Canonical base code → FLORES-200 language code (SIB-200 subsets), where they differ.
FLORES_CODE = {"cmn": "zho"}
#: ISO 15924 script of languages not written in Latin (MTEB tags every language ``xxx-Scrp``).
SCRIPT = {
    **{c: "Cyrl" for c in ("rus", "ukr", "bel", "bul", "mkd", "srp", "kaz", "kir", "tgk", "tat", "bak", "mon",
                          "chv", "mhr", "orv", "sah")},
    **{c: "Arab" for c in ("arb", "ara", "arq", "arz", "ary", "acm", "apc", "ajp", "pes", "fas", "urd", "pus",
                          "uig", "snd", "ckb", "prs", "kas")},
    **{c: "Deva" for c in ("hin", "mar", "nep", "npi", "san", "mai", "awa", "bho", "mag")},
    **{c: "Beng" for c in ("ben", "asm")},
    **{c: "Hebr" for c in ("heb", "yid", "ydd")},
    **{c: "Ethi" for c in ("amh", "tir")},
    **{c: "Tibt" for c in ("bod", "dzo")},
    "tam": "Taml", "tel": "Telu", "kan": "Knda", "mal": "Mlym", "guj": "Gujr", "pan": "Guru", "ory": "Orya",
    "sin": "Sinh", "tha": "Thai", "lao": "Laoo", "khm": "Khmr", "mya": "Mymr", "kat": "Geor", "hye": "Armn",
    "ell": "Grek", "jpn": "Jpan", "kor": "Hang", "div": "Thaa",
}


def task_name(task: str) -> str:
    return MTEB_TASK.get(task, f"ems_{task}")


def model_folder(model_id: str) -> str:
    """MTEB's model folder name: ``/`` as ``__`` (``objective~both_.../seed1`` → ``objective~both_...__seed1``)."""
    return model_id.replace("/", "__").replace(" ", "_")


def revision_dir(out_root: str | os.PathLike[str], model_id: str) -> Path:
    return Path(out_root) / RESULTS_FOLDER / model_folder(model_id) / MODEL_REVISION


def result_path(out_root: str | os.PathLike[str], model_id: str, task: str) -> Path:
    return revision_dir(out_root, model_id) / f"{task_name(task)}.json"


def model_meta_path(out_root: str | os.PathLike[str], model_id: str) -> Path:
    return revision_dir(out_root, model_id) / MODEL_META


def export_paths(eval_jsons: Iterable[str | os.PathLike[str]], out_root: str | os.PathLike[str],
                 eval_root: str | os.PathLike[str]) -> list[Path]:
    """Every file :func:`export` writes for ``<eval_root>/<model_id>/<task>.json`` (the rule's outputs)."""
    out: list[Path] = []
    for path in map(Path, eval_jsons):
        model_id = path.parent.relative_to(Path(eval_root)).as_posix()
        out.append(result_path(out_root, model_id, path.stem))
        meta = model_meta_path(out_root, model_id)
        if meta not in out:
            out.append(meta)
    return out


def script(code: str) -> str:
    """ISO 15924 script of a canonical code: its own (``cmn_Hans``), else the table's, else Latin."""
    lang, _, own = code.partition("_")
    return own or MULTI_SCRIPT_DEFAULT.get(lang) or SCRIPT.get(lang, "Latn")


def language_script(code: str) -> str:
    """MTEB's ``xxx-Scrp`` spelling of a canonical code (``deu`` → ``deu-Latn``, ``cmn_Hans`` → ``cmn-Hans``)."""
    if code == ENGLISH:
        return "eng-Latn"
    return f"{base(code)}-{script(code)}"


def hf_subset(task: str, code: str) -> str:
    """The subset name: MTEB's for its tasks (``deu-eng`` Tatoeba, ``deu_Latn`` SIB-200), else ours."""
    lang = base(code)
    if task == "tatoeba":
        return f"{TATOEBA_CODE.get(lang, lang)}-{ENGLISH}"
    if task == "sib200":
        return f"{FLORES_CODE.get(lang, lang)}_{script(code)}"
    return code if task in CLASSIFICATION else f"{code}-{ENGLISH}"


def model_meta(model_id: str) -> dict[str, Any]:
    """``model_meta.json``: what ``mteb`` reads (``name``, ``revision``) and what we know of the model."""
    return {"name": model_id, "revision": MODEL_REVISION, "release_date": None, "languages": None,
            "framework": ["Sentence Transformers", "PyTorch"], "open_weights": True, "public_training_code": None,
            "public_training_data": None, "similarity_fn_name": "cosine", "loader": None}


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
        if task == "tatoeba" and "acc_xx2en" in scores:  # MTEB's accuracy: nearest English neighbour of xx
            scores["accuracy"] = scores["acc_xx2en"]
        if task in CLASSIFICATION and "acc" in scores:
            scores["accuracy"] = scores["acc"]
        out.append({**scores, "main_score": scores[main], "hf_subset": hf_subset(task, lang),
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
    return {"dataset_revision": dataset_revision(task, sources), "task_name": task_name(task),
            "mteb_version": MTEB_FORMAT_VERSION,
            "scores": {SPLIT: subsets}, "evaluation_time": float(seconds) if seconds is not None else None,
            "kg_co2_emissions": None}


def export(eval_jsons: Iterable[str | os.PathLike[str]], out_root: str | os.PathLike[str],
           sources: Mapping[str, Any] | None = None) -> list[Path]:
    """Write ``result_path`` for every eval JSON (its ``<task>.csv`` beside it gives the subsets) and each
    model's ``model_meta.json``."""
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
        meta = model_meta_path(out_root, str(doc["model_id"]))
        if meta not in written:
            write_json(meta, model_meta(str(doc["model_id"])))
            written.append(meta)
    logger.info("wrote %d MTEB result files under %s", len(written), out_root)
    return written
