"""EMS objectives, one module per loss: XTR (token-bag KL) and contrastive InfoNCE."""

from __future__ import annotations

from ems.losses.contrastive import info_nce
from ems.losses.xtr import bag_of_tokens, xtr_kl, xtr_loss

__all__ = ["bag_of_tokens", "info_nce", "xtr_kl", "xtr_loss"]
