"""Validation split and temperature sampling, on toy corpora whose answer is known."""

from __future__ import annotations

import pandas as pd
import pytest

from ems.data.split import split_and_sample, temperature_targets
from ems.errors import DataError

BASE = {"min_pairs_per_language": 10, "valid_pairs_per_language": 20, "sampling_temperature": 5.0,
        "max_pairs_per_language": None, "max_train_pairs": None, "seed": 3}


def toy(sizes: dict[str, int]) -> pd.DataFrame:
    rows = [(lang, f"{lang} s{i}", f"en {lang} {i}") for lang, n in sizes.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["lang", "src", "tgt"]).assign(origin="t/x")


def test_temperature_targets():
    counts = {"a": 10000, "b": 100}
    assert temperature_targets(counts, 1.0, None, None) == counts  # T=1: natural distribution
    t5 = temperature_targets(counts, 5.0, 10100, None)
    ratio = (10000 / 100) ** (1 / 5)
    assert sum(t5.values()) == 10100 and t5["a"] / t5["b"] == pytest.approx(ratio, rel=1e-3)
    uniform = temperature_targets(counts, 1e6, 1000, None)
    assert uniform == {"a": 500, "b": 500}
    assert temperature_targets(counts, 5.0, 10100, 3000)["a"] == 3000


def test_split_and_sample_known_sizes():
    frame = toy({"big": 2000, "small": 60, "tiny": 5})
    train, valid, table = split_and_sample(frame, {**BASE, "max_train_pairs": 1000})
    assert "tiny" not in set(train["lang"]) | set(valid["lang"])  # < min_pairs_per_language
    assert valid["lang"].value_counts().to_dict() == {"big": 20, "small": 12}  # at most 20% of a language
    assert len(train) == 1000
    assert not set(valid["src"]) & set(train["src"]) and not set(valid["tgt"]) & set(train["tgt"])
    counts = train["lang"].value_counts()
    p_small = 48 ** 0.2 / (48 ** 0.2 + 1980 ** 0.2)
    assert counts["small"] == round(1000 * p_small)
    # small is upsampled by repetition: every pair repeated the same number of times (+- 1)
    reps = train[train["lang"] == "small"]["src"].value_counts()
    assert reps.max() - reps.min() <= 1 and reps.index.nunique() == 48
    assert train["lang"].iloc[:200].nunique() == 2  # shuffled, not grouped
    again, valid2, _ = split_and_sample(frame, {**BASE, "max_train_pairs": 1000})
    assert again.equals(train) and valid2.equals(valid)  # seeded
    other, _, _ = split_and_sample(frame, {**BASE, "max_train_pairs": 1000, "seed": 4})
    assert not other.equals(train)
    assert table.set_index("lang").loc["small", "repeats"] > 1


def test_shared_sides_leave_training():
    frame = toy({"a": 200, "b": 200})
    frame.loc[frame["lang"] == "b", "tgt"] = frame.loc[frame["lang"] == "a", "tgt"].to_numpy()  # multi-way
    train, valid, _ = split_and_sample(frame, {**BASE, "valid_pairs_per_language": 30})
    assert not set(valid["tgt"]) & set(train["tgt"])
    assert len(train.drop_duplicates()) <= 400 - 60 - 30  # b's partners of a's valid English left too


def test_nothing_left_is_an_error():
    with pytest.raises(DataError, match="min_pairs_per_language"):
        split_and_sample(toy({"a": 5}), BASE)


def test_valid_follows_the_domain_mix_of_its_language_not_the_file_order():
    # corpus in file order: news first, then Tatoeba, then Europarl (as the mirror's files)
    origins = ["news/newstest"] * 800 + ["tatoeba/x"] * 600 + ["europarl/x"] * 600
    frame = pd.DataFrame({"lang": "deu", "src": [f"d{i}" for i in range(2000)],
                          "tgt": [f"e{i}" for i in range(2000)], "origin": origins})
    frame = pd.concat([frame, toy({"fra": 500})], ignore_index=True)
    _, valid, _ = split_and_sample(frame, {**BASE, "valid_pairs_per_language": 200})
    deu = valid[valid["lang"] == "deu"]
    assert len(deu) == 200
    pool_share = {"news/newstest": 0.4, "tatoeba/x": 0.3, "europarl/x": 0.3}
    for rows, tol in ((deu, 0.08), (deu.iloc[:50], 0.15)):  # the whole split and a dev-sized prefix
        share = rows["origin"].value_counts(normalize=True).to_dict()
        for origin, expected in pool_share.items():
            assert abs(share.get(origin, 0.0) - expected) <= tol, (len(rows), share)
    assert list(valid["lang"]) == sorted(valid["lang"])  # grouped by language
