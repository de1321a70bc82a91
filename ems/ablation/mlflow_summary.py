"""Log figures and tables to the configuration's MLflow parent run; prove tables equal MLflow.

The parent run is the one created once by the ``tracking_setup`` rule
(``results/<name>/tracking/parent.json``: ``{"run_id", "experiment_id", "tracking_uri"}``).
:func:`compare_with_mlflow` reads every run of the experiment with ``mlflow.search_runs``
and checks that each per-model value of the aggregate long table is the metric of that
model's run under the same key, and that each table mean is the mean over those runs.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ems.errors import DataError
from ems.io import read_json
from ems.paths import model_file
from ems.redact import connectable

logger = logging.getLogger(__name__)

#: Tags that may carry the model id of a run (first found wins), then the run name.
MODEL_ID_TAGS: tuple[str, ...] = ("model_id", "ems.model_id", "mlflow.runName")


def read_parent(path: str | os.PathLike[str]) -> dict[str, str]:
    """The parent run descriptor written by ``tracking_setup``; DataError when malformed."""
    doc = read_json(path)
    missing = [k for k in ("run_id", "experiment_id", "tracking_uri") if not doc.get(k)]
    if missing:
        raise DataError(f"{path}: missing key(s) {missing} (expected run_id, experiment_id, tracking_uri)")
    return {k: str(doc[k]) for k in ("run_id", "experiment_id", "tracking_uri")}


def log_artifacts(parent: Mapping[str, str], files: Iterable[str | os.PathLike[str]], artifact_path: str = "ablation") -> list[str]:
    """Log each file as an artifact of the parent run under ``artifact_path/<parent folder>/``; return the paths."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=connectable(parent["tracking_uri"]))
    logged = []
    for f in map(Path, files):
        if not f.is_file():
            raise DataError(f"artifact to log does not exist: {f}")
        dest = f"{artifact_path}/{f.parent.name}"
        client.log_artifact(parent["run_id"], str(f), artifact_path=dest)
        logged.append(f"{dest}/{f.name}")
    logger.info("logged %d artifacts to run %s", len(logged), parent["run_id"])
    return logged


def run_ids_from_models(models_root: str | os.PathLike[str], model_ids: Sequence[str]) -> dict[str, str]:
    """model_id -> MLflow run id read from ``models/<model_id>/run.json`` (absent files skipped)."""
    out = {}
    for mid in model_ids:
        path = model_file(Path(models_root) / mid, "run")
        if path.exists():
            run_id = read_json(path).get("run_id")
            if run_id:
                out[mid] = str(run_id)
    return out


def search_runs(tracking_uri: str, experiment_id: str) -> pd.DataFrame:
    """All runs of the experiment (``mlflow.search_runs``), with their metrics and tags as columns."""
    import mlflow

    # set_tracking_uri also exports MLFLOW_TRACKING_URI; restore the environment exactly so
    # that later runs and subprocesses of this process do not inherit this store.
    previous_env = os.environ.get("MLFLOW_TRACKING_URI")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    try:
        return mlflow.search_runs(experiment_ids=[str(experiment_id)], output_format="pandas", max_results=100000)
    finally:
        mlflow.set_tracking_uri(previous)
        if previous_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous_env


