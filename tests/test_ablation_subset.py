"""Data-fraction subsets keep a fraction of each language's *distinct* pairs, before sampling.

The training shards here come from the real split/sample step (temperature 5), so the small
languages are upsampled by repetition, as 12 of the 20 default languages are.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ems.ablation import subset

SIZES = {"deu": 3000, "kab": 150, "swh": 400}
SETTINGS = {"min_pairs_per_language": 10, "valid_pairs_per_language": 20, "sampling_temperature": 5.0,
            "max_pairs_per_language": None, "max_train_pairs": None, "seed": 1}


def sampled_train(tmp: Path) -> pd.DataFrame:
    """The data stage's training sample of a toy corpus (per-language jobs, as the rules run them)."""
    from _data_stage import prepare_all, rows_by_language, split_all

    from ems.data.tsv import read_pairs

    rows = [(lang, f"{lang} {i}", f"en {lang} {i}") for lang, n in SIZES.items() for i in range(n)]
    splits = split_all(prepare_all(rows_by_language(rows), tmp), tmp, SETTINGS)
    table = pd.read_csv(tmp / "sampling.csv")
    assert (table.set_index("lang")["repeats"] > 1).sum() == 2  # kab and swh upsampled
    return pd.concat([read_pairs(splits[lang] / "train.tsv.gz") for lang in sorted(splits)], ignore_index=True)


def write_train_shards(folder: Path, train: pd.DataFrame) -> list[str]:
    """Shards of ``train`` with one token id per word (each distinct sentence distinct ids)."""
    languages = ["eng", *sorted(SIZES)]
    vocab: dict[str, int] = {}
    folder.mkdir(parents=True)
    for side in ("src", "tgt"):
        seqs = [[vocab.setdefault(w, len(vocab) + 5) for w in text.split()] for text in train[side]]
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
        np.save(folder / f"{side}.ids.npy", np.concatenate(seqs).astype(np.int32))
        np.save(folder / f"{side}.offsets.npy", offsets)
        lang = [languages.index(lg) for lg in train["lang"]] if side == "src" else [0] * len(train)
        np.save(folder / f"{side}.lang.npy", np.asarray(lang, dtype=np.int16))
    meta = {"n_pairs": len(train), "languages": languages, "vocab_size": len(vocab) + 5, "pad_id": 0,
            "max_length": 8, "content_sha256": "x"}
    (folder / "meta.json").write_text(json.dumps(meta))
    return languages


def distinct_per_language(folder: Path, languages: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """(distinct pairs, rows) per language of a shard folder, decoded independently of the module."""
    lang = np.load(folder / "src.lang.npy")
    sides = []
    for side in ("src", "tgt"):
        ids, off = np.load(folder / f"{side}.ids.npy"), np.load(folder / f"{side}.offsets.npy")
        sides.append([tuple(ids[off[i]:off[i + 1]].tolist()) for i in range(len(lang))])
    distinct: dict[str, set] = {}
    rows: dict[str, int] = {}
    for i, code in enumerate(lang.tolist()):
        distinct.setdefault(languages[code], set()).add((sides[0][i], sides[1][i]))
        rows[languages[code]] = rows.get(languages[code], 0) + 1
    return {k: len(v) for k, v in distinct.items()}, rows


@pytest.mark.parametrize("fraction", [0.25, 0.5])
def test_fraction_keeps_that_share_of_every_languages_distinct_pairs(tmp_path: Path, fraction: float):
    src = tmp_path / "train"
    languages = write_train_shards(src, sampled_train(tmp_path / "data"))
    dst = tmp_path / f"train-frac{fraction}"
    meta = subset.subset_shards(src, dst, fraction, seed=1)
    full_distinct, full_rows = distinct_per_language(src, languages)
    sub_distinct, sub_rows = distinct_per_language(dst, languages)
    assert set(sub_distinct) == set(full_distinct) == set(SIZES)
    for lang in SIZES:
        assert abs(sub_distinct[lang] / full_distinct[lang] - fraction) <= 0.02, lang
        assert abs(sub_rows[lang] / full_rows[lang] - fraction) <= 0.02, lang  # repetition rate kept
    assert meta["subset"]["unique_pairs"] == sum(sub_distinct.values())
    assert meta["subset"]["source_unique_pairs"] == sum(full_distinct.values())


def test_fractions_are_nested_in_distinct_pairs(tmp_path: Path):
    src = tmp_path / "train"
    write_train_shards(src, sampled_train(tmp_path / "data"))
    lang = np.load(src / "src.lang.npy")
    sides = {s: (np.load(src / f"{s}.ids.npy"), np.load(src / f"{s}.offsets.npy")) for s in ("src", "tgt")}
    keys = subset.pair_keys(sides, lang)
    quarter = set(subset.select_pairs(lang, 0.25, 1, keys).tolist())
    half = set(subset.select_pairs(lang, 0.5, 1, keys).tolist())
    assert quarter < half
    for idx in (quarter, half):  # a kept pair keeps every one of its repetitions
        kept = set(keys[sorted(idx)].tolist())
        assert set(np.flatnonzero(np.isin(keys, list(kept))).tolist()) == idx
