"""Dev metrics on the validation shards: loss terms and per-language retrieval accuracy.

Retrieval: within each language's held-out pairs, cosine nearest neighbour of every source
vector among the target vectors and vice versa; accuracy averaged over both directions and
then over languages (``dev/retrieval_acc``, the model-selection metric). Validation data
only: test sets never choose anything.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from ems.model.ems_model import EmsModel
from ems.train.data import PairShards, collate
from ems.train.settings import ObjectiveSettings
from ems.train.step import compute_losses

logger = logging.getLogger(__name__)


#: Seed of the dev subsample: fixed, so every run and seed of a config is selected on the same pairs.
DEV_SEED = 0


def dev_indices(valid: PairShards, per_language: int | None, seed: int = DEV_SEED) -> np.ndarray:
    """A seeded uniform sample of ``per_language`` validation pairs of each (non-English) language.

    A sample, not the first rows: validation shards written in corpus order would otherwise
    give the dev set the domain of the first source files (news) instead of the language's mix.
    """
    lang = np.asarray(valid.src.lang)
    rng = np.random.default_rng(seed)
    keep = []
    for code in np.unique(lang):
        idx = np.flatnonzero(lang == code)
        if per_language is not None and per_language < len(idx):
            idx = rng.choice(idx, size=per_language, replace=False)
        keep.append(idx)
    return np.sort(np.concatenate(keep))


def retrieval_accuracy(src: np.ndarray, tgt: np.ndarray) -> float:
    """Mean of src→tgt and tgt→src top-1 accuracy of cosine nearest neighbours (row i ↔ row i)."""
    a = src / np.maximum(np.linalg.norm(src, axis=1, keepdims=True), 1e-12)
    b = tgt / np.maximum(np.linalg.norm(tgt, axis=1, keepdims=True), 1e-12)
    sim = a @ b.T
    gold = np.arange(len(a))
    return float(((sim.argmax(1) == gold).mean() + (sim.argmax(0) == gold).mean()) / 2)


@torch.inference_mode()
def dev_evaluate(
    model: EmsModel,
    valid: PairShards,
    objective: ObjectiveSettings,
    device: torch.device,
    per_language: int | None = None,
    batch_size: int = 256,
    max_length: int | None = None,
) -> dict[str, float]:
    """``dev/loss_*`` (pair-weighted means over length-sorted batches) and ``dev/retrieval_acc``."""
    was_training = model.training
    model.eval()
    idx = dev_indices(valid, per_language)
    lengths = np.maximum(valid.src.lengths[idx], valid.tgt.lengths[idx])
    idx = idx[np.argsort(lengths, kind="stable")]
    hidden = model.encoder.config.hidden_size
    src_vec = np.zeros((len(idx), hidden), np.float32)
    tgt_vec = np.zeros((len(idx), hidden), np.float32)
    sums: dict[str, float] = {}
    for start in range(0, len(idx), batch_size):
        part = idx[start : start + batch_size]
        if len(part) < 2 and start > 0:  # a 1-pair contrastive batch is meaningless; fold into sums anyway
            pass
        batch = {k: v.to(device) for k, v in collate(valid, part, max_length).items()}
        out = model(**batch)
        for name, value in compute_losses(out, batch, objective).items():
            sums[name] = sums.get(name, 0.0) + float(value) * len(part)
        src_vec[start : start + len(part)] = out["src"].float().cpu().numpy()
        tgt_vec[start : start + len(part)] = out["tgt"].float().cpu().numpy()
    metrics = {f"dev/loss_{k}": v / len(idx) for k, v in sums.items()}
    lang = np.asarray(valid.src.lang)[idx]
    accs = []
    for code in np.unique(lang):
        sel = lang == code
        acc = retrieval_accuracy(src_vec[sel], tgt_vec[sel])
        metrics[f"dev/retrieval_acc/{valid.languages[int(code)]}"] = acc
        accs.append(acc)
    metrics["dev/retrieval_acc"] = float(np.mean(accs))
    model.train(was_training)
    return metrics
