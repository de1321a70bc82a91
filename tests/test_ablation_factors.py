"""Adding an ablation factor is one entry of grid.FACTORS plus its schema line (docs/ablations.md)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

import ems.ablation
import ems.config
from ems.ablation import outputs

ROOT = Path(__file__).resolve().parents[1]
ENTRY = '''    Factor("dropout", "drop", _NUMBER, float, lambda v: f"dropout {v:g}",
           lambda v: {"model": {"dropout": float(v)}}, scaling=True),
)'''


def test_a_new_factor_is_one_entry_and_one_schema_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = yaml.safe_load(ems.config.SCHEMA_PATH.read_text())
    schema["properties"]["ablation"]["properties"]["factors"]["properties"]["dropout"] = {
        "type": "array", "minItems": 1, "items": {"type": "number", "minimum": 0, "maximum": 1}, "default": [0.1]}
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(schema))
    monkeypatch.setattr(ems.config, "SCHEMA_PATH", tmp_path / "schema.yaml")
    source = (ROOT / "ems" / "ablation" / "grid.py").read_text()
    last = source.index("\n)\n", source.index("FACTORS: tuple[Factor, ...] = ("))
    (tmp_path / "grid_dropout.py").write_text(source[:last + 1] + ENTRY + source[last + 2:])
    spec = importlib.util.spec_from_file_location("ems.ablation.grid", tmp_path / "grid_dropout.py")
    grid = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(grid)
    monkeypatch.setitem(sys.modules, "ems.ablation.grid", grid)
    monkeypatch.setattr(ems.ablation, "grid", grid, raising=False)
    monkeypatch.setattr(outputs, "grid", grid)

    cfg = ems.config.load_config(ROOT / "config.yaml", {"ablation": {"factors": {"objective": ["both"], "dropout": [0.1, 0.3]}}})
    variants = grid.variants(cfg)
    temp = f"{cfg['ablation']['factors']['temperature'][0]:g}"  # the default config's level
    assert variants == [f"objective~both_langemb~True_temp~{temp}_frac~1.0_drop~0.1",
                        f"objective~both_langemb~True_temp~{temp}_frac~1.0_drop~0.3"]
    assert grid.parse_variant(variants[1])["dropout"] == 0.3
    assert grid.variant_overrides(cfg, variants[1])["model"] == {"dropout": 0.3}
    assert grid.short_label(variants[1], grid.varying_factors(cfg)) == "dropout 0.3"
    assert "scaling_dropout" in outputs.figure_stems(cfg) and "scaling_dropout" in outputs.table_stems(cfg)
    with pytest.raises(ems.config.ConfigError, match=r"ablation\.factors\.dropout"):
        grid.variants(ems.config.deep_merge(cfg, {"ablation": {"factors": {"dropout": [2.0]}}}))
