"""Generic mean-pooled encoder for any ``transformers`` model folder (``hf:<dir>``).

Also the fallback for ``ems:<dir>`` while the trainer's ``EmsEncoder`` is absent, and the
model of the embedding-throughput benchmark. Honours ``"ems_lowercase"`` in
``tokenizer_config.json`` (our tokenizers lower-case in Python before encoding).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ems.errors import ConfigError
from ems.model.batching import encode_ids
from ems.model.encoder import mean_pool

logger = logging.getLogger(__name__)


class TransformerEncoder:
    """Mean pooling over the last hidden states of an ``AutoModel``; no language input."""

    def __init__(self, model_dir: str | os.PathLike[str], batch_size: int = 256, max_tokens: int | None = 16384,
                 max_length: int = 128, num_threads: int | None = None, device: str = "cpu",
                 add_special_tokens: bool = True) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").exists():
            raise ConfigError(f"{self.model_dir}: not a transformers model folder (no config.json)")
        if num_threads:
            torch.set_num_threads(int(num_threads))
        self.name = f"hf:{self.model_dir.name}"
        self.batch_size, self.max_tokens, self.max_length = batch_size, max_tokens, max_length
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if device == "auto" else device))
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        self.model = AutoModel.from_pretrained(str(self.model_dir)).to(self.device).eval()
        self.add_special_tokens = add_special_tokens
        self.lowercase = False
        cfg = self.model_dir / "tokenizer_config.json"
        if cfg.exists():
            self.lowercase = bool(json.loads(cfg.read_text(encoding="utf-8")).get("ems_lowercase", False))
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def tokenize(self, sentences: Sequence[str]) -> list[list[int]]:
        texts = [s.lower() for s in sentences] if self.lowercase else list(sentences)
        enc = self.tokenizer(texts, add_special_tokens=self.add_special_tokens, truncation=True,
                             max_length=self.max_length)
        return enc["input_ids"]

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return mean_pool(self.model(input_ids=ids, attention_mask=mask).last_hidden_state, mask)

    def encode(self, sentences: Sequence[str], lang: str) -> np.ndarray:
        ids = self.tokenize(sentences)
        out = encode_ids(self._forward, ids, self.pad_id, self.batch_size, self.max_tokens, self.device)
        return out if len(sentences) else np.zeros((0, self.model.config.hidden_size), dtype=np.float32)
