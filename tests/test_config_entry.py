"""One way into the configuration (issue 27): every section loads from an empty mapping with the schema's
defaults, every typed field equals its schema default, and no typed section carries a default of its own."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ems.config import load_schema, section, sections
from ems.errors import ConfigError
from ems.train.settings import ModelSettings, ObjectiveSettings, TrainSettings
from ems.tune.settings import TuneSettings

TYPED = {"model": ModelSettings, "objective": ObjectiveSettings, "train": TrainSettings, "tune": TuneSettings}
SCHEMA = load_schema()
#: Sections a configuration must give (no default makes sense: the data and the run's name).
REQUIRED = set(SCHEMA.get("required", []))


def _defaults(sub: dict[str, Any]) -> dict[str, Any]:
    """The schema's default of each key of an object section (nested objects: their own defaults)."""
    out = {}
    for key, prop in (sub.get("properties") or {}).items():
        if "default" in prop:
            out[key] = prop["default"]
        elif prop.get("type") == "object" and "properties" in prop:
            out[key] = _defaults(prop)
    return out


@pytest.mark.parametrize("name", sorted(k for k, v in SCHEMA["properties"].items()
                                        if v.get("type") == "object" and "properties" in v and k not in REQUIRED))
def test_every_section_loads_from_an_empty_mapping_with_the_schemas_defaults(name: str) -> None:
    loaded = section({}, name)
    expected = _defaults(SCHEMA["properties"][name])
    for key, default in expected.items():
        if isinstance(default, dict) and isinstance(loaded[key], dict):
            assert {k: loaded[key][k] for k in default} == default, f"{name}.{key}"
        else:
            assert loaded[key] == default, f"{name}.{key}"


@pytest.mark.parametrize("name", sorted(TYPED))
def test_typed_sections_hold_the_schemas_defaults_and_none_of_their_own(name: str) -> None:
    cls = TYPED[name]
    props = SCHEMA["properties"][name]["properties"]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(fields) == set(props), f"{cls.__name__} fields differ from the schema's {name} keys"
    for field in fields.values():  # a default written in code would hide a schema without one
        assert field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING, \
            f"{cls.__name__}.{field.name} has a default in code"
    typed = section({}, name, into=cls)
    for key, prop in props.items():
        assert "default" in prop, f"{name}.{key}: no default in the schema"
        assert getattr(typed, key) == prop["default"], f"{name}.{key}"


def test_sections_is_the_one_entry_and_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"invalid settings \(x\): train\.lr: "):
        sections({"train": {"lr": "fast"}}, ("train",), what="settings (x)")
    with pytest.raises(ConfigError, match="unknown key"):
        sections({"train": {}, "bogus": 1}, ("train",), what="settings (x)")
    from pathlib import Path

    from ems.config import read_yaml, validate_config

    raw = read_yaml(Path(__file__).resolve().parents[1] / "config.yaml")
    whole = sections(raw, None, what="configuration test")
    assert whole == validate_config(raw)  # the workflow's entry is this one plus the checks across sections
    assert {k for k, v in SCHEMA["properties"].items() if v.get("type") == "object"} <= set(whole)
