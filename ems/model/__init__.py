"""EMS model: a Transformer encoder (mean pooled) plus the XTR and contrastive training heads."""

from __future__ import annotations

from ems.model.ems_model import EmsModel
from ems.model.encoder import build_encoder, encoder_config, mean_pool
from ems.model.heads import ContrastiveHead, OfficialXtrHead, XtrHead

__all__ = ["ContrastiveHead", "EmsModel", "OfficialXtrHead", "XtrHead", "build_encoder", "encoder_config", "mean_pool"]
