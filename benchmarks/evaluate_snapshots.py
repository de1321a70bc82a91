"""Score the snapshots that ``time_to_accuracy.py --keep DIR`` kept on the workflow's own tasks.

Each snapshot (``DIR/<recipe>/snapshots/step*``) is evaluated with ``ems evaluate`` and the
evaluation settings of a config (default ``config.yaml``: the grid's languages, mining sets
and classifiers), so a snapshot's score is what the grid would report for a model stopped at
that step. The table joins the benchmark's JSON (seconds, pairs, dev accuracy) with the
scores and is written as CSV (each evaluation's own CSV and JSON go to ``snapshots/`` beside
it); ``--markdown`` also prints the table. Nothing here chooses a model:
it reports a curve. Run it on an idle machine, after the benchmark.

    .venv/bin/python benchmarks/evaluate_snapshots.py --keep /work/floor_probe \\
        --tta docs/measurements/<run>/time_to_accuracy.json --tasks flores,mining \\
        --out docs/measurements/<run>/snapshot_scores.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ems import paths
from ems.config import validate_config
from ems.evaluation.registry import source_roles
from ems.evaluation.rules import settings_json
from ems.io import atomic_open


def evaluate(snapshot: Path, task: str, config: dict[str, Any], results: Path, out: Path, threads: int) -> dict:
    """``ems evaluate`` of one snapshot on one task (no cache, no tracking); its summary JSON."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "ems.cli", "evaluate", "--task", task, "--model", f"ems:{snapshot}",
           "--model-id", snapshot.name, "--settings", settings_json(config, task),
           "--train-meta", str(paths.shards_dir(results) / "meta.json"),
           "--out-csv", str(out / f"{task}.csv"), "--out-json", str(out / f"{task}.json"),
           "--no-cache", "--threads", str(threads)]
    cmd += [f"--source={role}={paths.source_dir(config, role)}" for role in source_roles(task)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    summary = json.loads((out / f"{task}.json").read_text())
    summary["primary"] = summary["metrics"][summary["primary_metric"]]
    summary["_seconds"] = round(time.perf_counter() - start, 1)
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keep", type=Path, required=True, help="the benchmark's --keep folder")
    p.add_argument("--tta", type=Path, required=True, help="the benchmark's JSON report")
    p.add_argument("--tasks", default="flores,mining", help="comma-separated tasks of the workflow")
    p.add_argument("--config", type=Path, default=ROOT / "config.yaml", help="evaluation settings (as the grid's)")
    p.add_argument("--results", type=Path, default=ROOT / "results" / "default", help="results/<name> with shards/")
    p.add_argument("--every", type=int, default=1, help="score every k-th snapshot (the last is always scored)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, required=True, help="CSV: recipe, step, seconds, pairs, dev_acc, <task>...")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = p.parse_args(argv)
    if args.every < 1:
        p.error(f"--every {args.every}: must be at least 1")
    config = validate_config(yaml.safe_load(args.config.read_text()), source=str(args.config))
    report = json.loads(args.tta.read_text())
    tasks = [t for t in args.tasks.split(",") if t]
    rows: list[dict[str, Any]] = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name, rec in report["recipes"].items():
        points = [pt for pt in rec["points"] if "snapshot" in pt]
        chosen = [pt for i, pt in enumerate(points) if i % args.every == args.every - 1 or pt is points[-1]]
        for pt in chosen:
            snapshot = args.keep / name / "snapshots" / Path(pt["snapshot"]).name
            if not snapshot.is_dir():
                p.error(f"{snapshot}: snapshot folder missing (was the benchmark run with --keep {args.keep}?)")
            row = {"recipe": name, "step": pt["step"], "seconds": pt["seconds"], "pairs": pt["pairs"],
                   "dev_acc": pt["dev_acc"], "tatoeba": pt.get("tatoeba_acc")}
            for task in tasks:
                summary = evaluate(snapshot, task, config, args.results, args.out.parent / "snapshots" / name / snapshot.name,
                                   args.threads)
                row[task] = summary["primary"]
                print(f"{name} step {pt['step']} ({pt['seconds']:.0f} s): {task} {summary['primary']:.4f}"
                      f" [{summary['_seconds']:.0f} s]", flush=True)
            rows.append(row)
            with atomic_open(args.out, newline="") as fh:  # after every snapshot: a kill keeps what was measured
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
    if not rows:
        p.error(f"{args.tta}: no snapshot points to score")
    if args.markdown:
        cols = list(rows[0])
        print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
        for r in rows:
            print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) and c not in ("seconds",) else str(v)
                                    for c, v in r.items()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
