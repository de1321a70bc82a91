"""Names and paths of the results folder: source folders, model ids, checkpoints, results.

One place for facts that the rule files and the package both need, so that a folder a rule
writes is the folder a CLI reads:

    <results_dir>/sources/<owner>+<repo>@<commit>/      extracted, verified source archive
    <results_dir>/<name>/models/<model_id>/             a trained model (run.json, model/, heads.pt)
    <results_dir>/<name>/models/<model_id>/release/     its loadable release: model/ + card with results
    <results_dir>/<name>/checkpoints/<model_id>/        resumable checkpoints of its training
    <results_dir>/<name>/eval/<model_id>/<task>.json    evaluation results
    <results_dir>/<name>/tracking/parent.json           the configuration's parent tracking run
    <results_dir>/<name>/peers/official-ems/model/      the authors' checkpoint, imported
    <results_dir>/sources/official-ems/<file>           that checkpoint when configured as a URL

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
#: One segment: a grid variant id (``ems.ablation.grid`` checks its form).
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


def results_root(config: Mapping[str, Any]) -> Path:
    """``<results_dir>/<name>``: everything one configuration produces."""
    return Path(config["results_dir"]) / config["name"]


def model_id(variant: str, seed: int | str) -> str:
    """``<variant>/seed<seed>``: the id of one training run of a grid cell."""
    return f"{variant}/seed{int(seed)}"


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


def model_dir(results: str | os.PathLike[str], mid: str) -> Path:
    """``<results>/models/<model_id>``: run.json, model/, heads.pt, history.csv."""
    return Path(results) / "models" / mid


def release_dir(results: str | os.PathLike[str], mid: str) -> Path:
    """``<results>/models/<model_id>/release``: the loadable model with its full card (rule model_card;
    weight files hard-linked to ``model/``, which is the train rule's output and never changed)."""
    return model_dir(results, mid) / "release"


def checkpoint_dir(results: str | os.PathLike[str], mid: str) -> Path:
    """``<results>/checkpoints/<model_id>``: resumable checkpoints (kept apart from the model folder)."""
    return Path(results) / "checkpoints" / mid


def run_json(results: str | os.PathLike[str], mid: str) -> Path:
    return model_dir(results, mid) / "run.json"


def eval_dir(results: str | os.PathLike[str], mid: str) -> Path:
    return Path(results) / "eval" / mid


def eval_json(results: str | os.PathLike[str], mid: str, task: str) -> Path:
    return eval_dir(results, mid) / f"{task}.json"


def parent_json(results: str | os.PathLike[str]) -> Path:
    return Path(results) / "tracking" / "parent.json"


def shards_dir(results: str | os.PathLike[str], split: str = "train") -> Path:
    return Path(results) / "shards" / split


# The data stage (docs/data.md): one folder per language at each step.
def corpus_dir(results: str | os.PathLike[str]) -> Path:
    return Path(results) / "corpus"


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


#: The peer that is the authors' trained model (evaluation.official_ems).
OFFICIAL_PEER = "official-ems"


def official_peer_dir(results: str | os.PathLike[str]) -> Path:
    """``<results>/peers/official-ems``: the imported authors' model (``model/``, ``heads.pt``)."""
    return Path(results) / "peers" / OFFICIAL_PEER


def official_checkpoint(config: Mapping[str, Any]) -> Path:
    """The authors' checkpoint as a local file: the configured path, or where a configured URL is downloaded
    (``<results_dir>/sources/official-ems/<file name of the URL>``)."""
    from urllib.parse import urlparse

    checkpoint = str(config["evaluation"]["official_ems"]["checkpoint"])
    if checkpoint.startswith(("http://", "https://")):
        return sources_root(config) / OFFICIAL_PEER / (Path(urlparse(checkpoint).path).name or "EMS_model.pt")
    return Path(checkpoint)
