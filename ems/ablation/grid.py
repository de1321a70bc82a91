"""The ablation grid: ``ablation.factors`` × ``ablation.seeds`` as a Snakemake Paramspace.

Each cell of the grid (a *variant*) is one row of a pandas DataFrame of factor
combinations, named by a stable, readable, single path segment such as
``objective~both_langemb~True_temp~0.1_frac~1.0`` (Paramspace with all columns in the
file name). Every factor appears in every id, so adding a level to one factor never renames
the existing cells. ``<variant>/seed<seed>`` is the model id of one training run.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
from snakemake.utils import Paramspace

from ems.errors import ConfigError

logger = logging.getLogger(__name__)

#: Config factor name (``ablation.factors.<name>``) -> column (path key) of the Paramspace.
FACTOR_COLUMNS: dict[str, str] = {
    "objective": "objective",
    "language_embedding": "langemb",
    "temperature": "temp",
    "data_fraction": "frac",
}
COLUMN_FACTORS: dict[str, str] = {v: k for k, v in FACTOR_COLUMNS.items()}
OBJECTIVES: tuple[str, ...] = ("both", "xtr", "contrastive")
#: Separator between ``key~value`` pairs of a variant id (Paramspace ``filename_sep``).
SEP = "_"

#: Regex a variant id matches; use as the ``variant`` wildcard constraint.
VARIANT_REGEX = (
    r"objective~(?:both|xtr|contrastive)_langemb~(?:True|False)"
    r"_temp~[0-9.eE+-]+_frac~[0-9.eE+-]+"
)
#: Regex of a whole EMS model id (``<variant>/seed<seed>``).
MODEL_ID_REGEX = rf"(?P<variant>{VARIANT_REGEX})/seed(?P<seed>-?[0-9]+)"


def _ablation(config: Mapping[str, Any]) -> Mapping[str, Any]:
    abl = config.get("ablation") or {}
    factors = abl.get("factors") or {}
    unknown = set(factors) - set(FACTOR_COLUMNS)
    if unknown:
        raise ConfigError(f"ablation.factors: unknown factor(s) {sorted(unknown)}; known: {sorted(FACTOR_COLUMNS)}")
    return abl


def _levels(config: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Levels of each factor in config order (defaults of the schema where absent)."""
    factors = _ablation(config).get("factors") or {}
    defaults: dict[str, list[Any]] = {
        "objective": ["both"],
        "language_embedding": [bool(config.get("objective", {}).get("language_embedding", True))],
        "temperature": [float(config.get("objective", {}).get("temperature", 0.1))],
        "data_fraction": [1.0],
    }
    levels: dict[str, list[Any]] = {}
    for name in FACTOR_COLUMNS:
        values = list(factors.get(name) or defaults[name])
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"ablation.factors.{name}: repeated level in {values}")
        if name == "objective":
            bad = [v for v in values if v not in OBJECTIVES]
            if bad:
                raise ConfigError(f"ablation.factors.objective: unknown level(s) {bad}; use {list(OBJECTIVES)}")
        elif name == "language_embedding":
            if not all(isinstance(v, bool) for v in values):
                raise ConfigError(f"ablation.factors.language_embedding: levels must be true/false, got {values}")
        else:
            try:
                values = [float(v) for v in values]
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"ablation.factors.{name}: levels must be numbers, got {values}") from exc
            if any(v <= 0 for v in values) or (name == "data_fraction" and any(v > 1 for v in values)):
                raise ConfigError(f"ablation.factors.{name}: levels out of range: {values}")
        levels[name] = values
    return levels


def _reference_levels(levels: Mapping[str, list[Any]]) -> dict[str, Any]:
    ref = {name: vals[0] for name, vals in levels.items()}
    if "both" in levels["objective"]:
        ref["objective"] = "both"
    return ref


def grid_frame(config: Mapping[str, Any]) -> pd.DataFrame:
    """DataFrame of the grid's cells (``ablation.design``: full product or one factor at a time)."""
    levels = _levels(config)
    design = _ablation(config).get("design", "full")
    if design == "full":
        rows = list(itertools.product(*levels.values()))
    elif design == "one_at_a_time":
        ref = _reference_levels(levels)
        rows = [tuple(ref.values())]
        for name, vals in levels.items():
            rows += [tuple({**ref, name: v}.values()) for v in vals if v != ref[name]]
    else:
        raise ConfigError(f"ablation.design: unknown design {design!r} (full, one_at_a_time)")
    frame = pd.DataFrame(rows, columns=[FACTOR_COLUMNS[n] for n in levels])
    frame["langemb"] = frame["langemb"].astype(bool)
    frame["temp"] = frame["temp"].astype(float)
    frame["frac"] = frame["frac"].astype(float)
    return frame


def paramspace(config: Mapping[str, Any]) -> Paramspace:
    """The grid as a Paramspace whose instance patterns are single-segment variant ids."""
    return Paramspace(grid_frame(config), filename_params="*", filename_sep=SEP, single_wildcard="variant")


def seeds(config: Mapping[str, Any]) -> list[int]:
    values = list(_ablation(config).get("seeds") or [1])
    if len(set(values)) != len(values):
        raise ConfigError(f"ablation.seeds: repeated seed in {values}")
    return [int(s) for s in values]


def variants(config: Mapping[str, Any]) -> list[str]:
    """Variant ids of the grid, in config order (objective varies slowest)."""
    return list(paramspace(config).instance_patterns)


def model_ids(config: Mapping[str, Any]) -> list[str]:
    """``<variant>/seed<seed>`` for every cell and seed: the EMS models to train and evaluate."""
    return [f"{v}/seed{s}" for v in variants(config) for s in seeds(config)]


