"""The sentence encoder: a from-scratch ``BertModel`` whose mean-pooled last layer is the embedding.

A stock ``transformers`` architecture keeps the saved model loadable by ``AutoModel`` and
``SentenceTransformer`` with no custom code. The pooler is dropped (the paper uses no CLS).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
from transformers import BertConfig, BertModel

logger = logging.getLogger(__name__)


def encoder_config(model_settings: Mapping[str, Any], vocab_size: int, pad_id: int = 0) -> BertConfig:
    """A ``BertConfig`` from the ``model`` config section and the tokenizer's vocabulary."""
    s = model_settings
    if s["hidden_size"] % s["heads"] != 0:
        from ems.errors import ConfigError

        raise ConfigError(
            f"model.hidden_size ({s['hidden_size']}) must be divisible by model.heads ({s['heads']})"
        )
    return BertConfig(
        vocab_size=int(vocab_size),
        hidden_size=int(s["hidden_size"]),
        num_hidden_layers=int(s["layers"]),
        num_attention_heads=int(s["heads"]),
        intermediate_size=int(s["ffn_size"]),
        hidden_act=str(s["activation"]),
        hidden_dropout_prob=float(s["dropout"]),
        attention_probs_dropout_prob=float(s["dropout"]),
        max_position_embeddings=int(s["max_positions"]),
        type_vocab_size=1,
        pad_token_id=int(pad_id),
        add_pooling_layer=False,
    )


def build_encoder(model_settings: Mapping[str, Any], vocab_size: int, pad_id: int = 0) -> BertModel:
    """A randomly initialised encoder (trained from scratch), SDPA attention, no pooler."""
    config = encoder_config(model_settings, vocab_size, pad_id)
    model = BertModel(config, add_pooling_layer=False)
    try:
        model.set_attn_implementation("sdpa")
    except Exception:  # noqa: BLE001 - older transformers pick SDPA themselves
        logger.debug("could not select SDPA attention; using the default")
    return model


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` (B, L, H) over positions where ``mask`` (B, L) is 1."""
    m = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def encode(encoder: BertModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Sentence vectors (B, H): mean over non-padding tokens of the last layer."""
    out = encoder(input_ids=input_ids, attention_mask=attention_mask)
    return mean_pool(out.last_hidden_state, attention_mask)
