"""Ablation grid, seed aggregation, tables, figures and shard subsets on synthetic results of known values."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from ablation_fixtures import LANGS, PEER_TATOEBA, TATOEBA, tiny_config, write_results, write_shards

from ems import grid
from ems.ablation import aggregate, outputs, subset
from ems.config import deep_merge, validate_config
from ems.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[1]
BOTH = "objective~both_langemb~True_temp~0.1_frac~1.0"
XTR = "objective~xtr_langemb~True_temp~0.1_frac~1.0"


# ----------------------------------------------------------------------------- grid
def test_default_grid_expands_objectives_times_seeds() -> None:
    cfg = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    variants = grid.variants(cfg)
    levels = cfg["ablation"]["factors"]
    expected = math.prod(len(v) for v in levels.values())
    assert len(variants) == expected == len(set(variants))
    assert len(grid.model_ids(cfg)) == expected * len(cfg["ablation"]["seeds"])
    for v in variants:
        assert "/" not in v and grid.parse_variant(v)["objective"] in levels["objective"]
        # Paramspace's own parser agrees with ours (typed values).
        inst = grid.paramspace(cfg).instance({"variant": v})
        ours = grid.parse_variant(v)
        assert inst["objective"] == ours["objective"] and bool(inst["langemb"]) == ours["language_embedding"]
        assert float(inst["temp"]) == ours["temperature"] and float(inst["frac"]) == ours["data_fraction"]


def test_full_grid_is_a_product_and_ids_are_stable() -> None:
    cfg = tiny_config(factors={"objective": ["both", "xtr", "contrastive"], "language_embedding": [True, False],
                               "temperature": [0.05, 0.1], "data_fraction": [0.25, 1.0]}, seeds=[1, 2])
    variants = grid.variants(cfg)
    assert len(variants) == 3 * 2 * 2 * 2
    assert "objective~contrastive_langemb~False_temp~0.05_frac~0.25" in variants
    assert grid.model_ids(cfg)[:2] == [f"{variants[0]}/seed1", f"{variants[0]}/seed2"]
    bigger = tiny_config(factors={"objective": ["both", "xtr", "contrastive"], "language_embedding": [True, False],
                                  "temperature": [0.05, 0.1, 0.2], "data_fraction": [0.25, 1.0]}, seeds=[1, 2])
    assert set(variants) < set(grid.variants(bigger))  # adding a level renames nothing
    assert grid.varying_factors(cfg) == ["objective", "language_embedding", "temperature", "data_fraction"]
    assert grid.reference_variant(cfg) == "objective~both_langemb~True_temp~0.05_frac~0.25"
    assert grid.fractions(cfg) == [0.25]


def test_one_at_a_time_design_varies_one_factor_from_the_reference() -> None:
    factors = {"objective": ["xtr", "both", "contrastive"], "language_embedding": [True, False],
               "temperature": [0.05, 0.1, 0.2], "data_fraction": [0.25, 1.0]}
    cfg = tiny_config(factors=factors, design="one_at_a_time")
    variants = grid.variants(cfg)
    ref = grid.reference_variant(cfg)
    assert ref == "objective~both_langemb~True_temp~0.05_frac~0.25" and variants[0] == ref
    assert len(variants) == 1 + 2 + 1 + 2 + 1
    ref_levels = grid.parse_variant(ref)
    for v in variants[1:]:
        changed = [k for k, val in grid.parse_variant(v).items() if val != ref_levels[k]]
        assert len(changed) == 1
    assert len(grid.variants(tiny_config(factors=factors))) == 3 * 2 * 3 * 2


def test_variant_overrides_realise_each_factor_and_stay_schema_valid() -> None:
    base = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    cfg = deep_merge(base, {"ablation": {"factors": {"objective": ["both", "xtr", "contrastive"],
                                                     "language_embedding": [True, False], "temperature": [0.05],
                                                     "data_fraction": [0.5, 1.0]}}})
    ov = grid.variant_overrides(cfg, "objective~xtr_langemb~False_temp~0.05_frac~0.5")
    assert ov == {"objective": {"contrastive_weight": 0.0, "language_embedding": False, "temperature": 0.05}}
    ov = grid.variant_overrides(cfg, "objective~contrastive_langemb~True_temp~0.05_frac~1.0")
    assert ov["objective"]["xtr_weight"] == 0.0 and "contrastive_weight" not in ov["objective"]
    both = deep_merge(cfg, grid.variant_overrides(cfg, "objective~both_langemb~True_temp~0.05_frac~1.0"))
    assert both["objective"]["xtr_weight"] == cfg["objective"]["xtr_weight"] > 0
    assert both["objective"]["contrastive_weight"] == cfg["objective"]["contrastive_weight"] > 0
    validate_config(both)
    assert grid.train_shards_dir("results/x", "objective~both_langemb~True_temp~0.05_frac~0.5") == "results/x/shards/train-frac0.5"
    assert grid.train_shards_dir("results/x", "objective~both_langemb~True_temp~0.05_frac~1.0") == "results/x/shards/train"
    with pytest.raises(ConfigError, match="not in this config"):
        grid.variant_overrides(cfg, "objective~both_langemb~True_temp~0.3_frac~1.0")
    with pytest.raises(ConfigError, match="not an ablation variant"):
        grid.variant_overrides(cfg, "both/seed1")


def test_bad_grid_levels_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="objective"):
        grid.variants(tiny_config(factors={"objective": ["both", "mlm"]}))
    with pytest.raises(ConfigError, match="repeated"):
        grid.variants(tiny_config(factors={"objective": ["both"], "temperature": [0.1, 0.1]}))
    with pytest.raises(ConfigError, match="seed"):
        grid.model_ids(tiny_config(seeds=[1, 1]))
    assert grid.parse_model_id("peer-tfidf") is None


# ----------------------------------------------------------------------------- aggregation
def test_t_interval_of_a_known_sample() -> None:
    mean, std, half, n = aggregate.t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    # mean 3, s = sqrt(2.5), t_{0.975,4} = 2.7764451, half = t * s / sqrt(5)
    assert (mean, n) == (3.0, 5)
    assert std == pytest.approx(math.sqrt(2.5))
    assert half == pytest.approx(2.7764451 * math.sqrt(2.5) / math.sqrt(5), rel=1e-6)
    assert math.isnan(aggregate.t_interval([4.0])[2])


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, dict]:
    cfg = tiny_config()
    root = tmp_path_factory.mktemp("abl")
    res = write_results(root, cfg)
    paths = aggregate.aggregate(aggregate.find_eval_files(res / "eval"), res / "ablation",
                                grid.reference_variant(cfg), res / "eval")
    return cfg, root, paths


def test_aggregation_matches_hand_computation(synthetic: tuple[dict, Path, dict]) -> None:
    _, _, paths = synthetic
    long = pd.read_csv(paths["long"])
    assert len(long[long["metric"] == "tatoeba/acc_mean"]) == 7  # 6 EMS runs + 1 peer; text metric dropped
    assert "note" not in set(long["metric"])
    summary = pd.read_csv(paths["summary"]).set_index(["variant", "metric"])
    for objective, variant in (("both", BOTH), ("xtr", XTR)):
        vals = [TATOEBA[(objective, s)] for s in (1, 2, 3)]
        m = sum(vals) / 3
        s = math.sqrt(sum((v - m) ** 2 for v in vals) / 2)
        row = summary.loc[(variant, "tatoeba/acc_mean")]
        assert row["mean"] == pytest.approx(m) and row["std"] == pytest.approx(s) and row["n"] == 3
        assert row["ci95"] == pytest.approx(4.3026527 * s / math.sqrt(3), rel=1e-5)
        assert row["ci_low"] == pytest.approx(m - row["ci95"])
    peer = summary.loc[("peer-tfidf", "tatoeba/acc_mean")]
    assert peer["mean"] == PEER_TATOEBA and peer["n"] == 1 and math.isnan(peer["ci95"]) and bool(peer["is_peer"])


def test_differences_are_paired_by_seed(synthetic: tuple[dict, Path, dict]) -> None:
    _, _, paths = synthetic
    diffs = pd.read_csv(paths["differences"]).set_index("metric")
    row = diffs.loc["tatoeba/acc_mean"]
    d = [TATOEBA[("xtr", s)] - TATOEBA[("both", s)] for s in (1, 2, 3)]  # -0.10, -0.09, -0.11
    sd = float(np.std(d, ddof=1))
    assert row["method"] == "paired" and row["variant"] == XTR and row["reference"] == BOTH
    assert row["diff"] == pytest.approx(np.mean(d))
    assert row["ci_high"] - row["diff"] == pytest.approx(4.3026527 * sd / math.sqrt(3), rel=1e-5)
    assert "peer-tfidf" not in set(diffs["variant"])


def test_differences_fall_back_to_welch_without_shared_seeds() -> None:
    rows = [{"model_id": f"{v}/seed{s}", "variant": v, "seed": s, "is_peer": False, "task": "t", "metric": "m", "value": x,
             **{f: None for f in aggregate.FACTOR_NAMES}}
            for v, s, x in [(BOTH, 1, 1.0), (BOTH, 2, 2.0), (BOTH, 3, 3.0), (XTR, 4, 5.0), (XTR, 5, 7.0)]]
    out = aggregate.differences(pd.DataFrame(rows), BOTH).iloc[0]
    assert out["method"] == "welch" and out["diff"] == pytest.approx(6.0 - 2.0)
    vx, vy = 2.0 / 2, 1.0 / 3
    dof = (vx + vy) ** 2 / (vx ** 2 / 1 + vy ** 2 / 2)
    from scipy import stats

    assert out["ci_high"] - out["diff"] == pytest.approx(stats.t.ppf(0.975, dof) * math.sqrt(vx + vy))


def test_per_language_summary(synthetic: tuple[dict, Path, dict]) -> None:
    _, _, paths = synthetic
    pl = pd.read_csv(paths["per_language"])
    kab = pl[(pl["variant"] == BOTH) & (pl["lang"] == "kab") & (pl["metric"] == "acc_mean")].iloc[0]
    assert kab["mean"] == pytest.approx(0.82 + 0.10) and kab["n"] == 3
    assert set(pl["lang"]) == set(LANGS)


def test_malformed_eval_json_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "eval" / "peer-x" / "tatoeba.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"task": "tatoeba", "metrics": [1, 2]}))
    with pytest.raises(DataError, match="tatoeba.json"):
        aggregate.read_eval_jsons([bad])


# ----------------------------------------------------------------------------- tables and figures
@pytest.fixture(scope="module")
def rendered(synthetic: tuple[dict, Path, dict]) -> tuple[dict, Path]:
    cfg, root, _ = synthetic
    res = root / "results" / cfg["name"]
    inputs = outputs.Inputs(cfg, res / "ablation", res / "models", res / "shards" / "train", None,
                            root / "benchmarks" / cfg["name"])
    outputs.make_tables(inputs, res / "tables")
    outputs.make_figures(inputs, res / "figures")
    return cfg, res


def test_latex_table_bolds_the_best_value(rendered: tuple[dict, Path]) -> None:
    _, res = rendered
    tex = (res / "tables" / "ablation.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex
    # rows by human names, as in the figures
    both_line = next(line for line in tex.splitlines() if line.startswith("XTR + contrastive &"))
    xtr_line = next(line for line in tex.splitlines() if line.startswith("XTR &"))
    assert both_line.count(r"\textbf{") == 3 and r"\textbf{" not in xtr_line
    assert r"\textbf{82.0 $\pm$ 5.0}" in both_line  # accuracies in % (ablation.tables.percent); the CSV keeps 0.82
    table = pd.read_csv(res / "tables" / "ablation.csv")
    best = table[table["best"]]
    assert set(best["row"]) == {"XTR + contrastive"} and set(best["variant"]) == {BOTH}
    # per-language table: best per language row; the peer never wins here
    lang_tex = (res / "tables" / "per_language_tatoeba.tex").read_text()
    lines = lang_tex.splitlines()
    assert lines[lines.index(r"\midrule") + 1].startswith("fra &")  # ordered by training pairs: fra 50, deu 30, kab 5


def test_every_figure_and_table_exists_and_is_not_empty(rendered: tuple[dict, Path]) -> None:
    cfg, res = rendered
    for stem in outputs.figure_stems(cfg):
        for ext in ("pdf", "png"):
            f = res / "figures" / f"{stem}.{ext}"
            assert f.exists() and f.stat().st_size > 1000, f
        assert (res / "figures" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
    for stem in outputs.table_stems(cfg):
        assert (res / "tables" / f"{stem}.csv").stat().st_size > 0
        tex = (res / "tables" / f"{stem}.tex").read_text()
        assert tex.count(r"\midrule") == 1 and tex.isascii()  # pdflatex-safe (τ, ±, – escaped)
    cost = pd.read_csv(res / "tables" / "cost_per_job.csv").set_index(["row", "column"])
    assert cost.loc[("train", "total_wall_s"), "mean"] == pytest.approx(220.0)
    assert cost.loc[("train", "peak_rss_mb"), "mean"] == pytest.approx(925.0)
    learn = pd.read_csv(res / "tables" / "learning_curves.csv").set_index(["row", "column"])
    assert learn.loc[("XTR + contrastive", "best_dev_acc"), "mean"] == pytest.approx(0.82)


def test_scaling_outputs_only_when_factor_varies() -> None:
    assert "scaling_temperature" not in outputs.figure_stems(tiny_config())
    cfg = tiny_config(factors={"objective": ["both"], "temperature": [0.05, 0.1]})
    assert "scaling_temperature" in outputs.figure_stems(cfg) and "scaling_temperature" in outputs.table_stems(cfg)


def test_cli_aggregate_and_figures(tmp_path: Path) -> None:
    cfg = tiny_config()
    res = write_results(tmp_path, cfg)
    settings = json.dumps({"name": cfg["name"], "ablation": cfg["ablation"], "objective": cfg["objective"]})
    run = [sys.executable, "-m", "ems.cli"]
    proc = subprocess.run(run + ["aggregate", "--eval-root", str(res / "eval"), "--out", str(res / "agg"),
                                 "--settings", settings], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (res / "agg" / "summary.csv").exists()
    bad = json.dumps({"ablation": {"factors": {"objective": ["nope"]}}})
    proc = subprocess.run(run + ["aggregate", "--eval-root", str(res / "eval"), "--out", str(res / "agg2"),
                                 "--settings", bad], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "ablation.factors.objective.0" in proc.stderr


# ----------------------------------------------------------------------------- data-fraction subsets
def test_subset_shards_is_stratified_nested_and_exact(tmp_path: Path) -> None:
    src = tmp_path / "shards" / "train"
    write_shards(src, {"deu": 40, "fra": 60, "kab": 6})
    half = subset.subset_shards(src, tmp_path / "shards" / "train-frac0.5", 0.5, seed=1)
    quarter = subset.subset_shards(src, tmp_path / "shards" / "train-frac0.25", 0.25, seed=1)
    assert half["n_pairs"] == 20 + 30 + 3
    assert half["tokenizer"] == "../../tokenizer" and half["subset"]["fraction"] == 0.5
    lang_src = np.load(src / "src.lang.npy")
    lang_half = np.load(tmp_path / "shards" / "train-frac0.5" / "src.lang.npy")
    assert np.bincount(lang_half).tolist() == [0, 20, 30, 3]
    idx_half = subset.select_pairs(lang_src, 0.5, 1)
    idx_quarter = subset.select_pairs(lang_src, 0.25, 1)
    assert set(idx_quarter) <= set(idx_half)  # smaller fractions are nested
    assert quarter["n_pairs"] == len(idx_quarter)
    ids, off = np.load(src / "tgt.ids.npy"), np.load(src / "tgt.offsets.npy")
    sids, soff = (np.load(tmp_path / "shards" / "train-frac0.5" / f"tgt.{k}.npy") for k in ("ids", "offsets"))
    for j, i in enumerate(idx_half):  # every kept sentence is the source sentence, unchanged
        assert sids[soff[j]:soff[j + 1]].tolist() == ids[off[i]:off[i + 1]].tolist()
    assert half["content_sha256"] == subset.content_sha256(tmp_path / "shards" / "train-frac0.5")
    with pytest.raises(DataError, match="fraction"):
        subset.select_pairs(lang_src, 0.0, 1)


def test_benchmark_files_are_named_by_their_rules_pattern(tmp_path: Path) -> None:
    from ems.ablation import sources

    root = tmp_path / "benchmarks" / "x"
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for rel, s in (("data/parse.tsv", 3.0), ("data/binarise_train.tsv", 4.0), ("fetch/a+b@c.tsv", 1.0),
                   ("train/objective~both_langemb~True_temp~0.1_frac~1.0/seed1.tsv", 50.0)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(header + f"{s}\t0:00:01\t100\t1\t1\t1\t0\t0\t1\t1\n")
    patterns = {"parse": f"{root}/data/parse.tsv", "binarise": f"{root}/data/binarise_{{split}}.tsv",
                "train": f"{root}/train/{{variant}}/seed{{seed}}.tsv"}
    bench = sources.read_benchmarks(root, patterns).set_index("job")
    assert bench.loc["data/parse", "rule"] == "parse" and bench.loc["data/binarise_train", "rule"] == "binarise"
    assert bench.loc["fetch/a+b@c", "rule"] == "fetch"  # no pattern given: the first folder
    assert bench.filter(like="train/", axis=0)["rule"].tolist() == ["train"]
    assert bench["seconds"].sum() == 58.0


def test_intervals_stay_in_the_metric_range() -> None:
    """A t-interval of three accuracies near 0, or of times, never reaches below 0 (or above 1 for accuracies)."""
    from ems.ablation import aggregate as agg

    long = pd.DataFrame({"variant": ["v"] * 6, "task": ["t"] * 6,
                         "metric": ["tatoeba/acc_mean"] * 3 + ["tatoeba/seconds"] * 3,
                         "value": [0.01, 0.5, 0.02, 5.0, 90.0, 2.0], "seed": [1, 2, 3] * 2})
    out = agg.summarise(long).set_index("metric")
    acc, sec = out.loc["tatoeba/acc_mean"], out.loc["tatoeba/seconds"]
    assert acc["mean"] - acc["ci95"] < 0 and acc["ci_low"] == 0.0 and acc["ci_high"] == pytest.approx(
        acc["mean"] + acc["ci95"])
    assert sec["mean"] - sec["ci95"] < 0 and sec["ci_low"] == 0.0
    assert agg.clipped_interval(0.9, 0.3, "mining/f1") == (pytest.approx(0.6), 1.0)