def parse_variant(variant: str) -> dict[str, Any]:
    """Factor values of a variant id (config factor names -> typed values); raise ConfigError."""
    if not re.fullmatch(VARIANT_REGEX, variant):
        raise ConfigError(f"not an ablation variant id: {variant!r} (expected e.g. objective~both_langemb~True_temp~0.1_frac~1.0)")
    out: dict[str, Any] = {}
    for part in variant.split(SEP):
        key, value = part.split("~", 1)
        name = COLUMN_FACTORS[key]
        if name == "objective":
            out[name] = value
        elif name == "language_embedding":
            out[name] = value == "True"
        else:
            out[name] = float(value)
    return out


def is_variant(variant: str) -> bool:
    """Whether ``variant`` has the form of a grid variant id."""
    return re.fullmatch(VARIANT_REGEX, variant) is not None


def parse_model_id(model_id: str) -> dict[str, Any] | None:
    """``{"variant", "seed", <factors>}`` of an EMS model id; None for peers and other ids."""
    m = re.fullmatch(MODEL_ID_REGEX, model_id)
    if not m:
        return None
    return {"variant": m["variant"], "seed": int(m["seed"]), **parse_variant(m["variant"])}


def variant_overrides(config: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """Deep-merge overrides of the config sections that realise one variant.

    ``objective``: both -> as configured, xtr -> contrastive_weight 0, contrastive ->
    xtr_weight 0; language_embedding / temperature -> ``objective.*``; data_fraction ->
    ``ablation_data.fraction`` (realised by :func:`train_shards_dir`, not by the trainer).
    """
    factors = parse_variant(variant)
    if variant not in variants(config):
        raise ConfigError(f"variant {variant!r} is not in this config's ablation grid ({len(variants(config))} variants)")
    objective: dict[str, Any] = {
        "language_embedding": factors["language_embedding"],
        "temperature": factors["temperature"],
    }
    if factors["objective"] == "xtr":
        objective["contrastive_weight"] = 0.0
    elif factors["objective"] == "contrastive":
        objective["xtr_weight"] = 0.0
    base = config.get("objective", {})
    merged = {**base, **objective}
    if merged.get("xtr_weight", 1.0) == 0 and merged.get("contrastive_weight", 1.0) == 0:
        raise ConfigError(f"variant {variant}: both objective weights are 0 (check objective.xtr_weight/contrastive_weight)")
    return {"objective": objective}


def variant_config(config: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """The full config of one variant (``config`` deep-merged with its overrides)."""
    from ems.config import deep_merge

    return deep_merge(config, variant_overrides(config, variant))


def data_fraction(variant: str) -> float:
    return float(parse_variant(variant)["data_fraction"])


def fraction_tag(fraction: float) -> str:
    """Folder suffix of a training-data fraction (``0.25`` -> ``frac0.25``)."""
    return f"frac{float(fraction)!r}"


def train_shards_dir(results: str, variant: str) -> str:
    """Training shard folder of a variant: ``shards/train`` or a subset ``shards/train-frac<f>``."""
    frac = data_fraction(variant)
    if frac >= 1.0:
        return f"{results}/shards/train"
    return f"{results}/shards/train-{fraction_tag(frac)}"


def fractions(config: Mapping[str, Any]) -> list[float]:
    """Data fractions < 1 of the grid (each needs one ``subset_shards`` job)."""
    return sorted({f for f in _levels(config)["data_fraction"] if f < 1.0})


def reference_variant(config: Mapping[str, Any]) -> str:
    """The reference cell: objective ``both`` (else the first listed) and the first level of every other factor."""
    ref = _reference_levels(_levels(config))
    for v in variants(config):
        if parse_variant(v) == ref:
            return v
    raise ConfigError("no reference variant in the ablation grid")  # unreachable: the grid is a full product


def varying_factors(config: Mapping[str, Any]) -> list[str]:
    """Factors with more than one level (the ones figures and tables compare)."""
    return [name for name, vals in _levels(config).items() if len(vals) > 1]


def short_label(variant: str, factors: list[str] | None = None) -> str:
    """Human label of a variant showing only the given factors (all when None)."""
    vals = parse_variant(variant)
    names = factors if factors else list(FACTOR_COLUMNS)
    parts = []
    for name in names:
        value = vals[name]
        if name == "objective":
            parts.append(str(value))
        elif name == "language_embedding":
            parts.append("lang-emb" if value else "no lang-emb")
        elif name == "temperature":
            parts.append(f"τ={value:g}")
        else:
            parts.append(f"{value:g} data")
    return ", ".join(parts) if parts else "ems"


def model_settings(config: Mapping[str, Any], variant: str, seed: int,
                   sections: tuple[str, ...] = ("model", "objective", "train", "tracking")) -> dict[str, Any]:
    """The ``--settings`` of one training job: the variant's config sections plus ``train.seed``.

    Only these sections (and ``name``/``results_dir``) enter the train rule's params, so
    changing an evaluation option never reruns training.
    """
    cfg = variant_config(config, variant)
    out: dict[str, Any] = {k: cfg[k] for k in ("name", "results_dir") if k in cfg}
    for section in sections:
        out[section] = dict(cfg.get(section) or {})
    out.setdefault("train", {})["seed"] = int(seed)
    return out


def model_settings_json(config: Mapping[str, Any], variant: str, seed: int | str) -> str:
    """:func:`model_settings` as sorted JSON (for a rule's ``params:``)."""
    import json

    return json.dumps(model_settings(config, variant, int(seed)), sort_keys=True)
