"""Data-stage benchmark: synthetic corpora of growing size through the real rules (issue 29).

    .venv/bin/python benchmarks/data_scale.py --pairs 1000000 4000000 16000000 --work /tmp/ems-data-bench

For each size: a corpus of 8 languages in 8 scripts (ems.data.synthetic: realistic lengths, ~10 %
repeats, 200 Tatoeba test sentences planted per language), a configuration whose only corpus is
that set of files (``kind: tsv``), and ``snakemake --cores 2`` of the data targets (shards, stats).
From Snakemake's own benchmark files: each job's peak RSS (against the target 1 GB + 16 bytes per
pair of its language) and pairs/s per core (pairs read / CPU seconds) of every language job. Every
planted sentence must be gone from the outputs (each is looked up by its match key). Results go to
``docs/measurements/data_scale_<date>.json``; the corpora stay under ``--work`` (never committed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ems.data.decontaminate import match_key
from ems.data.synthetic import DEFAULT_LANGUAGES, write_corpus

PLANTED_PER_LANGUAGE = 200
#: Tatoeba v1 file code of each synthetic language (LASER's data/tatoeba/v1/tatoeba.<code>-eng.*).
TATOEBA_CODE = {"deu": "deu", "fra": "fra", "rus": "rus", "ell": "ell", "arb_Arab": "ara", "hin": "hin",
                "cmn_Hans": "cmn", "jpn": "jpn"}


def planted_sentences(work: Path, mirror: Path) -> dict[str, list[str]]:
    """200 Tatoeba test sentences per language (non-English and English sides alternating)."""
    from ems.data.fetch import fetch_source
    from ems.datasets import load_tatoeba

    laser = work / "laser"
    if not (laser / ".verified.json").exists():
        fetch_source("facebookresearch/LASER", "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821", ["data/tatoeba/v1/"],
                     laser, mirror=mirror)
    tatoeba = load_tatoeba(laser)
    out = {}
    for lang in DEFAULT_LANGUAGES:
        xx, eng = tatoeba[lang] if lang in tatoeba else tatoeba[TATOEBA_CODE[lang]]
        out[lang] = [(xx if i % 2 == 0 else eng)[i] for i in range(PLANTED_PER_LANGUAGE)]
    return out


def workflow_copy(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / name, folder / name)
    for name in ("config", "workflow", "envs"):
        if (folder / name).exists():
            shutil.rmtree(folder / name)
        shutil.copytree(ROOT / name, folder / name)


def run_size(pairs: int, work: Path, mirror: Path) -> dict:
    folder = work / f"{pairs}"
    corpus = folder / "corpus"
    planted = planted_sentences(work, mirror)
    start = time.monotonic()
    if not (corpus / "done.json").exists():
        counts = write_corpus(corpus, pairs, DEFAULT_LANGUAGES, seed=1, planted=planted)
        (corpus / "done.json").write_text(json.dumps(counts))
    generate_s = time.monotonic() - start
    planted_counts = json.loads((corpus / "done.json").read_text())
    workflow_copy(folder)
    name = f"bench{pairs}"
    config = {
        "name": name, "results_dir": "results",
        "corpus": {"languages": list(DEFAULT_LANGUAGES), "max_pairs_per_language": None, "max_train_pairs": None,
                   "sources": [{"kind": "tsv", "name": "synthetic", "path": str(corpus / "{lang}.tsv.gz"),
                                "languages": list(DEFAULT_LANGUAGES)}]},
    }
    (folder / "bench.yaml").write_text(yaml.safe_dump(config))
    results = folder / "results" / name
    targets = [f"results/{name}/shards/train", f"results/{name}/shards/valid", f"results/{name}/stats/pairs_per_language.csv"]
    env = {**os.environ, "EMS_DATA_MIRROR": str(mirror)}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "snakemake", *targets, "--cores", "2", "--configfile", "bench.yaml"],
                          cwd=folder, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"snakemake failed for {pairs} pairs:\n{proc.stderr[-3000:]}")
    jobs = read_benchmarks(folder / "benchmarks" / name)
    per_language = {}
    for lang in DEFAULT_LANGUAGES:
        stats = json.loads((results / "corpus" / "languages" / lang / "stats.json").read_text())
        prep = jobs[f"data/prepare/{lang}"]
        bound_mb = 1000 + 16 * stats["parsed"] / 1e6
        lang_jobs = {k: v for k, v in jobs.items() if k.endswith((f"/{lang}", f"_{lang}"))}
        per_language[lang] = {
            "pairs": stats["parsed"], "clean": stats["clean"], "decontaminated": stats["decontaminated"],
            "prepare_peak_rss_mb": prep["max_rss"], "prepare_cpu_s": prep["cpu_time"], "prepare_wall_s": prep["s"],
            # The job's own rate (pairs read / seconds inside the job, one thread, both cores busy with
            # language jobs): Snakemake's cpu_time is sampled and undercounts jobs of < 30 s.
            "prepare_pairs_per_s_per_core": round(stats["pairs_per_s"]),
            "peak_rss_mb_per_job": {k: v["max_rss"] for k, v in lang_jobs.items()},
            "rss_bound_mb": round(bound_mb, 1), "within_bound": all(v["max_rss"] <= bound_mb for v in lang_jobs.values()),
            "removed_by_evaluation_sets": sum(d["removed"] for d in stats["decontamination"]),
            "planted": planted_counts[lang], "planted_left": planted_left(results, lang, planted[lang]),
        }
    return {
        "pairs": pairs, "languages": len(DEFAULT_LANGUAGES), "generate_s": round(generate_s, 1),
        "data_stage_wall_s": round(wall, 1), "jobs": jobs, "per_language": per_language,
        "max_peak_rss_mb_any_job": max(j["max_rss"] for j in jobs.values()),
        "all_planted_removed": all(v["planted_left"] == 0 for v in per_language.values()),
        "all_language_jobs_within_bound": all(v["within_bound"] for v in per_language.values()),
        "prepare_pairs_per_s_per_core_min": min(v["prepare_pairs_per_s_per_core"] for v in per_language.values()),
    }


def planted_left(results: Path, lang: str, planted: list[str]) -> int:
    """Planted sentences still present (on either side) in the language's kept pairs and its train sample."""
    wanted = {match_key(t) for t in planted}
    left = 0
    for path in (results / "corpus" / "languages" / lang / "pairs.tsv.gz", results / "corpus" / "split" / lang / "train.tsv.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            next(fh)
            for line in fh:
                _, src, tgt, _ = line.split("\t", 3)
                left += (match_key(src) in wanted) + (match_key(tgt) in wanted)
    return left


def read_benchmarks(folder: Path) -> dict[str, dict]:
    """``{rule/wildcards: {s, max_rss, cpu_time}}`` from Snakemake's benchmark TSVs."""
    out = {}
    for path in sorted(folder.rglob("*.tsv")):
        header, row = path.read_text().splitlines()[:2]
        values = dict(zip(header.split("\t"), row.split("\t")))
        key = path.relative_to(folder).with_suffix("").as_posix()
        out[key] = {k: float(values[k]) for k in ("s", "max_rss", "cpu_time") if values.get(k, "NA") != "NA"}
    return out


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) // 1024 for line in meminfo if line.startswith("MemTotal")), 0)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": mem, "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[1_000_000, 4_000_000, 16_000_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/ems-data-bench"))
    parser.add_argument("--mirror", type=Path, default=Path(os.environ.get("EMS_DATA_MIRROR", ROOT.parent / "shared" / "data")))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    today = dt.date.today().isoformat()
    out = args.out or ROOT / "docs" / "measurements" / f"data_scale_{today}.json"
    report = {"date": today, "commit": commit, "machine": machine(),
              "config": "config.yaml defaults, corpus.sources = one tsv corpus of 8 synthetic languages, all pairs sampled",
              "targets": {"rss_mb": "1000 + 16 bytes x the language's pairs", "pairs_per_s_per_core": 100000},
              "sizes": []}
    if out.exists():
        report["sizes"] = [s for s in json.loads(out.read_text()).get("sizes", []) if s["pairs"] not in args.pairs]
    for pairs in args.pairs:
        result = run_size(pairs, args.work, args.mirror)
        report["sizes"] = sorted([*report["sizes"], result], key=lambda s: s["pairs"])
        out.write_text(json.dumps(report, indent=1) + "\n")
        print(f"{pairs:>10} pairs: {result['data_stage_wall_s']} s, max RSS {result['max_peak_rss_mb_any_job']:.0f} MB, "
              f"prepare >= {result['prepare_pairs_per_s_per_core_min']} pairs/s/core, planted removed: "
              f"{result['all_planted_removed']}", flush=True)


if __name__ == "__main__":
    main()
