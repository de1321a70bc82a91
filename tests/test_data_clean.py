"""Clean (in the per-language job): normalisation, each filter with a known answer, exact de-duplication."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from _data_stage import NO_KEYS, prepare_all, rows_by_language

from ems.data.clean import normalise, weighted_length
from ems.data.corpora import Progress
from ems.data.corpora.testsets import iter_pairs
from ems.data.prepare import LanguageCleaner, prepare_language
from ems.data.tsv import read_pairs
from ems.errors import DataError

SETTINGS = {"min_chars": 2, "max_chars": 40, "max_length_ratio": 3.0}


def test_normalise():
    assert normalise("  Ｈｅｌｌｏ\u200b\tworld\u00a0 !\x07 ") == "Hello world !"
    assert normalise("e\u0301") == "\u00e9"  # NFC composition
    assert normalise("\ufeffa\u00adb") == "ab"
    assert normalise("می\u200cخواهم") == "می\u200cخواهم"  # ZWNJ is kept
    assert weighted_length("我们是学生") == 15 and weighted_length("abc") == 3


@pytest.mark.parametrize("text", ["a\x1cb  c\x07", "\x7fx\ty\n", "plain text", " \x1f "])
def test_ascii_fast_path_equals_the_full_normalisation(text):
    import re
    import unicodedata

    full = " ".join(re.sub("[\x00-\x08\x0e-\x1f\x7f-\x9f]", "", unicodedata.normalize("NFKC", text)).split())
    assert normalise(text) == full


def test_each_filter_counts_its_reason(tmp_path):
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
    dirs = prepare_all(rows_by_language(rows), tmp_path, SETTINGS)
    kept = {lang: read_pairs(d / "pairs.tsv.gz")["src"].tolist() for lang, d in dirs.items()}
    assert kept == {"deu": ["Guten Tag."], "cmn_Hans": ["我们是学生。"], "fra": ["Bonjour."]}
    stats = pd.read_json(dirs["deu"] / "stats.json", typ="series")
    assert stats["removed"] == {"duplicate": 2, "empty": 1, "too_short": 1, "too_long": 1, "length_ratio": 1,
                                "identical_sides": 1}
    assert (stats["parsed"], stats["clean"], stats["decontaminated"]) == (8, 1, 1)


def test_dedup_across_chunks_keeps_the_first():
    cleaner = LanguageCleaner("deu", SETTINGS, NO_KEYS)
    first, _ = cleaner.process([("Hallo", "Hello", "a"), ("Welt", "World", "a")])
    second, keys = cleaner.process([("Welt", "World", "b"), ("Hallo", "Hi", "b"), ("Hallo", "Hello", "b")])
    assert [r.split("\t")[1:3] for r in first + second] == [["Hallo", "Hello"], ["Welt", "World"], ["Hallo", "Hi"]]
    assert cleaner.removed["duplicate"] == 2 and keys.shape == (1, 2)


def test_a_language_without_pairs_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no pairs for language kab"):
        prepare_language("kab", [], SETTINGS, NO_KEYS, tmp_path / "kab")
    assert not (tmp_path / "kab").exists()


def test_real_slice_removes_repeated_newstests(sources, tmp_path):
    """deu-eng and eng-deu hold identical newstest2013/2014 files: after cleaning, none repeat."""
    root = tmp_path / "opus"
    for folder in ("deu-eng", "eng-deu"):
        (root / "testsets" / folder).mkdir(parents=True)
        for path in (sources["opus_mt_testsets"] / "testsets" / folder).glob("newstest201[34].*"):
            shutil.copy(path, root / "testsets" / folder / path.name)
    parsed = list(iter_pairs(root, "deu", Progress()))
    prepare_language("deu", parsed, {"min_chars": 1, "max_chars": 400, "max_length_ratio": 3.0}, NO_KEYS,
                     tmp_path / "deu")
    clean = read_pairs(tmp_path / "deu" / "pairs.tsv.gz")
    origins = pd.Series([o for _, _, o in parsed])
    n14 = (origins == "deu-eng/newstest2014").sum()
    assert (origins == "eng-deu/newstest2014").sum() == n14
    assert (clean["origin"] == "eng-deu/newstest2014").sum() < 0.05 * n14
    assert not clean.duplicated(["lang", "src", "tgt"]).any()
    stats = pd.read_json(tmp_path / "deu" / "stats.json", typ="series")
    assert sum(stats["removed"].values()) == len(parsed) - len(clean)
    assert stats["removed"]["duplicate"] >= 0.95 * origins.str.startswith("eng-deu/").sum()


def test_key_set_equals_a_python_set_across_levels():
    """The levelled key set answers as a plain set, through many merges (tiny levels to force them)."""
    import numpy as np

    from ems.data.hashing import KeySet

    rng = np.random.default_rng(0)
    keys, seen = KeySet(base=64, growth=2), set()
    for _ in range(200):
        chunk = rng.integers(0, 5000, 300, dtype=np.uint64)  # many repeats within and across chunks
        expected = []
        for k in chunk.tolist():
            expected.append(k not in seen)
            seen.add(k)
        assert keys.add_new(chunk).tolist() == expected
    assert len(keys) == len(seen) and len(keys.levels) > 4
    assert all(np.all(np.diff(level.astype(np.float64)) > 0) for level in keys.levels if len(level) > 1)
