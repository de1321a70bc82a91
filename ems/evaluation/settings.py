"""Validate the config sections the evaluation CLI receives (``evaluation``, ``mining``) against the schema."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ems.config import sections

logger = logging.getLogger(__name__)

SECTIONS = ("evaluation", "mining", "tracking")


def resolve_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A validated copy with defaults filled; ConfigError names the offending key (unknown sections too)."""
    return sections(settings, SECTIONS, what="settings (evaluation)")
