"""Load and validate configurations against ``workflow/schemas/config.schema.yaml``.

The Snakefile validates with ``snakemake.utils.validate``; the package validates the same
schema here so that the ``ems`` CLI gives the same answers outside Snakemake, with errors
that name the offending key (``train.lr``) rather than a schema path.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import yaml

from ems.errors import ConfigError
from ems.io import stable_hash

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


def load_schema() -> dict[str, Any]:
    if not SCHEMA_PATH.exists():
        raise ConfigError(
            f"config schema not found at {SCHEMA_PATH}; install the package from a clone "
            "(pip install -e .) so that workflow/ sits beside ems/"
        )
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _extend_with_defaults(validator_class: type) -> type:
    """A validator that fills ``default`` values of absent properties (as Snakemake does)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for prop, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(prop, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _fill_section_defaults(cfg: dict[str, Any], schema: Mapping[str, Any]) -> None:
    """Create absent object sections so that their own defaults get filled too."""
    for key, sub in schema.get("properties", {}).items():
        is_section = isinstance(sub, dict) and sub.get("type") == "object" and "default" not in sub
        if key not in cfg and is_section and key not in schema.get("required", []):
            cfg[key] = {}
        if isinstance(cfg.get(key), dict) and isinstance(sub, dict) and sub.get("type") == "object":
            _fill_section_defaults(cfg[key], sub)


def key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "<top level>"


def validate_config(config: Mapping[str, Any], source: str = "config") -> dict[str, Any]:
    """Return a validated deep copy of ``config`` with defaults filled; raise ConfigError."""
    schema = load_schema()
    cfg = copy.deepcopy(dict(config))
    _fill_section_defaults(cfg, schema)
    validator_cls = _extend_with_defaults(jsonschema.Draft202012Validator)
    validator = validator_cls(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for err in errors[:10]:
            msg = err.message
            if err.validator == "additionalProperties":
                msg = f"unknown key(s): {msg.split('(')[-1].rstrip(')')}"
            lines.append(f"  {key_path(err)}: {msg}")
        raise ConfigError(f"invalid configuration {source}:\n" + "\n".join(lines))
    return cfg


def schema_validator(schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    """A validator for ``schema`` that also fills ``default`` values (as Snakemake does)."""
    return _extend_with_defaults(jsonschema.validators.validator_for(schema))(schema)


def _sub_schema(schema: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The top-level schema restricted to ``keys`` (unknown names are ignored)."""
    return {
        "type": "object",
        "$schema": schema.get("$schema", "https://json-schema.org/draft/2020-12/schema"),
        "$defs": schema.get("$defs", {}),
        "properties": {k: schema["properties"][k] for k in keys if k in schema["properties"]},
    }


def validate_sections(
    settings: Mapping[str, Any], sections: tuple[str, ...], what: str, extra_keys: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Validate only ``sections`` (and top-level ``extra_keys``) of a config against the schema.

    Stage CLIs receive just the sections they need (``--settings``); this gives them the same
    defaults and key-naming errors as :func:`validate_config` without the rest of the config.
    """
    schema = load_schema()
    present = tuple(s for s in sections if s in schema["properties"])
    sub = _sub_schema(schema, (*present, *extra_keys))
    cfg = copy.deepcopy(dict(settings))
    for s in present:
        cfg.setdefault(s, {})
    _fill_section_defaults(cfg, sub)
    errors = sorted(schema_validator(sub).iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {key_path(e)}: {e.message}" for e in errors[:10]]
        raise ConfigError(f"invalid {what} settings:\n" + "\n".join(lines))
    return cfg


T = TypeVar("T")


def section(settings: Mapping[str, Any], name: str, into: type[T] | None = None) -> Any:
    """The config section ``name`` of ``settings``, validated, with the schema's defaults filled.

    The one configuration API of the package: every CLI and the workflow read a section
    through it, so the schema stays the only place where defaults live. With ``into`` (a
    dataclass whose fields are the section's keys) a typed object is returned, else a dict.
    Errors raise :class:`ConfigError` naming the key (``train.lr: ...``).
    """
    cfg = validate_sections({name: settings.get(name, {})}, (name,), f"{name!r} section")[name]
    if into is None:
        return cfg
    return typed(into, cfg, name)


def typed(into: type[T], values: Mapping[str, Any], name: str) -> T:
    """``into(**values)`` for a dataclass, naming the section when a key has no field."""
    fields = {f.name for f in dataclasses.fields(into)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(f"unknown key(s) in {name}: {', '.join(unknown)}")
    missing = sorted(fields - set(values))
    if missing:  # a schema without a default for a field: a defect of the schema, not of the user
        raise ConfigError(f"{name}: no value and no schema default for {', '.join(missing)}")
    return into(**dict(values))


def load_config(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read a YAML config, deep-merge ``overrides``, validate and fill defaults."""
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping")
    if overrides:
        raw = deep_merge(raw, overrides)
    return validate_config(raw, source=str(path))


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def config_hash(config: Mapping[str, Any]) -> str:
    """Hash of the resolved configuration, used to tag runs."""
    return stable_hash(config)


def results_root(config: Mapping[str, Any]) -> Path:
    """``<results_dir>/<name>``: where one configuration's outputs live."""
    return Path(config.get("results_dir", "results")) / config["name"]


def parse_settings(text: str) -> dict[str, Any]:
    """Parse a JSON object handed over by a Snakemake rule (``--settings``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--settings is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ConfigError("--settings must be a JSON object")
    return value
