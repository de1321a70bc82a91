"""Decontamination: no evaluation sentence survives in the prepared training data."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from _data_stage import prepare_all, split_all

from ems.data.corpora import Progress
from ems.data.corpora.testsets import iter_pairs, languages_in
from ems.data.decontaminate import evaluation_keys, match_key
from ems.data.evalkeys import build_eval_keys, load_eval_keys, save_eval_keys
from ems.data.tsv import read_pairs
from ems.datasets import load_flores, load_newstest, load_sib200, load_tatoeba, load_umsab

ALL = {"tatoeba": True, "flores": True, "sib200": True, "umsab": True, "mining": True}
MINING = {"deu": {"train": "newstest2018", "test": "newstest2019", "distractors": ["newstest2020"]}}
FILTERS = {"min_chars": 1, "max_chars": 400, "max_length_ratio": 3.0}
SPLIT = {"min_pairs_per_language": 100, "valid_pairs_per_language": 50, "sampling_temperature": 5.0,
         "max_pairs_per_language": None, "max_train_pairs": None, "seed": 1}
#: Training files of the test: the Tatoeba-Challenge sets that overlap LASER Tatoeba most
#: (ces, kab, cmn), German Tatoeba and a reserved and a non-reserved newstest.
FILES = {"ces-eng": ["tatoeba-test-v2021-08-07"], "eng-kab": ["tatoeba-test-v2021-08-07"],
         "eng-zho": ["tatoeba-test-v2021-08-07"], "deu-eng": ["tatoeba-test-v2021-08-07", "newstest2019", "newstest2014"]}


@pytest.fixture(scope="module")
def keys(sources):
    return evaluation_keys(ALL, {k: str(v) for k, v in sources.items()}, MINING)


@pytest.fixture(scope="module")
def prepared(sources, tmp_path_factory):
    """The per-language jobs on a copy of the files above, with the evaluation keys built and saved once."""
    tmp = tmp_path_factory.mktemp("decon")
    for folder, stems in FILES.items():
        src = sources["opus_mt_testsets"] / "testsets" / folder
        (tmp / "opus/testsets" / folder).mkdir(parents=True)
        for path in src.iterdir():
            if path.name.split(".")[0] in stems:
                shutil.copy(path, tmp / "opus/testsets" / folder / path.name)
    settings = {"decontamination": ALL, "mining": {"languages": MINING}}
    save_eval_keys(build_eval_keys(settings, {k: str(v) for k, v in sources.items()}), tmp / "eval_keys")
    langs = [lang for lang in languages_in(tmp / "opus") if lang in ("ces", "kab", "cmn_Hans", "deu")]
    rows = {lang: list(iter_pairs(tmp / "opus", lang, Progress())) for lang in langs}
    clean = prepare_all(rows, tmp / "clean")  # no evaluation key: the cleaned pairs only
    dirs = prepare_all(rows, tmp, keys=load_eval_keys(tmp / "eval_keys"))
    split_all(dirs, tmp, SPLIT)
    return tmp, clean, dirs


def _table(dirs, name="pairs.tsv.gz"):
    return pd.concat([read_pairs(d / name, allow_empty=True) for d in dirs.values()], ignore_index=True)


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
    tmp, clean_dirs, dirs = prepared
    keys = set(keys)
    clean = _table(clean_dirs)
    hits = _hits(clean, keys)
    assert hits.sum() > 3000  # the OPUS Tatoeba-Challenge overlaps LASER Tatoeba heavily
    splits = {lang: tmp / "split" / lang for lang in dirs}
    for name, frame in (("decon", _table(dirs)), ("train", _table(splits, "train.tsv.gz")),
                        ("valid", _table(splits, "valid.tsv.gz"))):
        assert len(frame) > 0
        assert not _hits(frame, keys).any(), name
    decon = _table(dirs)
    assert len(decon) == len(clean) - hits.sum()
    assert not decon["origin"].isin(["deu-eng/newstest2019"]).any()  # reserved for mining
    assert decon["origin"].eq("deu-eng/newstest2014").sum() > 1000  # not reserved: kept


def test_removals_counted_per_language_and_set(prepared):
    report = pd.read_csv(prepared[0] / "decontamination.csv")
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


def test_decontaminate_with_one_set(sources, tmp_path):
    umsab = load_umsab(sources["umsab"], "train")
    de, en = umsab["deu"][0][0], umsab["eng"][0][0]
    keys = build_eval_keys({"decontamination": {"umsab": True}, "mining": {"languages": {}}}, {"umsab": sources["umsab"]})
    rows = {"deu": [(de, "Hello", "t/x"), ("Hallo Welt", "Hello world", "t/x")], "fra": [("Bonjour", en, "t/x")]}
    loose = {"min_chars": 1, "max_chars": 10**6, "max_length_ratio": 10.0**6}  # decontamination alone decides
    dirs = prepare_all(rows, tmp_path, loose, keys=keys)
    assert read_pairs(dirs["deu"] / "pairs.tsv.gz")["src"].tolist() == ["Hallo Welt"]
    assert pd.read_json(dirs["fra"] / "stats.json", typ="series")["decontamination"] == [
        {"reason": "umsab", "side": "tgt", "removed": 1}]
    assert pd.read_json(dirs["deu"] / "stats.json", typ="series")["decontamination"] == [
        {"reason": "umsab", "side": "src", "removed": 1}]


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
    rows = {"deu": [("die aktien fielen heute stark.", "Good news", "t/x"), ("Guten Morgen", "Stocks fell sharply today.", "t/x")],
            "fra": [("Bonjour", "Hello", "t/x"), ("Salut", "the cat sleeps.", "t/x")]}
    from ems.config import sections

    settings = sections({"decontamination": {s: False for s in ("tatoeba", "flores", "sib200", "umsab", "mining")},
                         "mining": {"languages": {}},
                         "evaluation": {"extra_datasets": extra}}, ("decontamination", "mining", "evaluation"),
                        what="test settings")  # as `ems eval-keys` reads them: the schema's defaults filled
    loose = {"min_chars": 1, "max_chars": 10**6, "max_length_ratio": 10.0**6}  # decontamination alone decides
    dirs = prepare_all(rows, tmp_path / "on", loose, keys=build_eval_keys(settings, {}))
    assert _table(dirs)["src"].tolist() == ["Bonjour"]
    from ems.data.split import write_reports

    write_reports(dirs, {"languages": {}}, tmp_path / "s.sampling.csv", tmp_path / "removed.csv", tmp_path / "out.csv")
    report = pd.read_csv(tmp_path / "out.csv")
    assert report[["lang", "reason", "side", "removed"]].values.tolist() == [
        ["deu", "extra:news", "src", 1], ["deu", "extra:news", "tgt", 1], ["fra", "extra:ret", "tgt", 1]]
    off = {**settings, "decontamination": {"umsab": False, "extra_datasets": False}}
    assert len(_table(prepare_all(rows, tmp_path / "off", loose, keys=build_eval_keys(off, {})))) == 4
    # the data statistics count the removals per dataset
    table = run_stats(dirs, {}, tmp_path / "s.csv", tmp_path / "s.pdf", tmp_path / "s.png", tmp_path / "out.csv")
    assert table.set_index("lang")[["removed:extra:news", "removed:extra:ret"]].to_dict("index") == {
        "deu": {"removed:extra:news": 2, "removed:extra:ret": 0}, "fra": {"removed:extra:news": 0, "removed:extra:ret": 1}}
    assert pd.read_csv(tmp_path / "s.csv").columns.tolist()[-2:] == ["removed:extra:news", "removed:extra:ret"]


def test_saved_keys_attribute_as_the_text_keys(prepared, keys):
    """The hashed key file holds every text key once, with the set the text keys name."""
    from ems.data.hashing import key64

    saved = load_eval_keys(prepared[0] / "eval_keys")
    assert len(saved.keys) == len(keys)
    sample = list(keys.items())[::997]
    found = saved.lookup(np.array([key64(k) for k, _ in sample], dtype=np.uint64))
    assert [saved.names[i] for i in found] == [name for _, name in sample]
