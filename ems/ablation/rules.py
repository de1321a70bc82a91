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
from ems.config import section, settings_json

logger = logging.getLogger(__name__)


def ablation_settings(config: Mapping[str, Any]) -> str:
    """``--settings`` of the aggregate/figures/tables rules: the sections they depend on (their rerun trigger)."""
    return settings_json({"name": config["name"], "ablation": config["ablation"], "objective": config["objective"]})


def _caption(kind: str, stem: str) -> str:
    base = "scaling" if stem.startswith("scaling_") else stem
    return f"../report/{kind}_{base}.rst"


def grid_caption(config: Mapping[str, Any]) -> str:
    """The grid in words for report captions (``params.grid`` of the figures and tables rules), each
    factor of :data:`ems.grid.FACTORS` by its name in :mod:`ems.names` with its levels:
    "objective XTR + contrastive, XTR; target-language embedding on; temperature 0.05, 0.1;
    training-data fraction 1; seeds 1, 2, 3 (4 cells, full product)"."""
    from ems import grid, names

    frame = grid.grid_frame(config)
    parts = []
    for factor in grid.FACTORS:
        levels = [factor.parse(str(v)) for v in dict.fromkeys(frame[factor.column])]
        parts.append(f"{names.factor_name(factor.name)} {', '.join(names.level_name(factor.name, v) for v in levels)}")
    design = section(config, "ablation")["design"]
    how = "one factor at a time from the reference cell" if design == "one_at_a_time" else "full product"
    seeds = grid.seeds(config)
    return f"{'; '.join(parts)}; seeds {', '.join(map(str, seeds))} ({len(frame)} cells × {len(seeds)} seeds, {how})"


def _outputs(stems: list[str], folder: Path, report: Callable[..., Any], kind: str, shown: str, other: str,
             subcategory: str) -> dict[str, Any]:
    """``<stem>`` (the ``shown`` file, in the report, labelled by its title) and ``<stem>_<other>`` for every stem."""
    out: dict[str, Any] = {}
    for stem in stems:
        out[stem] = report(Path(folder) / f"{stem}.{shown}", caption=_caption(kind, stem), category="Ablation",
                           subcategory=subcategory, labels={kind: outputs.figure_title(stem)})
        out[f"{stem}_{other}"] = Path(folder) / f"{stem}.{other}"
    return out


def figure_outputs(config: Mapping[str, Any], folder: Path, report: Callable[..., Any]) -> dict[str, Any]:
    """Named outputs of the figures rule: ``<stem>`` (PNG, in the report) and ``<stem>_pdf``."""
    return _outputs(outputs.figure_stems(config), folder, report, "figure", "png", "pdf", "Figures")


def table_outputs(config: Mapping[str, Any], folder: Path, report: Callable[..., Any]) -> dict[str, Any]:
    """Named outputs of the tables rule: ``<stem>`` (CSV), ``<stem>_tex`` and ``<stem>_html`` (rendered, in the report)."""
    out: dict[str, Any] = {}
    for stem in outputs.table_stems(config):
        out[stem] = Path(folder) / f"{stem}.csv"
        out[f"{stem}_tex"] = Path(folder) / f"{stem}.tex"
        out[f"{stem}_html"] = report(Path(folder) / f"{stem}.html", caption=_caption("table", stem), category="Ablation",
                                     subcategory="Tables", labels={"table": outputs.table_title(stem)})
    out["summary_html"] = report(Path(folder) / "summary.html", caption="../report/summary.rst", category="Ablation",
                                 subcategory="Aggregates", labels={"table": "All metrics over seeds"})
    return out


def mteb_settings(config: Mapping[str, Any]) -> str:
    """``--settings`` of the MTEB export: the sources (dataset revisions)."""
    return settings_json({"sources": config["sources"]})


def mteb_outputs(eval_jsons: list[str], results: Path) -> list[str]:
    """The MTEB result file of each eval JSON ``<results>/eval/<model_id>/<task>.json`` and each model's
    ``model_meta.json``."""
    from ems import paths
    from ems.ablation import mteb

    return [str(p) for p in mteb.export_paths(eval_jsons, paths.mteb_dir(results), paths.eval_root(results))]


def benchmark_patterns(workflow: Any) -> str:
    """JSON ``{rule: benchmark file pattern}`` of every rule with a ``benchmark:`` (names the rule of each TSV)."""
    return settings_json({r.name: str(r.benchmark) for r in workflow.rules if r.benchmark})
