"""Per-rule threads/memory/runtime from a finished run's Snakemake benchmark TSVs (sizing rules and profiles).

Usage (repository root, after any run; the name is the config's ``name``):

    .venv/bin/python benchmarks/rule_resources.py benchmarks/<name> [--headroom 1.5] [--out table.md]

Prints, per rule, the jobs measured, the largest peak RSS (``max_rss``) and the longest wall
time, and what to ask a scheduler for: ``mem_mb`` = headroom × peak RSS rounded up to 250 MB
(at least 500), ``runtime`` = 2 × the longest wall time in minutes (at least 5). The rule of a
file comes from the ``benchmark:`` patterns in workflow/rules/*.smk. The numbers are those of
the run measured: size a cluster profile (``set-resources``) from a pilot run at its scale.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ems.ablation.sources import read_benchmarks

_RULE = re.compile(r"^\s*rule (\w+):", re.MULTILINE)
_BENCH = re.compile(r"benchmark:\s*\n\s*BENCH((?:\s*/\s*(?:f?\"[^\"]*\"|\w+))+)")


def benchmark_patterns(rules_dir: Path = ROOT / "workflow" / "rules") -> dict[str, str]:
    """``{rule: pattern below the benchmark folder}`` read from the rule files' ``benchmark:`` lines."""
    patterns = {}
    for path in sorted(rules_dir.glob("*.smk")):
        text = path.read_text()
        starts = [(m.start(), m.group(1)) for m in _RULE.finditer(text)]
        for i, (start, rule) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
            found = _BENCH.search(text, start, end)
            if found:
                parts = re.findall(r"f?\"([^\"]*)\"", found.group(1))
                patterns[rule] = "/".join(parts)
    return patterns


def sizes(bench_root: Path, headroom: float = 1.5) -> pd.DataFrame:
    """One row per rule: jobs, peak RSS, longest wall time, and the suggested mem_mb / runtime."""
    patterns = {rule: f"{bench_root.as_posix()}/{pat}" for rule, pat in benchmark_patterns().items()}
    jobs = read_benchmarks(bench_root, patterns)
    if jobs.empty:
        raise SystemExit(f"no benchmark TSVs under {bench_root}")
    table = jobs.groupby("rule").agg(jobs=("job", "nunique"), peak_rss_mb=("max_rss_mb", "max"),
                                     longest_s=("seconds", "max"), total_s=("seconds", "sum")).reset_index()
    table["mem_mb"] = [max(500, math.ceil(headroom * rss / 250) * 250) for rss in table["peak_rss_mb"].fillna(0)]
    table["runtime_min"] = [max(5, math.ceil(2 * s / 60)) for s in table["longest_s"]]
    return table.sort_values("total_s", ascending=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bench_root", type=Path, help="benchmarks/<name> of a finished run")
    p.add_argument("--headroom", type=float, default=1.5, help="mem_mb = headroom × peak RSS")
    p.add_argument("--out", type=Path, help="also write the table (markdown) here")
    args = p.parse_args(argv)
    table = sizes(args.bench_root, args.headroom)
    text = table.to_markdown(index=False, floatfmt=".1f")
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