def _run_index(runs: pd.DataFrame, run_ids: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """model_id -> its runs: the run of run.json, runs tagged or named with the model id
    (``<model_id>`` or ``<model_id>/...``), and child runs of those; newest first."""
    if runs.empty:
        return {}
    runs = runs.sort_values("start_time", ascending=False) if "start_time" in runs.columns else runs
    owner: dict[str, set[str]] = {}
    for mid, rid in run_ids.items():
        owner.setdefault(mid, set()).add(rid)
    for tag in MODEL_ID_TAGS:
        col = f"tags.{tag}"
        if col not in runs.columns:
            continue
        for rid, value in zip(runs["run_id"], runs[col]):
            if not isinstance(value, str) or not value:
                continue
            owner.setdefault(value, set()).add(rid)
            if tag == "mlflow.runName" and "/seed" in value:  # "<variant>/seed<k>/<task>" style names
                head, _, rest = value.partition("/seed")
                seed = rest.split("/", 1)[0]
                owner.setdefault(f"{head}/seed{seed}", set()).add(rid)
            elif tag == "mlflow.runName" and "/" in value:  # "peer-x/<task>"
                owner.setdefault(value.split("/", 1)[0], set()).add(rid)
    parent_col = "tags.mlflow.parentRunId"
    index = {}
    for mid, rids in owner.items():
        if parent_col in runs.columns:
            rids = rids | set(runs.loc[runs[parent_col].isin(rids), "run_id"])
        index[mid] = runs[runs["run_id"].isin(rids)]
    return index


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def compare_with_mlflow(long: pd.DataFrame, summary: pd.DataFrame, runs: pd.DataFrame,
                        run_ids: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per checked number: level (run/mean), model_id or variant, metric, table, mlflow, status.

    status: ``ok``, ``mismatch``, ``no_run`` (model without a tracked run) or ``no_metric``.
    """
    index = _run_index(runs, run_ids or {})
    rows: list[dict[str, Any]] = []
    tracked: dict[tuple[str, str], list[float]] = {}
    for rec in long.itertuples(index=False):
        model_runs = index.get(rec.model_id)
        base = {"level": "run", "id": rec.model_id, "metric": rec.metric, "table": float(rec.value)}
        if model_runs is None or model_runs.empty:
            rows.append({**base, "mlflow": math.nan, "status": "no_run"})
            continue
        col = f"metrics.{rec.metric}"
        values = model_runs[col].dropna() if col in model_runs.columns else pd.Series(dtype=float)
        if values.empty:
            rows.append({**base, "mlflow": math.nan, "status": "no_metric"})
            continue
        value = values.iloc[0]  # the newest run that logged it
        rows.append({**base, "mlflow": float(value), "status": "ok" if _close(float(rec.value), float(value)) else "mismatch"})
        tracked.setdefault((rec.variant, rec.metric), []).append(float(value))
    for rec in summary.itertuples(index=False):
        values = tracked.get((rec.variant, rec.metric))
        base = {"level": "mean", "id": rec.variant, "metric": rec.metric, "table": float(rec.mean)}
        if not values or len(values) != int(rec.n):
            rows.append({**base, "mlflow": math.nan, "status": "no_run"})
            continue
        mean = sum(values) / len(values)
        rows.append({**base, "mlflow": mean, "status": "ok" if _close(float(rec.mean), mean) else "mismatch"})
    return pd.DataFrame(rows, columns=["level", "id", "metric", "table", "mlflow", "status"])


def verify(aggregate_dir: str | os.PathLike[str], parent: Mapping[str, str],
           run_ids: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Compare ``long.csv``/``summary.csv`` of ``aggregate_dir`` with the experiment's runs."""
    long = pd.read_csv(Path(aggregate_dir) / "long.csv")
    summary = pd.read_csv(Path(aggregate_dir) / "summary.csv")
    runs = search_runs(connectable(parent["tracking_uri"]), parent["experiment_id"])
    return compare_with_mlflow(long, summary, runs, run_ids)


def compare_table(table: pd.DataFrame, check: pd.DataFrame) -> pd.DataFrame:
    """Check a tidy table's means (rows with ``variant`` and metric ``column``) against the MLflow means of ``check``."""
    means = {(r.id, r.metric): r.mlflow for r in check[check["level"] == "mean"].itertuples(index=False)}
    rows = []
    for rec in table.itertuples(index=False):
        value = means.get((rec.variant, rec.column), math.nan)
        status = "no_run" if pd.isna(value) else ("ok" if _close(float(rec.mean), float(value)) else "mismatch")
        rows.append({"level": "table", "id": rec.variant, "metric": rec.column, "table": float(rec.mean),
                     "mlflow": value, "status": status})
    return pd.DataFrame(rows, columns=["level", "id", "metric", "table", "mlflow", "status"])


def primary_metrics(summary: pd.DataFrame) -> list[str]:
    """Each task's headline metric in ``summary.csv`` (``tatoeba/acc_mean``, ``mining/f1``, ``sib200/acc``...):
    what the parent run shows; every other number stays in the ``ablation/summary.csv`` artifact."""
    return [m for m in dict.fromkeys(summary["metric"]) if str(m).endswith(("/acc_mean", "/f1", "/acc"))
            and str(m).count("/") == 1]


def headline(summary: pd.DataFrame, varying: Sequence[str]) -> dict[str, float]:
    """``<cell>/<metric>`` -> mean over seeds, and ``<cell>/<metric>/ci95`` where defined, for each task's
    primary metric (cells named as the runs: ``both_t0.05``; peers by their id). Metric keys, so ASCII only.
    Only the primary metrics: a parent with every summary row logged opened on hundreds of one-bar charts."""
    from ems.run_names import cell_name

    out: dict[str, float] = {}
    keep = set(primary_metrics(summary))
    for rec in summary[summary["metric"].isin(keep)].itertuples(index=False):
        variant = str(rec.variant)
        cell = variant if variant.startswith("peer-") or "~" not in variant else cell_name(variant, varying)
        if pd.notna(rec.mean) and math.isfinite(float(rec.mean)):
            out[f"{cell}/{rec.metric}"] = float(rec.mean)
        ci = getattr(rec, "ci95", math.nan)
        if pd.notna(ci) and math.isfinite(float(ci)):
            out[f"{cell}/{rec.metric}/ci95"] = float(ci)
    return out


def describe(config: Mapping[str, Any], summary: pd.DataFrame, varying: Sequence[str], commit: str) -> str:
    """The parent run's description (``mlflow.note.content``, Markdown): what ran, and the primary metric
    of each task per cell (mean over seeds and its 95% t-interval, clipped to the metric's range)."""
    from ems.run_names import cell_name

    primary = primary_metrics(summary)
    seeds = list(config.get("ablation", {}).get("seeds", []))
    lines = [(f"EMS configuration `{config.get('name')}` at commit `{commit}`; grid factors that vary: "
              f"{', '.join(varying) or 'none'}; seeds {seeds}."),
             ("The runs grouped by cell: the shared view `ems-cells` (`?viewStateShareKey=ems-cells` on the "
             "experiment's runs page), or Group by the tag `ems.cell_short`. Mean over seeds [95% t-interval, "
             "clipped to the metric's range]:"), "",
             "| cell | " + " | ".join(primary) + " |", "|---" * (len(primary) + 1) + "|"]
    for variant, group in summary.groupby("variant", sort=False):
        cell = variant if str(variant).startswith("peer-") or "~" not in str(variant) else cell_name(str(variant), varying)
        cells = []
        for metric in primary:
            row = group[group["metric"] == metric]
            if row.empty or pd.isna(row["mean"].iloc[0]):
                cells.append("")
                continue
            low = row["ci_low"].iloc[0] if "ci_low" in row else math.nan
            high = row["ci_high"].iloc[0] if "ci_high" in row else math.nan
            interval = f" [{low:.4f}, {high:.4f}]" if pd.notna(low) and pd.notna(high) else ""
            cells.append(f"{row['mean'].iloc[0]:.4f}{interval}")
        lines.append(f"| {cell} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: Key of the shared runs-table view the summary step stores on the experiment (the MLflow UI opens it at
#: ``#/experiments/<id>/runs?viewStateShareKey=ems-cells``): runs grouped by cell, the primary metrics shown.
CELLS_VIEW_KEY = "ems-cells"


def cells_view(summary: pd.DataFrame, varying: Sequence[str]) -> dict[str, Any]:
    """The MLflow UI's runs-table state: grouped by ``ems.cell_short`` (mean of the seeds), each task's primary
    metric and the kept dev accuracy as columns, the varying factors and the seed as tags."""
    metrics = [*primary_metrics(summary), "best/dev_retrieval_acc"]
    factors = [f"tags.`ems.factor.{name}`" for name in varying]
    return {"groupBy": {"aggregateFunction": "average",
                        "groupByKeys": [{"mode": "tag", "groupByData": "ems.cell_short"}]},
            "selectedColumns": [*(f"metrics.`{m}`" for m in metrics), *factors, "tags.`ems.seed`",
                                "tags.`ems.role`"],
            "groupsExpanded": {}, "runsExpanded": {}, "searchFilter": "", "orderByKey": "attributes.start_time",
            "orderByAsc": False}


def finish_parent(parent: Mapping[str, str], config: Mapping[str, Any], summary: pd.DataFrame,
                  run_ids: Mapping[str, str]) -> dict[str, Any]:
    """The grid has ended: give the parent run the resolved config (params, flattened, and
    ``config/resolved.yaml``), the commit, the headline table (metrics and description), rename the
    models' runs to the grid's short names, and end the parent (FINISHED). Returns what was logged."""
    import tempfile

    from ems import grid
    from ems.io import write_yaml
    from ems.redact import redact_value
    from ems.run_names import run_names
    from ems.tracking.base import git_commit
    from ems.tracking.mlflow_tracker import MlflowTracker

    tracker = MlflowTracker(connectable(parent["tracking_uri"]), parent["run_id"], parent["experiment_id"])
    varying = grid.varying_factors(config)
    commit = git_commit()
    tracker.log_params(config)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resolved.yaml"
        write_yaml(path, redact_value(dict(config)))
        tracker.log_artifact(path, "config")
    metrics = headline(summary, varying)
    tracker.log_metrics(metrics, step=0)
    tracker.set_tags({"git_commit": commit, "mlflow.source.git.commit": commit,
                      "ems.grid.varying": ",".join(varying) or "none",
                      "mlflow.note.content": describe(config, summary, varying, commit)})
    tracker.client.set_experiment_tag(parent["experiment_id"], f"mlflow.sharedViewState.{CELLS_VIEW_KEY}",
                                      json.dumps(cells_view(summary, varying)))
    names = run_names(list(run_ids), varying)
    for mid, rid in run_ids.items():  # runs created before the grid's varying factors changed get today's names
        # ems.cell_short: the cell as its run name without the seed (both, xtr_t0.05): short, distinct group
        # labels for Group by (ems.cell values start alike and the UI truncates them)
        MlflowTracker(tracker.tracking_uri, rid, parent["experiment_id"]).set_tags(
            {"mlflow.runName": names[mid], "ems.cell_short": names[mid].rsplit("/", 1)[0]})
    from ems.names import model_name
    from ems.tracking.naming import ROLE_PEER

    peers = tracker.client.search_runs(
        [parent["experiment_id"]],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent['run_id']}' AND tags.`ems.role` = '{ROLE_PEER}'")
    for run in peers:  # a peer is a group of its own beside the cells ("TF-IDF")
        peer_id = run.data.tags.get("ems.model_id", run.info.run_name)
        MlflowTracker(tracker.tracking_uri, run.info.run_id, parent["experiment_id"]).set_tags(
            {"ems.cell_short": model_name(peer_id)})
    tracker.close("FINISHED")
    logger.info("parent run %s: %d config params, %d headline metrics, %d runs named; FINISHED",
                parent["run_id"], len(config), len(metrics), len(names))
    return {"headline_metrics": len(metrics), "renamed": len(names), "varying": varying}
