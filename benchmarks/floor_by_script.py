"""Where the TF-IDF floor is strong: a grid's per-language scores against the peer's, by script.

Reads the per-language CSVs of ``results/<name>/eval`` (the grid's models, mean over seeds of
each cell, and the TF-IDF peer) for FLORES (``acc_mean``) and mining (``f1``), and groups the
languages by the script most of their FLORES devtest characters are written in (Unicode
names: LATIN, CYRILLIC, ...). Prints Markdown: per language, then Latin against the rest.

    .venv/bin/python benchmarks/floor_by_script.py --eval results/default/eval \\
        --opus results/sources/Helsinki-NLP+OPUS-MT-testsets@<commit>
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ems.datasets import load_flores
from ems.grid import parse_variant
from ems.names import MAIN_METRIC

METRIC = {task: MAIN_METRIC[task] for task in ("flores", "mining")}  # each task's per-language main score
PEER = "peer-tfidf"


def script_of(sentences: list[str]) -> str:
    """The first word of the Unicode name of most letters (LATIN, CYRILLIC, CJK, ARABIC, ...)."""
    counts = Counter(unicodedata.name(ch, "UNKNOWN").split()[0] for s in sentences for ch in s if ch.isalpha())
    return counts.most_common(1)[0][0] if counts else "UNKNOWN"


def per_language(eval_dir: Path, task: str) -> pd.DataFrame:
    """``lang`` × (TF-IDF, each cell's mean over seeds, named by its objective) for one task."""
    metric = METRIC[task]
    columns = {PEER: pd.read_csv(eval_dir / PEER / f"{task}.csv").set_index("lang")[metric]}
    for cell in sorted(p for p in eval_dir.iterdir() if p.is_dir() and not p.name.startswith("peer-")):
        seeds = [pd.read_csv(f).set_index("lang")[metric] for f in sorted(cell.glob(f"seed*/{task}.csv"))]
        if seeds:
            columns[str(parse_variant(cell.name)["objective"])] = sum(seeds) / len(seeds)
    return pd.DataFrame(columns)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--eval", type=Path, required=True, help="results/<name>/eval")
    p.add_argument("--opus", type=Path, required=True, help="extracted OPUS-MT-testsets archive (FLORES devtest)")
    args = p.parse_args(argv)
    flores = load_flores(args.opus)
    for task, metric in METRIC.items():
        table = per_language(args.eval, task)
        table.insert(0, "script", [script_of(flores.get(lang, [])) for lang in table.index])
        print(f"\n{task} ({metric}), mean over seeds; TF-IDF = {PEER}\n")
        print(table.round(3).sort_values("script").to_markdown())
        latin = table["script"] == "LATIN"
        groups = pd.DataFrame({"Latin script": table[latin].drop(columns="script").mean(),
                               "other scripts": table[~latin].drop(columns="script").mean()}).T
        groups.insert(0, "languages", [int(latin.sum()), int((~latin).sum())])
        print()
        print(groups.round(3).to_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
