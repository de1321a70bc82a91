"""Run names and tags that let the MLflow UI group runs: short names, cell / factor / seed / role tags.

A grid model ``objective~both_langemb~True_temp~0.1_frac~1.0/seed1`` gets the run name
``both/s1`` (only the factors that vary in the grid, :func:`ems.ablation.grid.varying_factors`)
and the tags ``ems.role``, ``ems.cell`` (the variant id: "Group by" ``ems.cell`` averages the
seeds), ``ems.factor.<name>`` per factor and ``ems.seed``. Names and metric keys use ASCII only
(``both_t0.05``), so the same cell name serves as a metric-key prefix on the parent run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ems import paths

logger = logging.getLogger(__name__)

#: Values of the ``ems.role`` tag, one per kind of run.
ROLE_PARENT = "parent"  # the configuration's run (tracking_setup), carries config + headline table
ROLE_TRAIN = "train"  # one training run of a grid model; its evaluation metrics are logged to it too
ROLE_PEER = "peer"  # one run per peer encoder, all its tasks' metrics
ROLE_STUDY = "study"  # an Optuna study (ems.tune.mlflow_log)
ROLE_TRIAL = "trial"  # one Optuna trial

#: Short spelling of a factor level in run names and metric keys (ASCII; a factor added to the
#: grid without an entry here is spelled ``<column><value>``).
_SHORT: dict[str, Callable[[Any], str]] = {
    "objective": str,
    "language_embedding": lambda v: "lang" if v else "nolang",
    "temperature": lambda v: f"t{float(v):g}",
    "data_fraction": lambda v: f"frac{float(v):g}",
}


def cell_name(variant: str, varying: Sequence[str] | None = None) -> str:
    """``both_t0.05``: the variant's levels of the ``varying`` factors (all when None); ``ems`` when none vary."""
    from ems.ablation.grid import BY_NAME, FACTORS, parse_variant

    values = parse_variant(variant)
    names = [f.name for f in FACTORS] if varying is None else [n for n in (f.name for f in FACTORS) if n in varying]
    parts = [_SHORT.get(n, lambda v, n=n: f"{BY_NAME[n].column}{v}")(values[n]) for n in names]
    return "_".join(parts) or "ems"


def run_name(model_id: str, varying: Sequence[str] | None = None) -> str:
    """``both/s1`` for a grid model id, the id itself for peers and other ids (tuning trials)."""
    from ems.ablation.grid import parse_model_id

    parsed = parse_model_id(model_id)
    if parsed is None:
        return model_id
    return f"{cell_name(parsed['variant'], varying)}/s{parsed['seed']}"


def model_tags(model_id: str) -> dict[str, str]:
    """``ems.model_id`` plus, for a grid model, ``ems.cell``, ``ems.factor.<name>`` and ``ems.seed``;
    a peer is a cell of its own (``ems.cell = peer-<name>``), so it sits beside the cells when grouped."""
    from ems.ablation.grid import parse_model_id

    tags = {"ems.model_id": model_id}
    parsed = parse_model_id(model_id)
    if parsed is not None:
        tags["ems.cell"] = parsed["variant"]
        tags["ems.seed"] = str(parsed["seed"])
        for name, value in parsed.items():
            if name not in ("variant", "seed"):
                tags[f"ems.factor.{name}"] = str(value)
    elif paths.is_peer(model_id):
        tags["ems.cell"] = model_id
    return tags


def run_names(model_ids: Sequence[str], varying: Sequence[str]) -> dict[str, str]:
    """model id -> short run name; raises ValueError when two ids would share a name."""
    names = {mid: run_name(mid, varying) for mid in model_ids}
    seen: dict[str, str] = {}
    for mid, name in names.items():
        if name in seen:
            raise ValueError(f"run name {name!r} of {mid} is also that of {seen[name]}")
        seen[name] = mid
    return names


def names_document(model_ids: Sequence[str], varying: Sequence[str]) -> dict[str, Any]:
    """The ``tracking/run_names.json`` of a grid: the varying factors and every model's run name."""
    return {"varying": list(varying), "names": run_names(model_ids, varying)}


def name_for(model_id: str, names_json: str | None = None) -> str:
    """The run name of ``model_id``: from ``run_names.json`` when given (the grid's varying factors), else
    with every factor (``ems train`` outside the workflow knows no grid)."""
    if not names_json:
        return run_name(model_id)
    from ems.io import read_json_input

    doc = read_json_input(names_json)
    names = doc.get("names", {}) if isinstance(doc, dict) else {}
    return str(names.get(model_id) or run_name(model_id, doc.get("varying") if isinstance(doc, dict) else None))


def parent_tags(config_name: str) -> dict[str, str]:
    """Tags of a configuration's parent run: role, config name, code commit and a first description
    (``mlflow.note.content``; the summary step replaces it with the headline table)."""
    from ems.tracking.base import git_commit

    commit = git_commit()
    return {"ems.role": ROLE_PARENT, "ems.config": config_name, "git_commit": commit,
            "mlflow.source.git.commit": commit,
            "mlflow.note.content": f"EMS configuration `{config_name}` (commit {commit}): its training, evaluation and "
                                   "peer runs are the children of this run; the headline table is logged here "
                                   "when the grid's summary step (`ems mlflow-summary`) has run."}
