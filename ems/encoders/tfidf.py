"""Character n-gram TF-IDF: the floor that needs no training (``tfidf`` peer).

Features are hashed character n-grams (``char_wb``, 1–4, lower-cased) in a fixed
``2**n_bits``-dimensional space shared by every call, so English and non-English rows are
comparable without any vocabulary. The IDF weights are fitted on the sentences of each
``encode`` call (one side of one language of one dataset): no training data is used,
and the output of a call depends on the whole call, so these embeddings are not cached
per sentence. Rows are L2-normalised (cosine = dot product).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

logger = logging.getLogger(__name__)


class TfidfEncoder:
    """Hashed char n-gram TF-IDF (sublinear tf), IDF fitted per call."""

    #: Per-call IDF: the embedding cache must not reuse rows across calls.
    fingerprint = None
    cacheable = False

    def __init__(self, n_bits: int = 13, ngram_range: tuple[int, int] = (1, 4)) -> None:
        self.name = "tfidf"
        self.vectorizer = HashingVectorizer(analyzer="char_wb", ngram_range=ngram_range, n_features=2**n_bits,
                                            alternate_sign=False, norm=None, lowercase=True)

    def encode(self, sentences: Sequence[str], lang: str) -> np.ndarray:
        if not sentences:
            return np.zeros((0, self.vectorizer.n_features), dtype=np.float32)
        counts = self.vectorizer.transform(list(sentences))
        tfidf = TfidfTransformer(sublinear_tf=True, norm="l2").fit_transform(counts)
        return tfidf.astype(np.float32).toarray()
