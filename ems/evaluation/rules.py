"""Helpers of ``workflow/rules/evaluate.smk``: inputs and arguments of the ``evaluate`` rule.

Kept in the package (not the rule file) so that the rule file holds rules only and the
logic is importable and testable.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ems import paths
from ems.config import settings_json as _to_json
from ems.evaluation.registry import enabled_tasks, source_roles, task_settings

logger = logging.getLogger(__name__)


def tasks(config: Mapping[str, Any]) -> list[str]:
    return enabled_tasks(config["evaluation"], config.get("mining"))


def task_regex(config: Mapping[str, Any]) -> str:
    return "|".join(re.escape(t) for t in tasks(config)) or "NO_TASK"


def peer_ids(config: Mapping[str, Any]) -> list[str]:
    return [paths.peer_id(p) for p in config["evaluation"]["peers"]]


def peer_run_json(results: Path, model_id: str) -> Path:
    """``<results>/tracking/peers/<peer>.json`` (:func:`ems.paths.peer_run_json`)."""
    return paths.peer_run_json(results, model_id)


def inputs(config: Mapping[str, Any], results: Path, model_id: str, task: str) -> dict[str, Path]:
    """Source markers of the task, the training shards, and the model's run.json (a peer's: its own run)."""
    out = {f"source_{role}": paths.source_marker(paths.source_dir(config, role)) for role in source_roles(task)}
    out["shards"] = paths.shards_dir(results)
    if paths.is_peer(model_id):
        out["run"] = peer_run_json(results, model_id)
        if model_id == paths.peer_id(paths.OFFICIAL_PEER):
            out["official_model"] = paths.model_file(paths.official_peer_dir(results), "model")
    else:
        out["run"] = paths.run_json(results, model_id)
    return out


def args(config: Mapping[str, Any], results: Path, model_id: str, task: str, input_keys: Sequence[str]) -> str:
    """``--source``, ``--train-meta``, ``--model`` and the tracking argument of one job, shell-quoted."""
    out = [f"--source={role}={paths.source_dir(config, role)}" for role in source_roles(task)]
    out += ["--train-meta", str(paths.shards_dir(results) / "meta.json")]
    if model_id == paths.peer_id(paths.OFFICIAL_PEER):  # the authors' model, imported (rule import_official)
        out += ["--model", f"ems:{paths.official_peer_dir(results)}"]
        if "run" in input_keys:
            out += ["--run-json", str(peer_run_json(results, model_id))]
    elif paths.is_peer(model_id):
        out += ["--model", paths.peer_name(model_id)]
        if "run" in input_keys:
            out += ["--run-json", str(peer_run_json(results, model_id))]
    else:
        out += ["--model", f"ems:{paths.model_dir(results, model_id)}"]
        out += ["--run-json", str(paths.run_json(results, model_id))]
    return shlex.join(out)


def settings_json(config: Mapping[str, Any], task: str) -> str:
    """``--settings`` of one job: only what ``task`` reads, so other tasks' options never rerun it."""
    return _to_json(task_settings(config, task))


def card_settings(config: Mapping[str, Any]) -> str:
    """``--settings`` of ``ems model-card``: the sources (dataset revisions of the model-index) and the training
    corpora (their licences in LICENSE.md)."""
    return _to_json({"sources": config["sources"], "corpus": {"sources": config["corpus"].get("sources") or []}})


def targets(config: Mapping[str, Any], results: Path, ems_ids: Sequence[str]) -> list[str]:
    return [str(paths.eval_json(results, m, t)) for m in list(ems_ids) + peer_ids(config) for t in tasks(config)]
