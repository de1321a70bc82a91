"""Zero-shot cross-lingual classification: train on English embeddings, test on other languages.

The MLDoc/MARC protocol of LASER and the EMS paper, on SIB-200 topics (Adelani et al. 2024)
and UMSAB tweet sentiment (Barbieri et al. 2022): a classifier (logistic regression, or a
small MLP with one hidden layer; the paper uses an MLP whose sizes the official code does
not give) is fitted on the English train split; its hyperparameters are chosen on the
English dev split only; accuracy is reported on the test split of every other language
(English test accuracy is reported beside, not in the mean).
A dev or test label set may be a subset of the train labels (logged); examples whose label
never occurs in train are dropped with a logged count, or are an error (``unseen_labels``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from ems.encoders.base import Encoder
from ems.errors import ConfigError, DataError
from ems.evaluation.result import EvalResult, finite, mean
from ems.evaluation.retrieval import normalise
from ems.languages import ENGLISH

logger = logging.getLogger(__name__)

#: Hyperparameter grids searched on English dev.
GRIDS: dict[str, list[dict[str, Any]]] = {
    "logreg": [{"C": c} for c in (0.1, 1.0, 10.0, 100.0)],
    "mlp": [{"hidden": h, "alpha": a} for h in (64, 256) for a in (1e-4, 1e-2)],
}


#: What to do with evaluation examples whose label the train split lacks.
UNSEEN = ("drop", "error")


@dataclass
class LabelledSet:
    """Texts and their labels (strings or ints) of one split of one language."""

    texts: list[str]
    labels: list[Any]

    def check(self, where: str) -> None:
        if len(self.texts) != len(self.labels):
            raise DataError(f"{where}: {len(self.texts)} texts but {len(self.labels)} labels")
        if not self.texts:
            raise DataError(f"{where}: empty split")


def make_classifier(kind: str, hp: Mapping[str, Any], seed: int) -> Any:
    if kind == "logreg":
        return LogisticRegression(C=hp["C"], max_iter=2000, random_state=seed)
    if kind == "mlp":
        return MLPClassifier(hidden_layer_sizes=(hp["hidden"],), alpha=hp["alpha"], max_iter=300,
                             random_state=seed)
    raise ConfigError(f"unknown classifier {kind!r}; expected logreg or mlp")


class ZeroShotClassification:
    """English-trained classifier evaluated on every other language's test split."""

    def __init__(self, task: str, train: LabelledSet, dev: LabelledSet, tests: Mapping[str, LabelledSet],
                 classifier: str = "logreg", seed: int = 1, source_lang: str = ENGLISH,
                 skipped: list[dict[str, str]] | None = None, params: Mapping[str, Any] | None = None,
                 threads: int = 1, unseen_labels: str = "drop") -> None:
        if classifier not in GRIDS:
            raise ConfigError(f"{task}: classifier must be one of {sorted(GRIDS)}, not {classifier!r}")
        if unseen_labels not in UNSEEN:
            raise ConfigError(f"{task}: unseen_labels must be one of {UNSEEN}, not {unseen_labels!r}")
        train.check(f"{task} {source_lang} train")
        dev.check(f"{task} {source_lang} dev")
        labels = set(train.labels)
        if len(labels) < 2:
            raise DataError(f"{task}: the {source_lang} train split has fewer than two labels: {sorted(labels, key=str)}")
        self.label_report: dict[str, dict[str, Any]] = {}
        dev = self._known_labels(task, f"{source_lang} dev", dev, labels, unseen_labels)
        tests = {lang: self._known_labels(task, f"{lang} test", t, labels, unseen_labels) for lang, t in tests.items()}
        if not [lang for lang in tests if lang != source_lang]:
            raise DataError(f"{task}: no test language other than {source_lang}")
        self.task, self.train, self.dev, self.tests = task, train, dev, dict(tests)
        self.classifier, self.seed, self.source_lang = classifier, seed, source_lang
        self.threads = threads  # BLAS threads of the classifier: more oversubscribe a shared CPU (10x slower)
        self.skipped = list(skipped or [])
        self.params = dict(params or {})

    def _known_labels(self, task: str, where: str, ds: LabelledSet, labels: set[Any], policy: str) -> LabelledSet:
        """``ds`` restricted to the train labels: a subset of them is fine (logged); examples with a
        label never seen in training are dropped (counted) or, with ``policy="error"``, an error."""
        ds.check(f"{task} {where}")
        own = set(ds.labels)
        unseen = own - labels
        if unseen and policy == "error":
            raise DataError(f"{task}: {where} has label(s) {sorted(unseen, key=str)} never seen in the train labels "
                            f"{sorted(labels, key=str)} (unseen_labels: error)")
        entry: dict[str, Any] = {}
        if unseen:
            keep = [i for i, lab in enumerate(ds.labels) if lab in labels]
            entry["dropped_unseen"] = len(ds.labels) - len(keep)
            entry["unseen_labels"] = sorted(map(str, unseen))
            logger.warning("%s %s: %d example(s) with label(s) %s never seen in training dropped",
                           task, where, entry["dropped_unseen"], sorted(unseen, key=str))
            ds = LabelledSet([ds.texts[i] for i in keep], [ds.labels[i] for i in keep])
            if not ds.texts:
                raise DataError(f"{task}: {where}: no example left after dropping labels never seen in training")
        missing = labels - own
        if missing:
            entry["missing_labels"] = sorted(map(str, missing))
            logger.info("%s %s: label set is a subset of the train labels (%d of %d; without %s)",
                        task, where, len(own - unseen), len(labels), sorted(missing, key=str))
        if entry:
            self.label_report[where] = entry
        return ds

    def fit(self, x_train: np.ndarray, x_dev: np.ndarray) -> tuple[Any, dict[str, Any], float]:
        """Fit each grid point on English train; keep the best on English dev."""
        best: tuple[float, int, Any, dict[str, Any]] | None = None
        for n, hp in enumerate(GRIDS[self.classifier]):
            clf = make_classifier(self.classifier, hp, self.seed)
            with warnings.catch_warnings(), threadpool_limits(limits=self.threads):
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(x_train, self.train.labels)
            acc = float((clf.predict(x_dev) == np.asarray(self.dev.labels, dtype=object)).mean())
            logger.debug("%s %s %s: dev accuracy %.4f", self.task, self.classifier, hp, acc)
            if best is None or acc > best[0]:
                best = (acc, n, clf, hp)
        assert best is not None
        return best[2], best[3], best[0]

    def __call__(self, encoder: Encoder, progress: Callable[[str], None] | None = None) -> EvalResult:
        p = self.task
        x_train = normalise(encoder.encode(self.train.texts, self.source_lang))
        x_dev = normalise(encoder.encode(self.dev.texts, self.source_lang))
        clf, hp, dev_acc = self.fit(x_train, x_dev)
        logger.info("%s: %s %s chosen on %s dev (accuracy %.4f)", p, self.classifier, hp, self.source_lang, dev_acc)
        rows = []
        for lang in sorted(self.tests):
            test = self.tests[lang]
            pred = clf.predict(normalise(encoder.encode(test.texts, lang)))
            acc = float((pred == np.asarray(test.labels, dtype=object)).mean())
            rows.append({"lang": lang, "n": len(test.texts), "acc": acc, "zero_shot": lang != self.source_lang})
            logger.info("%s %s: accuracy %.4f (n=%d)", p, lang, acc, len(test.texts))
            if progress:
                progress(lang)
        metrics = {f"{p}/acc_mean": mean(r["acc"] for r in rows if r["zero_shot"]),
                   f"{p}/n_languages": float(sum(r["zero_shot"] for r in rows)),
                   f"{p}/dev_acc_{self.source_lang}": dev_acc}
        metrics |= {f"{p}/{r['lang']}/acc": r["acc"] for r in rows}
        finite(metrics, p)
        params = {"classifier": self.classifier, "selected": hp, "selected_on": f"{self.source_lang} dev",
                  "train_language": self.source_lang, "n_labels": len(set(self.train.labels)),
                  "grid": GRIDS[self.classifier], "seed": self.seed, "labels": self.label_report, **self.params}
        return EvalResult(p, f"{p}/acc_mean", metrics, rows, params, self.skipped)


def labelled(texts: Sequence[str], labels: Sequence[Any]) -> LabelledSet:
    return LabelledSet(list(texts), list(labels))
