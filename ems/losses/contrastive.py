"""Symmetric InfoNCE with in-batch negatives (Mao et al. 2024, Sec. III-C; van den Oord 2018).

Logits are cosine similarities of the projected vectors divided by a temperature; the loss
is the mean of the cross-entropy in both directions (source→target, target→source). Under
DDP, ``gather=True`` uses the other ranks' vectors as extra negatives (gathered with
gradient), so that N processes with batch b compute the same loss as one with batch N·b.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)


def _gather_with_grad(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All ranks' ``x`` concatenated (gradient flows back to each rank's part); own offset."""
    import torch.distributed as dist
    import torch.distributed.nn.functional as dist_fn

    parts = dist_fn.all_gather(x.contiguous())
    rank = dist.get_rank()
    offset = sum(p.shape[0] for p in parts[:rank])
    return torch.cat(parts, 0), offset


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float, gather: bool = False) -> torch.Tensor:
    """Symmetric InfoNCE of paired rows of ``a`` and ``b`` (B, D); row i of a matches row i of b."""
    a = F.normalize(a.float(), dim=-1)
    b = F.normalize(b.float(), dim=-1)
    offset = 0
    all_a, all_b = a, b
    if gather:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            all_a, offset = _gather_with_grad(a)
            all_b, _ = _gather_with_grad(b)
    labels = torch.arange(a.shape[0], device=a.device) + offset
    a_to_b = F.cross_entropy(a @ all_b.T / temperature, labels)
    b_to_a = F.cross_entropy(b @ all_a.T / temperature, labels)
    return (a_to_b + b_to_a) / 2
