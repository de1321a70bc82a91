"""Synthetic results of an ablation grid in the shapes of docs/interfaces.md (known values)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ems import grid

LANGS = ["deu", "fra", "kab"]
#: (objective, seed) -> tatoeba/acc_mean; used to check aggregation by hand.
TATOEBA = {
    ("both", 1): 0.80, ("both", 2): 0.84, ("both", 3): 0.82,
    ("xtr", 1): 0.70, ("xtr", 2): 0.75, ("xtr", 3): 0.71,
}
PEER_TATOEBA = 0.55


def tiny_config(**ablation: object) -> dict:
    cfg = {
        "name": "synthetic",
        "objective": {"xtr_weight": 1.0, "contrastive_weight": 2.0, "temperature": 0.1, "language_embedding": True},
        "ablation": {"factors": {"objective": ["both", "xtr"], "language_embedding": [True],
                                 "temperature": [0.1], "data_fraction": [1.0]}, "seeds": [1, 2, 3]},
        "evaluation": {"peers": ["tfidf"]},
    }
    cfg["ablation"].update(ablation)
    return cfg


def _write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def write_results(root: Path, config: dict) -> Path:
    """Write eval JSON/CSVs, histories, shards meta and benchmarks under ``root``; return results dir."""
    res = root / "results" / config["name"]
    ids = grid.model_ids(config)
    for mid in ids:
        parsed = grid.parse_model_id(mid)
        acc = TATOEBA[(parsed["objective"], parsed["seed"])]
        metrics = {"tatoeba/acc_mean": acc, "flores/acc_mean": acc - 0.1, "mining/f1": acc / 2,
                   "tatoeba/n_languages": 3, "note": "text is ignored"}
        _write(res / "eval" / mid / "tatoeba.json", {"task": "tatoeba", "model_id": mid, "primary_metric": "tatoeba/acc_mean",
                                                     "metrics": {k: v for k, v in metrics.items() if k.startswith("tatoeba") or k == "note"},
                                                     "params": {}, "skipped": []})
        _write(res / "eval" / mid / "flores.json", {"task": "flores", "model_id": mid, "primary_metric": "flores/acc_mean",
                                                    "metrics": {"flores/acc_mean": metrics["flores/acc_mean"]}, "params": {}, "skipped": []})
        _write(res / "eval" / mid / "mining.json", {"task": "mining", "model_id": mid, "primary_metric": "mining/f1",
                                                    "metrics": {"mining/f1": metrics["mining/f1"]}, "params": {}, "skipped": []})
        lines = ["lang,acc_mean,acc_xx2eng"] + [f"{lg},{acc + 0.05 * i:.4f},{acc:.4f}" for i, lg in enumerate(LANGS)]
        (res / "eval" / mid / "tatoeba.csv").write_text("\n".join(lines) + "\n")
        # as ems.train writes it: train-loss rows without dev metrics, dev rows every 10 steps
        hist = ["step,seconds,loss/total,dev/retrieval_acc/deu,dev/retrieval_acc"]
        for step in (0, 5, 10, 15, 20, 30):
            dev = f"{acc * step / 30 - 0.5:.4f},{acc * step / 30:.4f}" if step % 10 == 0 and step != 10 else ","
            hist.append(f"{step},{step * 1.5:.1f},{1.0 / (step + 1):.4f},{dev}")
        (res / "models" / mid).mkdir(parents=True, exist_ok=True)
        (res / "models" / mid / "history.csv").write_text("\n".join(hist) + "\n")
    peer = "peer-tfidf"
    _write(res / "eval" / peer / "tatoeba.json", {"task": "tatoeba", "model_id": peer, "primary_metric": "tatoeba/acc_mean",
                                                  "metrics": {"tatoeba/acc_mean": PEER_TATOEBA}, "params": {}, "skipped": []})
    (res / "eval" / peer / "tatoeba.csv").write_text("lang,acc_mean\n" + "".join(f"{lg},{PEER_TATOEBA}\n" for lg in LANGS))
    write_shards(res / "shards" / "train", {"deu": 30, "fra": 50, "kab": 5})
    bench = root / "benchmarks" / config["name"]
    for rule, jobs in {"train": [(100.0, 900.0), (120.0, 950.0)], "evaluate_tatoeba": [(10.0, 400.0)]}.items():
        for i, (s, rss) in enumerate(jobs):
            p = bench / rule / f"job{i}.tsv"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                         f"{s}\t0:00:{int(s) % 60:02d}\t{rss}\t1\t1\t1\t0\t0\t50\t{s / 2}\n")
    return res


def write_shards(folder: Path, counts: dict[str, int], seed: int = 0) -> None:
    """A valid shard folder with ``counts`` pairs per language (sentence i of length 1 + i % 4)."""
    rng = np.random.default_rng(seed)
    languages = ["eng", *counts]
    lang = np.concatenate([np.full(n, languages.index(lg), dtype=np.int16) for lg, n in counts.items()])
    lang = lang[rng.permutation(len(lang))]
    folder.mkdir(parents=True, exist_ok=True)
    n = len(lang)
    for side in ("src", "tgt"):
        lengths = 1 + (np.arange(n) + (side == "tgt")) % 4
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ids = (np.arange(offsets[-1]) % 97 + 5).astype(np.int32)
        np.save(folder / f"{side}.ids.npy", ids)
        np.save(folder / f"{side}.offsets.npy", offsets)
        np.save(folder / f"{side}.lang.npy", lang if side == "src" else np.zeros(n, dtype=np.int16))
    meta = {"n_pairs": n, "languages": languages, "vocab_size": 102, "pad_id": 0, "max_length": 8,
            "content_sha256": "x", "tokenizer": "../../tokenizer", "lowercase": True}
    (folder / "meta.json").write_text(json.dumps(meta))
