"""``ems aggregate | figures | tables | mteb-export | subset-shards | mlflow-summary``: the ablation stage's commands."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ems.config import parse_settings, sections
from ems.errors import ConfigError, DataError
from ems.io import write_json

logger = logging.getLogger(__name__)

#: Config sections these commands may receive in --settings (validated against the schema).
SECTIONS = ("ablation", "objective", "evaluation", "tracking")


def _settings(text: str) -> dict[str, Any]:
    """Parse --settings (``{"name", "ablation", "objective", ...}``): sections validated, defaults filled."""
    value = parse_settings(text)
    if "ablation" not in value:
        raise ConfigError("--settings must hold the `ablation` section")
    return sections(value, SECTIONS, what="settings (--settings)", extra_keys=("name",))


def _quiet_fonts() -> None:
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)


def cmd_aggregate(args: argparse.Namespace) -> int:
    from ems import grid
    from ems.ablation import aggregate

    cfg = _settings(args.settings)
    files = [Path(p) for p in args.evals] if args.evals else aggregate.find_eval_files(args.eval_root)
    files = [p for p in files if p.suffix == ".json"]
    aggregate.aggregate(files, args.out, grid.reference_variant(cfg), args.eval_root)
    return 0


def _inputs(args: argparse.Namespace):
    from ems.ablation import outputs

    patterns = parse_settings(args.bench_patterns) if args.bench_patterns else None
    return outputs.Inputs(_settings(args.settings), args.aggregate, args.models, args.shards, args.stats,
                          args.benchmarks, patterns)


def cmd_figures(args: argparse.Namespace) -> int:
    from ems.ablation import outputs

    _quiet_fonts()
    outputs.make_figures(_inputs(args), args.out)
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    from ems.ablation import outputs

    outputs.make_tables(_inputs(args), args.out)
    return 0


def cmd_mteb_export(args: argparse.Namespace) -> int:
    from ems.ablation import mteb

    sources = sections(parse_settings(args.settings), ("sources",), what="settings (--settings)")["sources"]
    mteb.export([Path(p) for p in args.evals], args.out, sources)
    return 0


def cmd_subset(args: argparse.Namespace) -> int:
    from ems.ablation import subset

    subset.subset_shards(args.src, args.dst, args.fraction, args.seed)
    return 0


def cmd_mlflow_summary(args: argparse.Namespace) -> int:
    import pandas as pd

    from ems import grid
    from ems.ablation import mlflow_summary

    cfg = _settings(args.settings)
    parent = mlflow_summary.read_parent(args.parent)
    logged = mlflow_summary.log_artifacts(parent, args.files)
    run_ids = mlflow_summary.run_ids_from_models(args.models, grid.model_ids(cfg)) if args.models else {}
    check = mlflow_summary.verify(args.aggregate, parent, run_ids)
    if args.table and Path(args.table).exists():
        check = pd.concat([check, mlflow_summary.compare_table(pd.read_csv(args.table), check)], ignore_index=True)
    counts = check["status"].value_counts().to_dict()
    ems_rows = check[~check["id"].astype(str).str.startswith("peer-")]
    bad = ems_rows[ems_rows["status"] == "mismatch"]
    finished = None
    if bad.empty:  # the grid's numbers hold: the parent gets config, headline table, description, and ends
        config = parse_settings(args.config) if args.config else cfg
        summary = pd.read_csv(Path(args.aggregate) / "summary.csv")
        finished = mlflow_summary.finish_parent(parent, config, summary, run_ids)
    receipt = {"parent_run_id": parent["run_id"], "experiment_id": parent["experiment_id"],
               "artifacts": logged, "checked": counts, "parent": finished,
               "mismatches": bad.head(20).to_dict(orient="records")}
    write_json(args.out, receipt)
    if not bad.empty:
        raise DataError(f"{len(bad)} table value(s) differ from the MLflow metrics (first: {bad.iloc[0].to_dict()}); see {args.out}")
    missing = ems_rows[ems_rows["status"] != "ok"]
    if len(missing):
        logger.warning("%d EMS value(s) have no MLflow counterpart (statuses %s)", len(missing), missing["status"].value_counts().to_dict())
    logger.info("tables vs MLflow: %s", counts)
    return 0


def _run_names(args: argparse.Namespace) -> int:
    from ems import grid
    from ems.run_names import names_document

    settings = parse_settings(args.settings)
    doc = names_document(grid.model_ids(settings), grid.varying_factors(settings))
    write_json(args.out, doc)
    logger.info("run names of %d models (varying factors %s) -> %s", len(doc["names"]), doc["varying"], args.out)
    return 0


def _common_outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--aggregate", required=True, help="folder written by `ems aggregate`")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--models", help="results/<name>/models (training histories)")
    p.add_argument("--shards", help="results/<name>/shards/train (language sizes)")
    p.add_argument("--stats", help="results/<name>/stats (language sizes when shards are absent)")
    p.add_argument("--benchmarks", help="benchmarks/<name> (Snakemake benchmark TSVs)")
    p.add_argument("--bench-patterns", help='JSON {rule: benchmark file pattern} naming the rule of each TSV')
    p.add_argument("--settings", required=True, help='JSON {"name", "ablation", "objective", ...}')


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("aggregate", help="collect eval JSON/CSVs into long tables; mean, std, 95%% CI over seeds; differences")
    p.add_argument("--eval-root", required=True, help="results/<name>/eval")
    p.add_argument("--evals", nargs="*", help="eval JSON files (default: every JSON under --eval-root)")
    p.add_argument("--out", required=True, help="output folder (long.csv, summary.csv, differences.csv, per_language*.csv)")
    p.add_argument("--settings", required=True, help='JSON {"ablation": ..., "objective": ...}')
    p.set_defaults(func=cmd_aggregate)

    p = subparsers.add_parser("figures", help="ablation figures (PDF + PNG)")
    _common_outputs(p)
    p.set_defaults(func=cmd_figures)

    p = subparsers.add_parser("tables", help="ablation tables (CSV + LaTeX booktabs)")
    _common_outputs(p)
    p.set_defaults(func=cmd_tables)

    p = subparsers.add_parser("mteb-export", help="each model's eval results as MTEB result files (one JSON per task per model)")
    p.add_argument("--evals", nargs="+", required=True, help="eval JSON files (results/<name>/eval/<model_id>/<task>.json)")
    p.add_argument("--out", required=True, help="output folder (<model>/no_revision_available/ems_<task>.json)")
    p.add_argument("--settings", required=True, help='JSON {"sources": ...} (dataset revisions)')
    p.set_defaults(func=cmd_mteb_export)

    p = subparsers.add_parser("subset-shards", help="deterministic stratified fraction of a training shard folder")
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--fraction", required=True, type=float)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=cmd_subset)

    p = subparsers.add_parser("mlflow-summary", help="log figures/tables to the parent run; check tables equal MLflow metrics")
    p.add_argument("--parent", required=True, help="results/<name>/tracking/parent.json")
    p.add_argument("--aggregate", required=True)
    p.add_argument("--models", help="results/<name>/models (run.json of each model)")
    p.add_argument("--table", help="tables/ablation.csv, also checked against MLflow")
    p.add_argument("--files", nargs="+", required=True, help="figures and tables to log")
    p.add_argument("--out", required=True, help="receipt JSON (artifacts logged, check counts)")
    p.add_argument("--settings", required=True)
    p.add_argument("--config", help="JSON of the resolved configuration: params and config/resolved.yaml of the parent run "
                                    "(default: --settings)")
    p.set_defaults(func=cmd_mlflow_summary)

    p = subparsers.add_parser("tracking-names", help="short MLflow run names of the grid's models (run_names.json)")
    p.add_argument("--settings", required=True, help='JSON with the "ablation" section')
    p.add_argument("--out", required=True, help="run_names.json to write ({varying, names})")
    p.set_defaults(func=_run_names)
