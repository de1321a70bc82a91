"""Helpers of ``workflow/rules/evaluate.smk``: inputs and arguments of the ``evaluate`` rule.

Kept in the package (not the rule file) so that the rule file holds rules only and the
logic is importable and testable.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ems.evaluation.registry import enabled_tasks, source_roles, task_settings

logger = logging.getLogger(__name__)

PEER_PREFIX = "peer-"
MODEL_ID_REGEX = r"peer-[a-z0-9-]+|[^/]+/seed[0-9]+"


def tasks(config: Mapping[str, Any]) -> list[str]:
    return enabled_tasks(config["evaluation"], config.get("mining"))


def task_regex(config: Mapping[str, Any]) -> str:
    return "|".join(re.escape(t) for t in tasks(config)) or "NO_TASK"


def peer_ids(config: Mapping[str, Any]) -> list[str]:
    return [f"{PEER_PREFIX}{p}" for p in config["evaluation"]["peers"]]


def source_dir(config: Mapping[str, Any], role: str) -> Path:
    """``<results_dir>/sources/<owner>+<repo>@<commit>`` (as common.smk's ``source_dir``)."""
    src = config["sources"][role]
    owner, repo = src["repo"].split("/")
    return Path(config["results_dir"]) / "sources" / f"{owner}+{repo}@{src['commit']}"


def inputs(config: Mapping[str, Any], results: Path, model_id: str, task: str, tracking: bool) -> dict[str, Path]:
    """Source markers of the task, the training shards, and the model's run.json or the parent run."""
    out = {f"source_{role}": source_dir(config, role) / ".verified.json" for role in source_roles(task)}
    out["shards"] = results / "shards" / "train"
    if model_id.startswith(PEER_PREFIX):
        if tracking:
            out["parent"] = results / "tracking" / "parent.json"
    else:
        out["run"] = results / "models" / model_id / "run.json"
    return out


def args(config: Mapping[str, Any], results: Path, model_id: str, task: str, input_keys: Sequence[str]) -> str:
    """``--source``, ``--train-meta``, ``--model`` and the tracking argument of one job."""
    out = [f"--source {role}={source_dir(config, role)}" for role in source_roles(task)]
    out.append(f"--train-meta {results / 'shards' / 'train' / 'meta.json'}")
    if model_id.startswith(PEER_PREFIX):
        out.append(f"--model {model_id[len(PEER_PREFIX):]}")
        if "parent" in input_keys:
            out.append(f"--parent-json {results / 'tracking' / 'parent.json'}")
    else:
        out.append(f"--model ems:{results / 'models' / model_id}")
        out.append(f"--run-json {results / 'models' / model_id / 'run.json'}")
    return " ".join(out)


def settings_json(config: Mapping[str, Any], task: str) -> str:
    """``--settings`` of one job: only what ``task`` reads, so other tasks' options never rerun it."""
    return json.dumps(task_settings(config, task), sort_keys=True)


def targets(config: Mapping[str, Any], results: Path, ems_ids: Sequence[str]) -> list[str]:
    return [str(results / "eval" / m / f"{t}.json") for m in list(ems_ids) + peer_ids(config) for t in tasks(config)]
