"""Zero-shot classification and config-driven extra datasets on toy data known by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ems.errors import ConfigError, DataError
from ems.evaluation.classification import LabelledSet, ZeroShotClassification
from ems.evaluation.registry import build_evaluator, enabled_tasks
from ems.evaluation.settings import resolve_settings


class ClassEncoder:
    """A sentence "<label>-<i>" embeds near the centroid of its label; language 'zzz' gets noise only."""

    name = "class"

    def __init__(self, labels, d=16):
        rng = np.random.default_rng(0)
        self.centroids = {lab: rng.normal(size=d) * 3 for lab in labels}
        self.rng = np.random.default_rng(1)
        self.d = d

    def encode(self, sentences, lang):
        out = []
        for s in sentences:
            noise = self.rng.normal(size=self.d)
            out.append(noise if lang == "zzz" else self.centroids[s.split("-")[0]] + noise)
        return np.stack(out).astype(np.float32)


def _set(labels, n, tag=""):
    texts = [f"{lab}-{tag}{i}" for i in range(n) for lab in labels]
    return LabelledSet(texts, [t.split("-")[0] for t in texts])


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_zero_shot_transfers_when_embeddings_align_and_not_otherwise(kind):
    labels = ["sport", "science", "travel"]
    tests = {"eng": _set(labels, 10, "t"), "deu": _set(labels, 10, "d"), "zzz": _set(labels, 30, "z")}
    ev = ZeroShotClassification("toy", _set(labels, 20), _set(labels, 5, "v"), tests, classifier=kind)
    res = ev(ClassEncoder(labels))
    assert res.metrics["toy/deu/acc"] == 1.0 and res.metrics["toy/eng/acc"] == 1.0
    assert res.metrics["toy/zzz/acc"] < 0.6  # noise: chance is 1/3
    assert res.metrics["toy/acc_mean"] == pytest.approx((1.0 + res.metrics["toy/zzz/acc"]) / 2)  # English not in the mean
    assert res.metrics["toy/n_languages"] == 2
    assert res.params["selected_on"] == "eng dev" and res.params["classifier"] == kind


def test_label_subsets_are_accepted_and_unseen_labels_dropped_or_rejected(caplog):
    train = _set(["a", "b", "c"], 5)
    tests = {"deu": _set(["a", "b"], 3), "fra": _set(["a", "b", "d"], 4)}
    with caplog.at_level("INFO", logger="ems.evaluation.classification"):
        ev = ZeroShotClassification("toy", train, _set(["a", "b", "c"], 2), tests)
    assert "deu test: label set is a subset" in caplog.text
    assert "fra test: 4 example(s) with label(s) ['d'] never seen in training dropped" in caplog.text
    assert ev.tests["fra"].labels.count("d") == 0 and len(ev.tests["fra"].texts) == 8
    res = ev(ClassEncoder(["a", "b", "c", "d"]))
    assert res.metrics["toy/deu/acc"] == 1.0 and res.metrics["toy/fra/acc"] == 1.0  # scored on a and b only
    assert res.params["labels"]["fra test"] == {"dropped_unseen": 4, "unseen_labels": ["d"], "missing_labels": ["c"]}
    assert res.params["labels"]["deu test"] == {"missing_labels": ["c"]}
    with pytest.raises(DataError, match=r"fra test has label\(s\) \['d'\] never seen"):
        ZeroShotClassification("toy", train, _set(["a", "b", "c"], 2), tests, unseen_labels="error")
    with pytest.raises(DataError, match="deu test: no example left"):
        ZeroShotClassification("toy", train, _set(["a", "b", "c"], 2), {**tests, "deu": _set(["d"], 3)})
    with pytest.raises(DataError, match="fewer than two labels"):
        ZeroShotClassification("toy", _set(["a"], 5), _set(["a"], 2), {"deu": _set(["a"], 3)})


def test_empty_and_ragged_splits_are_errors():
    train = _set(["a", "b"], 5)
    with pytest.raises(DataError, match="deu test: empty"):
        ZeroShotClassification("toy", train, _set(["a", "b"], 2), {"deu": LabelledSet([], [])})
    with pytest.raises(DataError, match="3 texts but 2 labels"):
        ZeroShotClassification("toy", train, _set(["a", "b"], 2), {"deu": LabelledSet(["a-1", "b-1", "a-2"], ["a", "b"])})
    with pytest.raises(DataError, match="no test language"):
        ZeroShotClassification("toy", train, _set(["a", "b"], 2), {"eng": _set(["a", "b"], 2)})


def _write_tsv(path: Path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("sentence\ttopic\n" + "".join(f"{t}\t{lab}\n" for t, lab in rows), encoding="utf-8")


def test_extra_classification_dataset_by_configuration_alone(tmp_path: Path, caplog):
    labels = ["x", "y"]
    for code in ("english", "german"):
        for split, n in (("train", 10), ("dev", 3), ("test", 4)):
            _write_tsv(tmp_path / code / f"{split}.tsv", [(f"{lab}-{code}{split}{i}", lab) for i in range(n) for lab in labels])
    entry = {"name": "mydoc", "type": "classification", "format": "tsv", "path": str(tmp_path / "{lang}" / "{split}.tsv"),
             "columns": {"text": "sentence", "label": "topic"},
             "languages": {"english": "eng", "german": "deu", "french": "fra"}}
    settings = resolve_settings({"evaluation": {"extra_datasets": [entry], "on_missing_language": "skip"}})
    assert "mydoc" in enabled_tasks(settings["evaluation"])
    res = build_evaluator("mydoc", settings, {})(ClassEncoder(labels))
    assert res.metrics["mydoc/deu/acc"] == 1.0
    assert res.skipped and res.skipped[0]["lang"] == "fra" and "file not found" in res.skipped[0]["reason"]
    strict = resolve_settings({"evaluation": {"extra_datasets": [entry], "on_missing_language": "error"}})
    with pytest.raises(DataError, match="fra"):
        build_evaluator("mydoc", strict, {})
    bad = dict(entry, columns={"text": "text", "label": "topic"})
    with pytest.raises(DataError, match=r"column\(s\) \['text'\] not found"):
        build_evaluator("mydoc", resolve_settings({"evaluation": {"extra_datasets": [bad]}}), {})


def test_extra_retrieval_dataset_lines_format(tmp_path: Path):
    (tmp_path / "deu.src").write_text("a\nb\nc\n", encoding="utf-8")
    (tmp_path / "deu.eng").write_text("A\nB\nC\n", encoding="utf-8")
    entry = {"name": "myret", "type": "retrieval", "format": "lines", "path": str(tmp_path / "{lang}.src"),
             "target_path": str(tmp_path / "{lang}.eng"), "languages": ["deu"]}
    ev = build_evaluator("myret", resolve_settings({"evaluation": {"extra_datasets": [entry]}}), {})

    class Upper:
        name = "u"

        def encode(self, sentences, lang):
            return np.stack([np.eye(3)["abc".index(s.lower())] for s in sentences])

    res = ev(Upper())
    assert res.metrics["myret/acc_mean"] == 1.0
    (tmp_path / "deu.eng").write_text("A\nB\n", encoding="utf-8")
    with pytest.raises(DataError, match="ragged"):
        build_evaluator("myret", resolve_settings({"evaluation": {"extra_datasets": [entry]}}), {})


def test_extra_dataset_schema_rejects_unknown_keys_and_duplicate_names():
    entry = {"name": "tatoeba", "type": "retrieval", "format": "lines", "path": "x", "languages": ["deu"]}
    with pytest.raises(ConfigError, match="already a task"):
        enabled_tasks(resolve_settings({"evaluation": {"extra_datasets": [entry]}})["evaluation"])
    with pytest.raises(ConfigError, match="colums"):
        resolve_settings({"evaluation": {"extra_datasets": [dict(entry, name="ok", colums={})]}})


DATA = Path(__file__).parent / "data" / "extra_news"


def test_quoted_tsv_with_tabs_and_newlines_reads_correctly_by_default(caplog):
    from ems.datasets.extra import read_table

    frame = read_table(DATA / "en.train.tsv", "tsv", ["text", "label"], True)
    assert frame["text"].tolist()[:5] == ["x-Markets open\tlower", 'y-The "final" match\nended late',
                                          "x-Bank rates\trise\tagain", "y-Cup draw\nannounced", 'x-Oil "prices" fall']
    assert frame["label"].tolist() == ["x", "y", "x", "y", "x", "y"]
    with pytest.raises(DataError, match=r"en\.train\.tsv: cannot read as tsv"):  # quotes taken literally: ragged
        read_table(DATA / "en.train.tsv", "tsv", ["text", "label"], True, quoting="none")
    entry = {"name": "news", "type": "classification", "format": "tsv", "path": str(DATA / "{lang}.{split}.tsv"),
             "columns": {"text": "text", "label": "label"}, "languages": {"en": "eng", "de": "deu"}}
    settings = resolve_settings({"evaluation": {"extra_datasets": [entry]}})
    assert settings["evaluation"]["extra_datasets"][0]["quoting"] == "minimal"
    with caplog.at_level("INFO", logger="ems.evaluation.classification"):
        ev = build_evaluator("news", settings, {})
    assert "deu test: label set is a subset of the train labels (1 of 2" in caplog.text  # German test: topic x only
    res = ev(ClassEncoder(["x", "y"]))
    assert res.metrics["news/deu/acc"] == 1.0 and res.rows[0]["n"] == 3
    with pytest.raises(ConfigError, match="quoting"):
        resolve_settings({"evaluation": {"extra_datasets": [dict(entry, quoting="all")]}})
