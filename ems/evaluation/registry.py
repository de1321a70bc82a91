"""Which evaluation tasks a configuration enables, and how each evaluator is built.

Built-in tasks read the verified source archives (role → folder); tasks of
``evaluation.extra_datasets`` read the files their entry names. The Snakemake rules ask
:func:`enabled_tasks` for the task wildcard values and :func:`source_roles` for inputs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ems.datasets import SOURCE_ROLE
from ems.errors import ConfigError
from ems.languages import canonical

logger = logging.getLogger(__name__)

#: Built-in task → its section of ``evaluation``.
SECTION = {"tatoeba": "tatoeba", "flores": "flores", "mining": "mining", "sib200": "sib200",
           "umsab": "umsab", "bucc2018": "mining"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _extras(evaluation: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    out = {}
    for entry in evaluation.get("extra_datasets") or []:
        name = entry.get("name", "")
        if not _NAME.match(name):
            raise ConfigError(f"evaluation.extra_datasets: name {name!r} must match {_NAME.pattern}")
        if name in SOURCE_ROLE or name in out:
            raise ConfigError(f"evaluation.extra_datasets: name {name!r} is already a task")
        out[name] = entry
    return out


def enabled_tasks(evaluation: Mapping[str, Any], mining: Mapping[str, Any] | None = None) -> list[str]:
    """Task names of a configuration (sections resolved: schema defaults filled), built-ins first."""
    tasks = [task for task in ("tatoeba", "flores", "sib200", "umsab") if evaluation[task]["enabled"]]
    mining_eval = evaluation["mining"]
    if mining_eval["enabled"] and (mining or {}).get("languages"):
        tasks.append("mining")
    if mining_eval["enabled"] and mining_eval["bucc2018"]["dir"]:
        tasks.append("bucc2018")
    tasks.extend(_extras(evaluation))
    return tasks


#: ``evaluation`` keys every task reads (encoding, classifier seed, cache, missing languages).
COMMON_KEYS = ("batch_size", "seed", "cache", "on_missing_language")


def task_settings(settings: Mapping[str, Any], task: str) -> dict[str, Any]:
    """The part of the ``evaluation``/``mining`` sections that ``task`` reads.

    The evaluate rule's params and the logged MLflow params hold only this, so changing
    one task's options (say ``evaluation.mining.margin_k``) reruns that task's jobs only.
    """
    ev = settings.get("evaluation", {})
    out: dict[str, Any] = {k: ev[k] for k in COMMON_KEYS if k in ev}
    if task in SECTION:
        if SECTION[task] in ev:
            out[SECTION[task]] = ev[SECTION[task]]
    else:
        out["extra_datasets"] = [e for e in ev.get("extra_datasets") or [] if e.get("name") == task]
    picked: dict[str, Any] = {"evaluation": out}
    if task == "mining" and "mining" in settings:
        picked["mining"] = settings["mining"]
    return picked


def source_roles(task: str) -> list[str]:
    role = SOURCE_ROLE.get(task)
    return [role] if role else []


def build_evaluator(task: str, settings: Mapping[str, Any], sources: Mapping[str, str | Path],
                    train_languages: Sequence[str] | None = None) -> Any:
    """The evaluator of ``task``; ``settings`` holds the resolved ``evaluation`` (and ``mining``) sections
    (:func:`ems.evaluation.settings.resolve_settings`: every default comes from the schema)."""
    ev = settings["evaluation"]
    policy = ev["on_missing_language"]
    section = ev.get(SECTION.get(task, ""), {})

    def src() -> str | Path:
        role = SOURCE_ROLE[task]
        if role not in sources:
            raise ConfigError(f"task {task} needs --source {role}=<extracted archive folder>")
        return sources[role]

    if task == "tatoeba":
        from ems.evaluation.tatoeba import build_tatoeba
        return build_tatoeba(src(), section["languages"], train_languages, section["margin"], section["k"], policy)
    if task == "flores":
        from ems.evaluation.flores import build_flores
        return build_flores(src(), section["languages"], train_languages, section["margin"], section["k"], policy)
    if task == "sib200":
        from ems.evaluation.sib200 import build_sib200
        return build_sib200(src(), section["languages"], train_languages, section["classifier"], ev["seed"], policy)
    if task == "umsab":
        from ems.evaluation.umsab import build_umsab
        return build_umsab(src(), "all", section["classifier"], ev["seed"], policy)
    if task == "mining":
        from ems.evaluation.mining import build_mining
        langs = {canonical(code): sets for code, sets in settings["mining"]["languages"].items()}
        if not langs:
            raise ConfigError("mining: mining.languages is empty")
        return build_mining(src(), langs, section["distractors_per_side"], section["seed"], section["margin_k"],
                            section["mode"], policy, threshold=section["threshold"])
    if task == "bucc2018":
        from ems.evaluation.bucc import build_bucc2018
        return build_bucc2018(section["bucc2018"], section["margin_k"], section["mode"], policy,
                              threshold=section["threshold"])
    extras = _extras(ev)
    if task in extras:
        from ems.evaluation.extra import build_extra
        return build_extra(extras[task], policy, ev["seed"], train_languages)
    raise ConfigError(f"unknown evaluation task {task!r}; known: {enabled_tasks(ev, settings.get('mining'))}")
