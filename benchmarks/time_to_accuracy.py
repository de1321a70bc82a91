"""Time to accuracy: training seconds and pairs until dev retrieval accuracy and Tatoeba cross fixed levels.

Trains each recipe (a config file, or ``rev:path`` for a committed one such as
``HEAD~5:config.yaml``) on the same shards, one after the other in this process, with a
dev evaluation every ``train.eval_every`` steps (from the recipe). At every ``--snapshot-every``-th
dev evaluation the encoder is saved; after training, each snapshot is evaluated on Tatoeba
(the training languages, cosine, as the default evaluation). Training seconds are the
trainer's own clock (optimiser steps only: dev evaluations and snapshots are not counted).
Run it on an idle machine; nothing else heavy beside it.

    .venv/bin/python benchmarks/time_to_accuracy.py \\
        --recipe old=HEAD~10:config.yaml --recipe new=config.yaml \\
        --results results/default --laser results/sources/facebookresearch+LASER@<commit> \\
        --out docs/measurements/time_to_accuracy_<date>.json

``--seconds`` overrides every recipe's ``train.max_seconds`` (same budget for all),
``--budget name=SECONDS`` one recipe's (an old recipe need not run as long as a new one);
``--keep DIR`` keeps every recipe's snapshots (``DIR/<recipe>/snapshots/step*``, sentence-transformers
folders) for further evaluation, e.g. ``ems evaluate --model ems:<snapshot>`` on the other tasks;
without it they live in a temporary folder that is removed at the end.
``--arm both|contrastive|xtr`` sets the objective as the ablation grid does, ``--arm-of name=ARM``
one recipe's (one run can measure both arms of a recipe: ``--recipe both=X --recipe contrastive=X``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ems.config import deep_merge, validate_config
from ems.grid import BY_NAME
from ems.train.callbacks import TrainerCallback, TrainerControl, TrainerState

logger = logging.getLogger("time_to_accuracy")
DEV = "dev/retrieval_acc"
ARMS = ("both", "contrastive", "xtr")  # objective levels of the ablation grid


class Snapshots(TrainerCallback):
    """Record (step, seconds, pairs, dev accuracy) at every dev evaluation; save the encoder every k-th and the last."""

    def __init__(self, folder: Path, every: int) -> None:
        self.folder, self.every = folder, every
        self.points: list[dict[str, Any]] = []

    def on_train_begin(self, run: Any, state: TrainerState, control: TrainerControl, model: Any) -> None:
        self.run, self.model = run, model
        self.max_length = int(json.loads((run.train_dir / "meta.json").read_text())["max_length"])

    def on_evaluate(self, state: TrainerState, control: TrainerControl, metrics: dict[str, float]) -> None:
        from ems.model.io import save_model

        t = self.run.settings.train
        seconds = float(state.history[-1]["seconds"])  # the training seconds of this evaluation
        point = {"step": state.step, "seconds": round(seconds, 2), "pairs": int(state.pairs_seen),
                 "dev_acc": float(metrics[DEV])}
        n = len(self.points)
        # the budget is spent: the curve's last point is always scored
        final = state.step >= t.max_steps or bool(t.max_seconds and seconds >= t.max_seconds)
        if final or n % self.every == self.every - 1:
            path = self.folder / f"step{state.step:07d}"
            save_model(self.model.encoder, self.run.tokenizer_dir, path, self.max_length)
            point["snapshot"] = str(path)
        self.points.append(point)


def load_recipe(spec: str) -> dict[str, Any]:
    """A config file, or ``rev:path`` read with ``git show`` (a committed recipe)."""
    if ":" in spec and not Path(spec).exists():
        text = subprocess.run(["git", "-C", str(ROOT), "show", spec], check=True, capture_output=True, text=True).stdout
    else:
        text = Path(spec).read_text()
    return yaml.safe_load(text)


def settings_for(recipe: dict[str, Any], base: dict[str, Any], arm: str | None, seconds: float | None) -> dict:
    """The recipe over config.yaml (as Snakemake merges --configfile), validated; the arm's objective."""
    cfg = validate_config(deep_merge(base, recipe), source="recipe")
    if arm:  # as the ablation grid realises an objective level
        cfg = deep_merge(cfg, BY_NAME["objective"].overrides(arm))
    if seconds:  # the time budget alone ends every recipe
        cfg["train"]["max_seconds"] = seconds
        cfg["train"]["max_steps"] = max(cfg["train"]["max_steps"], 10**7)
    return cfg


def first_crossing(points: list[dict[str, Any]], key: str, level: float) -> dict[str, Any] | None:
    for p in points:
        if p.get(key) is not None and p[key] >= level:
            return {"seconds": p["seconds"], "pairs": p["pairs"], "step": p["step"]}
    return None


