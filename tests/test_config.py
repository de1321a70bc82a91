"""The configuration schema: shipped configs validate; bad keys and values fail by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ems.config import deep_merge, load_config, validate_config
from ems.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _default() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.mark.parametrize("overlay", [None, "config/smoke.yaml", "config/paper.yaml"])
def test_shipped_configs_validate(overlay: str | None) -> None:
    overrides = yaml.safe_load((ROOT / overlay).read_text()) if overlay else None
    cfg = load_config(ROOT / "config.yaml", overrides)
    assert cfg["name"] == (overrides or {}).get("name", "default")
    # defaults are filled for keys the file leaves out
    assert "early_stopping_patience" in cfg["train"]


def test_defaults_filled_for_missing_sections() -> None:
    cfg = _default()
    del cfg["train"]
    out = validate_config(cfg)
    assert out["train"]["lr"] == pytest.approx(3e-4)
    assert out["train"]["batch_size"] == 128


def test_unknown_key_is_named() -> None:
    cfg = deep_merge(_default(), {"train": {"learning_rate": 0.1}})
    with pytest.raises(ConfigError, match=r"train: unknown key.*learning_rate"):
        validate_config(cfg)


def test_bad_value_is_named() -> None:
    cfg = deep_merge(_default(), {"train": {"lr": -1.0}})
    with pytest.raises(ConfigError, match=r"train\.lr"):
        validate_config(cfg)


def test_bad_enum_is_named() -> None:
    cfg = deep_merge(_default(), {"tokenizer": {"model": "wordpiece"}})
    with pytest.raises(ConfigError, match=r"tokenizer\.model"):
        validate_config(cfg)


def test_bad_commit_is_named() -> None:
    cfg = deep_merge(_default(), {"sources": {"laser": {"commit": "main"}}})
    with pytest.raises(ConfigError, match=r"sources\.laser\.commit"):
        validate_config(cfg)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
