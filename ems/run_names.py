"""Run names and tags that let the MLflow UI group a grid's runs: short names, cell / factor / seed tags.

A grid model ``objective~both_langemb~True_temp~0.1_frac~1.0/seed1`` gets the run name
``both/s1`` (only the factors that vary in the grid, :func:`ems.grid.varying_factors`;
each level spelled by its factor's ``short`` in :data:`ems.grid.FACTORS`) and the tags
``ems.cell`` (the variant id: "Group by" ``ems.cell`` averages the seeds), ``ems.factor.<name>``
per factor and ``ems.seed``. Names and metric keys use ASCII only (``both_t0.05``), so the same
cell name serves as a metric-key prefix on the parent run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ems import paths
from ems.grid import FACTORS, parse_model_id, parse_variant
from ems.io import read_json_input

logger = logging.getLogger(__name__)


def cell_name(variant: str, varying: Sequence[str] | None = None) -> str:
    """``both_t0.05``: the variant's levels of the ``varying`` factors (all when None); ``ems`` when none vary."""
    values = parse_variant(variant)
    factors = [f for f in FACTORS if varying is None or f.name in varying]
    return "_".join(f.short_name(values[f.name]) for f in factors) or "ems"


def run_name(model_id: str, varying: Sequence[str] | None = None) -> str:
    """``both/s1`` for a grid model id, the id itself for peers and other ids (tuning trials)."""
    parsed = parse_model_id(model_id)
    if parsed is None:
        return model_id
    return f"{cell_name(parsed['variant'], varying)}/s{parsed['seed']}"


def model_tags(model_id: str) -> dict[str, str]:
    """``ems.model_id`` plus, for a grid model, ``ems.cell``, ``ems.factor.<name>`` and ``ems.seed``;
    a peer is a cell of its own (``ems.cell = peer-<name>``), so it sits beside the cells when grouped."""
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
    doc = read_json_input(names_json)
    names = doc.get("names", {}) if isinstance(doc, dict) else {}
    return str(names.get(model_id) or run_name(model_id, doc.get("varying") if isinstance(doc, dict) else None))
