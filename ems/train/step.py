"""One forward pass's losses: ``w_xtr · XTR + w_cl · contrastive`` from the model's outputs.

Only the heads that exist (weight > 0) produced outputs, so only their terms are computed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch

from ems.losses.contrastive import info_nce
from ems.losses.xtr import xtr_loss
from ems.train.settings import ObjectiveSettings

logger = logging.getLogger(__name__)


def compute_losses(
    out: Mapping[str, torch.Tensor],
    batch: Mapping[str, torch.Tensor],
    objective: ObjectiveSettings,
    gather: bool = False,
) -> dict[str, torch.Tensor]:
    """Loss terms (``xtr``, ``contrastive``) and their weighted sum (``total``)."""
    terms: dict[str, torch.Tensor] = {}
    total = None
    if "xtr_src" in out:
        terms["xtr"] = xtr_loss(
            dict(out), batch["src_ids"], batch["src_mask"], batch["tgt_ids"], batch["tgt_mask"], objective.xtr_target
        )
        total = objective.xtr_weight * terms["xtr"]
    if "proj_src" in out:
        terms["contrastive"] = info_nce(out["proj_src"], out["proj_tgt"], objective.temperature, gather=gather)
        part = objective.contrastive_weight * terms["contrastive"]
        total = part if total is None else total + part
    assert total is not None, "the model has no head"
    terms["total"] = total
    return terms
