"""Readers of the evaluation sets on the real (verified) mirror files, and their errors."""

from __future__ import annotations

import shutil

import pytest

from ems.datasets import (
    decode_escapes,
    iter_pair_files,
    load_flores,
    load_newstest,
    load_sib200,
    load_tatoeba,
    load_umsab,
)
from ems.errors import DataError, UnknownLanguageError


def test_tatoeba_has_112_aligned_languages(sources):
    data = load_tatoeba(sources["laser"])
    assert len(data) == 112
    assert {"cmn_Hans", "deu", "kzj", "dtp", "arb_Arab", "srp_Cyrl"} <= set(data)
    for lang, (xx, eng) in data.items():
        assert len(xx) == len(eng) and 100 <= len(xx) <= 1000, lang
    assert sum(len(xx) == 1000 for xx, _ in data.values()) == 112 - 40


def test_flores_devtest_204_languages_once(sources):
    data = load_flores(sources["opus_mt_testsets"])
    assert len(data) == 204  # 205 files, msa is a link to zsm
    assert {len(v) for v in data.values()} == {1012}
    assert "zsm" in data and "msa" not in data and "cmn_Hans" in data


def test_sib200_splits_and_flores_text(sources):
    flores = load_flores(sources["opus_mt_testsets"])
    sizes = {split: len(next(iter(load_sib200(sources["sib200"], split, ["deu"]).values())))
             for split in ("train", "dev", "test")}
    assert sizes == {"train": 701, "dev": 99, "test": 204}
    test = load_sib200(sources["sib200"], "test")
    assert len(test) == 205 and list(test["deu"].columns) == ["index_id", "category", "text"]
    # SIB-200 sentences are FLORES-200 sentences: part of them is devtest text.
    assert len(set(test["deu"]["text"]) & set(flores["deu"])) > 50


def test_umsab_escapes_decoded(sources):
    data = load_umsab(sources["umsab"], "train")
    assert sorted(data) == ["arb_Arab", "deu", "eng", "fra", "hin", "ita", "por", "spa"]
    texts, labels = data["eng"]
    assert len(texts) == len(labels) and set(labels) == {0, 1, 2}
    assert not any("\\u2019" in t for t in texts)
    assert any("\u2019" in t for t in texts)


def test_decode_escapes_joins_surrogates():
    assert decode_escapes(r"a\u2019b \ud83d\ude00!") == "a\u2019b \U0001F600!"
    assert decode_escapes("plain") == "plain"


def test_newstest_both_directions_unique_sides(sources):
    xx, eng = load_newstest(sources["opus_mt_testsets"], "deu", "newstest2019")
    assert len(xx) == len(eng) > 2000
    assert len(set(xx)) == len(xx) and len(set(eng)) == len(eng)
    zh, _ = load_newstest(sources["opus_mt_testsets"], "cmn_Hans", "newstest2019")
    assert len(zh) > 1000
    with pytest.raises(DataError, match="newstest1999"):
        load_newstest(sources["opus_mt_testsets"], "deu", "newstest1999")


def test_pair_files_use_labels(sources):
    files = {pf.origin: pf for pf in iter_pair_files(sources["opus_mt_testsets"])}
    assert not any(o.startswith(("eng-eng", "flores")) for o in files)
    _, _, langs = files["eng-zho/tatoeba-test-v2021-08-07"].read()
    assert {"cmn_Hans", "cmn_Hant"} <= set(langs)


def test_ragged_tatoeba_names_both_files(sources, tmp_path):
    folder = tmp_path / "data" / "tatoeba" / "v1"
    folder.mkdir(parents=True)
    for name in ("tatoeba.deu-eng.deu", "tatoeba.deu-eng.eng"):
        shutil.copy(sources["laser"] / "data/tatoeba/v1" / name, folder / name)
    lines = (folder / "tatoeba.deu-eng.eng").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "tatoeba.deu-eng.eng").write_text("".join(lines[:-3]), encoding="utf-8")
    with pytest.raises(DataError, match=r"tatoeba\.deu-eng\.deu has 1000 lines but .*tatoeba\.deu-eng\.eng has 997"):
        load_tatoeba(tmp_path)


def test_unknown_language_names_file(tmp_path):
    folder = tmp_path / "data" / "tatoeba" / "v1"
    folder.mkdir(parents=True)
    (folder / "tatoeba.qqq-eng.qqq").write_text("a\n", encoding="utf-8")
    (folder / "tatoeba.qqq-eng.eng").write_text("b\n", encoding="utf-8")
    with pytest.raises(UnknownLanguageError, match=r"tatoeba\.qqq-eng\.qqq.*'qqq'"):
        load_tatoeba(tmp_path)
