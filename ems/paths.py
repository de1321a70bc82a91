"""Names and paths of the results folder: source folders, model ids, checkpoints, results.

One place for facts that the rule files and the package both need, so that a folder a rule
writes is the folder a CLI reads:

    <results_dir>/sources/<owner>+<repo>@<commit>/      extracted, verified source archive (.verified.json)
    <results_dir>/<name>/corpus/                        data stage: eval_keys/, languages/<lang>/, plan/,
                                                        split/<lang>/, sampling.csv, clean.removed.csv,
                                                        decontamination.csv
    <results_dir>/<name>/tokenizer/                     the shared tokenizer
    <results_dir>/<name>/shards/<split>/                token shards (parts/<split>/<lang>/, train-frac<f>/)
    <results_dir>/<name>/stats/                         pairs_per_language.{csv,pdf,png}
    <results_dir>/<name>/models/<model_id>/             a trained model (MODEL_FOLDER_FILES)
    <results_dir>/<name>/models/<model_id>/release/     its loadable release: model/ + card with results
    <results_dir>/<name>/checkpoints/<model_id>/        resumable checkpoints of its training
    <results_dir>/<name>/eval/<model_id>/<task>.json    evaluation results (+ <task>.csv, cache/)
    <results_dir>/<name>/tracking/parent.json           the configuration's parent tracking run
    <results_dir>/<name>/tracking/                      run_names.json, peers/<peer>.json, ablation_summary.json
    <results_dir>/<name>/tune/                          setup.json, workers/, best_params.yaml, trials.csv, figures/
    <results_dir>/<name>/ablation/                      aggregates (ABLATION_AGGREGATE_FILES)
    <results_dir>/<name>/{figures,tables,mteb}/         paper figures, tables, the MTEB export
    <results_dir>/<name>/peers/official-ems/model/      the authors' checkpoint, imported
    <results_dir>/sources/official-ems/<file>           that checkpoint when configured as a URL

Every function takes wildcard patterns too (``model_dir(results, model_id("{variant}", "{seed}"))``), so the rule
files build their ``output:`` patterns here and ``tests/test_rule_paths.py`` checks that they agree.

A model id is ``<variant>/seed<seed>`` for an EMS model of the ablation grid and
``peer-<name>`` for a peer encoder.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PEER_PREFIX = "peer-"
#: One segment: a grid variant id (``ems.grid`` checks its form).
VARIANT_SEGMENT_REGEX = r"[^/]+"
PEER_ID_REGEX = r"peer-[a-z0-9-]+"
EMS_MODEL_ID_REGEX = rf"{VARIANT_SEGMENT_REGEX}/seed[0-9]+"
#: Any model id (a wildcard constraint: no named groups).
MODEL_ID_REGEX = rf"{PEER_ID_REGEX}|{EMS_MODEL_ID_REGEX}"


def source_name(repo: str, commit: str) -> str:
    """``<owner>+<repo>@<commit>``: a source's folder (and, + ``.tar.gz``, its mirror file) name."""
    owner, name = repo.split("/")
    return f"{owner}+{name}@{commit}"


def sources_root(config: Mapping[str, Any]) -> Path:
    """``<results_dir>/sources``: shared by every configuration name."""
    return Path(config["results_dir"]) / "sources"


def source_dir(config: Mapping[str, Any], role: str) -> Path:
    """Extracted, verified archive folder of a source role (laser, opus_mt_testsets, ...)."""
    src = config["sources"][role]
    return sources_root(config) / source_name(src["repo"], src["commit"])


def corpus_source_file(config: Mapping[str, Any], source: str, name: str) -> Path:
    """``<results_dir>/sources/<source id>/<file>``: one fetched corpus file (rule fetch_corpus; ids from
    ``ems.data.corpora``: ``opus+<corpus>@<version>``, ``tatoeba_challenge@<version>``)."""
    return sources_root(config) / source / name


#: The file a fetched source folder holds once every file is verified (rule fetch's output).
SOURCE_MARKER = ".verified.json"


def source_marker(source_folder: str | os.PathLike[str]) -> Path:
    """``<source folder>/.verified.json``: the fetch rule's output (``source_dir(config, role)`` or a pattern)."""
    return Path(source_folder) / SOURCE_MARKER


def results_root(config: Mapping[str, Any]) -> Path:
    """``<results_dir>/<name>``: everything one configuration produces."""
    return Path(config["results_dir"]) / config["name"]


def _is_pattern(value: object) -> bool:
    """A Snakemake wildcard (``{seed}``, ``{{seed}}``) rather than a value."""
    return isinstance(value, str) and re.fullmatch(r"\{+[A-Za-z_][A-Za-z0-9_]*\}+", value) is not None


def model_id(variant: str, seed: int | str) -> str:
    """``<variant>/seed<seed>``: the id of one training run of a grid cell (``model_id("{variant}", "{seed}")``
    is the rule pattern)."""
    return f"{variant}/seed{seed if _is_pattern(seed) else int(seed)}"


