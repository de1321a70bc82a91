"""Length-sorted, padded batches for transformer inference (less padding, more sentences/s).

Sentences are tokenised once, sorted by length, cut into batches bounded by ``batch_size``
sentences and ``max_tokens`` padded tokens, run under ``torch.inference_mode()`` and
mean pooled over real tokens; rows come back in input order. Our models (:mod:`ems.model.io`) and
the peers (:mod:`ems.encoders.transformer`) embed through here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

logger = logging.getLogger(__name__)


def length_sorted_batches(lengths: Sequence[int], batch_size: int, max_tokens: int | None = None) -> Iterator[np.ndarray]:
    """Index arrays of batches over ``lengths`` sorted longest first (padding ≈ 0)."""
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    start = 0
    while start < len(order):
        longest = max(int(lengths[order[start]]), 1)
        size = batch_size if max_tokens is None else max(1, min(batch_size, max_tokens // longest))
        yield order[start:start + size]
        start += size


def encode_ids(
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ids: Sequence[Sequence[int]],
    pad_id: int,
    batch_size: int = 256,
    max_tokens: int | None = None,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Embed token-id lists with ``forward(input_ids, attention_mask) -> (b, d)`` in length-sorted batches."""
    n = len(ids)
    lengths = [len(x) for x in ids]
    out: np.ndarray | None = None
    with torch.inference_mode():
        for idx in length_sorted_batches(lengths, batch_size, max_tokens):
            width = max(1, max(lengths[i] for i in idx))
            batch = torch.full((len(idx), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                seq = ids[i]
                batch[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
                mask[row, : len(seq)] = 1
            emb = forward(batch.to(device), mask.to(device)).float().cpu().numpy()
            if out is None:
                out = np.empty((n, emb.shape[1]), dtype=np.float32)
            out[idx] = emb
    if out is None:
        return np.zeros((0, 0), dtype=np.float32)
    return out
