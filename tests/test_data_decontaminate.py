"""Decontamination: no evaluation sentence survives in the prepared training data."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from ems.data.clean import run_clean
from ems.data.decontaminate import (
    decontaminate_pairs,
    evaluation_keys,
    match_key,
    run_decontaminate,
)
from ems.data.parse import run_parse
from ems.data.split import run_split_sample
from ems.data.tsv import read_pairs, write_pairs
from ems.datasets import load_flores, load_newstest, load_sib200, load_tatoeba, load_umsab

ALL = {"tatoeba": True, "flores": True, "sib200": True, "umsab": True, "mining": True}
MINING = {"deu": {"train": "newstest2018", "test": "newstest2019", "distractors": ["newstest2020"]}}
CORPUS = {"languages": "all", "min_chars": 1, "max_chars": 400, "max_length_ratio": 3.0,
          "min_pairs_per_language": 100, "valid_pairs_per_language": 50, "sampling_temperature": 5.0,
          "max_pairs_per_language": None, "max_train_pairs": None, "seed": 1}
#: Training files of the test: the Tatoeba-Challenge sets that overlap LASER Tatoeba most
#: (ces, kab, cmn), German Tatoeba and a reserved and a non-reserved newstest.
FILES = {"ces-eng": ["tatoeba-test-v2021-08-07"], "eng-kab": ["tatoeba-test-v2021-08-07"],
         "eng-zho": ["tatoeba-test-v2021-08-07"], "deu-eng": ["tatoeba-test-v2021-08-07", "newstest2019", "newstest2014"]}


@pytest.fixture(scope="module")
def keys(sources):
    return evaluation_keys(ALL, {k: str(v) for k, v in sources.items()}, MINING)


@pytest.fixture(scope="module")
def prepared(sources, keys, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("decon")
    for folder, stems in FILES.items():
        src = sources["opus_mt_testsets"] / "testsets" / folder
        (tmp / "opus/testsets" / folder).mkdir(parents=True)
        for path in src.iterdir():
            if path.name.split(".")[0] in stems:
                shutil.copy(path, tmp / "opus/testsets" / folder / path.name)
    run_parse(tmp / "opus", tmp / "parsed.tsv.gz")
    run_clean(tmp / "parsed.tsv.gz", tmp / "clean.tsv.gz", tmp / "clean.csv", CORPUS)
    kept, removed = decontaminate_pairs(read_pairs(tmp / "clean.tsv.gz"), keys)
    write_pairs(tmp / "decon.tsv.gz", kept)
    removed.to_csv(tmp / "decon.csv", index=False)
    run_split_sample(tmp / "decon.tsv.gz", tmp / "train.tsv.gz", tmp / "valid.tsv.gz", tmp / "sampling.csv", CORPUS)
    return tmp


def test_keys_hold_every_evaluation_sentence(sources, keys):
    some = []
    for xx, eng in load_tatoeba(sources["laser"]).values():
        some += xx + eng
    for lines in load_flores(sources["opus_mt_testsets"]).values():
        some += lines
    some += list(load_sib200(sources["sib200"], "dev")["deu"]["text"])
    for texts, _ in load_umsab(sources["umsab"], "val").values():
        some += texts
    some += load_newstest(sources["opus_mt_testsets"], "deu", "newstest2020")[1]
    missing = [s for s in some if match_key(s) and match_key(s) not in keys]
    assert missing == []


def _hits(frame: pd.DataFrame, keys: set[str]) -> pd.Series:
    """Pairs with a side (normalised, case-folded) among the evaluation keys."""
    src = [match_key(t) in keys for t in frame["src"]]
    tgt = [match_key(t) in keys for t in frame["tgt"]]
    return pd.Series(src, index=frame.index) | pd.Series(tgt, index=frame.index)


def test_nothing_of_the_evaluation_sets_survives(prepared, keys):
    keys = set(keys)
    clean = read_pairs(prepared / "clean.tsv.gz")
    hits = _hits(clean, keys)
    assert hits.sum() > 3000  # the OPUS Tatoeba-Challenge overlaps LASER Tatoeba heavily
    for name in ("decon", "train", "valid"):
        frame = read_pairs(prepared / f"{name}.tsv.gz")
        assert len(frame) > 0
        assert not _hits(frame, keys).any(), name
    decon = read_pairs(prepared / "decon.tsv.gz")
    assert len(decon) == len(clean) - hits.sum()
    assert not decon["origin"].isin(["deu-eng/newstest2019"]).any()  # reserved for mining
    assert decon["origin"].eq("deu-eng/newstest2014").sum() > 1000  # not reserved: kept


def test_removals_counted_per_language_and_set(prepared):
    report = pd.read_csv(prepared / "decon.csv")
    assert set(report.columns) == {"lang", "reason", "side", "removed"}
    per = report.groupby(["lang", "reason"])["removed"].sum()
    # Mirror README: exact pair overlaps per 1000 Tatoeba pairs: ces 263, kab 193, cmn 146.
    for lang, at_least in {"ces": 263, "kab": 193, "cmn_Hans": 146}.items():
        assert per[(lang, "tatoeba")] >= at_least
    assert per[("deu", "mining")] >= 1900


def test_each_set_is_attributed(sources, keys):
    sib_dev = load_sib200(sources["sib200"], "dev", ["deu"])["deu"]["text"].iloc[0]
    umsab = load_umsab(sources["umsab"], "test")["fra"][0][0]
    flores = load_flores(sources["opus_mt_testsets"])["kab"][3]
    news = load_newstest(sources["opus_mt_testsets"], "deu", "newstest2020")[1][5]
    assert keys[match_key(sib_dev)] == "sib200"  # FLORES dev text: only SIB-200 has it
    assert keys[match_key(umsab)] == "umsab"
    assert keys[match_key(flores)] == "flores"
    assert keys[match_key("  " + news.upper() + " ")] == "mining"  # normalised, case-folded


def test_run_decontaminate_with_one_set(sources, tmp_path):
    umsab = load_umsab(sources["umsab"], "train")
    de, en = umsab["deu"][0][0], umsab["eng"][0][0]
    frame = pd.DataFrame({"lang": ["deu", "deu", "fra"], "src": [de, "Hallo Welt", "Bonjour"],
                          "tgt": ["Hello", "Hello world", en], "origin": "t/x"})
    write_pairs(tmp_path / "clean.tsv.gz", frame)
    run_decontaminate(tmp_path / "clean.tsv.gz", tmp_path / "out.tsv.gz", tmp_path / "out.csv",
                      {"decontamination": {"umsab": True}, "mining": {"languages": {}}}, {"umsab": sources["umsab"]})
    assert read_pairs(tmp_path / "out.tsv.gz")["src"].tolist() == ["Hallo Welt"]
    report = pd.read_csv(tmp_path / "out.csv")
    assert report[["lang", "reason", "side", "removed"]].values.tolist() == [["deu", "umsab", "src", 1], ["fra", "umsab", "tgt", 1]]


def test_extra_datasets_are_decontaminated_and_counted_per_dataset(tmp_path):
    from ems.data.stats import run_stats

    (tmp_path / "news").mkdir()
    for lang, rows in {"en": [("Stocks fell sharply today.", "business"), ("The match ended 2-1.", "sport")],
                       "de": [("Die Aktien fielen heute stark.", "business")]}.items():
        for split in ("train", "dev", "test"):
            lines = ["text\tlabel"] + [f'"{t}"\t{lab}' for t, lab in rows]
            (tmp_path / "news" / f"{lang}.{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "ret").mkdir()
    (tmp_path / "ret" / "fr.src").write_text("Le chat dort.\n", encoding="utf-8")
    (tmp_path / "ret" / "fr.tgt").write_text("The cat sleeps.\n", encoding="utf-8")
    extra = [
        {"name": "news", "type": "classification", "format": "tsv", "path": str(tmp_path / "news/{lang}.{split}.tsv"),
         "columns": {"text": "text", "label": "label"}, "languages": {"en": "eng", "de": "deu"}, "quoting": "minimal"},
        {"name": "ret", "type": "retrieval", "format": "lines", "path": str(tmp_path / "ret/{lang}.src"),
         "target_path": str(tmp_path / "ret/{lang}.tgt"), "languages": {"fr": "fra"}},
    ]
    frame = pd.DataFrame({"lang": ["deu", "deu", "fra", "fra"],
                          "src": ["die aktien fielen heute stark.", "Guten Morgen", "Bonjour", "Salut"],
                          "tgt": ["Good news", "Stocks fell sharply today.", "Hello", "the cat sleeps."],
                          "origin": "t/x"})
    write_pairs(tmp_path / "clean.tsv.gz", frame)
    settings = {"decontamination": {"umsab": False}, "mining": {"languages": {}},
                "evaluation": {"extra_datasets": extra}}
    run_decontaminate(tmp_path / "clean.tsv.gz", tmp_path / "out.tsv.gz", tmp_path / "out.csv", settings, {})
    assert read_pairs(tmp_path / "out.tsv.gz")["src"].tolist() == ["Bonjour"]
    report = pd.read_csv(tmp_path / "out.csv")
    assert report[["lang", "reason", "side", "removed"]].values.tolist() == [
        ["deu", "extra:news", "src", 1], ["deu", "extra:news", "tgt", 1], ["fra", "extra:ret", "tgt", 1]]
    off = {**settings, "decontamination": {"umsab": False, "extra_datasets": False}}
    run_decontaminate(tmp_path / "clean.tsv.gz", tmp_path / "off.tsv.gz", tmp_path / "off.csv", off, {})
    assert len(read_pairs(tmp_path / "off.tsv.gz")) == 4
    # the data statistics count the removals per dataset
    tables = {"clean": tmp_path / "clean.tsv.gz", "decontaminated": tmp_path / "out.tsv.gz"}
    table = run_stats(tables, tmp_path / "s.csv", tmp_path / "s.pdf", tmp_path / "s.png", tmp_path / "out.csv")
    assert table.set_index("lang")[["removed:extra:news", "removed:extra:ret"]].to_dict("index") == {
        "deu": {"removed:extra:news": 2, "removed:extra:ret": 0}, "fra": {"removed:extra:news": 0, "removed:extra:ret": 1}}
    assert pd.read_csv(tmp_path / "s.csv").columns.tolist()[-2:] == ["removed:extra:news", "removed:extra:ret"]
