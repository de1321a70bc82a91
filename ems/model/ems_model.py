"""The full training model: shared encoder for both sides, plus the heads that are switched on.

A head whose loss weight is 0 is not built at all, so it costs neither compute nor memory
and cannot receive gradients (the paper's single-objective ablations).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ems.model.encoder import build_encoder, encode
from ems.model.heads import XTR_HEADS, ContrastiveHead, OfficialXtrHead, XtrHead

logger = logging.getLogger(__name__)


def reset_to_torch_defaults(module: nn.Module) -> None:
    """PyTorch's own initialisation of every submodule (``reset_parameters``), as the official code builds
    its layers: ``nn.Embedding`` N(0, 1) with the padding row zero, ``nn.Linear`` Kaiming-uniform weights and
    uniform biases, LayerNorm 1 and 0 (``model.init: official``; ``transformers`` would use N(0, 0.02))."""
    for sub in module.modules():
        if sub is not module and hasattr(sub, "reset_parameters"):
            sub.reset_parameters()


class EmsModel(nn.Module):
    """Encoder + optional XTR head + optional contrastive head."""

    def __init__(
        self,
        model_settings: Mapping[str, Any],
        objective: Mapping[str, Any],
        vocab_size: int,
        n_languages: int,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        self.encoder = build_encoder(model_settings, vocab_size, pad_id)
        if model_settings["init"] == "official":
            reset_to_torch_defaults(self.encoder)
        hidden = int(model_settings["hidden_size"])
        self.xtr_head: XtrHead | OfficialXtrHead | None = None
        self.contrastive_head: ContrastiveHead | None = None
        if float(objective["xtr_weight"]) > 0:
            tied = self.encoder.embeddings.word_embeddings if model_settings["tie_xtr_output"] else None
            kind = str(model_settings["xtr_head"])
            if kind not in XTR_HEADS:
                from ems.errors import ConfigError

                raise ConfigError(f"model.xtr_head must be one of {sorted(XTR_HEADS)}, not {kind!r}")
            extra = {"lang_dropout": float(model_settings["dropout"])} if kind == "official" else {}
            self.xtr_head = XTR_HEADS[kind](
                hidden,
                vocab_size,
                n_languages,
                int(model_settings["lang_embedding_dim"]),
                bool(objective["language_embedding"]),
                str(model_settings["activation"]),
                tied,
                **extra,
            )
        if float(objective["contrastive_weight"]) > 0:
            self.contrastive_head = ContrastiveHead(hidden, int(model_settings["projection_dim"]))
        if self.xtr_head is None and self.contrastive_head is None:
            from ems.errors import ConfigError

            raise ConfigError("objective.xtr_weight and objective.contrastive_weight are both 0")

    def embed(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return encode(self.encoder, ids, mask)

    def forward(
        self,
        src_ids: torch.Tensor,
        src_mask: torch.Tensor,
        tgt_ids: torch.Tensor,
        tgt_mask: torch.Tensor,
        src_lang: torch.Tensor,
        tgt_lang: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Sentence vectors of both sides and the outputs of the heads that are on.

        ``xtr_src`` are logits predicting the *target* side's tokens from the source vector
        (conditioned on the target language) and ``xtr_tgt`` the reverse.
        """
        src = self.embed(src_ids, src_mask)
        tgt = self.embed(tgt_ids, tgt_mask)
        out = {"src": src, "tgt": tgt}
        if self.xtr_head is not None:
            out["xtr_src"] = self.xtr_head(src, tgt_lang)
            out["xtr_tgt"] = self.xtr_head(tgt, src_lang)
        if self.contrastive_head is not None:
            out["proj_src"] = self.contrastive_head(src)
            out["proj_tgt"] = self.contrastive_head(tgt)
        return out

    def heads_state_dict(self) -> dict[str, torch.Tensor]:
        """State of everything but the encoder (saved as ``heads.pt``)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}
