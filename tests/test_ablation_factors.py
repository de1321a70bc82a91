"""Adding an ablation factor is one entry of grid.FACTORS plus its schema line (docs/ablations.md).

The new factor goes in through the module's data structures (FACTORS and the tables derived from it at
import), not by editing the module's source text, so the test fails only when a factor added that way
is not carried through ids, parsing, labels, overrides, run names, outputs and the schema.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import ems.config
from ems import grid, run_names
from ems.ablation import outputs

ROOT = Path(__file__).resolve().parents[1]
DROPOUT = grid.Factor("dropout", "drop", grid._NUMBER, float, lambda v: f"dropout {v:g}",
                      lambda v: {"model": {"dropout": float(v)}}, scaling=True)


def _add_factor(monkeypatch: pytest.MonkeyPatch, factor: grid.Factor) -> None:
    """Append ``factor`` to grid.FACTORS and rebuild what the module derives from it, everywhere it is bound
    (``from ems.grid import FACTORS`` in another module included)."""
    factors = (*grid.FACTORS, factor)
    derived = {
        "FACTORS": factors,
        "BY_NAME": {f.name: f for f in factors},
        "BY_COLUMN": {f.column: f for f in factors},
        "FACTOR_COLUMNS": {f.name: f.column for f in factors},
        "VARIANT_REGEX": grid.SEP.join(f"{f.column}~{f.value_regex}" for f in factors),
    }
    old = {id(getattr(grid, name)): name for name in derived}
    # a table derived from FACTORS that this helper does not know would keep the old factors: fail loudly
    for name, value in vars(grid).items():
        if name in derived or id(value) in old:
            continue
        items = value.values() if isinstance(value, dict) else value if isinstance(value, tuple | list) else ()
        assert not any(isinstance(v, grid.Factor) for v in items), f"grid.{name} is derived from FACTORS: rebuild it here"
    for module in [m for n, m in sys.modules.items() if n == "ems" or n.startswith("ems.")]:
        for name, value in list(vars(module).items()):
            if id(value) in old:
                monkeypatch.setattr(module, name, derived[old[id(value)]])


@pytest.fixture
def with_dropout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = yaml.safe_load(ems.config.SCHEMA_PATH.read_text())
    schema["properties"]["ablation"]["properties"]["factors"]["properties"]["dropout"] = {
        "type": "array", "minItems": 1, "items": {"type": "number", "minimum": 0, "maximum": 1}, "default": [0.1]}
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(schema))
    monkeypatch.setattr(ems.config, "SCHEMA_PATH", tmp_path / "schema.yaml")
    _add_factor(monkeypatch, DROPOUT)


def test_a_new_factor_is_one_entry_and_one_schema_line(with_dropout: None) -> None:
    cfg = ems.config.load_config(ROOT / "config.yaml", {"ablation": {"factors": {"objective": ["both"], "dropout": [0.1, 0.3]}}})
    variants = grid.variants(cfg)
    temp = f"{cfg['ablation']['factors']['temperature'][0]:g}"  # the default config's level
    assert variants == [f"objective~both_langemb~True_temp~{temp}_frac~1.0_drop~0.1",
                        f"objective~both_langemb~True_temp~{temp}_frac~1.0_drop~0.3"]
    assert grid.parse_variant(variants[1])["dropout"] == 0.3
    assert grid.parse_model_id(f"{variants[1]}/seed2")["dropout"] == 0.3
    assert grid.variant_overrides(cfg, variants[1])["model"] == {"dropout": 0.3}
    assert grid.varying_factors(cfg) == ["dropout"]
    assert grid.short_label(variants[1], grid.varying_factors(cfg)) == "dropout 0.3"
    assert "dropout" in grid.scaling_factors()
    # run names: the default short spelling <column><level>, only the varying factor
    assert run_names.run_name(f"{variants[1]}/seed2", grid.varying_factors(cfg)) == "drop0.3/s2"
    assert run_names.model_tags(f"{variants[1]}/seed2")["ems.factor.dropout"] == "0.3"
    assert "scaling_dropout" in outputs.figure_stems(cfg) and "scaling_dropout" in outputs.table_stems(cfg)
    with pytest.raises(ems.config.ConfigError, match=r"ablation\.factors\.dropout"):
        grid.variants(ems.config.deep_merge(cfg, {"ablation": {"factors": {"dropout": [2.0]}}}))


def test_ids_without_the_new_factor_are_not_variants(with_dropout: None) -> None:
    """Every factor appears in every id: an id of the old grid (no ``drop~``) no longer parses."""
    with pytest.raises(ems.config.ConfigError, match="not an ablation variant id"):
        grid.parse_variant("objective~both_langemb~True_temp~0.1_frac~1.0")
