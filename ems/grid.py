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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from snakemake.utils import Paramspace

from ems import paths
from ems.config import section
from ems.errors import ConfigError

logger = logging.getLogger(__name__)

_NUMBER = r"[0-9.eE+-]+"


@dataclass(frozen=True)
class Factor:
    """One ablation factor: where it is configured, how it is spelled, shown and realised.

    ``name``: its key under ``ablation.factors`` (levels and defaults live in the schema);
    ``column``: its key in a variant id and its Paramspace column; ``value_regex``: the
    wildcard format of a level; ``parse``: wildcard text -> level; ``label``: a level's short
    label in figures and tables; ``overrides``: config overrides realising a level;
    ``scaling``: numeric, plotted against its levels; ``log_x``: that plot's x axis is log;
    ``short``: a level's ASCII spelling in MLflow run names and metric keys (default
    ``<column><level>``). The order of :data:`FACTORS` is the order in variant ids, labels and plots.
    """

    name: str
    column: str
    value_regex: str
    parse: Callable[[str], Any]
    label: Callable[[Any], str]
    overrides: Callable[[Any], dict[str, Any]] = field(default=lambda v: {})
    scaling: bool = False
    log_x: bool = False
    short: Callable[[Any], str] | None = None

    def short_name(self, level: Any) -> str:
        """``t0.05``: the level in run names (ASCII: letters, digits, ``.``)."""
        return self.short(level) if self.short is not None else f"{self.column}{level}"


def _objective_overrides(level: str) -> dict[str, Any]:
    """both -> the objective as configured; xtr / contrastive -> the other loss weighted 0."""
    return {"xtr": {"contrastive_weight": 0.0}, "contrastive": {"xtr_weight": 0.0}}.get(level, {})


#: The ablation factors. Adding one: an entry here plus its line under
#: ``ablation.factors`` in workflow/schemas/config.schema.yaml (docs/ablations.md).
FACTORS: tuple[Factor, ...] = (
    Factor("objective", "objective", r"(?:both|xtr|contrastive)", str, str,
           lambda v: {"objective": _objective_overrides(v)}, short=str),
    Factor("language_embedding", "langemb", r"(?:True|False)", lambda t: t == "True",
           lambda v: "lang-emb" if v else "no lang-emb", lambda v: {"objective": {"language_embedding": bool(v)}},
           short=lambda v: "lang" if v else "nolang"),
    Factor("temperature", "temp", _NUMBER, float, lambda v: f"τ={v:g}",
           lambda v: {"objective": {"temperature": float(v)}}, scaling=True, log_x=True,
           short=lambda v: f"t{float(v):g}"),
    # realised by the training shards (train_shards_dir), not by the trainer's settings
    Factor("data_fraction", "frac", _NUMBER, float, lambda v: f"{v:g} data", scaling=True,
           short=lambda v: f"frac{float(v):g}"),
)
BY_NAME: dict[str, Factor] = {f.name: f for f in FACTORS}
BY_COLUMN: dict[str, Factor] = {f.column: f for f in FACTORS}
#: Config factor name (``ablation.factors.<name>``) -> column (path key) of the Paramspace.
FACTOR_COLUMNS: dict[str, str] = {f.name: f.column for f in FACTORS}
#: Separator between ``key~value`` pairs of a variant id (Paramspace ``filename_sep``).
SEP = "_"
#: Regex a variant id matches; use as the ``variant`` wildcard constraint.
VARIANT_REGEX = SEP.join(f"{f.column}~{f.value_regex}" for f in FACTORS)


