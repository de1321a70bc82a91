"""Clean: normalisation, each filter with a known answer, exact de-duplication."""

from __future__ import annotations

import pandas as pd
import pytest

from ems.data.clean import clean_pairs, normalise, run_clean, weighted_length
from ems.data.parse import run_parse
from ems.data.tsv import read_pairs
from ems.errors import ConfigError

SETTINGS = {"languages": "all", "min_chars": 2, "max_chars": 40, "max_length_ratio": 3.0}


def test_normalise():
    assert normalise("  Ｈｅｌｌｏ\u200b\tworld\u00a0 !\x07 ") == "Hello world !"
    assert normalise("e\u0301") == "\u00e9"  # NFC composition
    assert normalise("\ufeffa\u00adb") == "ab"
    assert normalise("می\u200cخواهم") == "می\u200cخواهم"  # ZWNJ is kept
    assert weighted_length("我们是学生") == 15 and weighted_length("abc") == 3


def test_each_filter_counts_its_reason():
    rows = [
        ("deu", "Guten Tag.", "Good day."),           # kept
        ("deu", "Guten Tag.", "Good day."),           # duplicate
        ("deu", "  Guten\tTag. ", "Good  day."),      # duplicate after normalisation
        ("deu", "\u200b", "Nothing"),                 # empty
        ("deu", "A", "B"),                            # too_short (min_chars 2)
        ("deu", "x" * 41, "y" * 41),                  # too_long
        ("deu", "Ja.", "Yes, of course I will come tomorrow."),  # length_ratio
        ("deu", "Tom.", "Tom."),                      # identical_sides
        ("cmn_Hans", "我们是学生。", "We are students."),  # kept: CJK weighs 3 per character
        ("fra", "Bonjour.", "Good day."),             # kept
    ]
    frame = pd.DataFrame(rows, columns=["lang", "src", "tgt"]).assign(origin="t/x")
    kept, removed = clean_pairs(frame, SETTINGS)
    assert kept[["lang", "src"]].values.tolist() == [["deu", "Guten Tag."], ["cmn_Hans", "我们是学生。"], ["fra", "Bonjour."]]
    counts = removed.set_index("reason")["removed"].to_dict()
    assert counts == {"duplicate": 2, "empty": 1, "too_short": 1, "too_long": 1, "length_ratio": 1, "identical_sides": 1}
    only_fra, _ = clean_pairs(frame, {**SETTINGS, "languages": ["fra"]})
    assert only_fra["lang"].tolist() == ["fra"]
    with pytest.raises(ConfigError, match="canonical"):
        clean_pairs(frame, {**SETTINGS, "languages": ["zho"]})


def test_real_slice_removes_repeated_newstests(sources, tmp_path):
    """deu-eng and eng-deu hold identical newstest2013/2014 files: after cleaning, none repeat."""
    import shutil

    root = tmp_path / "opus"
    for folder in ("deu-eng", "eng-deu"):
        (root / "testsets" / folder).mkdir(parents=True)
        for path in (sources["opus_mt_testsets"] / "testsets" / folder).glob("newstest201[34].*"):
            shutil.copy(path, root / "testsets" / folder / path.name)
    run_parse(root, tmp_path / "parsed.tsv.gz")
    run_clean(tmp_path / "parsed.tsv.gz", tmp_path / "clean.tsv.gz", tmp_path / "removed.csv",
              {"languages": ["deu"], "min_chars": 1, "max_chars": 400, "max_length_ratio": 3.0})
    parsed, clean = read_pairs(tmp_path / "parsed.tsv.gz"), read_pairs(tmp_path / "clean.tsv.gz")
    n14 = (parsed["origin"] == "deu-eng/newstest2014").sum()
    assert (parsed["origin"] == "eng-deu/newstest2014").sum() == n14
    assert (clean["origin"] == "eng-deu/newstest2014").sum() < 0.05 * n14
    assert not clean.duplicated(["lang", "src", "tgt"]).any()
    removed = pd.read_csv(tmp_path / "removed.csv")
    assert removed["removed"].sum() == len(parsed) - len(clean)
    n_eng_deu = parsed["origin"].str.startswith("eng-deu/").sum()
    assert removed.set_index("reason").loc["duplicate", "removed"] >= 0.95 * n_eng_deu