def tatoeba_scores(points: list[dict[str, Any]], laser: Path, languages: list[str]) -> None:
    """Fill ``tatoeba_acc`` (mean over languages) of every snapshot point."""
    from ems.encoders import load_encoder
    from ems.evaluation.tatoeba import build_tatoeba

    evaluator = build_tatoeba(laser, languages)
    for p in points:
        if "snapshot" not in p:
            continue
        result = evaluator(load_encoder(f"ems:{p['snapshot']}", batch_size=256))
        p["tatoeba_acc"] = float(result.primary)
        logger.info("step %d (%.0f s): Tatoeba %.4f", p["step"], p["seconds"], p["tatoeba_acc"])


def run_recipe(name: str, cfg: dict[str, Any], results: Path, laser: Path, every: int, work: Path) -> dict:
    import torch

    from ems.train.entry import run_training
    from ems.train.run import resolve_run

    out = work / name
    snaps = Snapshots(out / "snapshots", every)
    trainer_settings = {s: cfg[s] for s in ("model", "objective", "train")}
    run = resolve_run(trainer_settings, results / "shards" / "train", results / "shards" / "valid", results / "tokenizer",
                      out / "model-out", model_id=f"tta/{name}", checkpoint_dir=out / "checkpoints")
    start = time.perf_counter()
    run_training(run, callbacks=[snaps], progress=False)
    wall = time.perf_counter() - start
    languages = json.loads((results / "shards" / "train" / "meta.json").read_text())["languages"]
    languages = [lang for lang in languages if lang != "eng"]
    tatoeba_scores(snaps.points, laser, languages)
    return {"settings": trainer_settings, "wall_s": round(wall, 1),
            "threads": torch.get_num_threads(), "points": snaps.points}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", action="append", required=True, help="name=config file or name=rev:path")
    p.add_argument("--results", type=Path, required=True, help="results/<name> with shards/ and tokenizer/")
    p.add_argument("--laser", type=Path, required=True, help="extracted LASER archive (Tatoeba v1)")
    p.add_argument("--arm", choices=ARMS, help="objective of every recipe")
    p.add_argument("--arm-of", action="append", default=[], metavar="NAME=ARM",
                   help="objective of one recipe (over --arm)")
    p.add_argument("--seconds", type=float, help="training seconds of every recipe (else each recipe's own)")
    p.add_argument("--budget", action="append", default=[], metavar="NAME=SECONDS",
                   help="training seconds of one recipe (over --seconds)")
    p.add_argument("--snapshot-every", type=int, default=2, help="save/evaluate on Tatoeba every k-th dev evaluation")
    p.add_argument("--dev-levels", default="0.2,0.3,0.4,0.5,0.6")
    p.add_argument("--tatoeba-levels", default="0.1,0.2,0.3,0.4,0.45")
    p.add_argument("--keep", type=Path, help="keep the snapshots under this folder (else a temporary one, removed)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        p.error(f"--keep {args.keep}: folder exists and is not empty")
    recipes = [(name, spec) for name, _, spec in (item.partition("=") for item in args.recipe)]
    names = [name for name, _ in recipes]
    budgets: dict[str, float] = {}
    for item in args.budget:
        name, _, value = item.partition("=")
        if name not in names:
            p.error(f"--budget {item}: no recipe named {name!r} (recipes: {', '.join(names)})")
        try:
            budgets[name] = float(value)
        except ValueError:
            p.error(f"--budget {item}: {value!r} is not a number of seconds")
    arms: dict[str, str] = {}
    for item in args.arm_of:
        name, _, arm = item.partition("=")
        if name not in names:
            p.error(f"--arm-of {item}: no recipe named {name!r} (recipes: {', '.join(names)})")
        if arm not in ARMS:
            p.error(f"--arm-of {item}: {arm!r} is not one of {', '.join(ARMS)}")
        arms[name] = arm
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "load_average_start": os.getloadavg()},
        "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=False, capture_output=True,
                                 text=True).stdout.strip(),
        "arm": args.arm, "arms": arms, "seconds": args.seconds, "budgets": budgets, "recipes": {},
    }
    import torch

    report["machine"]["torch"] = torch.__version__
    work = args.keep if args.keep is not None else Path(tempfile.mkdtemp(prefix="ems-tta-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for name, spec in recipes:
            arm = arms.get(name, args.arm)
            cfg = settings_for(load_recipe(spec), base, arm, budgets.get(name, args.seconds))
            logger.info("recipe %s (%s)", name, spec)
            rec = run_recipe(name, cfg, args.results, args.laser, args.snapshot_every, work)
            rec["source"] = spec
            rec["arm"] = arm
            rec["dev_crossings"] = {lv: first_crossing(rec["points"], "dev_acc", float(lv))
                                    for lv in args.dev_levels.split(",")}
            rec["tatoeba_crossings"] = {lv: first_crossing(rec["points"], "tatoeba_acc", float(lv))
                                        for lv in args.tatoeba_levels.split(",")}
            report["recipes"][name] = rec
            report["machine"]["load_average_end"] = os.getloadavg()
            args.out.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.out.with_suffix(".tmp")
            tmp.write_text(json.dumps(report, indent=2) + "\n")
            os.replace(tmp, args.out)  # after every recipe: a kill keeps what was measured
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
