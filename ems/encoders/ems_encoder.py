"""``EmsEncoder``: a trained EMS model folder behind the ``Encoder`` protocol (docs/interfaces.md).

Sentences are tokenised by the model folder's own tokenizer (lower-casing included), sorted
by length, embedded in batches under ``torch.inference_mode()``; the vector is the mean of
the last layer over non-padding tokens. The language is used only by the official tokenizer
(its Moses / jieba / JUMAN pre-tokenisation); the encoder itself is language-agnostic.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ems.data.official_tokenizer import official_tokenizer
from ems.model.io import embed_texts, load_model

logger = logging.getLogger(__name__)


class EmsEncoder:
    """Encoder over ``models/<model_id>/model``."""

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        batch_size: int = 256,
        device: str = "cpu",
        name: str | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.device = torch.device(device)
        self.model, self.tokenizer, self.info = load_model(self.model_dir, self.device)
        self.batch_size = int(batch_size)
        self.max_length = int(self.info["max_length"])
        self.name = name or f"ems:{self.info.get('model_id', self.model_dir.parent.name)}"
        #: the authors' tokenizer (pre-tokenisation by language) when the model was trained or imported with it
        self.official = official_tokenizer(self.model_dir, self.max_length)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, sentences: Sequence[str], lang: str) -> np.ndarray:
        """(n, d) float32 vectors of ``sentences`` (``lang``: a canonical code, used by the official
        tokenizer's pre-tokenisation only)."""
        return embed_texts(self.model, self.tokenizer, list(sentences), self.max_length, self.batch_size, self.device,
                           lang=lang, official=self.official)