def split_model_id(mid: str) -> tuple[str, int] | None:
    """``(variant, seed)`` of an EMS model id; None for peers and other ids."""
    m = re.fullmatch(rf"({VARIANT_SEGMENT_REGEX})/seed([0-9]+)", mid)
    return (m[1], int(m[2])) if m else None


def is_peer(mid: str) -> bool:
    return mid.startswith(PEER_PREFIX)


def peer_id(name: str) -> str:
    return f"{PEER_PREFIX}{name}"


def peer_name(mid: str) -> str:
    """The peer encoder's name of a ``peer-<name>`` id."""
    return mid[len(PEER_PREFIX):]


def models_root(results: str | os.PathLike[str]) -> Path:
    return Path(results) / "models"


def model_dir(results: str | os.PathLike[str], mid: str) -> Path:
    """``<results>/models/<model_id>``: the files of :data:`MODEL_FOLDER_FILES`."""
    return models_root(results) / mid


#: A trained model's folder, file by file: ``ems.train.outputs`` writes them (``run.json`` last: the train rule's
#: completion marker), the train rule declares them, the tracking plug-in logs them. ``model`` is a folder
#: (encoder + tokenizer); a peer imported as a model folder (``official_peer_dir``) has ``model`` and ``heads``.
MODEL_FOLDER_FILES: dict[str, str] = {
    "model": "model",
    "heads": "heads.pt",
    "history": "history.csv",
    "settings": "settings.resolved.json",
    "curve": "loss_curve.png",
    "run": "run.json",
}


def model_file(folder: str | os.PathLike[str], key: str) -> Path:
    """``<model folder>/<MODEL_FOLDER_FILES[key]>`` (``model_file(model_dir(results, mid), "heads")``)."""
    return Path(folder) / MODEL_FOLDER_FILES[key]


def release_dir(results: str | os.PathLike[str], mid: str) -> Path:
    """``<results>/models/<model_id>/release``: the loadable model with its full card (rule model_card;
    weight files hard-linked to ``model/``, which is the train rule's output and never changed)."""
    return model_dir(results, mid) / "release"


def checkpoint_dir(results: str | os.PathLike[str], mid: str) -> Path:
    """``<results>/checkpoints/<model_id>``: resumable checkpoints (kept apart from the model folder)."""
    return Path(results) / "checkpoints" / mid


def run_json(results: str | os.PathLike[str], mid: str) -> Path:
    return model_file(model_dir(results, mid), "run")


def eval_root(results: str | os.PathLike[str]) -> Path:
    return Path(results) / "eval"


def eval_dir(results: str | os.PathLike[str], mid: str) -> Path:
    return eval_root(results) / mid


def eval_json(results: str | os.PathLike[str], mid: str, task: str) -> Path:
    return eval_dir(results, mid) / f"{task}.json"


def eval_csv(results: str | os.PathLike[str], mid: str, task: str) -> Path:
    """Per-language rows of one evaluation (beside :func:`eval_json`)."""
    return eval_dir(results, mid) / f"{task}.csv"


def eval_cache_dir(results: str | os.PathLike[str], mid: str) -> Path:
    """Embedding cache of one model's evaluations."""
    return eval_dir(results, mid) / "cache"


def tracking_dir(results: str | os.PathLike[str]) -> Path:
    return Path(results) / "tracking"


def parent_json(results: str | os.PathLike[str]) -> Path:
    return tracking_dir(results) / "parent.json"


def run_names_json(results: str | os.PathLike[str]) -> Path:
    """The grid's short MLflow run names (rule tracking_names)."""
    return tracking_dir(results) / "run_names.json"


def peer_run_json(results: str | os.PathLike[str], mid: str) -> Path:
    """``tracking/peers/<peer>.json``: a peer's one MLflow run (rule tracking_peer); not under ``eval/`` (every
    JSON there is an evaluation result)."""
    return tracking_dir(results) / "peers" / f"{mid}.json"


def ablation_summary_json(results: str | os.PathLike[str]) -> Path:
    """Receipt of the parent run's summary (rule ablation_mlflow_summary)."""
    return tracking_dir(results) / "ablation_summary.json"


def shards_dir(results: str | os.PathLike[str], split: str = "train") -> Path:
    return Path(results) / "shards" / split


def subset_shards_dir(results: str | os.PathLike[str], fraction: str | float) -> Path:
    """``shards/train-frac<fraction>``: a data-fraction subset of the training shards (``"{fraction}"`` or 0.25)."""
    tag = fraction if _is_pattern(fraction) else repr(float(fraction))
    return Path(results) / "shards" / f"train-frac{tag}"


def tokenizer_dir(results: str | os.PathLike[str]) -> Path:
    return Path(results) / "tokenizer"


# The data stage (docs/data.md): one folder per language at each step.
def corpus_dir(results: str | os.PathLike[str]) -> Path:
    return Path(results) / "corpus"


def eval_keys_dir(results: str | os.PathLike[str]) -> Path:
    """64-bit keys of every evaluation sentence (decontamination)."""
    return corpus_dir(results) / "eval_keys"


