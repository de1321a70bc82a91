"""The opus_mt_testsets corpus reader: one language's pairs (labels, both folders), and malformed-input errors.

Each error is raised by the language job (``prepare``), which then leaves no output."""

from __future__ import annotations

import shutil

import pytest
from _data_stage import FILTERS, NO_KEYS

from ems.data.corpora import Progress
from ems.data.corpora.testsets import iter_pairs, languages_in
from ems.data.prepare import prepare_language
from ems.data.tsv import read_pairs
from ems.errors import DataError, UnknownLanguageError


@pytest.fixture
def opus(sources, tmp_path):
    """A two-language copy of the OPUS-MT-testsets slice (plus eng-eng and FLORES)."""
    root = tmp_path / "opus"
    for folder in ("deu-eng", "eng-zho", "eng-eng", "flores200_dataset"):
        shutil.copytree(sources["opus_mt_testsets"] / "testsets" / folder, root / "testsets" / folder, symlinks=True)
    return root


def _lines(path):
    return path.read_bytes().count(b"\n")


def run_parse(root, out):
    """Every language of the folder through its prepare job (as the rules run them); no filter drops a line."""
    for lang in languages_in(root):
        prepare_language(lang, iter_pairs(root, lang, Progress()), {**FILTERS, "max_chars": 10**6,
                                                                    "max_length_ratio": 10**6},
                         NO_KEYS, out / lang)


def read_parsed(out):
    import pandas as pd

    return pd.concat([read_pairs(d / "pairs.tsv.gz") for d in sorted(out.iterdir())], ignore_index=True)


def test_parse_counts_langs_and_origins(opus, tmp_path):
    out = tmp_path / "languages"
    langs = languages_in(opus)
    assert {"deu", "cmn_Hans", "cmn_Hant"} <= set(langs) and "eng" not in langs
    pairs = {lang: list(iter_pairs(opus, lang, Progress())) for lang in langs}
    expected = sum(_lines(p) for p in (opus / "testsets").glob("*-*/*.eng") if "eng-eng" not in str(p))
    english_both = sum(1 for line in (opus / "testsets/eng-zho").glob("*.labels")
                       for label in line.read_text().split() if label == "eng")
    assert sum(len(p) for p in pairs.values()) == expected - english_both
    run_parse(opus, out)
    frame = read_parsed(out)
    assert set(frame["origin"].str.split("/").str[0]) == {"deu-eng", "eng-zho"}
    assert len(frame) <= expected - english_both  # exact duplicates go in the same job
    assert {"deu", "cmn_Hans", "cmn_Hant"} <= set(frame["lang"]) and "eng" not in set(frame["lang"])
    news = [a for a, _, o in pairs["deu"] if o == "deu-eng/newstest2019"]
    assert len(news) == _lines(opus / "testsets/deu-eng/newstest2019.deu")
    assert news[0] == (opus / "testsets/deu-eng/newstest2019.deu").read_text(encoding="utf-8").split("\n")[0]


def test_ragged_pair_is_an_error(opus, tmp_path):
    path = opus / "testsets/deu-eng/newstest2014.eng"
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 1])
    out = tmp_path / "languages"
    with pytest.raises(DataError, match=r"newstest2014\.deu has 3003 lines but .*newstest2014\.eng has 3002 lines"):
        run_parse(opus, out)
    assert not (out / "deu").exists() and not list(out.glob(".deu*"))


def test_undecodable_bytes_name_file_and_line(opus, tmp_path):
    path = opus / "testsets/deu-eng/newstest2010.deu"
    lines = path.read_bytes().split(b"\n")
    lines[41] = lines[41] + b"\xff\xfe"
    path.write_bytes(b"\n".join(lines))
    out = tmp_path / "languages"
    with pytest.raises(DataError, match=r"newstest2010\.deu, line 42: not valid UTF-8"):
        run_parse(opus, out)
    assert not (out / "deu").exists()


def test_unknown_language_folder(opus, tmp_path):
    bad = opus / "testsets/qqq-eng"
    bad.mkdir()
    (bad / "x.qqq").write_text("a\n")
    (bad / "x.eng").write_text("b\n")
    with pytest.raises(UnknownLanguageError, match=r"qqq-eng.*unknown language code 'qqq'"):
        run_parse(opus, tmp_path / "languages")
    assert not (tmp_path / "languages").exists()


def test_unknown_label_names_line(opus, tmp_path):
    path = opus / "testsets/eng-zho/tatoeba-test-v2021-08-07.zho.labels"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[6] = "xx_Zzzz"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(UnknownLanguageError, match=r"zho\.labels(, line 7)?: unknown language code 'xx_Zzzz'"):
        run_parse(opus, tmp_path / "languages")


def test_the_committed_inventory_is_the_archive_s(sources, mirror, tmp_path):
    """corpus.languages: all expands from a committed inventory: it must be what the pinned archive holds."""
    from ems.data.corpora.testsets import inventory
    from ems.data.fetch import fetch_source

    repo, commit = "Helsinki-NLP/OPUS-MT-testsets", "ac0f19c0be3cb4e0d9450fcb2d7a9847c4bdd180"
    folder = tmp_path / f"Helsinki-NLP+OPUS-MT-testsets@{commit}"
    fetch_source(repo, commit, ["testsets/"], folder, mirror=mirror)
    assert list(inventory(folder.name)) == languages_in(folder)
