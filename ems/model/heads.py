"""Training heads of EMS: the XTR token-bag predictor and the contrastive projection.

XTR (Mao et al. 2024, Sec. III-B): ``[lang_emb(target language); sentence vector]`` ->
Linear -> activation -> LayerNorm -> Linear to the vocabulary. Two variants (``model.xtr_head``):

- ``compact`` (:class:`XtrHead`): a bare language embedding, Linear (H+L) -> H, output
  Linear H -> V with a bias.
- ``official`` (:class:`OfficialXtrHead`, github Mao-KU/EMS ``modeling/model_v2.py``
  ``BertForMaskedLM`` with ``has_la_emb`` and not ``share_emb``): the language embedding is
  ``BertLaEmbedding`` (Embedding -> LayerNorm -> dropout), the transform keeps the
  concatenated width (Linear (H+L) -> (H+L), activation, LayerNorm eps 1e-12; 1152 -> 1152 at
  paper size) and the output Linear (H+L) -> V has no bias.

The contrastive head is Linear -> ReLU -> Linear to a small projection, used only in training.
"""

from __future__ import annotations

import logging

import torch
from torch import nn
from transformers.activations import ACT2FN

logger = logging.getLogger(__name__)


class XtrHead(nn.Module):
    """Predicts logits over the vocabulary of the *other* side's bag of tokens."""

    def __init__(
        self,
        hidden_size: int,
        vocab_size: int,
        n_languages: int,
        lang_embedding_dim: int = 128,
        use_language_embedding: bool = True,
        activation: str = "gelu",
        tied_embedding: nn.Embedding | None = None,
    ) -> None:
        super().__init__()
        self.use_language_embedding = use_language_embedding
        in_dim = hidden_size
        if use_language_embedding:
            self.lang_embedding = nn.Embedding(n_languages, lang_embedding_dim)
            in_dim += lang_embedding_dim
        else:
            self.lang_embedding = None
        self.dense = nn.Linear(in_dim, hidden_size)
        self.act = ACT2FN[activation]
        self.norm = nn.LayerNorm(hidden_size)
        self.tied = tied_embedding is not None
        if tied_embedding is not None:
            if tied_embedding.weight.shape != (vocab_size, hidden_size):
                raise ValueError("tied XTR output needs input embeddings of shape (vocab, hidden)")
            self.output_weight = tied_embedding.weight  # shared Parameter, not a copy
        else:
            self.output = nn.Linear(hidden_size, vocab_size, bias=False)
        self.output_bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, sentence: torch.Tensor, target_lang: torch.Tensor) -> torch.Tensor:
        """Logits (B, V) of the target side's tokens from sentence vectors (B, H)."""
        x = sentence
        if self.lang_embedding is not None:
            x = torch.cat([self.lang_embedding(target_lang), x], dim=-1)
        x = self.norm(self.act(self.dense(x)))
        weight = self.output_weight if self.tied else self.output.weight
        return nn.functional.linear(x, weight, self.output_bias)


class LanguageEmbedding(nn.Module):
    """The official ``BertLaEmbedding``: embedding of the target language, LayerNorm, dropout."""

    def __init__(self, n_languages: int, dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_languages, dim)
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, lang: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.norm(self.embedding(lang)))


class OfficialXtrHead(nn.Module):
    """The official code's XTR head: ``[LaEmb(lang); s]`` -> Linear(D, D) -> act -> LayerNorm -> Linear(D, V), no bias.

    ``D`` = hidden + language-embedding size (hidden alone without the language embedding).
    With a tied output the transform maps to the hidden size (official ``share_emb``).
    """

    def __init__(
        self,
        hidden_size: int,
        vocab_size: int,
        n_languages: int,
        lang_embedding_dim: int = 128,
        use_language_embedding: bool = True,
        activation: str = "swish",
        tied_embedding: nn.Embedding | None = None,
        lang_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        in_dim = hidden_size + (lang_embedding_dim if use_language_embedding else 0)
        self.lang_embedding = (LanguageEmbedding(n_languages, lang_embedding_dim, lang_dropout)
                               if use_language_embedding else None)
        out_dim = hidden_size if tied_embedding is not None else in_dim
        self.dense = nn.Linear(in_dim, out_dim)
        self.act = ACT2FN[activation]
        self.norm = nn.LayerNorm(out_dim, eps=1e-12)
        self.tied = tied_embedding is not None
        if tied_embedding is not None:
            if tied_embedding.weight.shape != (vocab_size, hidden_size):
                raise ValueError("tied XTR output needs input embeddings of shape (vocab, hidden)")
            self.output_weight = tied_embedding.weight  # shared Parameter, not a copy
        else:
            self.output = nn.Linear(in_dim, vocab_size, bias=False)

    def forward(self, sentence: torch.Tensor, target_lang: torch.Tensor) -> torch.Tensor:
        """Logits (B, V) of the target side's tokens from sentence vectors (B, H)."""
        x = sentence
        if self.lang_embedding is not None:
            x = torch.cat([self.lang_embedding(target_lang), x], dim=-1)
        x = self.norm(self.act(self.dense(x)))
        weight = self.output_weight if self.tied else self.output.weight
        return nn.functional.linear(x, weight)


XTR_HEADS = {"compact": XtrHead, "official": OfficialXtrHead}


class ContrastiveHead(nn.Module):
    """Linear -> ReLU -> Linear projection of sentence vectors for InfoNCE."""

    def __init__(self, hidden_size: int, projection_dim: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(hidden_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, projection_dim)
        )

    def forward(self, sentence: torch.Tensor) -> torch.Tensor:
        return self.net(sentence)