def _ablation(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ablation`` section, validated, with the schema's defaults (levels of absent factors)."""
    return section(config, "ablation")


def _levels(config: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Levels of each factor in config order (the schema checks their type and range)."""
    factors = _ablation(config)["factors"]
    levels: dict[str, list[Any]] = {}
    for f in FACTORS:
        values = [f.parse(str(v)) for v in factors[f.name]]
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"ablation.factors.{f.name}: repeated level in {factors[f.name]}")
        levels[f.name] = values
    return levels


def _reference_levels(levels: Mapping[str, list[Any]]) -> dict[str, Any]:
    ref = {name: vals[0] for name, vals in levels.items()}
    if "both" in levels["objective"]:
        ref["objective"] = "both"
    return ref


def grid_frame(config: Mapping[str, Any]) -> pd.DataFrame:
    """DataFrame of the grid's cells (``ablation.design``: full product or one factor at a time)."""
    levels = _levels(config)
    design = _ablation(config)["design"]
    if design == "full":
        rows = list(itertools.product(*levels.values()))
    else:  # one_at_a_time (the schema allows no other)
        ref = _reference_levels(levels)
        rows = [tuple(ref.values())]
        for name, vals in levels.items():
            rows += [tuple({**ref, name: v}.values()) for v in vals if v != ref[name]]
    return pd.DataFrame(rows, columns=[f.column for f in FACTORS])


def paramspace(config: Mapping[str, Any]) -> Paramspace:
    """The grid as a Paramspace whose instance patterns are single-segment variant ids."""
    return Paramspace(grid_frame(config), filename_params="*", filename_sep=SEP, single_wildcard="variant")


def seeds(config: Mapping[str, Any]) -> list[int]:
    values = list(_ablation(config)["seeds"])
    if len(set(values)) != len(values):
        raise ConfigError(f"ablation.seeds: repeated seed in {values}")
    return [int(s) for s in values]


def variants(config: Mapping[str, Any]) -> list[str]:
    """Variant ids of the grid, in config order (objective varies slowest)."""
    return list(paramspace(config).instance_patterns)


def model_ids(config: Mapping[str, Any]) -> list[str]:
    """``<variant>/seed<seed>`` for every cell and seed: the EMS models to train and evaluate."""
    return [paths.model_id(v, s) for v in variants(config) for s in seeds(config)]


def parse_variant(variant: str) -> dict[str, Any]:
    """Factor values of a variant id (config factor names -> typed values); raise ConfigError."""
    if not re.fullmatch(VARIANT_REGEX, variant):
        raise ConfigError(f"not an ablation variant id: {variant!r} (expected e.g. objective~both_langemb~True_temp~0.1_frac~1.0)")
    out: dict[str, Any] = {}
    for part in variant.split(SEP):
        key, value = part.split("~", 1)
        out[BY_COLUMN[key].name] = BY_COLUMN[key].parse(value)
    return out


def parse_model_id(model_id: str) -> dict[str, Any] | None:
    """``{"variant", "seed", <factors>}`` of an EMS model id; None for peers and other ids."""
    parts = paths.split_model_id(model_id)
    if parts is None or not re.fullmatch(VARIANT_REGEX, parts[0]):
        return None
    return {"variant": parts[0], "seed": parts[1], **parse_variant(parts[0])}


def variant_overrides(config: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """Deep-merge overrides of the config sections that realise one variant (each factor's ``overrides``)."""
    from ems.config import deep_merge

    factors = parse_variant(variant)
    if variant not in variants(config):
        raise ConfigError(f"variant {variant!r} is not in this config's ablation grid ({len(variants(config))} variants)")
    out: dict[str, Any] = {}
    for f in FACTORS:
        out = deep_merge(out, f.overrides(factors[f.name]))
    merged = {**section(config, "objective"), **out.get("objective", {})}
    if merged["xtr_weight"] == 0 and merged["contrastive_weight"] == 0:
        raise ConfigError(f"variant {variant}: both objective weights are 0 (check objective.xtr_weight/contrastive_weight)")
    return {k: v for k, v in out.items() if v}


def data_fraction(variant: str) -> float:
    return float(parse_variant(variant)["data_fraction"])


def fraction_tag(fraction: float) -> str:
    """Folder suffix of a training-data fraction (``0.25`` -> ``frac0.25``)."""
    return f"frac{float(fraction)!r}"


def train_shards_dir(results: str, variant: str) -> str:
    """Training shard folder of a variant: ``shards/train`` or a subset ``shards/train-frac<f>``."""
    frac = data_fraction(variant)
    if frac >= 1.0:
        return str(paths.shards_dir(results, "train"))
    return str(paths.subset_shards_dir(results, frac))


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
    names = factors if factors else [f.name for f in FACTORS]
    parts = [BY_NAME[name].label(vals[name]) for name in names]
    return ", ".join(parts) if parts else "ems"


def scaling_factors() -> list[str]:
    """Numeric factors plotted (and tabulated) against their levels, in table order."""
    return [f.name for f in FACTORS if f.scaling]
