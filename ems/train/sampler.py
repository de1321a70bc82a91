"""Batches of pair indices: shuffled, languages mixed, optional length bucketing and token budget.

Each epoch is a deterministic function of ``(seed, epoch)``, so the sampler's whole state is
``(epoch, position)``: a resumed run skips to the same batch. Under DDP the sampler makes
*global* batches (``batch_size × world_size`` pairs) and each rank takes an interleaved
slice, so N processes see exactly the pairs one process with an N-times larger batch sees.

Bucketing: shuffle, cut into chunks of ``bucket_batches`` batches, sort each chunk by
length, cut batches, shuffle the batch order. Pairs of all languages stay mixed in a batch
(sorting is by length only), as in the paper.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

logger = logging.getLogger(__name__)


class BatchSampler:
    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        seed: int,
        max_tokens: int | None = None,
        bucketing: bool = True,
        world_size: int = 1,
        bucket_batches: int = 50,
        drop_last: bool = False,
    ) -> None:
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.global_batch = batch_size * world_size
        self.max_tokens = None if max_tokens is None else max_tokens * world_size
        self.seed = seed
        self.bucketing = bucketing
        self.world_size = world_size
        self.bucket_batches = bucket_batches
        self.drop_last = drop_last
        self.epoch = 0
        self.position = 0
        self._batches: list[np.ndarray] | None = None
        if len(self.lengths) < world_size:
            raise ValueError(f"{len(self.lengths)} pairs cannot feed {world_size} processes")

    def _split(self, order: np.ndarray) -> list[np.ndarray]:
        """Cut an ordered index list into batches of at most ``global_batch`` pairs / ``max_tokens``."""
        if self.max_tokens is None:
            return [order[i : i + self.global_batch] for i in range(0, len(order), self.global_batch)]
        out, start, longest = [], 0, 0
        for i, idx in enumerate(order):  # Python loop over pairs only when a token budget is set
            longest_new = max(longest, int(self.lengths[idx]))
            size = i - start + 1
            if i > start and (size > self.global_batch or longest_new * size > self.max_tokens):
                out.append(order[start:i])
                start, longest_new = i, int(self.lengths[idx])
            longest = longest_new
        out.append(order[start:])
        return out

    def batches_of_epoch(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        if not self.bucketing:
            batches = self._split(order)
        else:
            chunk = self.global_batch * self.bucket_batches
            batches = []
            for i in range(0, len(order), chunk):
                part = order[i : i + chunk]
                part = part[np.argsort(self.lengths[part], kind="stable")]
                batches.extend(self._split(part))
            batches = [batches[j] for j in rng.permutation(len(batches))]
        if self.drop_last and self.max_tokens is None:  # as DataLoader(drop_last=True): no partial batch
            batches = [b for b in batches if len(b) == self.global_batch]
        # equal slices per rank: drop the remainder (at most world_size - 1 pairs)
        w = self.world_size
        batches = [b[: len(b) - len(b) % w] for b in batches]
        return [b for b in batches if len(b) >= w and len(b) >= 2]

    def __iter__(self) -> Iterator[np.ndarray]:
        """Global batches forever, epoch after epoch, from the current position."""
        while True:
            if self._batches is None:
                self._batches = self.batches_of_epoch(self.epoch)
                if not self._batches:
                    raise ValueError("no batch of at least 2 pairs can be formed")
            while self.position < len(self._batches):
                batch = self._batches[self.position]
                self.position += 1
                yield batch
            self.epoch += 1
            self.position = 0
            self._batches = None

    def epochs_done(self) -> float:
        """Epochs completed, fractional (position within the current epoch)."""
        if self._batches is None:
            return float(self.epoch) + (0.0 if self.position == 0 else self.position / max(len(self.batches_of_epoch(self.epoch)), 1))
        return self.epoch + self.position / max(len(self._batches), 1)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._batches = None


def rank_slice(batch: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """This rank's interleaved share of a global batch (lengths stay balanced across ranks)."""
    return batch[rank::world_size]
