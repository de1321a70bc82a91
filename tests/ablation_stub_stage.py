"""Stand-ins for the train and evaluate jobs in tests/test_ablation_workflow.py (fast, no MLflow).

``train OUT_DIR MODEL_ID`` writes history.csv and run.json; ``evaluate JSON CSV MODEL_ID
TASK SETTINGS`` writes an eval summary and per-language table of known values.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def value(model: str, task: str, k: int) -> float:
    """0.8 (both) / 0.7 (other objectives) / 0.5 (peers) + 0.01·seed + 0.001·len(task) + 0.0001·k."""
    base = 0.5 if model.startswith("peer-") else (0.8 if "objective~both" in model else 0.7)
    seed = int(model.rsplit("seed", 1)[1]) if "/seed" in model else 0
    return round(base + 0.01 * seed + 0.001 * len(task) + 0.0001 * k, 6)


def main(argv: list[str]) -> None:
    if argv[0] == "train":
        out, model = Path(argv[1]), argv[2]
        out.mkdir(parents=True, exist_ok=True)
        base = 0.8 if "objective~both" in model else 0.7
        rows = ["step,seconds,loss/total,dev/retrieval_acc"]
        rows += [f"{s},{s * 0.5},{1 / (s + 1):.3f},{base * s / 40:.4f}" for s in (0, 20, 40)]
        (out / "history.csv").write_text("\n".join(rows) + "\n")
        (out / "run.json").write_text(json.dumps({"run_id": None, "model_id": model}))
    elif argv[0] == "evaluate":
        js, csv, model, task, settings = argv[1:6]
        cfg = json.loads(settings)
        v = value(model, task, int(cfg["tatoeba"]["k"]))
        key = f"{task}/f1" if task == "mining" else f"{task}/acc_mean"
        Path(js).write_text(json.dumps({"task": task, "model_id": model, "primary_metric": key,
                                        "metrics": {key: v}, "params": {}, "skipped": []}))
        column = "f1" if task == "mining" else "acc_mean"  # as the real per-language tables
        Path(csv).write_text(f"lang,{column}\n" + "".join(f"{lg},{v + 0.01 * i}\n" for i, lg in enumerate(["deu", "fra", "rus"])))
    else:
        raise SystemExit(f"unknown stub command {argv[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
