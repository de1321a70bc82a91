"""Parse: every X–English file pair with canonical codes, and the malformed-input errors."""

from __future__ import annotations

import shutil

import pytest

from ems.data.parse import run_parse
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


def test_parse_counts_langs_and_origins(opus, tmp_path):
    out = tmp_path / "parsed.tsv.gz"
    run_parse(opus, out)
    frame = read_pairs(out)
    expected = sum(_lines(p) for p in (opus / "testsets").glob("*-*/*.eng") if "eng-eng" not in str(p))
    assert len(frame) == expected
    assert set(frame["origin"].str.split("/").str[0]) == {"deu-eng", "eng-zho"}
    assert {"deu", "cmn_Hans", "cmn_Hant"} <= set(frame["lang"]) and "eng" not in set(frame["lang"])
    news = frame[frame["origin"] == "deu-eng/newstest2019"]
    assert len(news) == _lines(opus / "testsets/deu-eng/newstest2019.deu")
    assert news["src"].iloc[0] == (opus / "testsets/deu-eng/newstest2019.deu").read_text(encoding="utf-8").split("\n")[0]


def test_ragged_pair_is_an_error(opus, tmp_path):
    path = opus / "testsets/deu-eng/newstest2014.eng"
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 1])
    out = tmp_path / "parsed.tsv.gz"
    with pytest.raises(DataError, match=r"newstest2014\.deu has 3003 lines but .*newstest2014\.eng has 3002 lines"):
        run_parse(opus, out)
    assert not out.exists() and not list(tmp_path.glob(".parsed*"))


def test_undecodable_bytes_name_file_and_line(opus, tmp_path):
    path = opus / "testsets/deu-eng/newstest2010.deu"
    lines = path.read_bytes().split(b"\n")
    lines[41] = lines[41] + b"\xff\xfe"
    path.write_bytes(b"\n".join(lines))
    out = tmp_path / "parsed.tsv.gz"
    with pytest.raises(DataError, match=r"newstest2010\.deu, line 42: not valid UTF-8"):
        run_parse(opus, out)
    assert not out.exists()


def test_unknown_language_folder(opus, tmp_path):
    bad = opus / "testsets/qqq-eng"
    bad.mkdir()
    (bad / "x.qqq").write_text("a\n")
    (bad / "x.eng").write_text("b\n")
    with pytest.raises(UnknownLanguageError, match=r"qqq-eng.*unknown language code 'qqq'"):
        run_parse(opus, tmp_path / "parsed.tsv.gz")
    assert not (tmp_path / "parsed.tsv.gz").exists()


def test_unknown_label_names_line(opus, tmp_path):
    path = opus / "testsets/eng-zho/tatoeba-test-v2021-08-07.zho.labels"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[6] = "xx_Zzzz"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(UnknownLanguageError, match=r"zho\.labels, line 7"):
        run_parse(opus, tmp_path / "parsed.tsv.gz")
