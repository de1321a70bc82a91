"""Validation split and temperature sampling (plan + per-language sample), on toy corpora whose answer is known."""

from __future__ import annotations

import pandas as pd
import pytest
from _data_stage import SPLIT, prepare_all, rows_by_language, split_all

from ems.data.split import temperature_targets
from ems.data.tsv import read_pairs
from ems.errors import DataError

BASE = SPLIT


def toy(sizes: dict[str, int]) -> list[tuple[str, str, str, str]]:
    return [(lang, f"{lang} s{i}", f"en {lang} {i}", "t/x") for lang, n in sizes.items() for i in range(n)]


def run(rows, tmp_path, settings) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(train, valid, sampling table)`` of the whole stage, languages concatenated in order."""
    dirs = prepare_all(rows_by_language(rows), tmp_path)
    splits = split_all(dirs, tmp_path, settings)
    frames = {name: pd.concat([read_pairs(d / f"{name}.tsv.gz", allow_empty=True) for d in splits.values()],
                              ignore_index=True) for name in ("train", "valid")}
    return frames["train"], frames["valid"], pd.read_csv(tmp_path / "sampling.csv")


def test_temperature_targets():
    counts = {"a": 10000, "b": 100}
    assert temperature_targets(counts, 1.0, None, None) == counts  # T=1: natural distribution
    t5 = temperature_targets(counts, 5.0, 10100, None)
    ratio = (10000 / 100) ** (1 / 5)
    assert sum(t5.values()) == 10100 and t5["a"] / t5["b"] == pytest.approx(ratio, rel=1e-3)
    uniform = temperature_targets(counts, 1e6, 1000, None)
    assert uniform == {"a": 500, "b": 500}
    assert temperature_targets(counts, 5.0, 10100, 3000)["a"] == 3000


def test_split_and_sample_known_sizes(tmp_path):
    rows = toy({"deu": 2000, "fra": 60, "kab": 5})
    settings = {**BASE, "max_train_pairs": 1000}
    train, valid, table = run(rows, tmp_path / "a", settings)
    assert "kab" not in set(train["lang"]) | set(valid["lang"])  # < min_pairs_per_language
    assert valid["lang"].value_counts().to_dict() == {"deu": 20, "fra": 12}  # at most 20% of a language
    assert len(train) == 1000
    assert not set(valid["src"]) & set(train["src"]) and not set(valid["tgt"]) & set(train["tgt"])
    counts = train["lang"].value_counts()
    p_small = 48 ** 0.2 / (48 ** 0.2 + 1980 ** 0.2)
    assert counts["fra"] == round(1000 * p_small)
    # small is upsampled by repetition: every pair repeated the same number of times (+- 1)
    reps = train[train["lang"] == "fra"]["src"].value_counts()
    assert reps.max() - reps.min() <= 1 and reps.index.nunique() == 48
    again, valid2, _ = run(rows, tmp_path / "b", settings)
    assert again.equals(train) and valid2.equals(valid)  # seeded
    other, _, _ = run(rows, tmp_path / "c", {**settings, "seed": 4})
    assert not other.equals(train)
    assert table.set_index("lang").loc["fra", "repeats"] > 1


def test_a_language_s_draw_does_not_depend_on_the_others(tmp_path):
    """Each language has a generator of its own: adding a language leaves the others' validation pairs."""
    _, valid, _ = run(toy({"deu": 500, "fra": 300}), tmp_path / "two", BASE)
    _, valid3, _ = run(toy({"deu": 500, "fra": 300, "rus": 400}), tmp_path / "three", BASE)
    assert valid3[valid3["lang"] != "rus"].reset_index(drop=True).equals(valid)


def test_shared_sides_leave_training(tmp_path):
    rows = toy({"deu": 200, "fra": 200})
    rows = rows[:200] + [(lang, src, rows[i][2], o) for i, (lang, src, _, o) in enumerate(rows[200:])]  # multi-way
    train, valid, _ = run(rows, tmp_path, {**BASE, "valid_pairs_per_language": 30})
    assert not set(valid["tgt"]) & set(train["tgt"])
    assert len(train.drop_duplicates()) <= 400 - 60 - 30  # b's partners of a's valid English left too


def test_nothing_left_is_an_error(tmp_path):
    with pytest.raises(DataError, match="min_pairs_per_language"):
        run(toy({"deu": 5}), tmp_path, BASE)
    assert not (tmp_path / "plan").exists()


def test_valid_follows_the_domain_mix_of_its_language_not_the_file_order(tmp_path):
    # corpus in file order: news first, then Tatoeba, then Europarl (as the mirror's files)
    origins = ["news/newstest"] * 800 + ["tatoeba/x"] * 600 + ["europarl/x"] * 600
    rows = [("deu", f"d{i}", f"e{i}", o) for i, o in enumerate(origins)] + toy({"fra": 500})
    _, valid, _ = run(rows, tmp_path, {**BASE, "valid_pairs_per_language": 200})
    deu = valid[valid["lang"] == "deu"]
    assert len(deu) == 200
    pool_share = {"news/newstest": 0.4, "tatoeba/x": 0.3, "europarl/x": 0.3}
    for rows_, tol in ((deu, 0.08), (deu.iloc[:50], 0.15)):  # the whole split and a dev-sized prefix
        share = rows_["origin"].value_counts(normalize=True).to_dict()
        for origin, expected in pool_share.items():
            assert abs(share.get(origin, 0.0) - expected) <= tol, (len(rows_), share)
    assert list(valid["lang"]) == sorted(valid["lang"])  # grouped by language


def test_tokenizer_sketch_is_a_distinct_sample_and_english_merges_exactly(tmp_path):
    from ems.data.sample import Sketch, merge_sketches, read_tokenizer_samples

    rows = toy({"deu": 300, "fra": 300})
    rows += [("deu", f"deu extra {i}", "en shared", "t/x") for i in range(50)]  # one English sentence, many times
    dirs = prepare_all(rows_by_language(rows), tmp_path)
    splits = split_all(dirs, tmp_path, {**BASE, "valid_pairs_per_language": 10}, sketch=100)
    samples = read_tokenizer_samples(splits, 100)
    assert set(samples) == {"deu", "fra", "eng"} and all(len(v) == len(set(v)) == 100 for v in samples.values())
    # the merged English sample equals one sketch over every English sentence of the training data
    train = pd.concat([read_pairs(d / "train.tsv.gz") for d in splits.values()])
    whole = Sketch(100, BASE["seed"])
    for text in train["tgt"]:
        whole.add(text)
    assert samples["eng"] == merge_sketches(whole.items(), 100)
