"""Validate the config sections the evaluation CLI receives (``evaluation``, ``mining``) against the schema."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

import jsonschema

from ems.config import _extend_with_defaults, _fill_section_defaults, key_path, load_schema
from ems.errors import ConfigError

logger = logging.getLogger(__name__)

SECTIONS = ("evaluation", "mining", "tracking")


def resolve_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A validated copy with defaults filled; ConfigError names the offending key."""
    schema = load_schema()
    present = [s for s in SECTIONS if s in schema["properties"]]
    sub = {
        "type": "object",
        "$schema": schema.get("$schema", "https://json-schema.org/draft/2020-12/schema"),
        "$defs": schema.get("$defs", {}),
        "definitions": schema.get("definitions", {}),
        "properties": {s: schema["properties"][s] for s in present},
    }
    cfg = copy.deepcopy(dict(settings))
    for s in present:
        cfg.setdefault(s, {})
    _fill_section_defaults(cfg, sub)
    validator = _extend_with_defaults(jsonschema.validators.validator_for(sub))(sub)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {key_path(e)}: {e.message}" for e in errors[:10]]
        raise ConfigError("invalid evaluation settings:\n" + "\n".join(lines))
    return cfg
