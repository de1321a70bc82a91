"""Helpers of ``workflow/rules/report.smk`` (kept here so the rule file holds only rules).

They build the rule params and the named, ``report()``-wrapped outputs from the config, so
the output names come from :mod:`ems.ablation.outputs` like the files the commands write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ems.ablation import outputs
from ems.config import settings_json

logger = logging.getLogger(__name__)


def ablation_settings(config: Mapping[str, Any]) -> str:
    """``--settings`` of the aggregate/figures/tables rules: the sections they depend on (their rerun trigger)."""
    return settings_json({"name": config["name"], "ablation": config["ablation"], "objective": config["objective"]})


def _caption(kind: str, stem: str) -> str:
    base = "scaling" if stem.startswith("scaling_") else stem
    return f"../report/{kind}_{base}.rst"


def figure_outputs(config: Mapping[str, Any], folder: Path, report: Callable[..., Any]) -> dict[str, Any]:
    """Named outputs of the figures rule: ``<stem>`` (PNG, in the report) and ``<stem>_pdf``."""
    out: dict[str, Any] = {}
    for stem in outputs.figure_stems(config):
        out[stem] = report(Path(folder) / f"{stem}.png", caption=_caption("figure", stem), category="Ablation",
                           subcategory="Figures", labels={"figure": stem})
        out[f"{stem}_pdf"] = Path(folder) / f"{stem}.pdf"
    return out


def table_outputs(config: Mapping[str, Any], folder: Path, report: Callable[..., Any]) -> dict[str, Any]:
    """Named outputs of the tables rule: ``<stem>`` (CSV, in the report) and ``<stem>_tex``."""
    out: dict[str, Any] = {}
    for stem in outputs.table_stems(config):
        out[stem] = report(Path(folder) / f"{stem}.csv", caption=_caption("table", stem), category="Ablation",
                           subcategory="Tables", labels={"table": stem})
        out[f"{stem}_tex"] = Path(folder) / f"{stem}.tex"
    return out


def benchmark_patterns(workflow: Any) -> str:
    """JSON ``{rule: benchmark file pattern}`` of every rule with a ``benchmark:`` (names the rule of each TSV)."""
    return settings_json({r.name: str(r.benchmark) for r in workflow.rules if r.benchmark})
