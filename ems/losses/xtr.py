"""XTR: cross-lingual token-bag prediction (Mao, Chu & Kurohashi 2024, Sec. III-B).

The target of a sentence vector is the bag of tokens of its translation, as a distribution
over the vocabulary; the loss is KL(target ‖ softmax(head logits)), computed in both
directions of a pair and summed.

Targets are built vectorised with one ``scatter_add_`` over the padded batch, never with a
Python loop over rows. Two target variants:

* ``"normalised"`` (default): token counts divided by the sentence length, a proper
  distribution that sums to 1 (repeated tokens weigh more).
* ``"official"``: as the official EMS code, each *distinct* token gets ``1/|y|`` with
  ``|y|`` the length of the sentence, so a sentence with repeated tokens has a target that
  sums to less than 1.

KL uses the convention ``0 · log 0 = 0`` (``xlogy``), which for the official variant is the
same quantity as ``torch.nn.KLDivLoss`` on the unnormalised target.

``xtr_loss`` (the training path) computes the same KL without materialising the (B, V)
target: with per-occurrence weights ``w_k`` (from an L × L comparison of each row's ids),
``KL = Σ_k w_k log p(y_k) − Σ_k w_k z[y_k] + logsumexp(z) · Σ_k w_k``, so the only dense
(B, V) work is one logsumexp. ``bag_of_tokens`` + ``xtr_kl`` are the dense definitions it
is tested against.
"""

from __future__ import annotations

import logging

import torch

logger = logging.getLogger(__name__)

VARIANTS = ("normalised", "official")


def bag_of_tokens(ids: torch.Tensor, mask: torch.Tensor, vocab_size: int, variant: str = "normalised") -> torch.Tensor:
    """Target distributions (B, V) from padded token ids (B, L) and their mask (B, L)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown XTR target variant {variant!r}; expected one of {VARIANTS}")
    weights = mask.to(torch.float32)
    counts = torch.zeros(ids.shape[0], vocab_size, dtype=torch.float32, device=ids.device)
    counts.scatter_add_(1, ids.long(), weights)
    lengths = weights.sum(1, keepdim=True).clamp(min=1.0)
    if variant == "official":
        return (counts > 0).to(torch.float32) / lengths
    return counts / lengths


def xtr_kl(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of KL(target ‖ softmax(logits)), summed over the vocabulary."""
    log_q = torch.log_softmax(logits.float(), dim=-1)
    per_row = (torch.xlogy(target, target) - target * log_q).sum(-1)
    return per_row.mean()


def occurrence_weights(ids: torch.Tensor, mask: torch.Tensor, variant: str = "normalised") -> tuple[torch.Tensor, torch.Tensor]:
    """Per position (B, L): the target mass it carries ``w`` and its token's target probability ``p``.

    Normalised: ``w = 1/n``, ``p = count/n``. Official: each distinct token carries ``1/n`` in
    all, so ``w = 1/(n · count)`` and ``p = 1/n``. Padding gets ``w = 0``, ``p = 1``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown XTR target variant {variant!r}; expected one of {VARIANTS}")
    m = mask.to(torch.float32)
    same = (ids.unsqueeze(2) == ids.unsqueeze(1)).to(torch.float32) * m.unsqueeze(1)
    counts = same.sum(2).clamp(min=1.0)  # occurrences of this position's token in its row
    n = m.sum(1, keepdim=True).clamp(min=1.0)
    if variant == "official":
        w, p = m / (n * counts), torch.where(m > 0, 1.0 / n, torch.ones_like(m))
    else:
        w, p = m / n, torch.where(m > 0, counts / n, torch.ones_like(m))
    return w, p


def xtr_kl_from_ids(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor, variant: str = "normalised") -> torch.Tensor:
    """``xtr_kl(logits, bag_of_tokens(ids, mask))`` without building the (B, V) target."""
    z = logits.float()
    w, p = occurrence_weights(ids, mask, variant)
    lse = torch.logsumexp(z, dim=-1)
    picked = z.gather(1, ids.long())
    per_row = (w * torch.log(p)).sum(1) - (w * picked).sum(1) + lse * w.sum(1)
    return per_row.mean()


def xtr_loss(
    outputs: dict[str, torch.Tensor],
    src_ids: torch.Tensor,
    src_mask: torch.Tensor,
    tgt_ids: torch.Tensor,
    tgt_mask: torch.Tensor,
    variant: str = "normalised",
) -> torch.Tensor:
    """Both directions summed: source vector predicts target tokens, and the reverse."""
    to_tgt = xtr_kl_from_ids(outputs["xtr_src"], tgt_ids, tgt_mask, variant)
    to_src = xtr_kl_from_ids(outputs["xtr_tgt"], src_ids, src_mask, variant)
    return to_tgt + to_src


def bag_of_tokens_reference(sentences: list[list[int]], vocab_size: int, variant: str = "normalised") -> torch.Tensor:
    """Slow row-by-row reference (the official code's loop); for tests and the benchmark only."""
    out = torch.zeros(len(sentences), vocab_size)
    for i, sent in enumerate(sentences):
        n = len(sent)
        for tok in sent:
            if variant == "official":
                out[i, tok] = 1.0 / n
            else:
                out[i, tok] += 1.0 / n
    return out