def plan_dir(results: str | os.PathLike[str]) -> Path:
    """Validation split and temperature targets (rule plan); its tables lie beside it in ``corpus/``."""
    return corpus_dir(results) / "plan"


def sampling_csv(results: str | os.PathLike[str]) -> Path:
    return corpus_dir(results) / "sampling.csv"


def clean_removed_csv(results: str | os.PathLike[str]) -> Path:
    return corpus_dir(results) / "clean.removed.csv"


def decontamination_csv(results: str | os.PathLike[str]) -> Path:
    return corpus_dir(results) / "decontamination.csv"


def stats_file(results: str | os.PathLike[str], ext: str) -> Path:
    """``stats/pairs_per_language.<ext>`` (csv, pdf, png; rule data_stats)."""
    return Path(results) / "stats" / f"pairs_per_language.{ext}"


def languages_root(results: str | os.PathLike[str]) -> Path:
    return corpus_dir(results) / "languages"


def language_dir(results: str | os.PathLike[str], lang: str) -> Path:
    """``corpus/languages/<lang>``: the language's clean, decontaminated pairs, keys and counts."""
    return languages_root(results) / lang


def splits_root(results: str | os.PathLike[str]) -> Path:
    return corpus_dir(results) / "split"


def split_dir(results: str | os.PathLike[str], lang: str) -> Path:
    """``corpus/split/<lang>``: its train sample, validation pairs and tokenizer sample."""
    return splits_root(results) / lang


def shard_parts_root(results: str | os.PathLike[str], split: str) -> Path:
    return Path(results) / "shards" / "parts" / split


def shard_part_dir(results: str | os.PathLike[str], split: str, lang: str) -> Path:
    """``shards/parts/<split>/<lang>``: one language's token shards, merged into ``shards/<split>``."""
    return shard_parts_root(results, split) / lang


# The tune stage (docs/tuning.md): one Optuna study per configuration.
def tune_dir(results: str | os.PathLike[str]) -> Path:
    """The study folder: journal storage, ``setup.json``, ``workers/``, ``best_params.yaml``, ``trials.csv``."""
    return Path(results) / "tune"


def tune_setup_json(results: str | os.PathLike[str]) -> Path:
    return tune_dir(results) / "setup.json"


def tune_worker_json(results: str | os.PathLike[str], worker: int | str) -> Path:
    """``tune/workers/worker-<worker>.json``: one worker's done marker."""
    return tune_dir(results) / "workers" / f"worker-{worker}.json"


def tune_best_params(results: str | os.PathLike[str]) -> Path:
    return tune_dir(results) / "best_params.yaml"


def tune_trials_csv(results: str | os.PathLike[str]) -> Path:
    return tune_dir(results) / "trials.csv"


def tune_figure(results: str | os.PathLike[str], name: str, ext: str) -> Path:
    """``tune/figures/<name>.<ext>`` (history, importances, parallel; png and pdf)."""
    return tune_dir(results) / "figures" / f"{name}.{ext}"


# The report stage (docs/ablations.md).
def ablation_dir(results: str | os.PathLike[str]) -> Path:
    return Path(results) / "ablation"


#: The aggregates of the ablation grid (rule ablation_aggregate; ``ems.ablation.aggregate`` writes them).
ABLATION_AGGREGATE_FILES: dict[str, str] = {
    "long": "long.csv",
    "summary": "summary.csv",
    "differences": "differences.csv",
    "per_language": "per_language.csv",
    "per_language_long": "per_language_long.csv",
}


def ablation_file(results: str | os.PathLike[str], key: str) -> Path:
    return ablation_dir(results) / ABLATION_AGGREGATE_FILES[key]


def figures_dir(results: str | os.PathLike[str]) -> Path:
    return Path(results) / "figures"


def tables_dir(results: str | os.PathLike[str]) -> Path:
    return Path(results) / "tables"


def mteb_dir(results: str | os.PathLike[str]) -> Path:
    """The evaluation results as MTEB's result cache (rule ablation_mteb_export)."""
    return Path(results) / "mteb"


#: The peer that is the authors' trained model (evaluation.official_ems).
OFFICIAL_PEER = "official-ems"


def official_peer_dir(results: str | os.PathLike[str]) -> Path:
    """``<results>/peers/official-ems``: the imported authors' model (``model/``, ``heads.pt``)."""
    return Path(results) / "peers" / OFFICIAL_PEER


def official_download_dir(config: Mapping[str, Any]) -> Path:
    """``<results_dir>/sources/official-ems``: where a configured URL of the authors' checkpoint is downloaded."""
    return sources_root(config) / OFFICIAL_PEER


def official_checkpoint(config: Mapping[str, Any]) -> Path:
    """The authors' checkpoint as a local file: the configured path, or where a configured URL is downloaded
    (``<results_dir>/sources/official-ems/<file name of the URL>``)."""
    from urllib.parse import urlparse

    checkpoint = str(config["evaluation"]["official_ems"]["checkpoint"])
    if checkpoint.startswith(("http://", "https://")):
        return official_download_dir(config) / (Path(urlparse(checkpoint).path).name or "EMS_model.pt")
    return Path(checkpoint)
